//! git's smart HTTP protocol (stateless RPC, protocol v0) as a libgit2 subtransport on
//! reqwest, so git over HTTPS trusts exactly what the registry client trusts: the client is
//! built from a `TrustStore` with `client_config`, idpkit's one verifier (idpbuilder's
//! self-signed certificate as a configured anchor included). libgit2 is built without a TLS
//! stack; nothing else decides. Modelled on git2-curl (what cargo uses), with what it leaves
//! out: authentication, redirects, errors with kinds. See docs/decisions/0011.
//!
//! libgit2 registers transports per URL scheme for the whole process, so the per-call
//! settings (trust, credentials, cancel token, event sink) reach the transport through a
//! thread-local set around the libgit2 call: libgit2 creates the transport and does all its
//! I/O on the calling thread.

use super::url::{RepoUrl, Scheme};
use super::GitAuth;
use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, EventSink};
use crate::trust::{TrustOptions, TrustStore};
use base64::Engine;
use bytes::{Buf, Bytes};
use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

/// Redirects followed for the first request (the reference advertisement), as git does.
const MAX_REDIRECTS: u32 = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A server computing a large pack may say nothing for a while before it streams.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Some forges only speak the smart protocol to user agents that start with `git/`.
const USER_AGENT: &str = concat!("git/2.0 (idpkit/", env!("CARGO_PKG_VERSION"), ")");

/// The settings of the one fetch running on this thread, and what went wrong in it.
pub(crate) struct HttpContext {
    url: RepoUrl,
    trust: TrustOptions,
    auth: GitAuth,
    insecure: bool,
    sink: Option<EventSink>,
    cancel: Option<CancelToken>,
    clients: Mutex<HashMap<String, reqwest::Client>>,
    /// The server asked for credentials once: send them with every later request.
    send_auth: AtomicBool,
    /// The server refused the credentials: never send them again (no retry loop).
    rejected: AtomicBool,
    plain_http_audited: AtomicBool,
    /// The idpkit error behind the last failed read or write; libgit2 only keeps a string.
    failure: Mutex<Option<Error>>,
}

impl HttpContext {
    pub(crate) fn new(
        url: RepoUrl,
        trust: TrustOptions,
        auth: GitAuth,
        insecure: bool,
        sink: Option<EventSink>,
        cancel: Option<CancelToken>,
    ) -> HttpContext {
        HttpContext {
            url,
            trust,
            auth,
            insecure,
            sink,
            cancel,
            clients: Mutex::new(HashMap::new()),
            send_auth: AtomicBool::new(false),
            rejected: AtomicBool::new(false),
            plain_http_audited: AtomicBool::new(false),
            failure: Mutex::new(None),
        }
    }

    /// The error recorded by the transport, if any (taken: a later call starts clean).
    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// Records `e` as the reason of the failure libgit2 is about to report.
    pub(crate) fn fail(&self, e: Error) -> Error {
        if let Ok(mut f) = self.failure.lock() {
            // The first reason wins: libgit2 may fail again while unwinding.
            if f.is_none() {
                *f = Some(e.clone());
            }
        }
        e
    }

    fn run<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> io::Result<T> {
        crate::runtime::block_on_cancellable(self.cancel.as_ref(), fut).map_err(|e| {
            let e = self.fail(e);
            io::Error::other(e.message)
        })
    }

    fn client_for(&self, url: &reqwest::Url) -> Result<reqwest::Client> {
        let origin = url.origin().ascii_serialization();
        if let Some(c) = self
            .clients
            .lock()
            .ok()
            .and_then(|m| m.get(&origin).cloned())
        {
            return Ok(c);
        }
        let host_port = host_port(url);
        let mut trust = self.trust.clone();
        if self.insecure && url.scheme() == "https" {
            // The source's `insecure` (Argo CD's repository flag) is per host, audited by
            // the verifier every time it skips verification.
            trust.insecure_hosts.push(host_port.clone());
        }
        let store = TrustStore::for_host(&host_port, &trust)?;
        let tls = store.client_config(self.sink.as_ref())?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(USER_AGENT)
            // Followed below, with the origin check credentials need.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
        if let Ok(mut m) = self.clients.lock() {
            m.insert(origin, client.clone());
        }
        Ok(client)
    }

