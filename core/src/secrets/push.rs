//! The Kubernetes tier: secrets files merged ([`super::read_tiers`]) and written to one
//! Secret by server-side apply as field manager `idpkit` (docs/secrets.md, "Kubernetes
//! Secrets"). The values go from the files to the request body and nowhere else: not to
//! disk, a log, an error message, a URL or a command line.

use super::{read_tiers, SecretString};
use crate::call::Call;
use crate::error::{Error, Result};
use crate::kube::{check_name, KubeClient, KubeOptions, SecretData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The field manager idpkit applies Secrets as.
pub const FIELD_MANAGER: &str = "idpkit";
/// The label every pushed Secret carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "idpkit");

/// Which Secret to write from which secrets files, and where the cluster is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsPushOptions {
    /// The Secret's namespace (it must exist).
    pub namespace: String,
    /// The Secret's name.
    pub name: String,
    /// The secrets tiers, in order: a key in a later file replaces the same key of an
    /// earlier one. Each is a SOPS-encrypted dotenv, YAML or JSON file (a flat map of
    /// scalars) or a plain dotenv file (`.env.claude-sandbox`).
    #[schemars(extend("x-path" = true))]
    pub files: Vec<PathBuf>,
    /// The age identities file. Default: what sops reads, `SOPS_AGE_KEY`,
    /// `SOPS_AGE_KEY_FILE` and `$XDG_CONFIG_HOME/sops/age/keys.txt`.
    #[schemars(extend("x-path" = true))]
    pub age_key_file: Option<PathBuf>,
    /// Where the cluster is.
    pub cluster: KubeOptions,
    /// More labels for the Secret; `app.kubernetes.io/managed-by: idpkit` is always set.
    pub labels: BTreeMap<String, String>,
    /// Take over keys and labels another field manager set (kubectl, a controller) instead
    /// of failing with `CONFLICT`.
    pub force: bool,
}

/// The Secret as pushed: its key names, never its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretsPushed {
    pub namespace: String,
    pub name: String,
    /// The Secret's keys, sorted: exactly the keys of the files.
    pub keys: Vec<String>,
    /// Whether the push created the Secret (false: it updated one).
    pub created: bool,
    /// The Secret's `metadata.resourceVersion` after the push.
    pub resource_version: String,
}

/// Reads the tiers, then creates or updates the Secret (type `Opaque`) so that it holds
/// exactly their keys: a key the files no longer have is removed from it.
pub fn push(o: &SecretsPushOptions, call: &Call) -> Result<SecretsPushed> {
    check_name("namespace", &o.namespace)?;
    check_name("name", &o.name)?;
    if o.files.is_empty() {
        return Err(Error::invalid(
            "no secrets file given; name at least one (a plain .env.claude-sandbox, a SOPS \
             .env.sops or secrets.sops.yaml)",
        ));
    }
    let mut labels = o.labels.clone();
    match labels.insert(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()) {
        Some(v) if v != MANAGED_BY.1 => {
            return Err(Error::invalid(format!(
                "label {} is idpkit's own ({}); leave it out of labels",
                MANAGED_BY.0, MANAGED_BY.1
            )))
        }
        _ => {}
    }
    let values = read_tiers(&o.files, o.age_key_file.as_deref())?;
    let data = SecretData::from(
        values
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().as_bytes().to_vec()))
            .collect::<BTreeMap<_, _>>(),
    );
    let client = KubeClient::connect(&o.cluster, call.sink())?.with_cancel(call.cancel());
    let applied = client
        .apply_secret(
            &o.namespace,
            &o.name,
            &data,
            &labels,
            FIELD_MANAGER,
            o.force,
        )
        .map_err(|e| scrub(e, &values))?;
    Ok(SecretsPushed {
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        keys: values.keys().cloned().collect(),
        created: applied.created,
        resource_version: applied.resource_version,
    })
}

/// The API server does not quote a Secret's values back; belt and braces, an error that
/// reaches the caller has none (values under 4 bytes are left: replacing every `1` in a
/// message would hide it, not a secret).
fn scrub(mut e: Error, values: &BTreeMap<String, SecretString>) -> Error {
    for v in values.values().map(SecretString::expose) {
        if v.len() >= 4 && e.message.contains(v) {
            e.message = e.message.replace(v, "<redacted>");
        }
    }
    e
}
