//! Remote manifests and blobs without a local store: what `crane manifest` and `crane blob`
//! do, and what a Flux `OCIRepository` fetch needs (the artifact's manifest, then one layer
//! streamed into a file and verified before it appears).

use super::client::Client;
use super::{pull, scope_pull, RegistryOptions};
use crate::error::{Error, Result};
use crate::event::{EventSink, SinkScope};
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
    let scope = SinkScope::new(sink);
    let r = Reference::parse(reference)?;
    crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(&r.registry, opts, scope.sink()).await?;
        let (bytes, media_type, digest) = pull::get_manifest(
            &client,
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
    let scope = SinkScope::new(sink);
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
    let file = crate::runtime::block_on_cancellable(opts.cancel.as_ref(), async {
        let client = Client::connect(&r.registry, opts, scope.sink()).await?;
        let scope = scope_pull(&r.repository);
        pull::fetch_blob(&client, &r.repository, &scope, digest, size, &new_file).await
    })?;
    file.persist(dest)
        .map_err(|e| Error::io("write", dest, e.error))?;
    Ok(size)
}
