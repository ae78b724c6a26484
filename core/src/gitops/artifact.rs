//! Downloading an artifact tarball and extracting it while it streams: one pass hashes the
//! body by the expected digest's algorithm, counts it against the download limit, gunzips
//! and untars it into a fresh directory. The digest is compared once the body has ended;
//! only then may the caller publish the directory (a mismatch is INTEGRITY and the
//! directory is dropped). Transient failures (5xx, 408, 429, resets, a body cut short) are
//! retried from the start into a clean directory.

use crate::archive::{untar_gz, UntarLimits, UntarReport};
use crate::cancel::{self, CancelToken};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, EventSink};
use crate::trust::{TrustOptions, TrustStore};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// Default largest download: 100 MiB, as the untar limit (gzip rarely grows a tarball).
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 100 << 20;
const MAX_REDIRECTS: u32 = 10;

/// How an artifact is downloaded and extracted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct ArtifactLimits {
    /// Bytes downloaded at most (0: no limit); default 100 MiB.
    pub max_download_size: u64,
    #[serde(flatten)]
    pub untar: UntarLimits,
    /// Tries per download (first included) on 5xx, 408, 429 and broken connections.
    pub attempts: u32,
    /// Seconds to establish a connection (TCP and TLS).
    pub connect_timeout_secs: u64,
    /// Seconds without a byte from the server before a try counts as failed.
    pub read_timeout_secs: u64,
}

impl Default for ArtifactLimits {
    fn default() -> Self {
        ArtifactLimits {
            max_download_size: DEFAULT_MAX_DOWNLOAD_SIZE,
            untar: UntarLimits::default(),
            attempts: 4,
            connect_timeout_secs: 30,
            read_timeout_secs: 60,
        }
    }
}

/// One artifact to fetch.
pub(crate) struct Download<'a> {
    pub url: &'a str,
    pub digest: &'a Digest,
    pub trust: &'a TrustOptions,
    pub limits: &'a ArtifactLimits,
    pub sink: Option<&'a EventSink>,
    pub cancel: Option<&'a CancelToken>,
}

/// What a download brought.
pub(crate) struct Fetched {
    pub size: u64,
    pub report: UntarReport,
}

/// `url` with its `host[:port]` replaced (Flux's `--artifact-hostname-overwrite`, for use
/// outside the cluster); the URL is otherwise used exactly as given.
pub fn override_host(url: &str, host: Option<&str>) -> Result<String> {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return Ok(url.to_string());
    };
    let mut u = parse_url(url)?;
    let (name, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => match p.parse::<u16>() {
            Ok(p) => (h, Some(p)),
            Err(_) => (host, None),
        },
        _ => (host, None),
    };
    u.set_host(Some(name))
        .map_err(|e| Error::invalid(format!("host override {host:?}: {e}")))?;
    u.set_port(port)
        .map_err(|_| Error::invalid(format!("host override {host:?}: bad port")))?;
    Ok(u.to_string())
}

fn parse_url(url: &str) -> Result<reqwest::Url> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| Error::invalid(format!("artifact URL {url:?} is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "artifact URL {url:?}: only http and https are fetched"
        )));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::invalid(
            "the artifact URL holds credentials; idpkit does not send credentials in URLs",
        ));
    }
    Ok(u)
}

/// Downloads `d.url` into `dest` (an empty directory), verifying `d.digest`.
pub(crate) fn fetch_into(d: &Download, dest: &Path) -> Result<Fetched> {
    let url = parse_url(d.url)?;
    let attempts = d.limits.attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        cancel::check(d.cancel)?;
        clear_dir(dest)?;
        match try_once(d, &url, dest) {
            Ok(f) => return Ok(f),
            Err(Failure::Transient(e)) if attempt < attempts => {
                let delay = Duration::from_millis(250 << attempt.min(5));
                emit(
                    d.sink,
                    Event::RetryScheduled {
                        what: format!("artifact {}", d.url),
                        attempt,
                        delay_ms: delay.as_millis() as u64,
                        reason: e.message.clone(),
                    },
                );
                sleep_cancellable(delay, d.cancel)?;
            }
            Err(Failure::Transient(e)) | Err(Failure::Final(e)) => {
                return Err(explain_untrusted(e, d.url, d.trust, d.cancel))
            }
        }
    }
}

