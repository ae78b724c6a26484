//! Node: a directory with a package.json. Services from exact package names in the
//! dependency maps, the version from `.nvmrc` then `engines.node`, the install command
//! from the lockfile present (each package manager's "install exactly the lock" form).

use super::files::{first_value, line_no};
use super::version::{Pin, Pins};
use super::{Cx, Ecosystem, Evidence, Project, Provider, Service};
use serde_json::{Map, Value};

pub(super) struct Node;

/// Packages whose presence means a service, by exact name (`pg-promise` depends on `pg`,
/// which then appears itself only in the lock: direct dependencies are what is read here).
const PACKAGE_SERVICES: &[(&str, Service)] = &[
    ("pg", Service::Postgres),
    ("mysql2", Service::Mysql),
    ("redis", Service::Redis),
    ("ioredis", Service::Redis),
    ("bull", Service::Redis),
    ("bullmq", Service::Redis),
];

/// The dependency maps of package.json that are installed (peer dependencies are not).
const DEPENDENCY_KEYS: &[&str] = &["dependencies", "devDependencies", "optionalDependencies"];

/// Lockfiles in precedence order with the install that keeps to them.
const LOCKFILES: &[(&str, &str)] = &[
    ("package-lock.json", "npm ci"),
    ("npm-shrinkwrap.json", "npm ci"),
    ("yarn.lock", "yarn install --frozen-lockfile"),
    ("pnpm-lock.yaml", "pnpm install --frozen-lockfile"),
];

impl Provider for Node {
    fn claims(&self, dir: &super::ProjectDir) -> bool {
        dir.has("package.json")
    }

    fn detect(&self, cx: &mut Cx) -> Project {
        let mut p = cx.project(Ecosystem::Node);
        let text = cx.read("package.json");
        let manifest = text.as_deref().and_then(|t| parse(cx, t));
        let file = cx.file("package.json");

        let mut pins = Pins::default();
        if let Some(text) = cx.read(".nvmrc") {
            if let Some((i, v)) = first_value(&text) {
                // As written: nvm's aliases (`lts/*`, `lts/iron`) are meaningful too.
                pins.push(Pin::exact(
                    cx.file(".nvmrc"),
                    line_no(i),
                    v,
                    format!("node {v}"),
                ));
            }
        }
        if let (Some(m), Some(text)) = (&manifest, &text) {
            let engines = m.get("engines").and_then(Value::as_object);
            if let Some(range) = engines.and_then(|e| e.get("node")).and_then(Value::as_str) {
                let line = key_line(text, "engines", "node").and_then(line_no);
                let pin =
                    Pin::requirement(file.clone(), line, "node", range).unwrap_or_else(|| {
                        Pin::exact(file.clone(), line, range, format!("node {range}"))
                    });
                pins.push(pin);
            }
        }
        pins.settle(
            &mut p,
            "node",
            "npm warns (and refuses with engine-strict) when the running Node does not satisfy engines.node",
        );

        if let (Some(m), Some(text)) = (&manifest, &text) {
            for key in DEPENDENCY_KEYS {
                let Some(deps) = m.get(*key).and_then(Value::as_object) else {
                    continue;
                };
                for (name, service) in PACKAGE_SERVICES {
                    if deps.contains_key(*name) {
                        p.add_service(
                            *service,
                            Evidence {
                                file: file.clone(),
                                line: key_line(text, key, name).and_then(line_no),
                                found: format!("package {name} → {}", service.name()),
                            },
                        );
                    }
                }
            }
        }

        let install = LOCKFILES
            .iter()
            .find(|(lock, _)| cx.dir.has(lock))
            .map_or("npm install", |(_, cmd)| cmd);
        p.setup.push(install.into());
        p
    }
}

/// package.json as an object; anything else is recorded as unparsable with where it broke.
fn parse(cx: &mut Cx, text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Some(m),
        Ok(_) => {
            cx.cannot_parse("package.json", "not a JSON object".into());
            None
        }
        Err(e) => {
            let reason = format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            );
            cx.cannot_parse("package.json", reason);
            None
        }
    }
}

/// The 0-based line where `"name":` appears after the line where `"section":` does: the
/// parsed JSON keeps no positions, so the text is searched the way a reader would.
fn key_line(text: &str, section: &str, name: &str) -> Option<usize> {
    let start = find_key(text, section, 0)?;
    find_key(text, name, start)
}

fn find_key(text: &str, key: &str, from: usize) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    text.lines().enumerate().skip(from).find_map(|(i, line)| {
        line.match_indices(&quoted)
            .any(|(at, q)| line[at + q.len()..].trim_start().starts_with(':'))
            .then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_keys_are_found_in_their_section() {
        let text = "{\n  \"scripts\": { \"pg\": \"psql\" },\n  \"dependencies\": {\n    \"pg-promise\": \"11\",\n    \"pg\" : \"^8.11.3\"\n  }\n}\n";
        assert_eq!(key_line(text, "dependencies", "pg"), Some(4));
        assert_eq!(key_line(text, "devDependencies", "pg"), None);
        assert_eq!(first_value("\n# pinned\n v20 \n"), Some((2, "v20")));
    }
}
