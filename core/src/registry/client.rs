//! One registry's HTTP client: scheme choice (HTTPS, plain HTTP only where allowed), the
//! auth handshake (Basic or Bearer token per scope, refreshed on 401), retries with
//! exponential backoff and jitter, and errors that name registry, user and fix.

use super::auth::Credential;
use super::challenge::{parse_challenges, Challenge};
use super::RegistryOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, EventSink};
use crate::trust::{self, TrustStore};
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{Method, Response, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

/// Redirects followed for one request (blob downloads hop to a storage host or a CDN).
const MAX_REDIRECTS: u32 = 10;
/// Largest token answer read (JWTs with many claims stay far below).
const TOKEN_MAX: usize = 1 << 20;
/// Largest part of an error answer read for its message.
const ERROR_BODY_MAX: usize = 64 << 10;
/// Largest page of a tag or repository list read.
pub(crate) const LIST_PAGE_MAX: usize = 16 << 20;

pub(crate) struct Client {
    pub registry: String,
    pub base: String,
    /// `base` parsed once: every request compares its origin with this one.
    base_url: reqwest::Url,
    http: reqwest::Client,
    cred: Credential,
    opts: RegistryOptions,
    pub sink: Option<EventSink>,
    auth: Mutex<AuthState>,
    /// HTTP clients for token realms on other origins, each with that origin's own trust
    /// (its certs.d, its insecure mark), never the registry's.
    realm_clients: Mutex<HashMap<String, reqwest::Client>>,
    /// Tries in a row that failed transiently, across every request of this operation:
    /// the circuit breaker. Any answer that is not a transient failure resets it.
    failures_in_a_row: std::sync::atomic::AtomicU32,
}

#[derive(Default)]
struct AuthState {
    /// The scheme the registry asked for (`basic` or `bearer`), learnt from a 401.
    challenge: Option<Challenge>,
    /// Bearer tokens by scope.
    tokens: HashMap<String, String>,
}

/// What to do with a request body on a retry: rebuild it.
pub(crate) type BodyFn<'a> = &'a (dyn Fn() -> Result<Option<reqwest::Body>> + Sync);

pub(crate) fn no_body() -> Result<Option<reqwest::Body>> {
    Ok(None)
}

fn is_loopback(registry: &str) -> bool {
    matches!(
        trust::host_name(registry),
        "localhost" | "127.0.0.1" | "::1"
    )
}

impl Client {
    /// Connects to `registry`: HTTPS with the assembled trust store; plain HTTP only when
    /// the registry is marked insecure or is on loopback and does not speak TLS.
    pub async fn connect(
        registry: &str,
        opts: &RegistryOptions,
        sink: Option<&EventSink>,
    ) -> Result<Client> {
        let cred = match &opts.credential {
            Some(c) => c.clone(),
            None => super::auth::resolve(registry)?,
        };
        let store = TrustStore::for_host(registry, &opts.trust)?;
        let http = http_client(&store, opts, sink)?;
        let mut client = Client {
            registry: registry.to_string(),
            base: format!("https://{registry}"),
            base_url: parse_base(&format!("https://{registry}"))?,
            http,
            cred,
            opts: opts.clone(),
            sink: sink.cloned(),
            auth: Mutex::new(AuthState::default()),
            realm_clients: Mutex::new(HashMap::new()),
            failures_in_a_row: std::sync::atomic::AtomicU32::new(0),
        };
        let allow_http = store.is_insecure() || is_loopback(registry);
        match client.ping().await {
            Ok(()) => {}
            Err(e) if allow_http && e.kind == ErrorKind::Network => {
                client.base = format!("http://{registry}");
                client.base_url = parse_base(&client.base)?;
                if let Err(http_err) = client.ping().await {
                    // An HTTP answer (503, not a registry) says more than the failed TLS try.
                    return Err(if http_err.message.contains(" answered ") {
                        http_err
                    } else {
                        e
                    });
                }
                emit(
                    sink,
                    Event::InsecureConnection {
                        host: registry.to_string(),
                        reason: if store.is_insecure() {
                            "plain HTTP (host marked insecure)".into()
                        } else {
                            "plain HTTP (loopback registry without TLS)".into()
                        },
                    },
                );
            }
            Err(e) => return Err(e),
        }
        Ok(client)
    }

    /// `GET /v2/`: checks the registry answers and learns its auth scheme. Busy answers
    /// (429, 5xx) are retried; a refused connection is not (the registry is down, or speaks
    /// another scheme).
    async fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let mut attempt = 0;
        let since = std::time::Instant::now();
        let mut url = url;
        let mut redirects = 0;
        loop {
            attempt += 1;
            let resp = match self.http_for(&url)?.0.get(&url).send().await {
                Ok(r) => r,
                Err(e) if self.can_retry(attempt, since) && !e.is_connect() && is_transient(&e) => {
                    self.backoff("GET /v2/", attempt, None, &e.to_string())
                        .await;
                    continue;
                }
                Err(e) => return Err(self.transport_error(&e, &url)),
            };
            let status = resp.status();
            if let Some(next) = self.redirect(&url, &resp, &mut redirects)? {
                url = next;
                attempt -= 1;
                continue;
            }
            self.learn_challenge(&resp);
            if status.is_success() || status == StatusCode::UNAUTHORIZED {
                return Ok(());
            }
            if retryable_status(status) && self.can_retry(attempt, since) {
                let ra = retry_after(&resp);
                self.backoff("GET /v2/", attempt, ra, &format!("HTTP {status}"))
                    .await;
                continue;
            }
            if status == StatusCode::BAD_REQUEST && url.starts_with("https://") {
                // A TLS 1.3 server checks the client certificate after the handshake, so a
                // proxy requiring one (nginx's ssl_verify_client) answers 400 instead.
                let body = Self::error_body(resp).await;
                if body.contains("No required SSL certificate was sent")
                    || body.contains("SSL certificate error")
                {
                    return Err(Error::new(
                        ErrorKind::Untrusted,
                        trust::client_cert_required(&self.registry),
                    ));
                }
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} answered {status} to GET /v2/: not a container registry?",
                        self.registry
                    ),
                ));
            }
            let kind = if retryable_status(status) {
                ErrorKind::Network
            } else {
                ErrorKind::InvalidInput
            };
            return Err(Error::new(
                kind,
                format!(
                    "{} answered {status} to GET /v2/{}",
                    self.registry,
                    if retryable_status(status) {
                        format!(" {attempt} times; the registry is unavailable, try again later")
                    } else {
                        ": not a container registry?".to_string()
                    }
                ),
            ));
        }
    }

    /// Checks the credentials work (login): authenticates once for `scope` or `/v2/`.
    pub async fn verify_credentials(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let resp = self
            .send(Method::GET, &url, "", HeaderMap::new(), &no_body, true)
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.error_for(resp, "GET /v2/").await)
    }

    fn learn_challenge(&self, resp: &Response) {
        if resp.status() != StatusCode::UNAUTHORIZED {
            return;
        }
        let Some(h) = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .find(|c| c.scheme == "bearer" || c.scheme == "basic")
        else {
            return;
        };
        if let Ok(mut a) = self.auth.lock() {
            a.challenge = Some(h);
        }
    }

    /// Maps a transport failure: TLS problems become UNTRUSTED with the fix.
    pub fn transport_error(&self, e: &reqwest::Error, url: &str) -> Error {
        if url.starts_with("https://") && (e.is_connect() || is_tls_text(e)) {
            // The host the request went to (a token realm may be elsewhere), not always the
            // registry: its own trust and insecure mark decide.
            let host = match reqwest::Url::parse(url) {
                Ok(u) if !self.is_own_origin(url) => host_port(&u),
                _ => self.registry.clone(),
            };
            if let Some(err) =
                trust::classify_transport_error(&host, &self.opts.trust, self.opts.cancel.as_ref())
            {
                return err;
            }
        }
        let mut msg = format!("{} {}: {}", self.registry, strip_host(url), e);
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Error::new(ErrorKind::Network, self.redact(&msg))
    }

    /// The `Authorization` header for `scope`, fetching a token when the registry uses them.
    async fn authorization(&self, scope: &str) -> Result<Option<HeaderValue>> {
        let challenge = self.auth.lock().ok().and_then(|a| a.challenge.clone());
        let Some(ch) = challenge else {
            return Ok(None);
        };
        let value = match (&self.cred, ch.scheme.as_str()) {
            (Credential::Anonymous, "basic") => return Ok(None),
            (
                Credential::Basic {
                    username, password, ..
                },
                "basic",
            ) => basic_header(username, password),
            (Credential::Token { token, .. }, _) => format!("Bearer {token}"),
            (_, _) => {
                let cached = self
                    .auth
                    .lock()
                    .ok()
                    .and_then(|a| a.tokens.get(scope).cloned());
                let token = match cached {
                    Some(t) => t,
                    None => {
                        let t = self.fetch_token(&ch, scope).await?;
                        if let Ok(mut a) = self.auth.lock() {
                            a.tokens.insert(scope.to_string(), t.clone());
                        }
                        t
                    }
                };
                format!("Bearer {token}")
            }
        };
        let mut v = HeaderValue::from_str(&value).map_err(|_| {
            Error::invalid("credentials contain characters not allowed in HTTP headers")
        })?;
        v.set_sensitive(true);
        Ok(Some(v))
    }

    async fn fetch_token(&self, ch: &Challenge, scope: &str) -> Result<String> {
        let realm = ch.params.get("realm").ok_or_else(|| {
            Error::new(
                ErrorKind::Auth,
                format!("{} asked for a bearer token without a realm", self.registry),
            )
        })?;
        let send_basic = self.check_realm(realm)?;
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = ch.params.get("service") {
            query.push(("service", s));
        }
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            query.push(("scope", s));
        }
        if let Credential::Basic { username, .. } = &self.cred {
            query.push(("account", username));
        }
        let mut attempt = 0;
        let since = std::time::Instant::now();
        loop {
            attempt += 1;
            let mut req = self.http_for(realm)?.0.get(realm).query(&query);
            if let (
                true,
                Credential::Basic {
                    username, password, ..
                },
            ) = (send_basic, &self.cred)
            {
                req = req.basic_auth(username, Some(password));
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if self.can_retry(attempt, since) && is_transient(&e) => {
                    self.backoff("token", attempt, None, &e.to_string()).await;
                    continue;
                }
                Err(e) => return Err(self.transport_error(&e, realm)),
            };
            let status = resp.status();
            if retryable_status(status) && self.can_retry(attempt, since) {
                let ra = retry_after(&resp);
                self.backoff("token", attempt, ra, status.as_str()).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(self.auth_error(status));
            }
            if !status.is_success() {
                return Err(self.error_for(resp, "token request").await);
            }
            let body = self
                .read_limited(resp, TOKEN_MAX, "token answer", realm)
                .await?;
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| e.to_string())
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Network,
                        format!("{}: token answer is not JSON: {e}", self.registry),
                    )
                })?;
            return v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .map(String::from)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Network,
                        format!("{}: token answer has no token", self.registry),
                    )
                });
        }
    }

    /// The client to speak to `url` with, and whether `url` is the registry's own origin:
    /// the registry's client there, else one built from the trust of that origin's
    /// `host:port` (cached per origin).
    fn http_for(&self, url: &str) -> Result<(reqwest::Client, bool)> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| Error::new(ErrorKind::Network, format!("{url:?} is not a URL: {e}")))?;
        if parsed.origin() == self.base_url.origin() {
            return Ok((self.http.clone(), true));
        }
        let origin = origin_of(&parsed);
        if let Some(c) = self
            .realm_clients
            .lock()
            .ok()
            .and_then(|m| m.get(&origin).cloned())
        {
            return Ok((c, false));
        }
        let store = TrustStore::for_host(&host_port(&parsed), &self.opts.trust)?;
        let c = http_client(&store, &self.opts, self.sink.as_ref())?;
        if let Ok(mut m) = self.realm_clients.lock() {
            m.insert(origin, c.clone());
        }
        Ok((c, false))
    }

    /// Where a redirect answer to `url` sends the request next (`None` when `resp` is not a
    /// redirect): resolved against `url`, never down from HTTPS, at most [`MAX_REDIRECTS`].
    fn redirect(&self, url: &str, resp: &Response, redirects: &mut u32) -> Result<Option<String>> {
        let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok());
        let (true, Some(loc)) = (resp.status().is_redirection(), location) else {
            return Ok(None);
        };
        *redirects += 1;
        if *redirects > MAX_REDIRECTS {
            return Err(Error::new(
                ErrorKind::Network,
                format!(
                    "{}: more than {MAX_REDIRECTS} redirects for {}",
                    self.registry,
                    strip_host(url)
                ),
            ));
        }
        let from = reqwest::Url::parse(url)
            .map_err(|e| Error::internal(format!("request URL {url}: {e}")))?;
        resolve_from(&from, &self.registry, loc).map(Some)
    }

    /// Decides whether the token realm a challenge names may be asked, and whether the
    /// user's Basic credentials may go with the request: only over TLS, or in plain HTTP to
    /// the registry's own origin when the registry itself is spoken to in plain HTTP (a
    /// loopback registry, or one the user marked insecure). A plain-HTTP realm behind an
    /// HTTPS registry is refused unless the user marked that realm's host insecure (audited).
    fn check_realm(&self, realm: &str) -> Result<bool> {
        let url = reqwest::Url::parse(realm).map_err(|e| {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "{}: its token realm {realm:?} is not a URL: {e}",
                    self.registry
                ),
            )
        })?;
        let origin = origin_of(&url);
        match url.scheme() {
            "https" => Ok(true),
            "http" if self.is_own_origin(realm) => Ok(true),
            "http" => {
                let host = host_port(&url);
                if self.base.starts_with("https://") && !self.opts.trust.is_insecure(&host) {
                    return Err(Error::new(
                        ErrorKind::Policy,
                        format!(
                            "{} sends idpkit for a token to {origin}, in plain HTTP behind an HTTPS registry; \
                             refused, so no credential travels in the clear (mark {host} insecure \
                             with --insecure {host} if this is really how the registry works)",
                            self.registry
                        ),
                    ));
                }
                emit(
                    self.sink.as_ref(),
                    Event::InsecureConnection {
                        host: host.clone(),
                        reason: "plain-HTTP token realm; no password is sent to it".into(),
                    },
                );
                Ok(false)
            }
            other => Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "{}: its token realm {origin} uses {other}, not HTTPS",
                    self.registry
                ),
            )),
        }
    }

    fn auth_error(&self, status: StatusCode) -> Error {
        let what = match status {
            StatusCode::FORBIDDEN => "denied access to",
            _ => "rejected",
        };
        let fix = match &self.cred {
            Credential::Anonymous => format!("log in with `idpkit login {}`", self.registry),
            _ => format!(
                "check the password or token, then `idpkit login {}`",
                self.registry
            ),
        };
        Error::new(
            ErrorKind::Auth,
            format!(
                "registry {} {what} {} ({status}); {fix}",
                self.registry,
                self.cred.describe()
            ),
        )
    }

    /// Sends a request with auth, following one 401 (new challenge or expired token) and
    /// retrying transient failures when `retry` (idempotent requests).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        scope: &str,
        headers: HeaderMap,
        body: BodyFn<'_>,
        retry: bool,
    ) -> Result<Response> {
        let mut attempt = 0u32;
        let since = std::time::Instant::now();
        let mut reauthed = false;
        let mut redirects = 0;
        let mut current = url.to_string();
        loop {
            let url = current.as_str();
            attempt += 1;
            self.check_breaker()?;
            // Each origin is spoken to with its own trust (a redirect to a storage host never
            // gets the registry's certs.d CA, client certificate or insecure mark).
            let (http, own_origin) = self.http_for(url)?;
            let mut req = http.request(method.clone(), url).headers(headers.clone());
            // Credentials go to the registry's own origin only: an upload Location on another
            // host (a storage front end) is followed without them, as Docker does.
            if own_origin {
                if let Some(a) = self.authorization(scope).await? {
                    req = req.header(AUTHORIZATION, a);
                }
            }
            if let Some(b) = body()? {
                req = req.body(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if retry && is_transient(&e) && self.failed_try(attempt, since) => {
                    self.backoff(
                        &format!("{method} {}", strip_host(url)),
                        attempt,
                        None,
                        &e.to_string(),
                    )
                    .await;
                    continue;
                }
                Err(e) => return Err(self.transport_error(&e, url)),
            };
            let status = resp.status();
            if method == Method::GET || method == Method::HEAD {
                if let Some(next) = self.redirect(url, &resp, &mut redirects)? {
                    current = next;
                    attempt -= 1;
                    continue;
                }
            }
            if status == StatusCode::UNAUTHORIZED {
                if reauthed {
                    return Err(self.auth_error(status));
                }
                reauthed = true;
                self.learn_challenge(&resp);
                if let Ok(mut a) = self.auth.lock() {
                    a.tokens.remove(scope);
                }
                attempt -= 1;
                continue;
            }
            if retry && retryable_status(status) && self.failed_try(attempt, since) {
                let ra = retry_after(&resp);
                self.backoff(
                    &format!("{method} {}", strip_host(url)),
                    attempt,
                    ra,
                    &format!("HTTP {status}"),
                )
                .await;
                continue;
            }
            if !retryable_status(status) {
                self.failures_in_a_row.store(0, Ordering::SeqCst);
            }
            return Ok(resp);
        }
    }

    /// Counts a transiently failed try and says whether it may be retried: within the
    /// request's attempts and time budget, and while the breaker is closed.
    fn failed_try(&self, attempt: u32, since: std::time::Instant) -> bool {
        self.failures_in_a_row.fetch_add(1, Ordering::SeqCst);
        self.can_retry(attempt, since) && !self.breaker_open()
    }

    /// The breaker opens after `breaker_threshold` failed tries in a row across all the
    /// operation's requests (parallel blobs included), so a registry that went down stops
    /// getting every blob's full round of retries.
    fn breaker_open(&self) -> bool {
        let threshold = self.opts.breaker_threshold;
        threshold > 0 && self.failures_in_a_row.load(Ordering::SeqCst) >= threshold
    }

    fn check_breaker(&self) -> Result<()> {
        if !self.breaker_open() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Network,
            format!(
                "{}: {} tries in a row failed, so idpkit stopped sending (circuit breaker); \
                 the registry looks down or overloaded, try again later",
                self.registry,
                self.failures_in_a_row.load(Ordering::SeqCst)
            ),
        ))
    }

    /// Whether a request first tried at `since` may be tried again: fewer than `attempts`
    /// tries so far and still inside `retry_budget_secs`.
    pub fn can_retry(&self, attempt: u32, since: std::time::Instant) -> bool {
        attempt < self.opts.attempts && since.elapsed() < self.retry_budget()
    }

    fn retry_budget(&self) -> Duration {
        Duration::from_secs(self.opts.retry_budget_secs.max(1))
    }

    pub async fn backoff(
        &self,
        what: &str,
        attempt: u32,
        retry_after: Option<Duration>,
        reason: &str,
    ) {
        let d = retry_after
            .unwrap_or_else(|| backoff_delay(attempt, &self.opts))
            .min(self.retry_budget());
        emit(
            self.sink.as_ref(),
            Event::RetryScheduled {
                what: format!("{} {what}", self.registry),
                attempt,
                delay_ms: d.as_millis() as u64,
                reason: self.redact(reason),
            },
        );
        tokio::time::sleep(d).await;
    }

    /// `s` without any form of the user's credential or of a bearer token fetched for it.
    fn redact(&self, s: &str) -> String {
        let mut secrets = self.cred.secrets();
        if let Ok(a) = self.auth.lock() {
            secrets.extend(a.tokens.values().cloned());
        }
        redact_all(s, secrets.iter().map(String::as_str))
    }

    /// The whole body of `resp`, refused once it passes `limit` bytes (the declared length
    /// is checked first, then every chunk), so a hostile registry cannot make idpkit buffer
    /// an endless manifest, token or list.
    pub async fn read_limited(
        &self,
        mut resp: Response,
        limit: usize,
        what: &str,
        url: &str,
    ) -> Result<Vec<u8>> {
        let too_big = || {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} sent a {what} larger than {limit} bytes; refused",
                    self.registry
                ),
            )
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_big());
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e, url))?
        {
            if out.len() + chunk.len() > limit {
                return Err(too_big());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The first `ERROR_BODY_MAX` bytes of an error answer (the rest is not read).
    async fn error_body(mut resp: Response) -> String {
        let mut out = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let room = ERROR_BODY_MAX.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= ERROR_BODY_MAX {
                break;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// An error for a failed response: the server's own message, kind from the status.
    pub async fn error_for(&self, resp: Response, what: &str) -> Error {
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let body = Self::error_body(resp).await;
            let mut e = self.auth_error(status);
            if let Some(m) = server_message(&body) {
                e.message.push_str(&format!("; the registry says: {m}"));
            }
            e.message = self.redact(&e.message);
            return e;
        }
        let body = Self::error_body(resp).await;
        let detail = server_message(&body).unwrap_or_else(|| {
            body.chars()
                .take(300)
                .collect::<String>()
                .trim()
                .to_string()
        });
        let kind = match status.as_u16() {
            404 => ErrorKind::NotFound,
            400 | 411 | 413 | 414 | 415 | 422 => ErrorKind::InvalidInput,
            405 => ErrorKind::Policy,
            409 | 412 | 416 => ErrorKind::Conflict,
            _ => ErrorKind::Network,
        };
        let msg = format!(
            "{} {what}: HTTP {status}{}",
            self.registry,
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        );
        Error::new(kind, self.redact(&msg))
    }

    /// Absolute URL for a `Location` or `Link` the registry named (often relative). A URL
    /// that would downgrade an HTTPS registry to plain HTTP is refused: the upload or page
    /// would travel in the clear, and a hostile registry could aim it anywhere.
    pub fn absolute(&self, location: &str) -> Result<String> {
        resolve_from(&self.base_url, &self.registry, location)
    }

    /// Whether `url` is on the registry's own origin (scheme, host and port): the only place
    /// its credentials and tokens go.
    pub fn is_own_origin(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|u| u.origin() == self.base_url.origin())
    }
}

/// The registry's base URL (`scheme://host[:port]`) with the trailing slash URLs join on.
fn parse_base(base: &str) -> Result<reqwest::Url> {
    reqwest::Url::parse(&format!("{base}/"))
        .map_err(|e| Error::invalid(format!("registry {base:?} is not a valid host[:port]: {e}")))
}

/// `location` resolved against the URL it was named by (a redirect's request URL, or the
/// registry's base), with the same refusal of downgrades.
fn resolve_from(base: &reqwest::Url, registry: &str, location: &str) -> Result<String> {
    let url = base.join(location).map_err(|e| {
        Error::new(
            ErrorKind::Network,
            format!("{registry} named a URL that cannot be parsed ({location:?}): {e}"),
        )
    })?;
    if url.scheme() != base.scheme() && url.scheme() != "https" {
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "{registry} sent idpkit to {} over {}, away from {}; refused (a registry never needs that; \
                 if it is yours, fix its Location/Link headers or its proxy's scheme)",
                origin_of(&url),
                url.scheme(),
                base.scheme()
            ),
        ));
    }
    Ok(url.to_string())
}

