//! Reading (and, for tests and fixtures, writing) objects: Secrets, ConfigMaps, custom
//! objects by group, versions and plural (Flux's and Argo CD's kinds), through kube-rs's
//! typed and dynamic APIs.

use super::KubeClient;
use crate::error::{Error, ErrorKind, Result};
use ::kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use ::kube::core::{ApiResource, GroupVersionKind};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use std::collections::BTreeMap;
use std::fmt;

/// The `data` of a Secret, decoded: key → bytes. `Debug` shows the keys, never the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData(BTreeMap<String, Vec<u8>>);

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl SecretData {
    /// The bytes of `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(Vec::as_slice)
    }

    /// `key` as text, trimmed (Secrets are often written with a trailing newline); `None`
    /// when it is missing, empty or not UTF-8.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Keys and values, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<BTreeMap<String, Vec<u8>>> for SecretData {
    fn from(m: BTreeMap<String, Vec<u8>>) -> Self {
        SecretData(m)
    }
}

fn secret_data(s: Secret) -> SecretData {
    SecretData(
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect(),
    )
}

/// `plural.group` (`gitrepositories.source.toolkit.fluxcd.io`), as kubectl names a resource.
pub(super) fn resource_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn api_resource(group: &str, version: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, ""), plural)
}

impl KubeClient {
    pub(super) fn dynamic(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        ns: &str,
    ) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            ns,
            &api_resource(group, version, plural),
        )
    }

    /// Secret `ns/name`, decoded; `None` when it does not exist.
    pub fn secret(&self, ns: &str, name: &str) -> Result<Option<SecretData>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let what = format!("Secret {ns}/{name}");
        Ok(self.run(&what, api.get_opt(name))?.map(secret_data))
    }

    /// The Secrets of `ns` matching `label_selector` (`key`, `key=value`, `key in (a,b)`),
    /// by name, in the API server's order.
    pub fn secrets_with_label(
        &self,
        ns: &str,
        label_selector: &str,
    ) -> Result<Vec<(String, SecretData)>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let what = format!("Secrets in {ns} labelled {label_selector}");
        let list = self.run(
            &what,
            api.list(&ListParams::default().labels(label_selector)),
        )?;
        Ok(list
            .items
            .into_iter()
            .map(|s| (s.metadata.name.clone().unwrap_or_default(), secret_data(s)))
            .collect())
    }

    /// The `data` of ConfigMap `ns/name`; `None` when it does not exist.
    pub fn config_map(&self, ns: &str, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
        let what = format!("ConfigMap {ns}/{name}");
        Ok(self
            .run(&what, api.get_opt(name))?
            .map(|c| c.data.unwrap_or_default()))
    }

    /// Custom object `ns/name` of `plural.group`, in the first of `versions` the API server
    /// serves it in: `(version, object)` with the object as JSON (`apiVersion`, `kind`,
    /// `metadata`, `spec`, `status`). `NOT_FOUND` names the resource, `ns/name` and the
    /// versions tried, and says whether the object or the resource (its CRD) is missing.
    pub fn custom_object(
        &self,
        group: &str,
        versions: &[&str],
        plural: &str,
        ns: &str,
        name: &str,
    ) -> Result<(String, serde_json::Value)> {
        let resource = resource_name(group, plural);
        let what = format!("{resource} {ns}/{name}");
        let mut object_missing = false;
        for v in versions {
            let api = self.dynamic(group, v, plural, ns);
            let got = self.run(&what, async {
                match api.get(name).await {
                    Ok(o) => Ok(Some(o)),
                    Err(::kube::Error::Api(s)) if s.code == 404 => {
                        // An object that is missing comes back with its name in the details;
                        // a version (or resource) that is not served, without.
                        object_missing |= s.details.as_ref().is_some_and(|d| !d.name.is_empty());
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })?;
            if let Some(o) = got {
                let value = serde_json::to_value(&o)
                    .map_err(|e| Error::internal(format!("{what} as JSON: {e}")))?;
                return Ok((v.to_string(), value));
            }
        }
        let tried = versions.join(", ");
        Err(Error::not_found(if object_missing {
            format!(
                "{what} not found on {} (context {:?}; versions tried: {tried})",
                self.target.server, self.target.context
            )
        } else {
            format!(
                "the API server {} (context {:?}) does not serve {resource} in version {tried}; is the \
                 controller that owns it installed (its CustomResourceDefinition)?",
                self.target.server, self.target.context
            )
        }))
    }

    /// Creates or updates an object by server-side apply (`object` with `apiVersion`, `kind`,
    /// `metadata.name` and, when namespaced, `metadata.namespace`) as `field_manager`,
    /// taking over fields other managers set. Returns the object as stored. For fixtures and
    /// tests: idpkit itself only reads clusters.
    pub fn apply(
        &self,
        object: &serde_json::Value,
        field_manager: &str,
    ) -> Result<serde_json::Value> {
        let field = |p: &str| object.pointer(p).and_then(|v| v.as_str()).unwrap_or("");
        let (api_version, kind, name) = (
            field("/apiVersion"),
            field("/kind"),
            field("/metadata/name"),
        );
        let ns = field("/metadata/namespace");
        if api_version.is_empty() || kind.is_empty() || name.is_empty() {
            return Err(Error::invalid(
                "an object to apply needs apiVersion, kind and metadata.name",
            ));
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let what = if ns.is_empty() {
            format!("{kind} {name}")
        } else {
            format!("{kind} {ns}/{name}")
        };
        let (ar, caps) = self.run(
            &format!("the resource of {kind} ({api_version})"),
            ::kube::discovery::pinned_kind(&self.client, &gvk),
        )?;
        let api: Api<DynamicObject> = match caps.scope {
            ::kube::discovery::Scope::Namespaced if ns.is_empty() => {
                return Err(Error::invalid(format!(
                    "{what}: {kind} is namespaced; set metadata.namespace"
                )))
            }
            ::kube::discovery::Scope::Namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &ar)
            }
            ::kube::discovery::Scope::Cluster => Api::all_with(self.client.clone(), &ar),
        };
        let params = PatchParams::apply(field_manager).force();
        let stored = self.run_write(&what, api.patch(name, &params, &Patch::Apply(object)))?;
        serde_json::to_value(&stored).map_err(|e| Error::internal(format!("{what} as JSON: {e}")))
    }

    /// Sets `status` of custom object `ns/name` (a JSON merge patch): through the status
    /// subresource when the resource has one, else on the object itself. Returns the object
    /// as stored. For fixtures and tests, like [`KubeClient::apply`].
    pub fn patch_status(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        ns: &str,
        name: &str,
        status: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let api = self.dynamic(group, version, plural, ns);
        let what = format!("the status of {} {ns}/{name}", resource_name(group, plural));
        let patch = Patch::Merge(serde_json::json!({ "status": status }));
        let params = PatchParams::default();
        let stored = self.run_write(&what, async {
            match api.patch_status(name, &params, &patch).await {
                // No status subresource: the object's own `status` field is the status.
                Err(::kube::Error::Api(s)) if s.code == 404 => {
                    api.patch(name, &params, &patch).await
                }
                other => other,
            }
        })?;
        serde_json::to_value(&stored)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("{what}: {e}")))
    }
}
