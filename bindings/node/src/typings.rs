//! TypeScript declarations of the option, result and event shapes.
//!
//! The runtime does not use these structs: options and results cross the boundary as JSON
//! values whose keys are converted generically (see `keys`), so a field added to a core type
//! works at once. These mirrors exist so that `napi build` writes precise declarations into
//! `index.d.ts`; add the field here too to make it visible to TypeScript. The unit tests at
//! the end compare every mirror with the core type's serde fields, so a field added to (or
//! renamed in) the core without its mirror fails `cargo test -p idpkit-node`.

use napi_derive::napi;
use std::collections::HashMap;

/// Options of `Store.build`. Every field has the core's default.
#[napi(object)]
pub struct BuildOptions {
    /// References to tag the image with in the store (`registry/repo:tag`).
    pub tags: Option<Vec<String>>,
    /// Base image in the store, or `scratch` (the default) for an image with only this layer.
    pub from: Option<String>,
    /// Where the context lands inside the image (default `/`).
    pub prefix: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// Environment variables; they override the base image's variables of the same name.
    pub env: Option<HashMap<String, String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Config labels.
    pub labels: Option<HashMap<String, String>>,
    /// Manifest annotations.
    pub annotations: Option<HashMap<String, String>>,
    /// `os/arch[/variant]`; defaults to the base image's platform, else the host's.
    pub platform: Option<String>,
    /// Patterns excluded on top of the context's `.dockerignore`.
    pub excludes: Option<Vec<String>>,
    /// Layer compression (default `gzip`).
    #[napi(ts_type = "'gzip' | 'zstd'")]
    pub compression: Option<String>,
    /// Compression level; defaults to gzip 1 / zstd 3.
    pub level: Option<i32>,
    /// Compression threads; defaults to every core. Never changes the output bytes.
    pub threads: Option<u32>,
    /// Timestamp (seconds since the epoch) for file entries and the config's `created`;
    /// defaults to `$SOURCE_DATE_EPOCH`, else 0.
    pub source_date_epoch: Option<i64>,
    /// Ignore the layer cache and re-read every file.
    pub no_cache: Option<bool>,
    /// Called on the event loop with each progress event (never blocks the build; an
    /// exception thrown here is reported as an uncaught exception).
    #[napi(ts_type = "(event: IdpkitEvent) => void")]
    pub on_progress: Option<serde_json::Value>,
    /// Aborting it stops the build at its next file; the promise rejects with
    /// `code === 'CANCELLED'`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<serde_json::Value>,
}

/// Options of `Store.importLayout`.
#[napi(object)]
pub struct ImportOptions {
    /// Import only the image with this tag (`ref.name` annotation) from the layout.
    pub tag: Option<String>,
    /// Store the imported image under this reference.
    pub name: Option<String>,
}

/// Options of `Store.export`.
#[napi(object)]
pub struct ExportOptions {
    /// The `ref.name` the image gets inside the layout (default: the reference's tag).
    pub tag: Option<String>,
}

/// One layer as stored.
#[napi(object)]
pub struct LayerInfo {
    pub digest: String,
    pub diff_id: String,
    pub size: f64,
    pub media_type: String,
}

/// What `Store.build` produced.
#[napi(object)]
pub struct BuildResult {
    /// Manifest digest (`sha256:...`): the image's identity.
    pub digest: String,
    pub config_digest: String,
    /// The layer built from the context.
    pub layer: LayerInfo,
    /// Tags now pointing at this image (normalized references).
    pub tags: Vec<String>,
    /// Whether the layer came from the layer cache.
    pub cached: bool,
    /// Total compressed size of all layers plus config and manifest.
    pub size: f64,
    /// Files and directories written into the layer.
    pub entries: f64,
}

/// One row of `Store.images`.
#[napi(object)]
pub struct ImageSummary {
    /// The normalized reference the image is tagged with, or `null` for an untagged entry.
    #[napi(ts_type = "string | null")]
    pub reference: Option<String>,
    pub digest: String,
    /// Manifest, config and layers, compressed.
    pub size: f64,
    /// The config's `created` (RFC 3339), or `null`.
    #[napi(ts_type = "string | null")]
    pub created: Option<String>,
    pub media_type: String,
}