    fn auth_header(&self) -> Option<HeaderValue> {
        let basic = |user: &str, pass: &str| {
            let raw = format!("{user}:{pass}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        };
        let value = match &self.auth {
            // Argo CD sends a password without a user name as `x-access-token` (GitHub's
            // convention; Gitea and GitLab ignore the name when the password is a token).
            GitAuth::Basic { username, password } if username.is_empty() => {
                basic("x-access-token", password)
            }
            GitAuth::Basic { username, password } => basic(username, password),
            GitAuth::Token(t) => basic("x-access-token", t),
            GitAuth::Bearer(t) => format!("Bearer {t}"),
            GitAuth::None | GitAuth::SshKey { .. } => return None,
        };
        let mut v = HeaderValue::from_str(&value).ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    /// One request of the protocol: credentials once the server asked (or again never after
    /// it refused them), redirects of the first request followed within limits.
    async fn send(&self, method: Method, url: &str, body: Bytes) -> Result<(Response, String)> {
        let mut url = url.to_string();
        let mut redirects = 0;
        let mut with_auth = self.send_auth.load(Ordering::SeqCst);
        loop {
            let parsed = reqwest::Url::parse(&url)
                .map_err(|e| Error::invalid(format!("git url {url:?}: {e}")))?;
            let same_origin =
                self.origin().as_deref() == Some(parsed.origin().ascii_serialization().as_str());
            let header = (with_auth && same_origin)
                .then(|| self.auth_header())
                .flatten();
            if header.is_some() {
                self.check_plain_http(&parsed)?;
            }
            let client = self.client_for(&parsed)?;
            let mut req = client
                .request(method.clone(), parsed.clone())
                .header("Pragma", "no-cache")
                .header("Cache-Control", "no-cache");
            if method == Method::POST {
                req = req
                    .header(CONTENT_TYPE, "application/x-git-upload-pack-request")
                    .header(ACCEPT, "application/x-git-upload-pack-result")
                    .body(body.clone());
            } else {
                req = req.header(ACCEPT, "*/*");
            }
            if let Some(h) = header.clone() {
                req = req.header(AUTHORIZATION, h);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| self.transport_error(&e, &parsed))?;
            let status = resp.status();
            if status.is_redirection() && method == Method::GET {
                redirects += 1;
                url = self.redirect_target(&parsed, &resp, redirects)?;
                continue;
            }
            match status {
                StatusCode::UNAUTHORIZED
                    if header.is_none()
                        && same_origin
                        && self.auth_header().is_some()
                        && !self.rejected.load(Ordering::SeqCst) =>
                {
                    self.send_auth.store(true, Ordering::SeqCst);
                    with_auth = true;
                    continue;
                }
                StatusCode::UNAUTHORIZED if header.is_some() => {
                    self.rejected.store(true, Ordering::SeqCst);
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!(
                            "{} rejected the credentials for {} (HTTP 401); check the user name and \
                             password or token (Argo CD: the repository Secret's username/password)",
                            self.url.host_port(),
                            self.url.git_url
                        ),
                    ));
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!(
                            "{} requires credentials for {} (HTTP 401); give a user name and password \
                             or a token (Argo CD: a repository Secret for this URL)",
                            self.url.host_port(),
                            self.url.git_url
                        ),
                    ))
                }
                StatusCode::FORBIDDEN => {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!(
                            "{} refused access to {} (HTTP 403){}; the account needs read access to the repository",
                            self.url.host_port(),
                            self.url.git_url,
                            if header.is_some() { " with the credentials given" } else { "" }
                        ),
                    ))
                }
                StatusCode::NOT_FOUND => {
                    return Err(Error::not_found(format!(
                        "no git repository at {} (HTTP 404 from {}); check the URL{}",
                        self.url.git_url,
                        strip_query(&parsed),
                        if header.is_none() && self.auth_header().is_none() {
                            ", or give credentials if it is private"
                        } else {
                            ""
                        }
                    )))
                }
                s if !s.is_success() => {
                    return Err(Error::new(
                        ErrorKind::Network,
                        format!(
                            "{} answered HTTP {s} to {} {}",
                            self.url.host_port(),
                            method,
                            strip_query(&parsed)
                        ),
                    ))
                }
                _ => {}
            }
            let expected = if method == Method::GET {
                "application/x-git-upload-pack-advertisement"
            } else {
                "application/x-git-upload-pack-result"
            };
            let ctype = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if !ctype.eq_ignore_ascii_case(expected) {
                return Err(Error::new(
                    ErrorKind::Network,
                    format!(
                        "{} is not a smart git HTTP server (it answered {} with Content-Type {ctype:?}, not {expected}); \
                         idpkit does not speak git's old dumb HTTP protocol; check the URL",
                        self.url.host_port(),
                        strip_query(&parsed)
                    ),
                ));
            }
            return Ok((resp, url));
        }
    }

    /// `scheme://host:port` of the source: the only origin credentials go to.
    fn origin(&self) -> Option<String> {
        reqwest::Url::parse(&self.url.git_url)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    }

    /// Credentials over plain HTTP only to this machine, or when the source is marked
    /// insecure (audited).
    fn check_plain_http(&self, url: &reqwest::Url) -> Result<()> {
        if url.scheme() != "http" || self.url.is_loopback() {
            return Ok(());
        }
        if !self.insecure {
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{} asks for credentials over plain HTTP ({}); refused: they would cross the network in \
                     the clear. Use its https:// URL, or mark the source insecure",
                    self.url.host_port(),
                    self.url.git_url
                ),
            ));
        }
        if !self.plain_http_audited.swap(true, Ordering::SeqCst) {
            emit(
                self.sink.as_ref(),
                Event::InsecureConnection {
                    host: self.url.host_port(),
                    reason: "git credentials sent over plain HTTP; source marked insecure".into(),
                },
            );
        }
        Ok(())
    }

    fn redirect_target(
        &self,
        from: &reqwest::Url,
        resp: &Response,
        redirects: u32,
    ) -> Result<String> {
        if redirects > MAX_REDIRECTS {
            return Err(Error::new(
                ErrorKind::Network,
                format!(
                    "{}: more than {MAX_REDIRECTS} redirects for {}",
                    self.url.host_port(),
                    self.url.git_url
                ),
            ));
        }
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Network,
                    format!(
                        "{} answered HTTP {} without a Location",
                        self.url.host_port(),
                        resp.status()
                    ),
                )
            })?;
        let to = from.join(loc).map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!(
                    "{} redirected to a URL that cannot be parsed ({loc:?}): {e}",
                    self.url.host_port()
                ),
            )
        })?;
        if from.scheme() == "https" && to.scheme() != "https" {
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{} redirected {} to {}, away from HTTPS; refused",
                    self.url.host_port(),
                    self.url.git_url,
                    to.origin().ascii_serialization()
                ),
            ));
        }
        Ok(to.to_string())
    }

    fn transport_error(&self, e: &reqwest::Error, url: &reqwest::Url) -> Error {
        let host = host_port(url);
        if url.scheme() == "https" && (e.is_connect() || is_tls(e)) {
            let mut trust = self.trust.clone();
            if self.insecure {
                trust.insecure_hosts.push(host.clone());
            }
            if let Some(err) =
                crate::trust::classify_transport_error(&host, &trust, self.cancel.as_ref())
            {
                return err;
            }
        }
        let mut msg = format!("cannot fetch {} from {host}: {e}", self.url.git_url);
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Error::new(ErrorKind::Network, msg)
    }
}

