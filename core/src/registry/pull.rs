//! Pull: manifest (or index, resolved to one platform), then blobs in parallel, each
//! streamed into the store through a hash and committed only when its digest matches.

use super::client::{no_body, Client, Try};
use super::manifest::{
    declared_media_type, index_children, is_index, manifest_blobs, pick_platform,
};
use super::{accept_headers, scope_pull, PullResult, RegistryOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, EventSink};
use crate::oci::{Reference, Store};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use sha2::Digest as _;
use std::io::Write;

/// Manifests larger than this are refused (Gitea's own limit is 10 MiB).
const MAX_MANIFEST: usize = 16 << 20;

/// The digest a tag (or digest) points at, `None` when it does not exist.
pub(super) async fn head_manifest(
    client: &Client,
    repo: &str,
    reference: &str,
    scope: &str,
) -> Result<Option<String>> {
    let url = format!("{}/v2/{repo}/manifests/{reference}", client.base);
    let resp = client
        .send(Method::HEAD, &url, scope, accept_headers(), &no_body, true)
        .await?;
    match resp.status() {
        s if s.is_success() => Ok(resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from)),
        StatusCode::NOT_FOUND => Ok(None),
        _ => Err(client
            .error_for(resp, &format!("HEAD manifest {reference}"))
            .await),
    }
}

/// Whether `bytes` match `reference` when it is a digest (`algorithm:hex`); a tag always
/// matches. Every algorithm the OCI spec registers is checked (sha256, sha384, sha512); any
/// other is refused rather than trusted unchecked.
/// `sha256` is the digest already computed for the store (`sha256:<hex>`).
fn verifies(reference: &str, bytes: &[u8], sha256: &str) -> Result<bool> {
    if !reference.contains(':') {
        return Ok(true);
    }
    if reference.starts_with("sha256:") {
        return Ok(reference == sha256);
    }
    Ok(crate::digest::Digest::parse(reference)?.matches(bytes))
}

/// GET a manifest: its bytes, media type and (computed) digest.
pub(super) async fn get_manifest(
    client: &Client,
    repo: &str,
    reference: &str,
    scope: &str,
) -> Result<(Vec<u8>, String, String)> {
    let url = format!("{}/v2/{repo}/manifests/{reference}", client.base);
    let resp = client
        .send(Method::GET, &url, scope, accept_headers(), &no_body, true)
        .await?;
    if !resp.status().is_success() {
        let mut e = client
            .error_for(resp, &format!("GET manifest {repo}:{reference}"))
            .await;
        if e.kind == ErrorKind::NotFound {
            e.message = format!(
                "{}/{repo}:{reference} does not exist ({})",
                client.registry, e.message
            );
        }
        return Err(e);
    }
    let media = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
        .unwrap_or_default();
    let bytes = client
        .read_limited(resp, MAX_MANIFEST, "manifest", &url)
        .await?;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    if !verifies(reference, &bytes, &digest)? {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{}/{repo}@{reference}: the registry sent content with another digest ({digest})",
                client.registry
            ),
        ));
    }
    let media = if media.is_empty() || media == "application/json" {
        declared_media_type(&bytes)
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into())
    } else {
        media
    };
    Ok((bytes, media, digest))
}

