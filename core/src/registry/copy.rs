//! `copy`: between repositories of one registry by mounting, across registries through a
//! temporary store.

use super::client::{no_body, Client};
use super::manifest::{index_children, is_index, manifest_blobs};
use super::{auth, pull, push, scope_push, PushResult, RegistryOptions};
use crate::error::{Error, Result};
use crate::event::{EventSink, SinkScope};
use crate::oci::Reference;
use reqwest::header::HeaderMap;
use reqwest::Method;

/// Copies an image between repositories or registries; within one registry (including a
/// re-tag in the same repository) blobs are mounted or already there, so only manifests
/// move. Across registries the image goes through a temporary store (an index resolves to
/// `opts.platform` then).
pub fn copy(
    source: &str,
    destination: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<PushResult> {
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let src = Reference::parse(source)?;
    let dst = Reference::parse(destination)?;
    if src.registry == dst.registry {
        if let Some(r) = crate::runtime::block_on_cancellable(
            opts.cancel.as_ref(),
            copy_within(&src, &dst, opts, sink),
        )? {
            return Ok(r);
        }
    }
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::new(crate::ErrorKind::Io, format!("temporary store: {e}")))?;
    let store = crate::oci::Store::open(tmp.path().join("store"))?;
    // The destination's credentials stay with the destination (within one registry, the
    // same credentials serve both ends).
    let from = if src.registry == dst.registry {
        opts.clone()
    } else {
        RegistryOptions {
            credential: Some(match &opts.source_credential {
                Some(c) => c.clone(),
                None => auth::resolve_stored(&src.registry)?,
            }),
            ..opts.clone()
        }
    };
    let pulled = store.pull(source, &from, sink)?;
    store.push(&pulled.reference, Some(destination), opts, sink)
}

/// Same-registry copy without moving blob bytes; `None` when the registry will not mount.
async fn copy_within(
    src: &Reference,
    dst: &Reference,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<Option<PushResult>> {
    let client = Client::connect(&dst.registry, opts, sink).await?;
    let mut scope = scope_push(&dst.repository);
    if src.repository != dst.repository {
        scope.push_str(&format!(" repository:{}:pull", src.repository));
    }
    let want = src
        .digest
        .clone()
        .or_else(|| src.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (bytes, media, digest) =
        pull::get_manifest(&client, &src.repository, &want, &scope).await?;
    let mut manifests = Vec::new();
    if is_index(&media) {
        for (d, _) in index_children(&bytes, &digest)? {
            manifests.push(pull::get_manifest(&client, &src.repository, &d, &scope).await?);
        }
    }
    manifests.push((bytes, media, digest.clone()));
    let mut result = PushResult {
        reference: dst.to_string(),
        digest: digest.clone(),
        blobs_uploaded: 0,
        blobs_skipped: 0,
        blobs_mounted: 0,
        bytes_uploaded: 0,
        unchanged: false,
    };
    let mut seen = std::collections::HashSet::new();
    for (b, m, d) in &manifests {
        if is_index(m) {
            continue;
        }
        for (blob, _) in manifest_blobs(b, d)? {
            if !seen.insert(blob.clone()) {
                continue;
            }
            let head = format!("{}/v2/{}/blobs/{blob}", client.base, dst.repository);
            let resp = client
                .send(
                    Method::HEAD,
                    &head,
                    &scope,
                    HeaderMap::new(),
                    &no_body,
                    true,
                )
                .await?;
            if resp.status().is_success() {
                result.blobs_skipped += 1;
                crate::event::emit(sink, crate::Event::BlobSkipped { digest: blob });
                continue;
            }
            let url = format!(
                "{}/v2/{}/blobs/uploads/?mount={blob}&from={}",
                client.base, dst.repository, src.repository
            );
            let resp = client
                .send(Method::POST, &url, &scope, HeaderMap::new(), &no_body, true)
                .await?;
            if resp.status() != reqwest::StatusCode::CREATED {
                return Ok(None);
            }
            result.blobs_mounted += 1;
            crate::event::emit(
                sink,
                crate::Event::BlobMounted {
                    digest: blob,
                    from: src.repository.clone(),
                },
            );
        }
    }
    let target = dst.tag.clone().unwrap_or_else(|| digest.clone());
    let list = manifests.into_iter().map(|(b, m, d)| (d, m, b)).collect();
    push::put_manifests(&client, &dst.repository, &scope, list, &target, sink).await?;
    Ok(Some(result))
}
