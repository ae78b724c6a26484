//! Flux sources (source.toolkit.fluxcd.io): which kinds serve a tarball artifact, and what
//! an object's status says about it.

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use serde_json::Value;

pub const GROUP: &str = "source.toolkit.fluxcd.io";
/// Tried in this order: v1 is current, v1beta2 is what clusters upgraded from Flux 0.x serve.
pub const VERSIONS: [&str; 2] = ["v1", "v1beta2"];

/// A kind whose artifact is a tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FluxKind {
    pub kind: &'static str,
    pub plural: &'static str,
}

pub const KINDS: [FluxKind; 4] = [
    FluxKind {
        kind: "GitRepository",
        plural: "gitrepositories",
    },
    FluxKind {
        kind: "OCIRepository",
        plural: "ocirepositories",
    },
    FluxKind {
        kind: "Bucket",
        plural: "buckets",
    },
    FluxKind {
        kind: "HelmChart",
        plural: "helmcharts",
    },
];

impl FluxKind {
    /// `GitRepository`, `gitrepository`, `gitrepositories` (any case) name the same kind.
    pub fn parse(s: &str) -> Result<FluxKind> {
        let l = s.to_ascii_lowercase();
        KINDS
            .iter()
            .find(|k| k.kind.to_ascii_lowercase() == l || k.plural == l)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = KINDS.iter().map(|k| k.kind).collect();
                Error::invalid(format!(
                    "Flux kind {s:?} has no tarball artifact idpkit can fetch; the kinds are {}",
                    names.join(", ")
                ))
            })
    }
}

/// `status.artifact` of a Ready source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub url: String,
    pub revision: String,
    pub digest: Digest,
    pub size: Option<u64>,
}