fn is_tls(e: &reqwest::Error) -> bool {
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        let t = s.to_string().to_ascii_lowercase();
        if t.contains("certificate") || t.contains("tls") || t.contains("handshake") {
            return true;
        }
        src = s.source();
    }
    false
}

fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

fn strip_query(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<HttpContext>>> = const { RefCell::new(None) };
}

/// Makes `ctx` the context of HTTP transports libgit2 creates on this thread until dropped.
pub(crate) struct Scope(Option<Arc<HttpContext>>);

impl Scope {
    pub(crate) fn enter(ctx: Arc<HttpContext>) -> Scope {
        register();
        Scope(CURRENT.with(|c| c.replace(Some(ctx))))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Registers the transport for `http` and `https`, once per process, before any fetch.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in ["https", "http"] {
            // SAFETY: `register` must not race with libgit2 creating transports; this runs
            // once, before idpkit's first fetch, and idpkit fetches only through here.
            let r = unsafe { git2::transport::register(scheme, factory) };
            if let Err(e) = r {
                tracing::error!("cannot register the {scheme} git transport: {e}");
            }
        }
    });
}

fn factory(remote: &git2::Remote<'_>) -> std::result::Result<Transport, git2::Error> {
    let ctx = match CURRENT.with(|c| c.borrow().clone()) {
        Some(ctx) => ctx,
        // A libgit2 call outside `gitops::git` (none today): still idpkit's trust, with
        // the default trust options, no credentials and no events.
        None => {
            let url = RepoUrl::parse(remote.url().unwrap_or_default())
                .map_err(|e| git2::Error::from_str(&e.message))?;
            Arc::new(HttpContext::new(
                url,
                TrustOptions::default(),
                GitAuth::None,
                false,
                None,
                None,
            ))
        }
    };
    Transport::smart(
        remote,
        true,
        Subtransport {
            ctx,
            base: Arc::new(Mutex::new(None)),
        },
    )
}

