//! Reading a supervisor file: a Procfile (`name: command` lines, as foreman and goreman
//! read them), or a TOML or YAML file in process-compose's shape (`processes.NAME.command`,
//! `depends_on`, `readiness_probe`, `availability`, `shutdown`). process-compose's own
//! spellings are accepted where they differ (`environment` as a `K=V` list, a numeric
//! `shutdown.signal`, a top-level `version`); any other field it has that idpkit does not is
//! refused by name instead of ignored.

use super::spec::{ProcessSpec, SupervisorSpec};
use crate::error::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Bigger files are not supervisor files.
const MAX_FILE: u64 = 1 << 20;

/// Reads `path`; relative working directories are made relative to its directory.
pub fn read(path: &Path) -> Result<SupervisorSpec> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return Err(Error::invalid(format!(
            "{}: not a supervisor file (a regular file of at most 1 MiB: a Procfile, .toml \
             or .yaml)",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut spec = match ext.as_str() {
        "toml" => from_value(toml_value(&text, path)?, path)?,
        "yaml" | "yml" => from_value(yaml_value(&text, path)?, path)?,
        _ => procfile(&text, path)?,
    };
    // Working directories are taken from the file's own (absolute: a bare `Procfile` has an
    // empty parent, which no process can start in).
    let base = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    for p in spec.processes.values_mut() {
        p.working_dir = Some(match p.working_dir.take() {
            Some(d) if d.is_absolute() => d,
            Some(d) => base.join(d),
            None => base.clone(),
        });
    }
    spec.check().map_err(|e| e.context(path.display()))?;
    Ok(spec)
}

/// `name: command` per line; blank lines and `#` comments skipped.
pub fn procfile(text: &str, path: &Path) -> Result<SupervisorSpec> {
    let mut spec = SupervisorSpec::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let Some((name, command)) = line.split_once(':') else {
            return Err(Error::invalid(format!(
                "{at}: expected `name: command` (a Procfile line)"
            )));
        };
        let (name, command) = (name.trim().to_string(), command.trim().to_string());
        if command.is_empty() {
            return Err(Error::invalid(format!("{at}: {name:?} has no command")));
        }
        let process = ProcessSpec {
            command: Some(command),
            ..ProcessSpec::default()
        };
        if spec.processes.insert(name.clone(), process).is_some() {
            return Err(Error::invalid(format!("{at}: {name:?} is defined twice")));
        }
    }
    Ok(spec)
}

fn toml_value(text: &str, path: &Path) -> Result<Value> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| Error::invalid(format!("{}: not valid TOML: {e}", path.display())))?;
    serde_json::to_value(table).map_err(|e| Error::internal(e.to_string()))
}

fn yaml_value(text: &str, path: &Path) -> Result<Value> {
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| Error::invalid(format!("{}: not valid YAML: {e}", path.display())))
}

/// process-compose's spellings made idpkit's, then read strictly.
fn from_value(mut v: Value, path: &Path) -> Result<SupervisorSpec> {
    if let Some(top) = v.as_object_mut() {
        top.remove("version");
        if let Some(Value::Object(procs)) = top.get_mut("processes") {
            for p in procs.values_mut() {
                normalize_process(p);
            }
        }
    }
    crate::ops::parse_value(v, &path.display().to_string())
}

fn normalize_process(p: &mut Value) {
    let Some(p) = p.as_object_mut() else { return };
    if let Some(Value::Array(list)) = p.get("environment") {
        let mut map = serde_json::Map::new();
        for item in list {
            if let Some((k, v)) = item.as_str().and_then(|s| s.split_once('=')) {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
        p.insert("environment".into(), Value::Object(map));
    }
    if let Some(Value::Object(sd)) = p.get_mut("shutdown") {
        if let Some(Value::Number(n)) = sd.get("signal") {
            let s = n.to_string();
            sd.insert("signal".into(), Value::String(s));
        }
    }
    for probe in ["readiness_probe", "liveness_probe"] {
        if let Some(Value::Object(pr)) = p.get_mut(probe) {
            for field in ["initial_delay_seconds", "period_seconds", "timeout_seconds"] {
                if let Some(Value::Number(n)) = pr.get(field) {
                    let f = n.as_f64().unwrap_or(0.0);
                    pr.insert(field.into(), Value::from(f));
                }
            }
        }
    }
}

/// The default state directory of a supervisor file: `.idpkit-run` beside it.
pub fn default_state_dir(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".idpkit-run")
}
