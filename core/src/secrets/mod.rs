//! Secrets tiers: plain dotenv files and SOPS-encrypted dotenv, YAML and JSON files
//! (age recipients), read natively: no shell, no `sops` binary (docs/secrets.md,
//! docs/decisions/0014).
//!
//! - [`parse_dotenv`]: dotenv text by dotenv's rules; `$(rm -rf ~)` is a string.
//! - [`decrypt_file`]: a SOPS file decrypted with the age identities sops would use,
//!   every value authenticated and the file's MAC verified (a change is `INTEGRITY`).
//! - [`read_tiers`]: several files merged in order, later keys winning; [`push`]: the
//!   result written to a Kubernetes Secret by server-side apply.
//!
//! Values are held in [`SecretString`] and [`SecretValue`], whose `Debug` redacts; no error
//! message holds a value or a line of a file.

mod dotenv;
mod format;
mod push;
mod redact;
mod render;
pub(crate) mod sops;
mod tiers;

pub use format::FileFormat;
pub use push::{push, SecretsPushOptions, SecretsPushed, FIELD_MANAGER, MANAGED_BY};
pub use redact::{SecretString, SecretValue};
pub use render::write_private;
pub use tiers::read_tiers;

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Largest secrets file read (a SOPS file of 64 MiB is not a secrets file).
const MAX_FILE: u64 = 64 << 20;

/// How [`decrypt_file`] reads a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DecryptOptions {
    /// The file's format; `auto` (the default) decides by its name (`.env`, `.yaml`/`.yml`,
    /// `.json`), then its content.
    pub input_type: FileFormat,
    /// The age identities file. Default: the identities sops would use, from `SOPS_AGE_KEY`,
    /// `SOPS_AGE_KEY_FILE` and `$XDG_CONFIG_HOME/sops/age/keys.txt`
    /// (`~/.config/sops/age/keys.txt`).
    #[schemars(extend("x-path" = true))]
    pub age_key_file: Option<PathBuf>,
    /// Read a file that has no sops metadata as a plain secrets file (the plain tier: dotenv
    /// by dotenv's rules) instead of refusing it as not encrypted.
    pub allow_plaintext: bool,
}

/// Decrypted secrets. `Debug` shows keys, never values.
#[derive(Debug, Clone, PartialEq)]
pub enum Secrets {
    /// A dotenv file: keys and string values in file order.
    Dotenv(Vec<(String, SecretString)>),
    /// A YAML or JSON document: a JSON value tree, keys in file order.
    Document(SecretValue),
}

impl Secrets {
    /// The value of a top-level key (a dotenv variable, or a document's top-level entry).
    pub fn get(&self, key: &str) -> Option<SecretValue> {
        match self {
            Secrets::Dotenv(v) => v
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| SecretValue::String(v.clone())),
            Secrets::Document(d) => d.get(key).cloned(),
        }
    }

    /// As one value tree (a dotenv file is a map of strings).
    pub fn to_value(&self) -> SecretValue {
        match self {
            Secrets::Dotenv(v) => SecretValue::Map(
                v.iter()
                    .map(|(k, v)| (k.clone(), SecretValue::String(v.clone())))
                    .collect(),
            ),
            Secrets::Document(d) => d.clone(),
        }
    }

    /// As dotenv text that dotenv parsers (and [`parse_dotenv`]) read back to the same
    /// values. A document must be a map of scalars.
    pub fn to_dotenv(&self) -> Result<SecretString> {
        render::dotenv(&self.to_value())
    }

    /// As pretty JSON, keys in file order.
    pub fn to_json(&self) -> SecretString {
        render::json(&self.to_value())
    }
}

/// What [`decrypt_file_detailed`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct DecryptedFile {
    pub secrets: Secrets,
    /// The format it was read as (never `auto`).
    pub format: FileFormat,
    /// Whether it was a SOPS file (false: plain, read because `allow_plaintext` was set).
    pub encrypted: bool,
}

/// Decrypts the SOPS file at `path` (dotenv, YAML or JSON, age recipients).
pub fn decrypt_file(path: &Path, opts: &DecryptOptions) -> Result<Secrets> {
    decrypt_file_detailed(path, opts).map(|d| d.secrets)
}

