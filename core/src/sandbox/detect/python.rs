//! Python: a directory with a pyproject.toml, Pipfile, poetry.lock, uv.lock or
//! requirements*.txt. Every one of them that is present is read (a project often has a
//! pyproject and a lock): a service named by any of them counts. Names are compared
//! after PEP 503 normalization (`Psycopg2_Binary` is `psycopg2-binary`).

use super::files::{first_value, line_no, line_of_offset};
use super::version::{Pin, Pins};
use super::{Cx, Ecosystem, Evidence, Project, Provider, Service};
use toml::{Table, Value};

pub(super) struct Python;

/// Distributions whose presence means a service, by normalized name.
const PACKAGE_SERVICES: &[(&str, Service, &str)] = &[
    ("psycopg", Service::Postgres, ""),
    ("psycopg2", Service::Postgres, ""),
    ("psycopg2-binary", Service::Postgres, ""),
    ("asyncpg", Service::Postgres, ""),
    ("mysqlclient", Service::Mysql, ""),
    ("pymysql", Service::Mysql, ""),
    ("redis", Service::Redis, ""),
    // Celery can use RabbitMQ or SQS instead, but Redis is what most projects run it on.
    (
        "celery",
        Service::Redis,
        " (Redis is Celery's usual broker)",
    ),
];

const LOCKS: &[&str] = &["uv.lock", "poetry.lock"];

impl Provider for Python {
    fn claims(&self, dir: &super::ProjectDir) -> bool {
        ["pyproject.toml", "Pipfile", "poetry.lock", "uv.lock"]
            .iter()
            .any(|f| dir.has(f))
            || !requirements_files(dir).is_empty()
    }

    fn detect(&self, cx: &mut Cx) -> Project {
        let mut p = cx.project(Ecosystem::Python);
        let mut found = Found::default();
        if let Some(text) = cx.read(".python-version") {
            if let Some((i, v)) = first_value(&text) {
                let file = cx.file(".python-version");
                let pin = Pin::exact(file, line_no(i), v, format!("python {v}"));
                found.pins.push(pin);
            }
        }
        for lock in LOCKS {
            if let Some(t) = toml_file(cx, lock) {
                found.lock(&cx.file(lock), &t);
            }
        }
        if let Some(t) = toml_file(cx, "pyproject.toml") {
            found.pyproject(&cx.file("pyproject.toml"), &t);
        }
        if let Some(t) = toml_file(cx, "Pipfile") {
            found.pipfile(&cx.file("Pipfile"), &t);
        }
        for name in requirements_files(cx.dir) {
            if let Some(text) = cx.read(&name) {
                let file = cx.file(&name);
                for (pkg, i) in requirements(&text) {
                    found.names.push((pkg, file.clone(), Some(i)));
                }
            }
        }

        found.pins.settle(
            &mut p,
            "python",
            "pip and uv refuse to install a project whose requires-python excludes the running Python",
        );
        for (name, file, line) in found.names {
            if let Some((_, service, why)) = PACKAGE_SERVICES.iter().find(|(n, ..)| *n == name) {
                let found = format!("package {name} → {}{why}", service.name());
                let line = line.and_then(line_no);
                p.add_service(*service, Evidence { file, line, found });
            }
        }
        p.setup.push(install(cx));
        p
    }
}

/// What the project's files say, source by source.
#[derive(Default)]
struct Found {
    /// Every package named anywhere: (normalized name, file, 0-based line).
    names: Vec<(String, String, Option<usize>)>,
    pins: Pins,
}

