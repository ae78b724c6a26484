//! Go: a directory with a go.mod. Services from the required module paths (any major
//! version suffix), the version from the `toolchain` line, else the `go` line.
//!
//! `// indirect` requirements count too: a driver required only indirectly is still
//! linked into the binary when a direct dependency (an ORM, a queue library) uses it,
//! and go.mod lists it precisely because the build needs it.

use super::files::line_no;
use super::{Cx, Ecosystem, Evidence, Project, Provider, Service};

pub(super) struct Go;

/// Module paths (without a `/vN` suffix) whose presence means a service.
const MODULE_SERVICES: &[(&str, Service)] = &[
    ("github.com/jackc/pgx", Service::Postgres),
    ("github.com/lib/pq", Service::Postgres),
    ("github.com/go-sql-driver/mysql", Service::Mysql),
    ("github.com/redis/go-redis", Service::Redis),
    ("github.com/go-redis/redis", Service::Redis),
];

impl Provider for Go {
    fn claims(&self, dir: &super::ProjectDir) -> bool {
        dir.has("go.mod")
    }

    fn detect(&self, cx: &mut Cx) -> Project {
        let mut p = cx.project(Ecosystem::Go);
        let file = cx.file("go.mod");
        if let Some(text) = cx.read("go.mod") {
            let m = GoMod::parse(&text);
            if !m.module {
                cx.cannot_parse(
                    "go.mod",
                    "no module directive: not a go.mod the go command accepts".into(),
                );
            }
            // The toolchain line names the exact release to build with; the go line only
            // the minimum language version.
            if let Some((i, v)) = &m.toolchain {
                p.version = Some(v.clone());
                let found = format!("go {v} (toolchain go{v} line)");
                p.add_evidence(Evidence {
                    file: file.clone(),
                    line: line_no(*i),
                    found,
                });
            }
            if let Some((i, v)) = &m.go {
                let found = if p.version.is_some() {
                    format!("go {v} (go line: the minimum; the toolchain line wins)")
                } else {
                    p.version = Some(v.clone());
                    format!("go {v} (go line)")
                };
                p.add_evidence(Evidence {
                    file: file.clone(),
                    line: line_no(*i),
                    found,
                });
            }
            for (path, i, indirect) in &m.requires {
                if let Some(service) = module_service(path) {
                    let how = if *indirect { " (indirect)" } else { "" };
                    let found = format!("module {path}{how} → {}", service.name());
                    p.add_service(
                        service,
                        Evidence {
                            file: file.clone(),
                            line: line_no(*i),
                            found,
                        },
                    );
                }
            }
        }
        p.setup.push("go mod download".into());
        p
    }
}

/// `github.com/jackc/pgx/v5` → postgres: the base path itself or with a `/vN` suffix.
fn module_service(path: &str) -> Option<Service> {
    MODULE_SERVICES.iter().find_map(|(base, service)| {
        let rest = path.strip_prefix(base)?;
        let major = rest.strip_prefix("/v");
        let ok = rest.is_empty()
            || major.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        ok.then_some(*service)
    })
}

/// What detection uses of a go.mod; lines are 0-based.
#[derive(Debug, Default)]
struct GoMod {
    module: bool,
    go: Option<(usize, String)>,
    /// Without the `go` prefix: `toolchain go1.22.3` → `1.22.3`.
    toolchain: Option<(usize, String)>,
    /// Module path, line, whether marked `// indirect`.
    requires: Vec<(String, usize, bool)>,
}

impl GoMod {
    /// Parses go.mod's line syntax: `verb args` or a `verb (` block of args lines up to `)`.
    fn parse(text: &str) -> GoMod {
        let mut m = GoMod::default();
        let mut block: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            let (code, comment) = match line.find("//") {
                Some(at) => (&line[..at], &line[at + 2..]),
                None => (line, ""),
            };
            let indirect = comment.trim().split([';', ' ']).next() == Some("indirect");
            let words: Vec<&str> = code
                .split_whitespace()
                .map(|w| w.trim_matches('"'))
                .collect();
            let (verb, args) = match (&block, words.as_slice()) {
                (_, []) => continue,
                (Some(_), [")"]) => {
                    block = None;
                    continue;
                }
                (Some(verb), args) => (verb.as_str(), args),
                (None, [verb, "("]) => {
                    block = Some(verb.to_string());
                    continue;
                }
                (None, [verb, args @ ..]) => (*verb, args),
            };
            match (verb, args) {
                ("module", [_, ..]) => m.module = true,
                ("go", [v, ..]) => m.go = Some((i, v.to_string())),
                ("toolchain", [v, ..]) => {
                    if let Some(v) = v.strip_prefix("go") {
                        m.toolchain = Some((i, v.to_string()));
                    }
                }
                ("require", [path, _version, ..]) => {
                    m.requires.push((path.to_string(), i, indirect));
                }
                _ => {}
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_single_requires_and_versions() {
        let m = GoMod::parse(
            "module example.com/worker\n\ngo 1.22\n\ntoolchain go1.22.3\n\nrequire github.com/lib/pq v1.10.9\n\nrequire (\n\tgithub.com/jackc/pgx/v5 v5.5.5\n\tgithub.com/redis/go-redis/v9 v9.5.1 // indirect\n)\n\nreplace (\n\tgithub.com/go-sql-driver/mysql => ../mysql\n)\n",
        );
        assert!(m.module);
        assert_eq!(m.go, Some((2, "1.22".into())));
        assert_eq!(m.toolchain, Some((4, "1.22.3".into())));
        assert_eq!(
            m.requires,
            [
                ("github.com/lib/pq".into(), 6, false),
                ("github.com/jackc/pgx/v5".into(), 9, false),
                ("github.com/redis/go-redis/v9".into(), 10, true),
            ]
        );
    }

    #[test]
    fn module_paths_match_exactly_or_with_a_major_suffix() {
        assert_eq!(
            module_service("github.com/jackc/pgx"),
            Some(Service::Postgres)
        );
        assert_eq!(
            module_service("github.com/jackc/pgx/v5"),
            Some(Service::Postgres)
        );
        assert_eq!(
            module_service("github.com/go-redis/redis/v8"),
            Some(Service::Redis)
        );
        assert_eq!(module_service("github.com/jackc/pgx/v5/stdlib"), None);
        assert_eq!(module_service("github.com/jackc/pgxpool"), None);
        assert_eq!(module_service("github.com/jackc/pgx-zerolog"), None);
        assert_eq!(module_service("github.com/jackc/pgconn"), None);
    }
}