/// [`decrypt_file`], also saying which format it read and whether the file was encrypted.
pub fn decrypt_file_detailed(path: &Path, opts: &DecryptOptions) -> Result<DecryptedFile> {
    let text = read(path)?;
    let file = path.display().to_string();
    let format = opts.input_type.resolve(path, &text);
    let keys = match &opts.age_key_file {
        Some(f) => sops::KeySources::file(f),
        None => sops::KeySources::from_env(&|k| std::env::var(k).ok()),
    };
    let store = match format {
        FileFormat::Yaml => sops::Store::Yaml,
        FileFormat::Json => sops::Store::Json,
        _ => sops::Store::Dotenv,
    };
    let secrets = match sops::decrypt(store, &text, &file, &keys)? {
        sops::Decrypted::Sops(values) => {
            let secrets = match store {
                sops::Store::Dotenv => Secrets::Dotenv(
                    values
                        .into_iter()
                        .map(|(k, v)| match v {
                            SecretValue::String(s) => (k, s),
                            _ => (k, SecretString::default()),
                        })
                        .collect(),
                ),
                _ => Secrets::Document(SecretValue::Map(values)),
            };
            return Ok(DecryptedFile {
                secrets,
                format,
                encrypted: true,
            });
        }
        sops::Decrypted::NotSops if !opts.allow_plaintext => {
            return Err(Error::invalid(format!(
                "{file}: not encrypted (no sops metadata); encrypt it with `sops encrypt`, or \
                 read it as a plain secrets file (allow_plaintext, --plain)"
            )))
        }
        sops::Decrypted::NotSops => match store {
            sops::Store::Dotenv => Secrets::Dotenv(parse_dotenv(&text, &file)?),
            _ => Secrets::Document(plain_document(store, &text, &file)?),
        },
    };
    Ok(DecryptedFile {
        secrets,
        format,
        encrypted: false,
    })
}

fn plain_document(store: sops::Store, text: &str, file: &str) -> Result<SecretValue> {
    let top = sops::tree::parse(store, text, file)?;
    fn conv(n: sops::tree::Node) -> SecretValue {
        use sops::tree::Node;
        match n {
            Node::Null => SecretValue::Null,
            Node::Bool(b) => SecretValue::Bool(b),
            Node::Int(i) => SecretValue::Int(i),
            Node::Float(f) => SecretValue::Float(f),
            Node::Str(s) => SecretValue::String(SecretString::new(s)),
            Node::List(l) => SecretValue::List(l.into_iter().map(conv).collect()),
            Node::Map(m) => SecretValue::Map(m.into_iter().map(|(k, v)| (k, conv(v))).collect()),
        }
    }
    Ok(conv(sops::tree::Node::Map(top)))
}

fn read(path: &Path) -> Result<Zeroizing<String>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io("read secrets file", path, e))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read secrets file", path, e))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::invalid(format!(
            "{}: larger than {} MiB; not a secrets file",
            path.display(),
            MAX_FILE >> 20
        )));
    }
    String::from_utf8(bytes)
        .map(Zeroizing::new)
        .map_err(|_| Error::invalid(format!("{}: not UTF-8 text", path.display())))
}

/// Parses dotenv text by dotenv's rules (quotes, escapes, multi-line double-quoted values,
/// `export `, comments, `${VAR}` expansion from the keys above and then the process
/// environment). Nothing is run: `$(rm -rf ~)` is a string. `origin` (a file name) names
/// the text in errors, which give the line number and never the line.
pub fn parse_dotenv(text: &str, origin: &str) -> Result<Vec<(String, SecretString)>> {
    dotenv::parse(text, origin, &|k| std::env::var(k).ok())
}

/// [`parse_dotenv`] with `${VAR}` looked up through `env` instead of the process environment.
pub fn parse_dotenv_with(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, SecretString)>> {
    dotenv::parse(text, origin, env)
}

/// Reads and parses the plain dotenv file at `path`.
pub fn parse_dotenv_file(path: &Path) -> Result<Vec<(String, SecretString)>> {
    let text = read(path)?;
    parse_dotenv(&text, &path.display().to_string())
}
