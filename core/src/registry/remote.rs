//! Remote manifests and blobs without a local store: what `crane manifest` and `crane blob`
//! do, and what a Flux `OCIRepository` fetch needs (the artifact's manifest, then one layer
//! streamed into a file and verified before it appears).

use super::client::no_body;
use super::manifest::{is_index, parse_manifest, pick_platform};
use super::{pull, scope_pull, with_client, RegistryOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventSink;
use crate::oci::document::{self, ImageConfig, ImageIndex, ImageManifest};
use crate::oci::Reference;
use std::path::Path;

/// A manifest (or index) as the registry serves it, checked against the digest it was
/// asked by (a tag is trusted to name whatever the registry answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteManifest {
    /// `sha256:` of `bytes`.
    pub digest: String,
    pub media_type: String,
    /// The document, byte for byte (its digest is over these bytes).
    pub bytes: Vec<u8>,
}

fn tag_or_digest(r: &Reference) -> String {
    r.digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into())
}

/// The manifest `reference` (`host[:port]/repo:tag` or `...@sha256:...`) names, without
/// resolving an index. Refused when larger than 16 MiB or when its bytes do not match a
/// requested digest.
pub fn fetch_manifest(
    reference: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<RemoteManifest> {
    let r = Reference::parse(reference)?;
    with_client(&r.registry, opts, sink, async |client| {
        let (bytes, media_type, digest) = pull::get_manifest(
            client,
            &r.repository,
            &tag_or_digest(&r),
            &scope_pull(&r.repository),
        )
        .await?;
        Ok(RemoteManifest {
            digest,
            media_type,
            bytes,
        })
    })
}

/// Streams the blob `digest` of `size` bytes from the repository of `reference` into
/// `dest`. The bytes go to a temporary sibling of `dest` and are renamed into place only
/// after their size and digest are verified: `dest` either holds the whole verified blob or
/// is left as it was. Returns the bytes written.
pub fn fetch_blob(
    reference: &str,
    digest: &str,
    size: u64,
    dest: &Path,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<u64> {
    crate::digest::parse_sha256(digest)?;
    let r = Reference::parse(reference)?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let new_file = || {
        tempfile::Builder::new()
            .prefix(".idpkit-blob-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io("create a temporary file in", &dir, e))
    };
    let file = with_client(&r.registry, opts, sink, async |client| {
        let scope = scope_pull(&r.repository);
        pull::fetch_blob(client, &r.repository, &scope, digest, size, &new_file).await
    })?;
    file.persist(dest)
        .map_err(|e| Error::io("write", dest, e.error))?;
    Ok(size)
}

/// Configs larger than this are refused (a real image config is a few KiB).
const MAX_CONFIG: usize = 4 << 20;

/// What `inspect_remote` reads of an image without pulling it (`crane manifest` + `crane
/// config`, `skopeo inspect docker://`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RemoteInspect {
    /// The reference as given.
    pub reference: String,
    /// The digest of the manifest described (for an index: the chosen platform's).
    pub digest: String,
    /// The media type of that manifest (for an index: the chosen platform's; the index's
    /// own is `index.mediaType`).
    pub media_type: String,
    /// When the reference names an index: its digest, and the platforms it offers.
    pub index_digest: Option<String>,
    pub platforms: Vec<String>,
    /// When the reference names an index: the index itself.
    pub index: Option<ImageIndex>,
    /// The manifest (for an index: the chosen platform's).
    pub manifest: ImageManifest,
    /// The image config (verified against the manifest's digest); none for an artifact
    /// whose config is not an image config.
    pub config: Option<ImageConfig>,
}

/// Reads a remote image's manifest and config without a store: an index resolves to
/// `opts.platform` (default: this machine's).
pub fn inspect_remote(
    reference: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<RemoteInspect> {
    let r = Reference::parse(reference)?;
    with_client(&r.registry, opts, sink, async |client| {
        let repo = &r.repository;
        let pull_scope = scope_pull(repo);
        let (bytes, media_type, digest) =
            pull::get_manifest(client, repo, &tag_or_digest(&r), &pull_scope).await?;
        let (bytes, media_type, digest, index, platforms) = if is_index(&media_type) {
            let typed: ImageIndex = document::parse(&bytes, &format!("{reference} ({digest})"))?;
            let platforms = typed
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref())
                .map(|p| match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                })
                .collect();
            let child = pick_platform(&bytes, &digest, opts.platform.as_deref(), reference)?;
            let (b, m, d) = pull::get_manifest(client, repo, &child, &pull_scope).await?;
            (b, m, d, Some((digest, typed)), platforms)
        } else {
            (bytes, media_type, digest, None, Vec::new())
        };
        let manifest_doc = parse_manifest(&bytes, &digest)?;
        let config_desc = manifest_doc.config();
        let config = if document::is_image_config(config_desc.media_type().as_ref()) {
            let url = format!("{}/v2/{repo}/blobs/{}", client.base, config_desc.digest());
            let resp = client
                .send(
                    reqwest::Method::GET,
                    &url,
                    &pull_scope,
                    Default::default(),
                    &no_body,
                    true,
                )
                .await?;
            if !resp.status().is_success() {
                return Err(client.error_for(resp, "GET config").await);
            }
            let body = client
                .read_limited(resp, MAX_CONFIG, "config", &url)
                .await?;
            let want = config_desc.digest().to_string();
            if !crate::digest::Digest::parse(&want)?.matches(&body) {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "{}: config {want} arrived with another digest",
                        client.registry
                    ),
                ));
            }
            Some(document::parse(
                &body,
                &format!("the config {want} of {reference}"),
            )?)
        } else {
            None
        };
        let manifest = document::parse(&bytes, &format!("{reference} ({digest})"))?;
        Ok(RemoteInspect {
            reference: reference.to_string(),
            digest,
            media_type,
            manifest,
            index_digest: index.as_ref().map(|(d, _)| d.clone()),
            index: index.map(|(_, i)| i),
            platforms,
            config,
        })
    })
}
