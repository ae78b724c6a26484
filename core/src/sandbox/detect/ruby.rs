//! Ruby: a directory with a Gemfile or Gemfile.lock. The Ruby version comes from the first
//! of the override, `.ruby-version`, `.tool-versions`, the Gemfile's `ruby` directive and
//! the lock's `RUBY VERSION`; services from exact gem names (Bundler's lock when there is
//! one: it names every gem installed, not only the direct ones).

use super::files::{first_value, line_no};
use super::version::{Pin, Pins};
use super::{Cx, Ecosystem, Evidence, Project, Provider, Service, ENV_RUBY_VERSION};

pub(super) struct Ruby;

/// Gems whose presence means a service, by exact name: `pg_search` or `pghero` use
/// PostgreSQL through `pg`, which the lock then lists itself; guessing from a substring
/// would also match `activerecord-postgis-adapter` and friends.
const GEM_SERVICES: &[(&str, Service)] = &[
    ("pg", Service::Postgres),
    ("mysql2", Service::Mysql),
    ("trilogy", Service::Mysql),
    ("redis", Service::Redis),
    ("sidekiq", Service::Redis),
    ("resque", Service::Redis),
];

impl Provider for Ruby {
    fn claims(&self, dir: &super::ProjectDir) -> bool {
        dir.has("Gemfile") || dir.has("Gemfile.lock")
    }

    fn detect(&self, cx: &mut Cx) -> Project {
        let mut p = cx.project(Ecosystem::Ruby);
        let gemfile = cx.read("Gemfile");
        let lock = cx
            .read("Gemfile.lock")
            .and_then(|text| match Lock::parse(&text) {
                Ok(lock) => Some(lock),
                Err(reason) => {
                    cx.cannot_parse("Gemfile.lock", reason);
                    None
                }
            });

        version(cx, &mut p, gemfile.as_deref(), lock.as_ref());

        // The lock when it could be read (every gem, resolved), else the Gemfile's own.
        let (gems, gems_file) = match (&lock, &gemfile) {
            (Some(lock), _) => (lock.gems.clone(), "Gemfile.lock"),
            (None, Some(text)) => (gemfile_gems(text), "Gemfile"),
            (None, None) => (Vec::new(), "Gemfile"),
        };
        let gems_file = cx.file(gems_file);

        if let Some(ev) = rails_application(cx) {
            p.framework = Some("rails".into());
            p.add_evidence(ev);
        }
        for (name, line) in &gems {
            if name == "rails" {
                p.framework = Some("rails".into());
                p.add_evidence(Evidence {
                    file: gems_file.clone(),
                    line: line_no(*line),
                    found: "gem rails → rails".into(),
                });
            }
            if let Some((_, service)) = GEM_SERVICES.iter().find(|(g, _)| g == name) {
                p.add_service(
                    *service,
                    Evidence {
                        file: gems_file.clone(),
                        line: line_no(*line),
                        found: format!("gem {name} → {}", service.name()),
                    },
                );
            }
        }

        p.setup.push("bundle install".into());
        let database = p
            .services
            .iter()
            .any(|s| matches!(s, Service::Postgres | Service::Mysql));
        if p.framework.is_some() && database {
            // Creates the database and loads the schema (or migrates an existing one).
            p.setup.push("bin/rails db:prepare".into());
        }
        p
    }
}

/// Collects every source's Ruby version in precedence order; the first wins, the others
/// must agree with it.
fn version(cx: &mut Cx, p: &mut Project, gemfile: Option<&str>, lock: Option<&Lock>) {
    let mut pins = Pins::default();
    if let Some(v) = (cx.env)(ENV_RUBY_VERSION) {
        let v = v.trim();
        if !v.is_empty() {
            pins.push(Pin::exact(
                format!("${ENV_RUBY_VERSION}"),
                None,
                v,
                format!("ruby {v} (override)"),
            ));
        }
    }
    if let Some(text) = cx.read(".ruby-version") {
        if let Some((i, v)) = ruby_version_file(&text) {
            pins.push(Pin::exact(
                cx.file(".ruby-version"),
                line_no(i),
                &v,
                format!("ruby {v}"),
            ));
        }
    }
    if let Some(text) = cx.read(".tool-versions") {
        if let Some((i, v)) = tool_versions(&text, "ruby") {
            pins.push(Pin::exact(
                cx.file(".tool-versions"),
                line_no(i),
                &v,
                format!("ruby {v}"),
            ));
        }
    }
    if let Some(text) = gemfile {
        if let Some(pin) = gemfile_ruby(cx, text) {
            pins.push(pin);
        }
    }
    if let Some((i, raw)) = lock.and_then(|l| l.ruby.clone()) {
        let v = strip_patchlevel(&raw);
        let found = if v == raw {
            format!("ruby {v}")
        } else {
            format!("ruby {raw} (patch level dropped: {v})")
        };
        pins.push(Pin::exact(cx.file("Gemfile.lock"), line_no(i), v, found));
    }
    pins.settle(p, "ruby", "Bundler refuses to run on such a mismatch");
}

