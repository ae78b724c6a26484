//! Secrets tiers merged into one set of variables: each file a plain dotenv file or a SOPS
//! dotenv, YAML or JSON file, later files overriding earlier keys. What a Kubernetes Secret
//! (or a process environment) can hold: flat text values under simple keys.

use super::{
    decrypt_file_detailed, DecryptOptions, FileFormat, SecretString, SecretValue, Secrets,
};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads `files` in order and merges their keys, a later file's value replacing an earlier
/// one's. A file without sops metadata must be a dotenv file (the plain tier,
/// `.env.claude-sandbox`): plain YAML or JSON is refused, since an unencrypted structured
/// file next to SOPS ones is most likely a mistake. A YAML or JSON document must be a flat
/// map of scalars (numbers and booleans become their text, null the empty string). Keys
/// must be valid Secret keys (letters, digits, `-`, `_`, `.`).
pub fn read_tiers(
    files: &[PathBuf],
    age_key_file: Option<&Path>,
) -> Result<BTreeMap<String, SecretString>> {
    let opts = DecryptOptions {
        input_type: FileFormat::Auto,
        age_key_file: age_key_file.map(Path::to_path_buf),
        allow_plaintext: true,
    };
    let mut merged = BTreeMap::new();
    for file in files {
        let shown = file.display();
        let d = decrypt_file_detailed(file, &opts)?;
        if !d.encrypted && d.format != FileFormat::Dotenv {
            return Err(Error::invalid(format!(
                "{shown}: not encrypted (no sops metadata); a plain tier must be a dotenv file \
                 (such as .env.claude-sandbox): encrypt this one with `sops encrypt`"
            )));
        }
        let pairs = match d.secrets {
            Secrets::Dotenv(pairs) => pairs,
            Secrets::Document(SecretValue::Map(m)) => {
                let mut pairs = Vec::with_capacity(m.len());
                for (k, v) in m {
                    let t = text(&v).ok_or_else(|| nested(&shown, &k, &v))?;
                    pairs.push((k, t));
                }
                pairs
            }
            Secrets::Document(_) => {
                return Err(Error::invalid(format!(
                    "{shown}: the document is not a map of keys to values"
                )))
            }
        };
        for (k, v) in pairs {
            check_key(&k, &shown)?;
            merged.insert(k, v);
        }
    }
    Ok(merged)
}

/// A scalar as the text a Secret holds; `None` for a list or map.
fn text(v: &SecretValue) -> Option<SecretString> {
    Some(SecretString::new(match v {
        SecretValue::Null => String::new(),
        SecretValue::Bool(b) => b.to_string(),
        SecretValue::Int(i) => i.to_string(),
        SecretValue::Float(f) => super::sops::cipher::go_float(*f),
        SecretValue::String(s) => s.expose().to_owned(),
        SecretValue::List(_) | SecretValue::Map(_) => return None,
    }))
}

fn nested(file: &impl std::fmt::Display, key: &str, v: &SecretValue) -> Error {
    let what = if matches!(v, SecretValue::List(_)) {
        "a list"
    } else {
        "a map"
    };
    Error::invalid(format!(
        "{file}: key {key:?} holds {what}; a secrets tier must be a flat map of keys to text, \
         numbers or booleans (a Secret holds one text per key): move its entries to top-level \
         keys"
    ))
}

/// A Secret's keys: `[-._a-zA-Z0-9]+`, at most 253 bytes, not `.` or `..`.
fn check_key(key: &str, file: &impl std::fmt::Display) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{file}: key {key:?} cannot be a Kubernetes Secret key (letters, digits, '-', '_' \
             and '.', at most 253)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_become_text_and_nested_values_are_named() {
        assert_eq!(text(&SecretValue::Int(5432)).unwrap().expose(), "5432");
        assert_eq!(text(&SecretValue::Bool(false)).unwrap().expose(), "false");
        assert_eq!(text(&SecretValue::Null).unwrap().expose(), "");
        let v = SecretValue::Map(vec![("p".into(), SecretValue::String("hunter2".into()))]);
        assert!(text(&v).is_none());
        let e = nested(&"s.yaml", "database", &v);
        assert!(
            e.message.contains("s.yaml: key \"database\" holds a map"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("hunter2"));
        assert!(check_key("DB_PASSWORD", &"f").is_ok());
        assert!(check_key("tls.crt", &"f").is_ok());
        assert!(check_key("a/b", &"f").is_err());
        assert!(check_key("..", &"f").is_err());
    }
}