/// `Store.inspect`: the manifest and config as parsed JSON (their own field names, untouched).
#[napi(object)]
pub struct ImageInspect {
    #[napi(ts_type = "string | null")]
    pub reference: Option<String>,
    pub digest: String,
    #[napi(ts_type = "Record<string, any>")]
    pub manifest: serde_json::Value,
    #[napi(ts_type = "Record<string, any>")]
    pub config: serde_json::Value,
}

/// `Store.gc`: what was removed.
#[napi(object)]
pub struct GcReport {
    pub removed_blobs: f64,
    pub freed_bytes: f64,
}

/// A progress event passed to `onProgress`, discriminated by `type`.
#[napi(discriminant = "type", discriminant_case = "snake_case")]
pub enum IdpkitEvent {
    /// A build started reading its context.
    BuildStarted { context: String },
    /// Bytes of file content read into the layer so far.
    LayerProgress { files: f64, bytes: f64 },
    /// The layer came from the layer cache: nothing was re-read.
    LayerCached { digest: String },
    /// The layer is written and hashed.
    LayerDone {
        digest: String,
        diff_id: String,
        size: f64,
    },
    /// An image manifest was stored (and tagged).
    ImageStored { digest: String, tags: Vec<String> },
    /// Something was skipped or looks wrong but the operation goes on.
    Warning { message: String },
    /// A blob transfer (upload or download) started.
    BlobStarted { digest: String, size: f64 },
    /// Bytes of a blob transferred so far (sent every few MiB).
    BlobProgress {
        digest: String,
        bytes: f64,
        size: f64,
    },
    /// A blob transfer finished and was verified.
    BlobDone { digest: String, size: f64 },
    /// The registry (or the store) already had the blob: nothing was sent.
    BlobSkipped { digest: String },
    /// The registry linked the blob from another repository instead of an upload.
    BlobMounted { digest: String, from: String },
    /// A manifest was accepted by the registry.
    ManifestPushed { digest: String, reference: String },
    /// A request failed transiently and will be tried again after `delayMs`.
    RetryScheduled {
        what: String,
        attempt: u32,
        delay_ms: f64,
        reason: String,
    },
    /// Audit: TLS verification was skipped, or plain HTTP used, for a host marked insecure.
    InsecureConnection { host: String, reason: String },
}

/// Options of `Store.push`, `Store.pull`, `listTags`, `copy`, `catalog`, `deleteManifest`,
/// `login` and `loginFromCluster`: the core's `RegistryOptions`, each with the core's
/// default, plus credentials (not for `login` and `loginFromCluster`, whose credentials
/// come from their arguments or the cluster), progress and cancellation.
#[napi(object)]
pub struct RegistryOptions {
    /// Extra CA files (PEM) trusted for every host of the operation.
    pub ca_files: Option<Vec<String>>,
    /// Hosts (`host` or `host:port`) whose certificate is not verified and which may be
    /// spoken to over plain HTTP. Every use emits an `insecure_connection` event.
    pub insecure_hosts: Option<Vec<String>>,
    /// certs.d roots to search; `null` means the defaults.
    #[napi(ts_type = "string[] | null")]
    pub certs_d: Option<Vec<String>>,
    /// Leave out the platform's roots and `SSL_CERT_*`.
    pub no_platform_roots: Option<bool>,
    /// Parallel blob transfers.
    pub jobs: Option<u32>,
    /// Blobs up to this size are uploaded in one request.
    pub monolithic_max: Option<f64>,
    /// Size of one PATCH of a chunked upload.
    pub chunk_size: Option<f64>,
    /// Attempts per request or blob (first try included).
    pub attempts: Option<u32>,
    pub backoff_base_ms: Option<f64>,
    pub backoff_max_ms: Option<f64>,
    pub connect_timeout_secs: Option<f64>,
    /// Seconds without any byte from the registry before a request counts as failed.
    pub read_timeout_secs: Option<f64>,
    /// Seconds one request or blob may spend retrying in all.
    pub retry_budget_secs: Option<f64>,
    /// Failed tries in a row, across the operation's requests, after which it stops sending
    /// (the circuit breaker); 0 disables it.
    pub breaker_threshold: Option<u32>,
    /// `os/arch[/variant]` picked from an image index on pull (default: this machine's).
    pub platform: Option<String>,
    /// Repositories of the same registry to try a cross-repository mount from.
    pub mount_from: Option<Vec<String>>,
    /// User name, with `password`; default: `IDPKIT_REGISTRY_*`, then the Docker config.
    pub username: Option<String>,
    pub password: Option<String>,
    /// A registry bearer (identity) token, instead of `username` and `password`.
    pub token: Option<String>,
    /// Called on the event loop with each progress, retry and audit event.
    #[napi(ts_type = "(event: IdpkitEvent) => void")]
    pub on_progress: Option<serde_json::Value>,
    /// Aborting it cancels the transfer (rejects with `code === 'CANCELLED'`).
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<serde_json::Value>,
}