struct Subtransport {
    ctx: Arc<HttpContext>,
    /// The repository URL after a redirect of the advertisement, for the requests after it.
    base: Arc<Mutex<Option<String>>>,
}

impl SmartSubtransport for Subtransport {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> std::result::Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let (method, suffix) = match action {
            Service::UploadPackLs => (Method::GET, "/info/refs?service=git-upload-pack"),
            Service::UploadPack => (Method::POST, "/git-upload-pack"),
            Service::ReceivePackLs | Service::ReceivePack => {
                let e = self.ctx.fail(Error::invalid(format!(
                    "pushing to {} is not supported: idpkit's git transport only fetches",
                    self.ctx.url.git_url
                )));
                return Err(git2::Error::from_str(&e.message));
            }
        };
        if self.ctx.url.scheme == Scheme::Local {
            return Err(git2::Error::from_str("not an HTTP URL"));
        }
        let base = self
            .base
            .lock()
            .ok()
            .and_then(|b| b.clone())
            .unwrap_or_else(|| url.trim_end_matches('/').to_string());
        Ok(Box::new(Stream {
            ctx: self.ctx.clone(),
            base: self.base.clone(),
            method,
            url: format!("{base}{suffix}"),
            suffix,
            request: Vec::new(),
            body: None,
            chunk: Bytes::new(),
            done: false,
        }))
    }

    fn close(&self) -> std::result::Result<(), git2::Error> {
        Ok(())
    }
}

/// Chunks of an answer read ahead, at most this many (TLS records: up to 16 KiB each): the
/// download goes on while libgit2 indexes what it has, as git's separate remote-https process
/// lets it.
const READ_AHEAD: usize = 512;

/// One chunk of the answer, `None` at its end.
type Chunk = Result<Option<Bytes>>;

/// One request: what libgit2 writes is the body (sent on the first read), what it reads is
/// the answer, streamed by a task on the runtime into a bounded channel.
struct Stream {
    ctx: Arc<HttpContext>,
    base: Arc<Mutex<Option<String>>>,
    method: Method,
    url: String,
    suffix: &'static str,
    request: Vec<u8>,
    body: Option<tokio::sync::mpsc::Receiver<Chunk>>,
    chunk: Bytes,
    /// The answer was read to its end.
    done: bool,
}

impl Stream {
    fn start(&mut self) -> io::Result<()> {
        let body = Bytes::from(std::mem::take(&mut self.request));
        let ctx = self.ctx.clone();
        let (resp, final_url) = self
            .ctx
            .run(ctx.send(self.method.clone(), &self.url, body))?;
        if final_url != self.url {
            // A redirected advertisement moves the repository for the pack request too.
            if let Some(base) = final_url.strip_suffix(self.suffix) {
                if let Ok(mut b) = self.base.lock() {
                    *b = Some(base.to_string());
                }
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(READ_AHEAD);
        let ctx = self.ctx.clone();
        let url = reqwest::Url::parse(&self.url).ok();
        crate::runtime::handle().spawn(async move {
            let mut resp: Response = resp;
            loop {
                let next = resp.chunk().await.map_err(|e| match &url {
                    Some(u) => ctx.transport_error(&e, u),
                    None => Error::new(ErrorKind::Network, e.to_string()),
                });
                let more = matches!(next, Ok(Some(_)));
                // The reader gone (a failed or cancelled fetch) ends the download too.
                if tx.send(next).await.is_err() || !more {
                    break;
                }
            }
        });
        self.body = Some(rx);
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.body.is_none() && !self.done {
            self.start()?;
        }
        while self.chunk.is_empty() {
            let Some(body) = self.body.as_mut() else {
                return Ok(0);
            };
            let next = self.ctx.run(async {
                body.recv().await.unwrap_or_else(|| {
                    Err(Error::new(
                        ErrorKind::Network,
                        "the git server's answer ended before its end was read",
                    ))
                })
            })?;
            match next {
                Some(c) => self.chunk = c,
                None => {
                    self.body = None;
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

impl Write for Stream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.body.is_some() || self.done {
            return Err(io::Error::other("git wrote after reading the answer"));
        }
        self.request.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