impl Found {
    /// uv.lock and poetry.lock: `[[package]]` tables, each with its `name`.
    fn lock(&mut self, file: &str, t: &TomlFile) {
        let packages = t.get("package").and_then(Value::as_array);
        for name in packages
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("name")?.as_str())
        {
            let line = find_line(&t.text, |l| l.trim() == format!("name = \"{name}\""));
            self.names.push((normalize(name), file.to_string(), line));
        }
    }

    /// PEP 621's `[project]` (dependencies, optional ones, requires-python), PEP 735's
    /// `[dependency-groups]`, and Poetry's own tables (names as keys, `python` the version).
    fn pyproject(&mut self, file: &str, t: &TomlFile) {
        let project = t.get("project");
        let mut specs: Vec<&str> = strings(project.and_then(|p| p.get("dependencies")));
        for table in [
            project.and_then(|p| p.get("optional-dependencies")),
            t.get("dependency-groups"),
        ] {
            for list in table
                .and_then(Value::as_table)
                .into_iter()
                .flat_map(|t| t.values())
            {
                specs.extend(strings(Some(list)));
            }
        }
        for spec in specs {
            if let Some(name) = requirement_name(spec) {
                let (dq, sq) = (format!("\"{spec}\""), format!("'{spec}'"));
                let line = find_line(&t.text, |l| l.contains(&dq) || l.contains(&sq));
                self.names.push((name, file.to_string(), line));
            }
        }
        if let Some(range) = project
            .and_then(|p| p.get("requires-python"))
            .and_then(Value::as_str)
        {
            let line = find_line(&t.text, |l| l.trim_start().starts_with("requires-python"));
            let pin = Pin::requirement(file.to_string(), line.and_then(line_no), "python", range);
            self.pins.extend(pin);
        }

        let poetry = t.get("tool").and_then(|t| t.get("poetry"));
        let mut tables = vec![
            (
                "tool.poetry.dependencies".to_string(),
                poetry.and_then(|p| p.get("dependencies")),
            ),
            (
                "tool.poetry.dev-dependencies".to_string(),
                poetry.and_then(|p| p.get("dev-dependencies")),
            ),
        ];
        let groups = poetry
            .and_then(|p| p.get("group"))
            .and_then(Value::as_table);
        for (group, g) in groups.into_iter().flatten() {
            let header = format!("tool.poetry.group.{group}.dependencies");
            tables.push((header, g.get("dependencies")));
        }
        for (header, table) in &tables {
            for key in table
                .and_then(Value::as_table)
                .into_iter()
                .flat_map(|t| t.keys())
            {
                if key == "python" {
                    // Not a package: the Python the project supports (`^3.11`).
                    if let Some(range) = table.and_then(|d| d.get("python")).and_then(Value::as_str)
                    {
                        let line = key_line(&t.text, header, "python").and_then(line_no);
                        let pin = Pin::requirement(file.to_string(), line, "python", range);
                        self.pins.extend(pin);
                    }
                    continue;
                }
                let line = key_line(&t.text, header, key);
                self.names.push((normalize(key), file.to_string(), line));
            }
        }
    }

    /// Pipfile: `[packages]` and `[dev-packages]` keys, `[requires] python_version`.
    fn pipfile(&mut self, file: &str, t: &TomlFile) {
        for header in ["packages", "dev-packages"] {
            for key in t
                .get(header)
                .and_then(Value::as_table)
                .into_iter()
                .flat_map(|t| t.keys())
            {
                let line = key_line(&t.text, header, key);
                self.names.push((normalize(key), file.to_string(), line));
            }
        }
        let requires = t.get("requires").and_then(|r| r.get("python_version"));
        if let Some(v) = requires.and_then(Value::as_str) {
            let line = key_line(&t.text, "requires", "python_version").and_then(line_no);
            let pin = Pin::exact(file.to_string(), line, v, format!("python {v}"));
            self.pins.push(pin);
        }
    }
}

/// The install that keeps to the project's lock, or its declared requirements.
fn install(cx: &Cx) -> String {
    let dir = cx.dir;
    if dir.has("uv.lock") {
        "uv sync --frozen".into()
    } else if dir.has("poetry.lock") {
        "poetry install".into()
    } else if dir.has("Pipfile") {
        // --deploy refuses an out-of-date Pipfile.lock; without a lock there is nothing to keep to.
        if dir.has("Pipfile.lock") {
            "pipenv install --deploy".into()
        } else {
            "pipenv install".into()
        }
    } else if let Some(req) = requirements_files(dir)
        .into_iter()
        .min_by_key(|f| (f != "requirements.txt", f.clone()))
    {
        format!("pip install -r {req}")
    } else {
        "pip install .".into()
    }
}

/// `requirements.txt`, `requirements-dev.txt`, `requirements_test.txt`... in the directory.
fn requirements_files(dir: &super::ProjectDir) -> Vec<String> {
    dir.entries
        .keys()
        .filter(|n| n.starts_with("requirements") && n.ends_with(".txt"))
        .cloned()
        .collect()
}

/// A parsed TOML file with its text (for evidence lines).
struct TomlFile {
    table: Table,
    text: String,
}

