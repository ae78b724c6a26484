//! Secrets operations: secrets_decrypt, secrets_parse, secrets_push.

use super::{Operation, Uses};
use crate::call::Call;
use crate::error::Result;
use crate::oci::Store;
use crate::secrets::{
    self, DecryptOptions, FileFormat, SecretString, SecretValue, SecretsPushOptions, SecretsPushed,
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsDecryptOptions {
    /// The secrets file: SOPS-encrypted dotenv, YAML or JSON (age recipients).
    #[schemars(extend("x-path" = true))]
    pub path: PathBuf,
    /// Its format; `auto` decides by the name (`.env`, `.yaml`/`.yml`, `.json`), then the
    /// content.
    pub input_type: FileFormat,
    /// The age identities file. Default: what sops reads, `SOPS_AGE_KEY`,
    /// `SOPS_AGE_KEY_FILE` and `$XDG_CONFIG_HOME/sops/age/keys.txt`.
    #[schemars(extend("x-path" = true))]
    pub age_key_file: Option<PathBuf>,
    /// Read a file without sops metadata as plain (dotenv by dotenv's rules) instead of
    /// refusing it.
    pub allow_plaintext: bool,
}

/// The decrypted values of a secrets file.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SecretsDecrypted {
    /// The format the file was read as (`dotenv`, `yaml` or `json`).
    pub format: FileFormat,
    /// Whether the file was SOPS-encrypted (false: a plain file, read because
    /// `allow_plaintext` was set).
    pub encrypted: bool,
    /// The values: a map of strings for dotenv, the document for YAML and JSON; keys in
    /// the file's order.
    #[schemars(extend("x-secret" = true))]
    pub values: SecretValue,
}

pub struct SecretsDecrypt;
impl Operation for SecretsDecrypt {
    const NAME: &'static str = "secrets_decrypt";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Decrypts a SOPS file (dotenv, YAML, JSON; age recipients) \
        natively, verifying every value and the file's MAC; returns its values.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["path"];
    type Options = SecretsDecryptOptions;
    type Output = SecretsDecrypted;
    fn run(_: Option<&Store>, o: &SecretsDecryptOptions, _: &Call) -> Result<SecretsDecrypted> {
        let d = secrets::decrypt_file_detailed(
            &o.path,
            &DecryptOptions {
                input_type: o.input_type,
                age_key_file: o.age_key_file.clone(),
                allow_plaintext: o.allow_plaintext,
            },
        )?;
        Ok(SecretsDecrypted {
            format: d.format,
            encrypted: d.encrypted,
            values: d.secrets.to_value(),
        })
    }
}

/// Dotenv text to parse.
// Debug is written out below: it must not show the text, which holds secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsParseOptions {
    /// The dotenv text.
    #[schemars(extend("x-secret" = true))]
    pub text: String,
    /// What names the text in errors (a file name); errors give a line number, never a
    /// line.
    pub origin: String,
}

impl Default for SecretsParseOptions {
    fn default() -> Self {
        SecretsParseOptions {
            text: String::new(),
            origin: "dotenv".to_owned(),
        }
    }
}

impl fmt::Debug for SecretsParseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsParseOptions")
            .field("text", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

/// Variables in file order: a JSON object of strings.
// Debug shows the keys only.
#[derive(Clone, Default, PartialEq)]
pub struct DotenvValues(pub Vec<(String, SecretString)>);

impl fmt::Debug for DotenvValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Serialize for DotenvValues {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl JsonSchema for DotenvValues {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "DotenvValues".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({"type": "object", "additionalProperties": {"type": "string"}})
    }
}

/// Parsed dotenv text.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SecretsParsed {
    /// The variables, in the text's order (a key given twice keeps its first place and
    /// its last value).
    #[schemars(extend("x-secret" = true))]
    pub values: DotenvValues,
}

/// `secrets_parse`: dotenv by dotenv's rules, so every language reads `.env` files the same
/// way and none needs a shell (which would run `$(…)`).
pub struct SecretsParse;
impl Operation for SecretsParse {
    const NAME: &'static str = "secrets_parse";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Parses dotenv text by dotenv's rules (quotes, escapes, \
        `${VAR}` expansion; nothing is run: `$(…)` stays text); returns its variables in order.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["text"];
    type Options = SecretsParseOptions;
    type Output = SecretsParsed;
    fn run(_: Option<&Store>, o: &SecretsParseOptions, _: &Call) -> Result<SecretsParsed> {
        Ok(SecretsParsed {
            values: DotenvValues(secrets::parse_dotenv(&o.text, &o.origin)?),
        })
    }
}

pub struct SecretsPush;
impl Operation for SecretsPush {
    const NAME: &'static str = "secrets_push";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Creates or updates a Kubernetes Secret from secrets files \
        (plain dotenv, SOPS dotenv/YAML/JSON; later files override earlier keys) by \
        server-side apply as `idpkit`: keys gone from the files leave the Secret; returns its \
        key names.";
    const USES: Uses = Uses::CANCEL;
    const POSITIONAL: &'static [&'static str] = &["namespace", "name", "files"];
    type Options = SecretsPushOptions;
    type Output = SecretsPushed;
    fn run(_: Option<&Store>, o: &SecretsPushOptions, call: &Call) -> Result<SecretsPushed> {
        secrets::push(o, call)
    }
}