/// `host:port` of a URL (the port its scheme implies when it names none).
fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(p) if host.contains(':') => format!("[{host}]:{p}"),
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The HTTP client for one origin's trust store.
fn http_client(
    store: &TrustStore,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<reqwest::Client> {
    let tls = store.client_config(sink)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(opts.connect_timeout_secs.max(1)))
        // A peer that stops sending (or reading) for this long is a transient failure:
        // the request is retried, an upload resumes from the server's offset.
        .read_timeout(Duration::from_secs(opts.read_timeout_secs.max(1)))
        .pool_max_idle_per_host(opts.jobs.max(1) * 2)
        .user_agent(concat!("idpkit/", env!("CARGO_PKG_VERSION")))
        // Redirects are followed by `send`, each hop with its own origin's client.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::internal(format!("HTTP client: {e}")))
}

/// `scheme://host:port` of a URL, for messages.
pub(crate) fn origin_of(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn strip_host(url: &str) -> &str {
    url.find("/v2/").map(|i| &url[i..]).unwrap_or(url)
}

/// Replaces every secret in `s` (servers sometimes echo what they got).
fn redact_all<'a>(s: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = s.to_string();
    for secret in secrets {
        if !secret.is_empty() {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

fn is_tls_text(e: &reqwest::Error) -> bool {
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

pub(crate) fn is_transient(e: &reqwest::Error) -> bool {
    if e.is_connect() {
        return !is_tls_text(e);
    }
    if e.is_timeout() || e.is_request() || e.is_body() {
        return true;
    }
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
            ) {
                return true;
            }
        }
        let t = s.to_string();
        if t.contains("connection closed") || t.contains("reset") || t.contains("IncompleteMessage")
        {
            return true;
        }
        src = s.source();
    }
    false
}

pub(crate) fn retryable_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 429 | 499 | 500 | 502 | 503 | 504 | 522)
}