/// `.ruby-version`: the first line that is not a comment, `3.3.1` or `ruby-3.3.1`.
fn ruby_version_file(text: &str) -> Option<(usize, String)> {
    let (i, v) = first_value(text)?;
    let v = v.strip_prefix("ruby-").unwrap_or(v);
    (!v.is_empty()).then(|| (i, v.to_string()))
}

/// asdf/mise `.tool-versions`: the first version on the `tool` line (`ruby 3.3.1 3.2.2`
/// means 3.3.1, with 3.2.2 as a fallback).
pub(super) fn tool_versions(text: &str, tool: &str) -> Option<(usize, String)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let mut words = line.split('#').next().unwrap_or("").split_whitespace();
        (words.next() == Some(tool))
            .then(|| words.next().map(|v| (i, v.to_string())))
            .flatten()
    })
}

/// `3.3.1p55` → `3.3.1`: the lock records the patch level, images and version files don't.
fn strip_patchlevel(v: &str) -> &str {
    match v.rfind('p') {
        Some(at) if at > 0 && v[at + 1..].bytes().all(|b| b.is_ascii_digit()) => &v[..at],
        _ => v,
    }
}

/// The Gemfile's `ruby` directive: `ruby "3.3.1"`, `ruby '~> 3.3.0'` (a requirement),
/// or `ruby file: ".ruby-version"` (the version is that file's).
fn gemfile_ruby(cx: &mut Cx, text: &str) -> Option<Pin> {
    let file = cx.file("Gemfile");
    for (i, line) in text.lines().enumerate() {
        let Some(args) = directive(line, "ruby") else {
            continue;
        };
        let strings = quoted(args);
        if args.contains("file:") || args.contains(":file") {
            let name = strings.first()?;
            // A file outside the project is not read: it is outside what was cloned.
            if name.starts_with('/') || name.split('/').any(|c| c == "..") {
                return None;
            }
            let text = cx.read(name)?;
            // Bundler 2.5 accepts either file; .tool-versions names other tools too.
            let (_, v) = if name.ends_with(".tool-versions") {
                tool_versions(&text, "ruby")?
            } else {
                ruby_version_file(&text)?
            };
            let found = format!("ruby {v} (ruby file: \"{name}\")");
            return Some(Pin::exact(file, line_no(i), &v, found));
        }
        let first = strings.first()?;
        if first.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(Pin::exact(file, line_no(i), first, format!("ruby {first}")));
        }
        return Pin::requirement(file, line_no(i), "ruby", &strings.join(", "));
    }
    None
}

/// The arguments of a Ruby method call `name ...` or `name(...)` on its own line.
fn directive<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(name)?;
    rest.starts_with([' ', '\t', '(']).then_some(rest)
}

/// The string literals of `args` up to a comment (`"a", 'b'` → `[a, b]`).
fn quoted(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => break,
            '"' | '\'' => out.push(chars.by_ref().take_while(|&d| d != c).collect()),
            _ => {}
        }
    }
    out
}

/// The Gemfile's `gem "name"` lines: (name, 0-based line).
fn gemfile_gems(text: &str) -> Vec<(String, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let name = quoted(directive(line, "gem")?).into_iter().next()?;
            Some((name, i))
        })
        .collect()
}

