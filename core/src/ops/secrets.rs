//! Secrets operations: secrets_decrypt.

use super::{Operation, Uses};
use crate::call::Call;
use crate::error::Result;
use crate::oci::Store;
use crate::secrets::{self, DecryptOptions, FileFormat, SecretValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
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
