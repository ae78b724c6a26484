//! Which store reads a secrets file: by its name, then by its content.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A secrets file's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// By the name (`*.json`, `*.yaml`/`*.yml`, `.env*`/`*.env`), else the content.
    #[default]
    Auto,
    Dotenv,
    Yaml,
    Json,
}

impl FileFormat {
    /// The concrete format (never `Auto`) of the file at `path` holding `text`.
    pub fn resolve(self, path: &Path, text: &str) -> FileFormat {
        if self != FileFormat::Auto {
            return self;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".json") {
            return FileFormat::Json;
        }
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            return FileFormat::Yaml;
        }
        if name.starts_with(".env") || name.ends_with(".env") || name.contains(".env.") {
            return FileFormat::Dotenv;
        }
        let first = text.trim_start();
        if first.starts_with('{') {
            FileFormat::Json
        } else if text
            .lines()
            .any(|l| l.starts_with("sops_mac=") || l.starts_with("sops_version="))
        {
            FileFormat::Dotenv
        } else {
            FileFormat::Yaml
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_then_content() {
        let r = |p: &str, t: &str| FileFormat::Auto.resolve(Path::new(p), t);
        assert_eq!(r("/x/.env.sops", ""), FileFormat::Dotenv);
        assert_eq!(r("prod.env", ""), FileFormat::Dotenv);
        assert_eq!(r("a.sops.yaml", ""), FileFormat::Yaml);
        assert_eq!(r("a.sops.JSON", ""), FileFormat::Json);
        assert_eq!(r("blob", " {\"a\":1}"), FileFormat::Json);
        assert_eq!(r("blob", "A=1\nsops_mac=ENC[x]\n"), FileFormat::Dotenv);
        assert_eq!(r("blob", "a: 1\n"), FileFormat::Yaml);
        assert_eq!(
            FileFormat::Json.resolve(Path::new("x.env"), ""),
            FileFormat::Json
        );
    }
}
