//! Writing one Secret by server-side apply: the write behind `secrets_push`.
//!
//! Server-side apply as one field manager makes the Secret's `data` exactly what the caller
//! applies: a key left out of the next apply is a field the manager gave up, and the API
//! server removes it. A field another manager owns (a Secret made by kubectl, a controller's)
//! is a CONFLICT unless the caller forces the take-over. Values travel only in the request
//! body: never in a URL, a message or `Debug`.

use super::{KubeClient, SecretData};
use crate::error::{Error, ErrorKind, Result};
use ::kube::api::{Api, ObjectMeta, Patch, PatchParams};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use std::collections::BTreeMap;

/// What [`KubeClient::apply_secret`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSecret {
    /// The Secret did not exist before.
    pub created: bool,
    /// Its `metadata.resourceVersion` after the apply.
    pub resource_version: String,
}

impl KubeClient {
    /// Creates or updates Secret `ns/name` (type `Opaque`) holding exactly `data` and
    /// `labels`, by server-side apply as `field_manager`. Keys this manager applied before
    /// and `data` no longer holds are removed. Fields another manager owns with other values
    /// are `CONFLICT` naming them, unless `force` takes them over.
    pub fn apply_secret(
        &self,
        ns: &str,
        name: &str,
        data: &SecretData,
        labels: &BTreeMap<String, String>,
        field_manager: &str,
        force: bool,
    ) -> Result<AppliedSecret> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let what = format!("Secret {ns}/{name}");
        // Metadata only: the values already there are never read.
        let existed = self.run(&what, api.get_metadata_opt(name))?.is_some();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(ns.to_owned()),
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_owned(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        };
        let mut params = PatchParams::apply(field_manager);
        if force {
            params = params.force();
        }
        let stored = self
            .run_write(&what, api.patch(name, &params, &Patch::Apply(&secret)))
            .map_err(|e| match e.kind {
                // An apply answers 409 only for fields another manager owns.
                ErrorKind::Conflict => Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "{}: another field manager owns these fields of the Secret with other \
                         values; idpkit takes them over only when told to: push with force \
                         (--force), or delete the Secret first",
                        e.message
                    ),
                ),
                _ => e,
            })?;
        Ok(AppliedSecret {
            created: !existed,
            resource_version: stored.metadata.resource_version.unwrap_or_default(),
        })
    }
}