enum Failure {
    Transient(Error),
    Final(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Final(e)
    }
}

fn try_once(d: &Download, url: &reqwest::Url, dest: &Path) -> Result<Fetched, Failure> {
    let resp = crate::runtime::block_on_cancellable(d.cancel, get_following(d, url.clone()));
    let resp = match resp {
        Ok(r) => r,
        Err(e) if e.kind == ErrorKind::Network => return Err(Failure::Transient(e)),
        Err(e) => return Err(Failure::Final(e)),
    };
    let max = d.limits.max_download_size;
    if max > 0 && resp.content_length().is_some_and(|n| n > max) {
        return Err(Failure::Final(over_download(d.url, max)));
    }
    // The feeder hashes and counts on the runtime while this thread inflates and writes:
    // the two halves of the work overlap on two cores.
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(64);
    let mut stream = resp.bytes_stream();
    let mut hasher = Hasher::new(d.digest.algorithm);
    let feeder = crate::runtime::handle().spawn(async move {
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let item = match chunk {
                Ok(c) => {
                    total += c.len() as u64;
                    if max > 0 && total > max {
                        let _ = tx.send(Err(io::ErrorKind::FileTooLarge.into())).await;
                        return Err(Over);
                    }
                    hasher.update(&c);
                    Ok(c)
                }
                Err(e) => Err(io::Error::other(e)),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
        Ok((hasher.finish(), total))
    });
    let failure = Rc::new(RefCell::new(None));
    let mut body = Body {
        rx,
        chunk: Bytes::new(),
        url: d.url,
        max,
        failure: failure.clone(),
    };
    let extracted = untar_gz(&mut body, dest, d.url, &d.limits.untar, d.cancel).and_then(|r| {
        // The rest of the body (past the gzip end) still counts towards the digest.
        io::copy(&mut body, &mut io::sink()).map_err(|_| body.broke())?;
        Ok(r)
    });
    drop(body);
    let fed = if extracted.is_ok() {
        Some(crate::runtime::block_on(feeder))
    } else {
        feeder.abort();
        None
    };
    // A failure of the transfer explains a broken archive better than the archive does.
    if let Some(e) = failure.take() {
        return Err(e);
    }
    let report = extracted?;
    let (digest, size) = match fed {
        Some(Ok(Ok(v))) => v,
        _ => {
            return Err(Failure::Final(Error::internal(
                "the download task ended early",
            )))
        }
    };
    if digest != *d.digest {
        return Err(Failure::Final(Error::new(
            ErrorKind::Integrity,
            format!(
                "artifact {}: its digest is {digest}, not the expected {}; nothing was cached \
                 (the server sent other content than its status names; fetch again once the \
                 source has been reconciled)",
                d.url, d.digest
            ),
        )));
    }
    Ok(Fetched { size, report })
}

/// The download went over its limit.
struct Over;

/// The response body as a `Read`. A transfer failure is kept aside (the archive reader
/// only sees an I/O error) so the download can be retried.
struct Body<'a> {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
    url: &'a str,
    max: u64,
    failure: Rc<RefCell<Option<Failure>>>,
}

impl Body<'_> {
    fn broke(&self) -> Error {
        Error::new(
            ErrorKind::Network,
            format!("artifact {}: the download broke off", self.url),
        )
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => {
                    *self.failure.borrow_mut() = Some(if e.kind() == io::ErrorKind::FileTooLarge {
                        Failure::Final(over_download(self.url, self.max))
                    } else {
                        Failure::Transient(Error::new(
                            ErrorKind::Network,
                            format!("artifact {}: the download broke off: {e}", self.url),
                        ))
                    });
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "transfer failed",
                    ));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