impl std::ops::Deref for TomlFile {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.table
    }
}

/// Reads and parses `name`; invalid TOML is recorded as unparsable with its line.
fn toml_file(cx: &mut Cx, name: &str) -> Option<TomlFile> {
    let text = cx.read(name)?;
    match toml::from_str::<Table>(&text) {
        Ok(table) => Some(TomlFile { table, text }),
        Err(e) => {
            let at = e.span().and_then(|s| line_of_offset(&text, s.start));
            let line = at.map(|l| format!(" at line {l}")).unwrap_or_default();
            cx.cannot_parse(name, format!("invalid TOML{line}: {}", e.message()));
            None
        }
    }
}

/// The strings of a TOML array (a dependency group's `{include-group = ...}` is skipped).
fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn find_line(text: &str, pred: impl Fn(&str) -> bool) -> Option<usize> {
    text.lines().position(pred)
}

/// The 0-based line of `key = ...` (bare or quoted) after the `[header]` line.
fn key_line(text: &str, header: &str, key: &str) -> Option<usize> {
    let start = find_line(text, |l| {
        let l = l.trim();
        l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) == Some(header)
    })
    .unwrap_or(0);
    text.lines().enumerate().skip(start).find_map(|(i, l)| {
        let l = l.trim_start();
        let l = l.strip_prefix(['"', '\'']).unwrap_or(l);
        let rest = l.strip_prefix(key)?;
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
        rest.trim_start().starts_with('=').then_some(i)
    })
}

/// PEP 503: lower case, runs of `-`, `_` and `.` as one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The normalized distribution name of a PEP 508 requirement (`Redis[hiredis]>=5`,
/// `psycopg2-binary==2.9; python_version>"3"`); `None` for options (`-r`, `--hash`),
/// URLs and paths, which name no package without fetching them.
fn requirement_name(spec: &str) -> Option<String> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| "=<>~![;@(".contains(c) || c.is_whitespace())
        .unwrap_or(spec.len());
    let name = &spec[..end];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with(['-', '.']);
    valid.then(|| normalize(name))
}

/// The requirements of a requirements file with their 0-based line: comments dropped,
/// `\` continuations joined (the requirement's line is where it starts).
fn requirements(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut joined = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if joined.is_empty() {
            start = i;
        }
        // A comment starts at `#` at the line's start or after whitespace (URLs hold `#`).
        let line = match line
            .match_indices('#')
            .find(|(at, _)| *at == 0 || line[..*at].ends_with(char::is_whitespace))
        {
            Some((at, _)) => &line[..at],
            None => line,
        };
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        if let Some(name) = requirement_name(&joined) {
            out.push((name, start));
        }
        joined.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names_are_pep_503_normalized() {
        assert_eq!(
            requirement_name("Redis[hiredis]>=5").as_deref(),
            Some("redis")
        );
        assert_eq!(
            requirement_name("psycopg2-binary==2.9; python_version>\"3\"").as_deref(),
            Some("psycopg2-binary")
        );
        assert_eq!(requirement_name("PyMySQL").as_deref(), Some("pymysql"));
        assert_eq!(
            requirement_name("Psycopg2__Binary.x").as_deref(),
            Some("psycopg2-binary-x")
        );
        assert_eq!(
            requirement_name("celery @ https://x/celery.whl").as_deref(),
            Some("celery")
        );
        assert_eq!(requirement_name("-r base.txt"), None);
        assert_eq!(requirement_name("./local"), None);
        assert_eq!(requirement_name("git+https://github.com/x/y"), None);
    }

    #[test]
    fn requirements_files_skip_comments_and_join_continuations() {
        let text = "# web\n-r base.txt\nasyncpg==0.29 \\\n    --hash=sha256:abc\nredis>=5  # cache\n\n--index-url https://x\n";
        assert_eq!(
            requirements(text),
            [("asyncpg".into(), 2), ("redis".into(), 4)]
        );
    }

    #[test]
    fn keys_are_found_under_their_table() {
        let text = "[tool.black]\nredis = 1\n[tool.poetry.dependencies]\npython = \"^3.11\"\n\"redis\" = \"^5\"\n";
        assert_eq!(key_line(text, "tool.poetry.dependencies", "redis"), Some(4));
        assert_eq!(
            key_line(text, "tool.poetry.dependencies", "python"),
            Some(3)
        );
    }
}