pub(super) async fn pull(
    store: &Store,
    reference: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<PullResult> {
    let r = Reference::parse(reference)?;
    let client = Client::connect(&r.registry, opts, sink).await?;
    let repo = r.repository.clone();
    let scope = scope_pull(&repo);
    let want = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (bytes, media, digest) = get_manifest(&client, &repo, &want, &scope).await?;
    // With all_platforms, every manifest the index lists (stored untagged before the index).
    let mut children: Vec<Vec<u8>> = Vec::new();
    let mut blobs = Vec::new();
    let (mbytes, mmedia, mdigest, index_digest) = if is_index(&media) && opts.all_platforms {
        for (child, _) in index_children(&bytes, &digest)? {
            let (b, m, d) = get_manifest(&client, &repo, &child, &scope).await?;
            if is_index(&m) {
                return Err(Error::invalid(format!(
                    "{reference}: index {digest} lists another index ({d}); copy that one by digest"
                )));
            }
            blobs.extend(manifest_blobs(&b, &d)?);
            children.push(b);
        }
        (bytes, media, digest.clone(), Some(digest))
    } else if is_index(&media) {
        let child = pick_platform(&bytes, &digest, opts.platform.as_deref(), reference)?;
        let (b, m, d) = get_manifest(&client, &repo, &child, &scope).await?;
        blobs.extend(manifest_blobs(&b, &d)?);
        (b, m, d, Some(digest))
    } else {
        blobs.extend(manifest_blobs(&bytes, &digest)?);
        (bytes, media, digest, None)
    };
    let ingest = store.ingest()?;
    let mut present = 0;
    let mut missing = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (d, s) in blobs {
        if !seen.insert(d.clone()) {
            continue;
        }
        if ingest.has_blob(&d) {
            present += 1;
            emit(sink, Event::BlobSkipped { digest: d });
        } else {
            missing.push((d, s));
        }
    }
    let fetched: Vec<u64> = futures_util::stream::iter(missing.iter())
        .map(|(d, s)| async {
            let new_file = || ingest.new_blob_file();
            let file = fetch_blob(&client, &repo, &scope, d, *s, &new_file).await?;
            ingest.commit_blob(file, d)?;
            Ok::<_, Error>(*s)
        })
        .buffer_unordered(opts.jobs.max(1))
        .try_collect()
        .await?;
    // The last point of no return: a cancel that came during the transfer (even one the
    // transfer never yielded to notice) leaves the store untagged.
    if let Some(token) = &opts.cancel {
        token.check()?;
    }
    for child in &children {
        ingest.put_manifest(child)?;
    }
    let key = r.store_key();
    let stored = ingest.tag_manifest(&key, &mmedia, &mbytes)?;
    debug_assert_eq!(stored, mdigest);
    emit(
        sink,
        Event::ImageStored {
            digest: mdigest.clone(),
            tags: vec![key.clone()],
        },
    );
    Ok(PullResult {
        reference: key,
        digest: mdigest,
        index_digest,
        blobs_fetched: fetched.len(),
        blobs_present: present,
        bytes_fetched: fetched.iter().sum(),
    })
}

/// A new temporary file for a blob being fetched (in the store's temp dir, or a caller's).
pub(super) type NewFile<'a> = &'a (dyn Fn() -> Result<tempfile::NamedTempFile> + Sync);

/// Fetches a blob into a fresh temporary file from `new_file`, retried as one unit, and
/// returns it once its size and digest are verified; the caller decides where it lands.
pub(super) async fn fetch_blob(
    client: &Client,
    repo: &str,
    scope: &str,
    digest: &str,
    size: u64,
    new_file: NewFile<'_>,
) -> Result<tempfile::NamedTempFile> {
    let url = format!("{}/v2/{repo}/blobs/{digest}", client.base);
    let sink = client.sink.clone();
    emit(
        sink.as_ref(),
        Event::BlobStarted {
            digest: digest.to_string(),
            size,
        },
    );
    let file = client
        .retrying(
            &format!("GET blob {digest}"),
            false,
            async |_| match fetch_once(client, new_file, &url, scope, digest, size).await {
                Ok(file) => Ok(Try::Done(file)),
                Err(e) if e.kind == ErrorKind::Network => Ok(Try::Failed {
                    reason: e.message.clone(),
                    last: Err(e),
                    retry_after: None,
                }),
                Err(e) => Err(e),
            },
        )
        .await?;
    emit(
        sink.as_ref(),
        Event::BlobDone {
            digest: digest.to_string(),
            size,
        },
    );
    Ok(file)
}

async fn fetch_once(
    client: &Client,
    new_file: NewFile<'_>,
    url: &str,
    scope: &str,
    digest: &str,
    size: u64,
) -> Result<tempfile::NamedTempFile> {
    let mut resp = client
        .send(Method::GET, url, scope, Default::default(), &no_body, true)
        .await?;
    if !resp.status().is_success() {
        return Err(client.error_for(resp, &format!("GET blob {digest}")).await);
    }
    let mut tmp = crate::oci::WritebackFile::new(new_file()?);
    let mut hasher = sha2::Sha256::new();
    let mut got = 0u64;
    let mut last = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| client.transport_error(&e, url))?
    {
        got += chunk.len() as u64;
        if got > size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{}: blob {digest} is larger than its {size} bytes",
                    client.registry
                ),
            ));
        }
        hasher.update(&chunk);
        tmp.write_all(&chunk)
            .map_err(|e| Error::io("write", tmp.get_ref().path(), e))?;
        if got - last >= 4 << 20 {
            last = got;
            emit(
                client.sink.as_ref(),
                Event::BlobProgress {
                    digest: digest.to_string(),
                    bytes: got,
                    size,
                },
            );
        }
    }
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if actual != digest || got != size {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{}: blob {digest} arrived as {got} bytes with digest {actual}; nothing was stored",
                client.registry
            ),
        ));
    }
    Ok(tmp.into_inner())
}

#[cfg(test)]
mod tests {
    use super::verifies;
    use crate::ErrorKind;

    #[test]
    fn every_registered_algorithm_is_verified_and_others_refused() {
        let body = b"{}";
        use sha2::Digest;
        let s256 = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
        let s384 = format!("sha384:{}", hex::encode(sha2::Sha384::digest(body)));
        let s512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(body)));
        let other = format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"{ }")));
        for good in [&s256, &s384, &s512] {
            assert!(verifies(good, body, &s256).unwrap(), "{good}");
            assert!(
                !verifies(good, b"{ }", &other).unwrap(),
                "{good} accepted other content"
            );
        }
        assert!(verifies("v1.0", b"anything", &other).unwrap(), "a tag");
        let e = verifies("md5:d41d8cd98f00b204e9800998ecf8427e", body, &s256).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity);
    }
}