pub(crate) fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, std::time::SystemTime::now())
}

/// `Retry-After` as seconds or as an HTTP-date (RFC 9110 §10.2.3), capped at a minute; a
/// date in the past means "now".
fn parse_retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    const CAP: Duration = Duration::from_secs(60);
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(CAP));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(CAP))
}

/// `base * 2^(attempt-1)`, capped, with ±25% jitter.
pub(crate) fn backoff_delay(attempt: u32, opts: &RegistryOptions) -> Duration {
    let base = opts.backoff_base_ms.max(1) as f64;
    let exp = base * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    let capped = exp.min(opts.backoff_max_ms.max(1) as f64);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.75 + (nanos % 1000) as f64 / 2000.0;
    Duration::from_millis((capped * jitter) as u64)
}

/// The first `message` of a distribution error body (`{"errors":[{"code","message"}]}`).
fn server_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let errs = v.get("errors")?.as_array()?;
    let parts: Vec<String> = errs
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            format!("{code} {msg}").trim().to_string()
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::{parse_base, resolve_from};

    fn join_url(base: &str, registry: &str, location: &str) -> crate::Result<String> {
        resolve_from(&parse_base(base)?, registry, location)
    }
    use crate::ErrorKind;

    #[test]
    fn retry_after_in_seconds_and_as_an_http_date() {
        use super::parse_retry_after;
        use std::time::{Duration, SystemTime};
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 600 ", now),
            Some(Duration::from_secs(60))
        );
        let in_5s = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(parse_retry_after(&in_5s, now), Some(Duration::from_secs(5)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn locations_resolve_against_the_registry_and_never_downgrade() {
        let base = "https://reg.example:5000";
        assert_eq!(
            join_url(base, "reg", "/v2/a/blobs/uploads/1?x=y").unwrap(),
            "https://reg.example:5000/v2/a/blobs/uploads/1?x=y"
        );
        assert_eq!(
            join_url(base, "reg", "https://storage.example/up/1").unwrap(),
            "https://storage.example/up/1"
        );
        let e = join_url(base, "reg", "http://127.0.0.2:5999/v2/a/blobs/uploads/1").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Policy);
        assert!(e.message.contains("http://127.0.0.2:5999"), "{}", e.message);
        assert!(join_url(base, "reg", "file:///etc/passwd").is_err());
        // A plain-HTTP registry may be sent up to HTTPS.
        assert!(join_url("http://127.0.0.1:5000", "reg", "https://127.0.0.1:5443/x").is_ok());
    }
}