/// What `Store.push` did.
#[napi(object)]
pub struct PushResult {
    /// The remote reference pushed to.
    pub reference: String,
    /// The digest of the pushed manifest (or index).
    pub digest: String,
    pub blobs_uploaded: f64,
    pub blobs_skipped: f64,
    pub blobs_mounted: f64,
    pub bytes_uploaded: f64,
    /// The manifest was already there under the tag: nothing was sent.
    pub unchanged: bool,
}

/// What `Store.pull` did.
#[napi(object)]
pub struct PullResult {
    /// The store key the image is tagged with.
    pub reference: String,
    /// The digest of the stored manifest.
    pub digest: String,
    /// When the remote reference is an index: its digest (the manifest is the platform's).
    #[napi(ts_type = "string | null")]
    pub index_digest: Option<String>,
    pub blobs_fetched: f64,
    pub blobs_present: f64,
    pub bytes_fetched: f64,
}

/// What `login` and `loginFromCluster` stored.
#[napi(object)]
pub struct LoginResult {
    /// The registry (`host[:port]`) logged in to.
    pub registry: String,
    pub username: String,
    /// The file (or `docker-credential-NAME` helper) the credentials were written to.
    pub stored_in: String,
}

/// Options of `trustCheck`: the trust part of `RegistryOptions`, each with the core's default.
#[napi(object)]
pub struct TrustOptions {
    /// Extra CA files (PEM) trusted for the host.
    pub ca_files: Option<Vec<String>>,
    /// Hosts marked insecure; `trustCheck` still verifies and reports `insecure: true`.
    pub insecure_hosts: Option<Vec<String>>,
    /// certs.d roots to search; `null` means the defaults (`/etc/docker/certs.d`,
    /// `/etc/containers/certs.d`, `~/.config/idpkit/certs.d`).
    #[napi(ts_type = "string[] | null")]
    pub certs_d: Option<Vec<String>>,
    /// Leave out the platform's roots and `SSL_CERT_*`.
    pub no_platform_roots: Option<bool>,
    /// Aborting it stops the handshake within a tenth of a second (rejects with
    /// `code === 'CANCELLED'`).
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<serde_json::Value>,
}

/// Options of `trustAdd`.
#[napi(object)]
pub struct TrustAddOptions {
    /// The certs.d root to install into (default idpkit's, `~/.config/idpkit/certs.d`).
    pub certs_d: Option<String>,
}

/// Which cluster `extractCa` and `loginFromCluster` read from, and where `extractCa` installs
/// the CA. Each field has the core's default.
#[napi(object)]
pub struct ClusterOptions {
    /// Kubeconfig file; default `$KUBECONFIG` (first entry), else `~/.kube/config`.
    pub kubeconfig: Option<String>,
    /// Context; default the kubeconfig's `current-context`.
    pub context: Option<String>,
    /// The host (`host[:port]`) the CA is installed for (default
    /// `gitea.cnoe.localtest.me:8443`); `extractCa` only.
    pub host: Option<String>,
    /// certs.d root to install into (default `~/.config/idpkit/certs.d`); `extractCa` only.
    pub certs_d: Option<String>,
    /// Aborting it stops `extractCa` before anything is installed (rejects with
    /// `code === 'CANCELLED'`); `extractCa` only.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<serde_json::Value>,
}

