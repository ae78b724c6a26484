//! Push: HEAD each blob and skip what exists, cross-repository mount, monolithic PUT under a
//! threshold and `Content-Range` PATCHes above it, resume from the server's offset after a
//! failure, blobs in parallel, then manifests one at a time (Gitea fails on concurrent
//! manifest PUTs).

use super::client::{no_body, Client, Try};
use super::manifest::{declared_media_type, index_children, is_index, manifest_blobs};
use super::{scope_push, PushResult, RegistryOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, EventSink};
use crate::oci::{Reference, Store};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{
    HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE,
};
use reqwest::{Method, StatusCode};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Progress events at most every this many bytes per blob.
const PROGRESS_STEP: u64 = 4 << 20;
/// Read size of the upload stream.
const READ_CHUNK: usize = 1 << 20;

struct Blob {
    digest: String,
    size: u64,
    path: PathBuf,
}

enum Outcome {
    Skipped,
    Mounted,
    Uploaded(u64),
}

pub(super) async fn push(
    store: &Store,
    source: &str,
    destination: Option<&str>,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<PushResult> {
    let (key, desc) = store.resolve(source)?;
    let dest_text = match (destination, &key) {
        (Some(d), _) => d.to_string(),
        (None, Some(k)) => k.clone(),
        (None, None) => {
            return Err(Error::invalid(format!(
                "{source} has no name in the store; say where to push it: idpkit push {source} HOST/REPO:TAG"
            )))
        }
    };
    let dest = Reference::parse(&dest_text)?;
    let root_digest = desc.digest().to_string();
    if let Some(d) = &dest.digest {
        if *d != root_digest {
            return Err(Error::invalid(format!(
                "{dest_text}: the digest does not match the image's {root_digest}"
            )));
        }
    }
    let root_bytes = store.read_blob(&root_digest)?;
    let desc_media = desc.media_type().to_string();
    let root_media = media_of(&desc_media, &root_bytes);
    // Manifests in push order (children before their index) and the blobs they need.
    let mut manifests: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut blobs: Vec<(String, u64)> = Vec::new();
    if is_index(&root_media) {
        for (d, child_media) in index_children(&root_bytes, &root_digest)? {
            if !store.has_blob(&d) {
                return Err(Error::not_found(format!(
                    "image index {root_digest} lists manifest {d}, which is not in the store; pull every platform first"
                )));
            }
            let bytes = store.read_blob(&d)?;
            let media = media_of(&child_media, &bytes);
            blobs.extend(manifest_blobs(&bytes, &d)?);
            manifests.push((d, media, bytes));
        }
    } else {
        blobs.extend(manifest_blobs(&root_bytes, &root_digest)?);
    }
    manifests.push((root_digest.clone(), root_media, root_bytes));
    let mut seen = std::collections::HashSet::new();
    blobs.retain(|(d, _)| seen.insert(d.clone()));
    let mut jobs = Vec::new();
    for (digest, size) in blobs {
        let path = store.blob_path(&digest)?;
        if !path.is_file() {
            return Err(Error::not_found(format!(
                "blob {digest} of {source} is missing from store {}; rebuild or re-pull the image",
                store.root().display()
            )));
        }
        jobs.push(Blob { digest, size, path });
    }

    let client = Client::connect(&dest.registry, opts, sink).await?;
    let repo = dest.repository.clone();
    let mut scope = scope_push(&repo);
    for m in &opts.mount_from {
        scope.push_str(&format!(" repository:{m}:pull"));
    }
    let target = dest.tag.clone().unwrap_or_else(|| root_digest.clone());
    let mut result = PushResult {
        reference: dest.to_string(),
        digest: root_digest.clone(),
        blobs_uploaded: 0,
        blobs_skipped: 0,
        blobs_mounted: 0,
        bytes_uploaded: 0,
        unchanged: false,
    };
    // An unchanged re-push: the tag already points at this very manifest.
    if let Some(existing) = super::pull::head_manifest(&client, &repo, &target, &scope).await? {
        if existing == root_digest {
            result.unchanged = true;
            result.blobs_skipped = jobs.len();
            return Ok(result);
        }
    }

    let outcomes: Vec<Outcome> = futures_util::stream::iter(jobs.iter())
        .map(|b| push_blob(&client, &repo, &scope, b, opts))
        .buffer_unordered(opts.jobs.max(1))
        .try_collect()
        .await?;
    for o in outcomes {
        match o {
            Outcome::Skipped => result.blobs_skipped += 1,
            Outcome::Mounted => result.blobs_mounted += 1,
            Outcome::Uploaded(n) => {
                result.blobs_uploaded += 1;
                result.bytes_uploaded += n;
            }
        }
    }

    // Before the tag moves: a cancel during the blob transfer leaves the tag where it was.
    if let Some(token) = &opts.cancel {
        token.check()?;
    }
    put_manifests(&client, &repo, &scope, manifests, &target, sink).await?;
    Ok(result)
}

/// PUTs manifests one at a time (Gitea fails on concurrent manifest PUTs): all but the last
/// by digest, the last under `target` (a tag or its digest).
pub(super) async fn put_manifests(
    client: &Client,
    repo: &str,
    scope: &str,
    manifests: Vec<(String, String, Vec<u8>)>,
    target: &str,
    sink: Option<&EventSink>,
) -> Result<()> {
    let target = target.to_string();
    let n = manifests.len();
    for (i, (digest, media, bytes)) in manifests.into_iter().enumerate() {
        let reference = if i + 1 == n {
            target.clone()
        } else {
            digest.clone()
        };
        let url = format!("{}/v2/{repo}/manifests/{reference}", client.base);
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&media)
                .map_err(|_| Error::invalid(format!("bad media type {media:?}")))?,
        );
        let body = bytes::Bytes::from(bytes);
        let make =
            || -> Result<Option<reqwest::Body>> { Ok(Some(reqwest::Body::from(body.clone()))) };
        let resp = client
            .send(Method::PUT, &url, scope, h, &make, true)
            .await?;
        if !resp.status().is_success() {
            let mut e = client
                .error_for(resp, &format!("PUT manifest {reference}"))
                .await;
            e.message = format!("manifest rejected: {}", e.message);
            return Err(e);
        }
        if let Some(got) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            if got != digest {
                emit(
                    sink,
                    Event::Warning {
                        message: format!("{} stored manifest {digest} as {got}", client.registry),
                    },
                );
            }
        }
        emit(
            sink,
            Event::ManifestPushed {
                digest: digest.clone(),
                reference: format!("{}/{repo}:{reference}", client.registry),
            },
        );
    }
    Ok(())
}