/// Reads the artifact of `object` (a `kind namespace/name` for messages). A source that is
/// not Ready, or has no artifact, is an error quoting its Ready condition's message.
pub fn artifact_of(object: &Value, what: &str) -> Result<Artifact> {
    let status = &object["status"];
    let ready = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let ready_message = ready
        .map(|c| {
            format!(
                "Ready={} ({}): {}",
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or("no reason"),
                c["message"].as_str().unwrap_or("no message")
            )
        })
        .unwrap_or_else(|| "it has no Ready condition yet".into());
    let artifact = &status["artifact"];
    if !artifact.is_object() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("{what} has no artifact yet; {ready_message}"),
        ));
    }
    if ready.is_none_or(|c| c["status"] != "True") {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("{what} is not ready; {ready_message}"),
        ));
    }
    let field = |name: &str| -> Result<String> {
        artifact[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Error::invalid(format!("{what}: status.artifact.{name} is missing")))
    };
    let url = field("url")?;
    let revision = field("revision")?;
    // v1 has `digest`; v1beta2 had `checksum` (sha256 hex) before `digest` existed.
    let digest = match artifact["digest"].as_str().filter(|s| !s.is_empty()) {
        Some(d) => Digest::parse(d),
        None => match artifact["checksum"].as_str().filter(|s| !s.is_empty()) {
            Some(hex) => Digest::parse(&format!("sha256:{hex}")),
            None => {
                return Err(Error::invalid(format!(
                    "{what}: status.artifact has neither digest nor checksum"
                )))
            }
        },
    }
    .map_err(|e| Error::invalid(format!("{what}: status.artifact.digest: {}", e.message)))?;
    Ok(Artifact {
        url,
        revision,
        digest,
        size: artifact["size"].as_u64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    fn object(artifact: Value, ready: &str, message: &str) -> Value {
        json!({"status": {
            "conditions": [{"type": "Ready", "status": ready, "reason": "Succeeded", "message": message}],
            "artifact": artifact,
        }})
    }

    #[test]
    fn a_ready_source_gives_its_artifact() {
        let o = object(
            json!({"url": "http://source-controller.flux-system.svc.cluster.local./gitrepository/ns/n/abc.tar.gz",
                   "revision": "main@sha1:0123456789abcdef0123456789abcdef01234567", "digest": D, "size": 42}),
            "True",
            "stored artifact",
        );
        let a = artifact_of(&o, "GitRepository ns/n").unwrap();
        assert!(
            a.url.ends_with(".local./gitrepository/ns/n/abc.tar.gz"),
            "used as given"
        );
        assert_eq!(a.digest.to_string(), D);
        assert_eq!(a.size, Some(42));
    }

    #[test]
    fn v1beta2_checksum_is_a_sha256() {
        let o = object(
            json!({"url": "http://x/a.tar.gz", "revision": "main/0123456789abcdef0123456789abcdef01234567",
                   "checksum": &D[7..]}),
            "True",
            "",
        );
        assert_eq!(artifact_of(&o, "x").unwrap().digest.to_string(), D);
    }

    #[test]
    fn not_ready_or_no_artifact_quotes_the_ready_message() {
        let o = object(Value::Null, "False", "failed to checkout: auth required");
        let e = artifact_of(&o, "GitRepository ns/n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("GitRepository ns/n"), "{e}");
        assert!(
            e.message.contains("failed to checkout: auth required"),
            "{e}"
        );
        let o = object(
            json!({"url": "u", "revision": "r", "digest": D}),
            "False",
            "stalled",
        );
        let e = artifact_of(&o, "Bucket ns/b").unwrap_err();
        assert!(
            e.message.contains("not ready") && e.message.contains("stalled"),
            "{e}"
        );
    }

    #[test]
    fn kinds_by_any_name_and_others_refused() {
        assert_eq!(
            FluxKind::parse("gitrepositories").unwrap().kind,
            "GitRepository"
        );
        assert_eq!(
            FluxKind::parse("OCIRepository").unwrap().plural,
            "ocirepositories"
        );
        let e = FluxKind::parse("HelmRepository").unwrap_err();
        assert!(
            e.message
                .contains("GitRepository, OCIRepository, Bucket, HelmChart"),
            "{e}"
        );
    }
}

/// `source fetch flux KIND NAMESPACE/NAME`: a Flux source's artifact, read from the cluster.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default)]
pub struct FetchFluxOptions {
    /// `GitRepository`, `OCIRepository`, `Bucket` or `HelmChart` (or their plurals).
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Where the cluster is.
    pub cluster: crate::kube::KubeOptions,
    /// Replaces the artifact URL's `host[:port]` (source-controller's in-cluster address,
    /// reached from outside through a port-forward or an ingress).
    pub host_override: Option<String>,
    #[serde(flatten)]
    pub cache: super::CacheOptions,
    #[serde(flatten)]
    pub limits: super::artifact::ArtifactLimits,
    /// Trust for the artifact server (the API server's comes from the kubeconfig).
    #[serde(flatten)]
    pub trust: crate::trust::TrustOptions,
}

/// Reads the object (v1, else v1beta2), checks it is Ready with an artifact, and fetches the
/// artifact into `{cache}/flux-artifact/{namespace}/{name}/{pointer}-sha-{7hex}`.
pub fn fetch_flux(o: &FetchFluxOptions, call: &crate::Call) -> Result<super::SourceFetched> {
    let kind = FluxKind::parse(&o.kind)?;
    super::cache::check_kube_name("namespace", &o.namespace)?;
    super::cache::check_kube_name("name", &o.name)?;
    let what = format!("{} {}/{}", kind.kind, o.namespace, o.name);
    let client =
        crate::kube::KubeClient::connect(&o.cluster, call.sink())?.with_cancel(call.cancel());
    let (_, object) = client.custom_object(GROUP, &VERSIONS, kind.plural, &o.namespace, &o.name)?;
    let artifact = artifact_of(&object, &what)?;
    let cache = super::cache::Cache::open(o.cache.cache.as_deref())?;
    fetch_artifact_of(o, &cache, &artifact, &what, call)
}

/// Fetches `artifact` (read from the object `what` names) into its entry of `cache`, or hits
/// it. Shared by `fetch_flux` and `watch_flux`.
pub(crate) fn fetch_artifact_of(
    o: &FetchFluxOptions,
    cache: &super::cache::Cache,
    artifact: &Artifact,
    what: &str,
    call: &crate::Call,
) -> Result<super::SourceFetched> {
    let revision = super::revision::Revision::parse(&artifact.revision)
        .map_err(|e| e.context(format!("{what}: status.artifact.revision")))?;
    let entry = cache.flux_entry(&o.namespace, &o.name, &revision, &artifact.digest)?;
    super::fetch_to_entry(
        &entry,
        &artifact.digest,
        what.to_string(),
        &artifact.url,
        &artifact.revision,
        o.host_override.as_deref(),
        &o.limits,
        &o.trust,
        call,
    )
}