/// The outcome of a TLS handshake (`TrustReport.verdict`): `trusted`; `unknown_issuer`
/// (signed by a CA no trust source holds, or self-signed); `expired`; `not_yet_valid`;
/// `wrong_host` (valid chain, issued for other names); `client_cert_required` (mutual TLS);
/// `bad_certificate` (any other certificate problem); `not_tls` (the port answered, but
/// not with TLS); `unreachable` (nothing answered, or the handshake broke off).
#[napi(string_enum = "snake_case")]
pub enum Verdict {
    Trusted,
    /// Signed by a CA none of the trust sources hold (or self-signed).
    UnknownIssuer,
    Expired,
    NotYetValid,
    /// Valid chain, but not issued for this host name.
    WrongHost,
    /// The server wants a client certificate (mutual TLS).
    ClientCertRequired,
    /// Any other certificate problem (bad signature, wrong purpose, ...).
    BadCertificate,
    /// The port answered, but not with TLS (a plain-HTTP server).
    NotTls,
    /// Nothing answered, or the handshake broke off.
    Unreachable,
}

/// One certificate of a presented chain.
#[napi(object)]
pub struct CertInfo {
    /// Distinguished name, e.g. `CN=cnoe.localtest.me`.
    pub subject: String,
    pub issuer: String,
    /// Validity bounds, as the certificate states them (`Jan  1 00:00:00 2025 +00:00`).
    pub not_before: String,
    pub not_after: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
    pub self_signed: bool,
    /// `sha256:` and the hex SHA-256 of the DER certificate.
    pub sha256: String,
}

/// What `trustCheck` found.
#[napi(object)]
pub struct TrustReport {
    pub host: String,
    pub verdict: Verdict,
    /// `verdict === 'trusted'`.
    pub trusted: bool,
    /// The host is marked insecure: it would be used even though it is not trusted.
    pub insecure: bool,
    /// The chain the server presented, leaf first (empty when nothing answered with TLS).
    pub chain: Vec<CertInfo>,
    /// Where the roots came from (platform, `SSL_CERT_*`, CA files, certs.d files).
    pub sources: Vec<String>,
    /// What is wrong and how to fix it; empty when trusted.
    pub message: String,
}

/// What `extractCa` installed.
#[napi(object)]
pub struct ExtractResult {
    pub host: String,
    /// The file written (`CERTS_D/HOST/ca.crt`).
    pub path: String,
    /// `namespace/name key` of the Secret the CA came from.
    pub source: String,
    pub subject: String,
    pub not_after: String,
}

/// The mirrors against the core: every field a core type serializes is declared here under
/// the same name (so `keys::to_js` and napi's camelCase agree), and nothing else is, apart
/// from the binding's own fields.
#[cfg(test)]
mod tests {
    use serde::de::{self, Deserialize, Deserializer, Visitor};
    use std::collections::BTreeSet;