/// `config/application.rb` requiring Rails or defining the application.
fn rails_application(cx: &mut Cx) -> Option<Evidence> {
    const NAME: &str = "config/application.rb";
    let text = cx.read(NAME)?;
    let (i, line) = text.lines().enumerate().find(|(_, line)| {
        let line = line.trim();
        if line.starts_with('#') {
            return false;
        }
        let required = directive(line, "require").map(quoted);
        matches!(required.as_deref(), Some([r, ..]) if r == "rails" || r == "rails/all")
            || line.contains("Rails::Application")
    })?;
    Some(Evidence {
        file: cx.file(NAME),
        line: line_no(i),
        found: format!("rails ({})", line.trim()),
    })
}

/// What detection uses of a Gemfile.lock.
#[derive(Debug, Default)]
struct Lock {
    /// Gem names with their 0-based line: the specs of every source (GEM, GIT, PATH), then
    /// DEPENDENCIES (the Gemfile's own, `rails!` for a git or path gem).
    gems: Vec<(String, usize)>,
    /// `RUBY VERSION`'s `ruby 3.3.1p55`, as written, with its line.
    ruby: Option<(usize, String)>,
}

impl Lock {
    /// Parses the lock Bundler writes: unindented section names, `remote:` and `specs:`
    /// at two spaces, specs `name (version)` at four, their own dependencies at six.
    fn parse(text: &str) -> Result<Lock, String> {
        let mut lock = Lock::default();
        let mut section = "";
        let mut sections = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.starts_with("<<<<<<<") || line.starts_with(">>>>>>>") {
                return Err(format!("merge conflict markers at line {}", i + 1));
            }
            if line.is_empty() {
                continue;
            }
            if !line.starts_with(' ') {
                section = line.trim_end();
                sections += 1;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let body = line.trim();
            match section {
                "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE" if indent == 4 => {
                    lock.push_gem(body, i);
                }
                "DEPENDENCIES" if indent == 2 => lock.push_gem(body, i),
                "RUBY VERSION" => {
                    if let Some(v) = body.strip_prefix("ruby ") {
                        lock.ruby.get_or_insert((i, v.trim().to_string()));
                    }
                }
                _ => {}
            }
        }
        if sections == 0 {
            return Err("no sections (GEM, DEPENDENCIES, ...): not a lock Bundler wrote".into());
        }
        Ok(lock)
    }

    /// `pg (1.5.4)`, `nokogiri (1.16.0-x86_64-linux)`, `rails!`, `pg (~> 1.1)` → the name.
    fn push_gem(&mut self, body: &str, line: usize) {
        let name = body.split([' ', '(', '!']).next().unwrap_or("").to_string();
        if !name.is_empty() {
            self.gems.push((name, line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_specs_dependencies_and_ruby_version() {
        let lock = Lock::parse(
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    pg (1.5.4)\n    pg_search (2.3.6)\n      activerecord (>= 6.1)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  pg (~> 1.1)\n  rails!\n\nRUBY VERSION\n   ruby 3.3.1p55\n\nBUNDLED WITH\n   2.5.9\n",
        )
        .unwrap();
        let names: Vec<&str> = lock.gems.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["pg", "pg_search", "pg", "rails"]);
        assert_eq!(lock.gems[0].1, 3);
        assert_eq!(lock.ruby, Some((15, "3.3.1p55".into())));
        assert!(Lock::parse("<<<<<<< HEAD\n").is_err());
        assert!(Lock::parse("").is_err());
    }

    #[test]
    fn version_files_and_gemfile_lines() {
        assert_eq!(
            ruby_version_file("# pinned\n\nruby-3.3.1 \n"),
            Some((2, "3.3.1".into()))
        );
        assert_eq!(
            tool_versions("nodejs 20\nruby 3.3.1 3.2.2\n", "ruby"),
            Some((1, "3.3.1".into()))
        );
        assert_eq!(tool_versions("rubyx 1\n", "ruby"), None);
        assert_eq!(strip_patchlevel("3.3.1p55"), "3.3.1");
        assert_eq!(strip_patchlevel("3.4.1"), "3.4.1");
        assert_eq!(quoted(r#" "pg", '~> 1.1' # "x""#), ["pg", "~> 1.1"]);
        let gems = gemfile_gems("source \"https://rubygems.org\"\ngem \"pg\"\n  gem('redis', '~> 5')\ngemspec\n# gem \"mysql2\"\n");
        assert_eq!(gems, [("pg".into(), 1), ("redis".into(), 2)]);
    }
}