/// The manifest's media type: the descriptor's, else the document's `mediaType`.
fn media_of(desc_media: &str, bytes: &[u8]) -> String {
    if !desc_media.is_empty() && desc_media.contains('/') {
        return desc_media.to_string();
    }
    declared_media_type(bytes)
        .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_string())
}

/// Why an upload step failed.
enum Step {
    Fatal(Error),
    /// Worth another try (transient network or server error).
    Retry(Error, Option<Duration>),
    /// 413: go chunked.
    TooLarge,
}

impl From<Error> for Step {
    fn from(e: Error) -> Self {
        if e.kind == ErrorKind::Network {
            Step::Retry(e, None)
        } else {
            Step::Fatal(e)
        }
    }
}

async fn push_blob(
    client: &Client,
    repo: &str,
    scope: &str,
    blob: &Blob,
    opts: &RegistryOptions,
) -> Result<Outcome> {
    let sink = client.sink.clone();
    let head = format!("{}/v2/{repo}/blobs/{}", client.base, blob.digest);
    let resp = client
        .send(Method::HEAD, &head, scope, HeaderMap::new(), &no_body, true)
        .await?;
    if resp.status().is_success() {
        emit(
            sink.as_ref(),
            Event::BlobSkipped {
                digest: blob.digest.clone(),
            },
        );
        return Ok(Outcome::Skipped);
    }
    for from in &opts.mount_from {
        let url = format!(
            "{}/v2/{repo}/blobs/uploads/?mount={}&from={from}",
            client.base, blob.digest
        );
        let resp = client
            .send(Method::POST, &url, scope, HeaderMap::new(), &no_body, true)
            .await?;
        if resp.status() == StatusCode::CREATED {
            emit(
                sink.as_ref(),
                Event::BlobMounted {
                    digest: blob.digest.clone(),
                    from: from.clone(),
                },
            );
            return Ok(Outcome::Mounted);
        }
    }
    emit(
        sink.as_ref(),
        Event::BlobStarted {
            digest: blob.digest.clone(),
            size: blob.size,
        },
    );
    let mut chunked = blob.size > opts.monolithic_max;
    let mut location: Option<String> = None;
    let mut offset = 0u64;
    // After a failed try, the next one resumes where the server says the upload stands,
    // or starts over.
    let mut resume = false;
    client
        .retrying(
            &format!("blob {}", short(&blob.digest)),
            false,
            async |attempt| {
                if std::mem::take(&mut resume) {
                    if let Some(loc) = location.clone() {
                        match upload_status(client, &loc, scope).await {
                            Some((new_loc, next)) if next <= blob.size => {
                                location = Some(new_loc);
                                offset = next;
                                chunked = true;
                            }
                            _ => {
                                location = None;
                                offset = 0;
                            }
                        }
                    }
                }
                let step = upload_once(
                    client,
                    repo,
                    scope,
                    blob,
                    opts,
                    &mut location,
                    &mut offset,
                    chunked,
                )
                .await;
                match step {
                    Ok(()) => Ok(Try::Done(())),
                    Err(Step::TooLarge) if !chunked => {
                        chunked = true;
                        location = None;
                        offset = 0;
                        Ok(Try::Again)
                    }
                    Err(Step::TooLarge) => Err(Error::invalid(format!(
                        "{} refused a {}-byte chunk of blob {} as too large; lower the chunk size",
                        client.registry, opts.chunk_size, blob.digest
                    ))),
                    Err(Step::Fatal(e)) => Err(e),
                    Err(Step::Retry(e, delay)) => {
                        resume = true;
                        Ok(Try::Failed {
                            reason: e.message.clone(),
                            last: Err(e.context(format!(
                                "blob {} failed after {attempt} attempts",
                                blob.digest
                            ))),
                            retry_after: delay,
                        })
                    }
                }
            },
        )
        .await?;
    emit(
        sink.as_ref(),
        Event::BlobDone {
            digest: blob.digest.clone(),
            size: blob.size,
        },
    );
    Ok(Outcome::Uploaded(blob.size))
}