    /// The field (or variant) names serde's derive hands to the deserializer: asked for a
    /// struct or an enum, it records the names and stops.
    struct Probe<'a>(&'a mut Vec<&'static str>);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(fields);
            Err(de::Error::custom("probed"))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(variants);
            Err(de::Error::custom("probed"))
        }

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom(
                "not a plain struct or enum (flattened?): compare its serialized default",
            ))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            identifier ignored_any
        }
    }

    /// The serde names of a core struct's fields or enum's variants.
    fn core_names<'de, T: Deserialize<'de>>() -> BTreeSet<String> {
        let mut names = Vec::new();
        let probed = T::deserialize(Probe(&mut names));
        assert!(
            probed.is_err() && !names.is_empty(),
            "{probed:?}",
            probed = probed.err()
        );
        names.into_iter().map(String::from).collect()
    }

    /// The keys of a core type's serialized default (for types serde flattens).
    fn default_keys<T: Default + serde::Serialize>() -> BTreeSet<String> {
        match serde_json::to_value(T::default()).unwrap() {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    /// The fields of `pub struct NAME` (or the variants of `pub enum NAME`, snake_case, as
    /// `#[napi(string_enum = "snake_case")]` writes them) in this file.
    fn mirror(name: &str) -> BTreeSet<String> {
        let src = include_str!("typings.rs");
        let (is_enum, start) = match src.find(&format!("pub struct {name} {{")) {
            Some(i) => (false, i),
            None => (
                true,
                src.find(&format!("pub enum {name} {{"))
                    .unwrap_or_else(|| panic!("typings.rs declares no {name}")),
            ),
        };
        let body = &src[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                if is_enum {
                    let v = l.trim_end_matches(',');
                    Some(v.chars().enumerate().fold(String::new(), |mut s, (i, c)| {
                        if c.is_ascii_uppercase() && i > 0 {
                            s.push('_');
                        }
                        s.push(c.to_ascii_lowercase());
                        s
                    }))
                } else {
                    l.strip_prefix("pub ")
                        .and_then(|f| f.split_once(':'))
                        .map(|(f, _)| f.trim().to_string())
                }
            })
            .collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// `mirror(name)` minus `binding_only` equals `core` minus `core_only`.
    fn check(name: &str, core: BTreeSet<String>, binding_only: &[&str], core_only: &[&str]) {
        let mirrored: BTreeSet<String> = mirror(name)
            .difference(&set(binding_only))
            .cloned()
            .collect();
        let expected: BTreeSet<String> = core.difference(&set(core_only)).cloned().collect();
        assert_eq!(
            mirrored,
            expected,
            "src/typings.rs `{name}` does not match the core's serde fields: add or rename \
             the field in the mirror (missing: {:?}, extra: {:?})",
            expected.difference(&mirrored).collect::<Vec<_>>(),
            mirrored.difference(&expected).collect::<Vec<_>>(),
        );
        for f in set(binding_only) {
            assert!(mirror(name).contains(&f), "{name} should declare {f}");
        }
    }

    const HOOKS: &[&str] = &["on_progress", "signal"];

    #[test]
    fn results_mirror_the_core() {
        use idpkit::registry::{LoginResult, PullResult, PushResult};
        use idpkit::trust::{CertInfo, ExtractResult, TrustReport};
        check("BuildResult", core_names::<idpkit::BuildResult>(), &[], &[]);
        check(
            "LayerInfo",
            core_names::<idpkit::oci::LayerInfo>(),
            &[],
            &[],
        );
        check(
            "ImageSummary",
            core_names::<idpkit::ImageSummary>(),
            &[],
            &[],
        );
        check(
            "ImageInspect",
            core_names::<idpkit::ImageInspect>(),
            &[],
            &[],
        );
        check("GcReport", core_names::<idpkit::GcReport>(), &[], &[]);
        check("PushResult", core_names::<PushResult>(), &[], &[]);
        check("PullResult", core_names::<PullResult>(), &[], &[]);
        check("LoginResult", core_names::<LoginResult>(), &[], &[]);
        check("TrustReport", core_names::<TrustReport>(), &[], &[]);
        check("CertInfo", core_names::<CertInfo>(), &[], &[]);
        check("ExtractResult", core_names::<ExtractResult>(), &[], &[]);
        check("Verdict", core_names::<idpkit::trust::Verdict>(), &[], &[]);
    }

    #[test]
    fn options_mirror_the_core() {
        // `context` is build()'s first argument.
        check(
            "BuildOptions",
            core_names::<idpkit::BuildOptions>(),
            HOOKS,
            &["context"],
        );
        // RegistryOptions flattens TrustOptions: its serialized default names every field.
        check(
            "RegistryOptions",
            default_keys::<idpkit::registry::RegistryOptions>(),
            &["username", "password", "token", "on_progress", "signal"],
            &[],
        );
        check(
            "TrustOptions",
            core_names::<idpkit::trust::TrustOptions>(),
            &["signal"],
            &[],
        );
        check(
            "ClusterOptions",
            core_names::<idpkit::trust::ClusterOptions>(),
            &["signal"],
            &[],
        );
    }

    #[test]
    fn check_reports_a_missing_field() {
        // The check itself: a mirror lacking a core field is reported.
        let core = set(&["a", "b"]);
        let r = std::panic::catch_unwind(|| check("GcReport", core, &[], &[]));
        assert!(r.is_err());
    }
}
