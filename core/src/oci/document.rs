//! The OCI documents idpkit hands back (manifest, index, image config) as typed structures of
//! the call contract.
//!
//! oci-spec's types are what idpkit reads and writes with, but they carry no JSON Schema, so
//! the contract (and with it every language's generated mirror) could only say "any JSON".
//! These mirrors keep the documents' own wire names (`mediaType`, `Env`, `os.version`), so the
//! JSON a result carries is the document as the image spec writes it, and each front end maps
//! the names to its own style (Python `media_type`, Go `MediaType`). Fields the OCI image spec
//! does not define (Docker's `Healthcheck`, `container_config`) are not kept: read the blob for
//! those.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{Error, Result};

/// A map of strings (annotations, labels).
pub type StringMap = BTreeMap<String, String>;

/// A content descriptor: what a manifest or index points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// In an index: the platform the manifest is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The content itself, base64 (small blobs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// The platform an image runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI, or Docker's schema 2 of the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    /// Base layer first.
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// An image index (OCI) or manifest list (Docker): one manifest per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// An image config: what runs, on what platform, built from which layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageConfig {
    /// When the image was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// How a container of the image runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
    /// One entry per build step, layer-creating or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<History>>,
}

/// The config's `config`: how a container of the image runs (the image spec's names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports as `port/tcp`; each value is an empty object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `NAME=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Paths; each value is an empty object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The layers' uncompressed digests, base first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

/// One build step of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The step made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

/// The config media types whose blob is an image config (anything else is an artifact's).
pub fn is_image_config(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.oci.image.config.v1+json"
            | "application/vnd.docker.container.image.v1+json"
    )
}

/// A document a result carries, with the name an error gives it.
pub trait Document: DeserializeOwned {
    const KIND: &'static str;
}
impl Document for ImageManifest {
    const KIND: &'static str = "image manifest";
}
impl Document for ImageIndex {
    const KIND: &'static str = "image index";
}
impl Document for ImageConfig {
    const KIND: &'static str = "image config";
}

/// `bytes` as document `T`, or an INVALID_INPUT naming `what` (the reference and digest).
pub fn parse<T: Document>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid(format!("{what} is not a valid {}: {e}", T::KIND)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_keeps_the_spec_fields_and_round_trips_their_names() {
        let raw = br#"{"architecture":"amd64","os":"linux","os.version":"10.0",
            "created":"2024-01-02T03:04:05.123456789Z","container_config":{"Hostname":"x"},
            "config":{"Env":["PATH=/bin"],"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["NONE"]},
                      "WorkingDir":"/app","Labels":{"a.b":"c"}},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created_by":"COPY . /app","empty_layer":true}]}"#;
        let config: ImageConfig = parse(raw, "test").unwrap();
        let c = config.config.as_ref().unwrap();
        assert_eq!(c.env.as_deref(), Some(&["PATH=/bin".to_string()][..]));
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(config.os_version.as_deref(), Some("10.0"));
        assert_eq!(config.rootfs.diff_ids, ["sha256:aa"]);
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["os.version"], "10.0");
        assert_eq!(
            back["config"]["ExposedPorts"]["80/tcp"],
            serde_json::json!({})
        );
        assert_eq!(back["rootfs"]["type"], "layers");
        assert_eq!(back["history"][0]["empty_layer"], true);
        assert!(back.get("container_config").is_none());
    }

    #[test]
    fn a_manifest_without_layers_is_refused_with_what_was_read() {
        let err = parse::<ImageManifest>(br#"{"schemaVersion":2}"#, "registry.test/app:1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("registry.test/app:1 is not a valid image manifest"),
            "{err}"
        );
    }
}