fn short(d: &str) -> &str {
    &d[..d.len().min(19)]
}

/// `GET` on an upload session: its (possibly new) location and the next offset expected.
async fn upload_status(client: &Client, loc: &str, scope: &str) -> Option<(String, u64)> {
    let resp = client
        .send(Method::GET, loc, scope, HeaderMap::new(), &no_body, true)
        .await
        .ok()?;
    if resp.status() != StatusCode::NO_CONTENT && !resp.status().is_success() {
        return None;
    }
    let new_loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| client.absolute(l).ok())
        .unwrap_or_else(|| Some(loc.to_string()))?;
    let next = resp
        .headers()
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(range_end)
        .map(|end| end + 1)
        .unwrap_or(0);
    Some((new_loc, next))
}

/// `0-N` (or `bytes=0-N`) → N.
fn range_end(v: &str) -> Option<u64> {
    let v = v.trim().trim_start_matches("bytes=");
    let (start, end) = v.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    // Distribution reports "0-0" for an empty upload.
    if start == 0 && end == 0 {
        return None;
    }
    Some(end)
}

fn with_digest(loc: &str, digest: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={digest}")
}

#[allow(clippy::too_many_arguments)]
async fn upload_once(
    client: &Client,
    repo: &str,
    scope: &str,
    blob: &Blob,
    opts: &RegistryOptions,
    location: &mut Option<String>,
    offset: &mut u64,
    chunked: bool,
) -> std::result::Result<(), Step> {
    if location.is_none() {
        let url = format!("{}/v2/{repo}/blobs/uploads/", client.base);
        let resp = client
            .send(Method::POST, &url, scope, HeaderMap::new(), &no_body, true)
            .await?;
        if resp.status() != StatusCode::ACCEPTED && !resp.status().is_success() {
            return Err(status_step(client, resp, "start upload").await);
        }
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Step::Fatal(Error::new(
                    ErrorKind::Network,
                    format!("{}: upload started without a Location", client.registry),
                ))
            })?;
        *location = Some(client.absolute(loc).map_err(Step::Fatal)?);
        *offset = 0;
    }
    let loc = location.clone().unwrap_or_default();
    let progress = Progress::new(client.sink.clone(), &blob.digest, blob.size, *offset);
    if !chunked {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(blob.size));
        let path = blob.path.clone();
        let size = blob.size;
        let p = progress.clone();
        let make = move || -> Result<Option<reqwest::Body>> {
            Ok(Some(file_body(path.clone(), 0, size, p.clone())))
        };
        let resp = client
            .send(
                Method::PUT,
                &with_digest(&loc, &blob.digest),
                scope,
                h,
                &make,
                false,
            )
            .await?;
        if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Err(Step::TooLarge);
        }
        if !resp.status().is_success() {
            return Err(status_step(client, resp, "PUT blob").await);
        }
        return Ok(());
    }
    let mut loc = loc;
    while *offset < blob.size {
        let len = opts.chunk_size.max(1).min(blob.size - *offset);
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        let range = format!("{}-{}", *offset, *offset + len - 1);
        h.insert(
            CONTENT_RANGE,
            HeaderValue::from_str(&range)
                .map_err(|e| Step::Fatal(Error::internal(e.to_string())))?,
        );
        let path = blob.path.clone();
        let start = *offset;
        let p = progress.clone();
        let make = move || -> Result<Option<reqwest::Body>> {
            Ok(Some(file_body(path.clone(), start, len, p.clone())))
        };
        let resp = client
            .send(Method::PATCH, &loc, scope, h, &make, false)
            .await?;
        let status = resp.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Err(Step::TooLarge);
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Err(Step::Retry(
                Error::new(
                    ErrorKind::Conflict,
                    format!("{}: upload offset out of step (416)", client.registry),
                ),
                Some(Duration::from_millis(10)),
            ));
        }
        if !status.is_success() {
            return Err(status_step(client, resp, "PATCH blob").await);
        }
        if let Some(l) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
            loc = client.absolute(l).map_err(Step::Fatal)?;
            *location = Some(loc.clone());
        }
        *offset = resp
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(range_end)
            .map(|e| e + 1)
            .unwrap_or(*offset + len);
    }
    let mut h = HeaderMap::new();
    h.insert(CONTENT_LENGTH, HeaderValue::from(0u64));
    let resp = client
        .send(
            Method::PUT,
            &with_digest(&loc, &blob.digest),
            scope,
            h,
            &no_body,
            false,
        )
        .await?;
    if !resp.status().is_success() {
        return Err(status_step(client, resp, "PUT blob (finish)").await);
    }
    Ok(())
}