fn over_download(url: &str, max: u64) -> Error {
    Error::new(
        ErrorKind::UnsafeArchive,
        format!(
            "artifact {url} is larger than the download limit of {max} bytes; nothing was \
             cached (raise max_download_size if it is genuine)"
        ),
    )
}

/// GET `url`, following redirects (each hop with its own host's trust, never from HTTPS
/// down to HTTP); a 200 or an error. Artifacts carry no credentials, so a redirect cannot
/// leak one.
async fn get_following(d: &Download<'_>, mut url: reqwest::Url) -> Result<reqwest::Response> {
    for _ in 0..=MAX_REDIRECTS {
        let client = http_client(&url, d)?;
        let resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| transport_error(&url, &e))?;
        let status = resp.status();
        if status.is_redirection() {
            let loc = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| net(&url, format!("answered {status} without a Location")))?;
            let next = url
                .join(loc)
                .map_err(|e| net(&url, format!("redirected to {loc:?}: {e}")))?;
            if url.scheme() == "https" && next.scheme() != "https" {
                return Err(Error::new(
                    ErrorKind::Policy,
                    format!("artifact {url} redirected to plain HTTP ({next}); refused"),
                ));
            }
            url = next;
            continue;
        }
        if status.is_success() {
            return Ok(resp);
        }
        let transient = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504 | 522);
        let msg = format!("answered {status}");
        return Err(if transient {
            net(&url, msg)
        } else if status.as_u16() == 404 || status.as_u16() == 410 {
            Error::not_found(format!(
                "artifact {url}: {msg}; the source may have moved on to a newer revision, \
                 read its status again"
            ))
        } else if matches!(status.as_u16(), 401 | 403) {
            Error::new(ErrorKind::Auth, format!("artifact {url}: {msg}"))
        } else {
            Error::new(ErrorKind::InvalidInput, format!("artifact {url}: {msg}"))
        });
    }
    Err(net(&url, format!("more than {MAX_REDIRECTS} redirects")))
}

fn net(url: &reqwest::Url, msg: String) -> Error {
    Error::new(ErrorKind::Network, format!("artifact {url}: {msg}"))
}

fn transport_error(url: &reqwest::Url, e: &reqwest::Error) -> Error {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    let tls = msg.contains("certificate") || msg.contains("tls") || msg.contains("TLS");
    // TLS failures are not transient: the caller turns them into UNTRUSTED with the fix.
    let kind = if tls && url.scheme() == "https" {
        ErrorKind::Untrusted
    } else {
        ErrorKind::Network
    };
    Error::new(kind, format!("artifact {url}: {msg}"))
}

fn http_client(url: &reqwest::Url, d: &Download) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(d.limits.connect_timeout_secs.max(1)))
        .read_timeout(Duration::from_secs(d.limits.read_timeout_secs.max(1)))
        .user_agent(concat!("idpkit/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if url.scheme() == "https" {
        let store = TrustStore::for_host(&host_port(url), d.trust)?;
        b = b.use_preconfigured_tls(store.client_config(d.sink)?);
    }
    b.build()
        .map_err(|e| Error::internal(format!("HTTP client: {e}")))
}

fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// After an UNTRUSTED transport error, the trust diagnosis says why and what to do (the same
/// words as for a registry).
fn explain_untrusted(e: Error, url: &str, trust: &TrustOptions, c: Option<&CancelToken>) -> Error {
    if e.kind != ErrorKind::Untrusted {
        return e;
    }
    let Ok(u) = reqwest::Url::parse(url) else {
        return e;
    };
    crate::trust::classify_transport_error(&host_port(&u), trust, c)
        .map(|d| d.context(format!("artifact {url}")))
        .unwrap_or(e)
}

fn clear_dir(dir: &Path) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))?;
    for e in rd.flatten() {
        let p = e.path();
        let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|e| Error::io("clean", &p, e))?;
    }
    Ok(())
}

fn sleep_cancellable(d: Duration, c: Option<&CancelToken>) -> Result<()> {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        cancel::check(c)?;
        std::thread::sleep(Duration::from_millis(20).min(end - std::time::Instant::now()));
    }
    Ok(())
}