async fn status_step(client: &Client, resp: reqwest::Response, what: &str) -> Step {
    let status = resp.status();
    let ra = super::client::retry_after(&resp);
    let e = client.error_for(resp, what).await;
    if super::client::retryable_status(status) {
        Step::Retry(e, ra)
    } else {
        Step::Fatal(e)
    }
}

/// Byte counter of one blob, emitting `blob_progress` every few MiB.
#[derive(Clone)]
struct Progress {
    sink: Option<EventSink>,
    digest: Arc<str>,
    size: u64,
    sent: Arc<AtomicU64>,
    last: Arc<AtomicU64>,
}

impl Progress {
    fn new(sink: Option<EventSink>, digest: &str, size: u64, start: u64) -> Progress {
        Progress {
            sink,
            digest: Arc::from(digest),
            size,
            sent: Arc::new(AtomicU64::new(start)),
            last: Arc::new(AtomicU64::new(start)),
        }
    }

    fn add(&self, n: u64) {
        let total = self.sent.fetch_add(n, Ordering::Relaxed) + n;
        let last = self.last.load(Ordering::Relaxed);
        if total - last.min(total) >= PROGRESS_STEP || total == self.size {
            self.last.store(total, Ordering::Relaxed);
            emit(
                self.sink.as_ref(),
                Event::BlobProgress {
                    digest: self.digest.to_string(),
                    bytes: total.min(self.size),
                    size: self.size,
                },
            );
        }
    }

    fn reset(&self, to: u64) {
        self.sent.store(to, Ordering::Relaxed);
        self.last.store(to, Ordering::Relaxed);
    }
}

/// A streaming body of `len` bytes of `path` from `start`: bounded memory, one read buffer.
fn file_body(path: PathBuf, start: u64, len: u64, progress: Progress) -> reqwest::Body {
    progress.reset(start);
    let state = (None::<tokio::fs::File>, path, start, len, progress);
    let stream = futures_util::stream::unfold(
        state,
        |(file, path, start, remaining, progress)| async move {
            if remaining == 0 {
                return None;
            }
            let mut file = match file {
                Some(f) => f,
                None => {
                    let opened = async {
                        let mut f = tokio::fs::File::open(&path).await?;
                        f.seek(std::io::SeekFrom::Start(start)).await?;
                        Ok::<_, std::io::Error>(f)
                    }
                    .await;
                    match opened {
                        Ok(f) => f,
                        Err(e) => return Some((Err(e), (None, path, start, 0, progress))),
                    }
                }
            };
            let n = remaining.min(READ_CHUNK as u64) as usize;
            let mut buf = vec![0u8; n];
            match file.read_exact(&mut buf).await {
                Ok(_) => {
                    progress.add(n as u64);
                    Some((
                        Ok(bytes::Bytes::from(buf)),
                        (Some(file), path, start, remaining - n as u64, progress),
                    ))
                }
                Err(e) => Some((Err(e), (None, path, start, 0, progress))),
            }
        },
    );
    reqwest::Body::wrap_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(range_end("0-1023"), Some(1023));
        assert_eq!(range_end("bytes=0-9"), Some(9));
        assert_eq!(range_end("0-0"), None);
        assert_eq!(
            with_digest("/v2/a/blobs/uploads/x?_state=1", "sha256:ab"),
            "/v2/a/blobs/uploads/x?_state=1&digest=sha256:ab"
        );
        assert_eq!(with_digest("/u/x", "sha256:ab"), "/u/x?digest=sha256:ab");
    }
}
