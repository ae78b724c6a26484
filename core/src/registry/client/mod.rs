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
mod errors;
mod origin;
mod retry;
mod tokens;

use errors::is_tls_text;
pub(crate) use origin::origin_of;
use origin::{host_port, http_client, parse_base};
pub(crate) use retry::{is_transient, retry_after, retryable_status, Try};

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
        let mut url = format!("{}/v2/", self.base);
        let mut redirects = 0;
        self.retrying("GET /v2/", false, async |attempt| {
            let resp = match self.http_for(&url)?.0.get(&url).send().await {
                Ok(r) => r,
                Err(e) if !e.is_connect() && is_transient(&e) => {
                    return Ok(self.transport_failed(&e, &url))
                }
                Err(e) => return Err(self.transport_error(&e, &url)),
            };
            let status = resp.status();
            if let Some(next) = self.redirect(&url, &resp, &mut redirects)? {
                url = next;
                return Ok(Try::Again);
            }
            self.learn_challenge(&resp);
            if status.is_success() || status == StatusCode::UNAUTHORIZED {
                return Ok(Try::Done(()));
            }
            if retryable_status(status) {
                return Ok(Try::Failed {
                    last: Err(Error::new(
                        ErrorKind::Network,
                        format!(
                            "{} answered {status} to GET /v2/ {attempt} times; the registry is unavailable, try again later",
                            self.registry
                        ),
                    )),
                    retry_after: retry_after(&resp),
                    reason: format!("HTTP {status}"),
                });
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
            }
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} answered {status} to GET /v2/: not a container registry?",
                    self.registry
                ),
            ))
        })
        .await
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
        let mut reauthed = false;
        let mut redirects = 0;
        let mut current = url.to_string();
        let what = format!("{method} {}", strip_host(url));
        self.retrying(&what, true, async |_| {
            let url = current.clone();
            self.check_breaker()?;
            // Each origin is spoken to with its own trust (a redirect to a storage host never
            // gets the registry's certs.d CA, client certificate or insecure mark).
            let (http, own_origin) = self.http_for(&url)?;
            let mut req = http.request(method.clone(), &url).headers(headers.clone());
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
                Err(e) if retry && is_transient(&e) => return Ok(self.transport_failed(&e, &url)),
                Err(e) => return Err(self.transport_error(&e, &url)),
            };
            let status = resp.status();
            if method == Method::GET || method == Method::HEAD {
                if let Some(next) = self.redirect(&url, &resp, &mut redirects)? {
                    current = next;
                    return Ok(Try::Again);
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
                return Ok(Try::Again);
            }
            if retry && retryable_status(status) {
                return Ok(Try::Failed {
                    retry_after: retry_after(&resp),
                    reason: format!("HTTP {status}"),
                    last: Ok(resp),
                });
            }
            if !retryable_status(status) {
                self.failures_in_a_row.store(0, Ordering::SeqCst);
            }
            Ok(Try::Done(resp))
        })
        .await
    }
}

fn strip_host(url: &str) -> &str {
    url.find("/v2/").map(|i| &url[i..]).unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::origin::resolve_from;
    use super::parse_base;

    fn join_url(base: &str, registry: &str, location: &str) -> crate::Result<String> {
        resolve_from(&parse_base(base)?, registry, location)
    }
    use crate::ErrorKind;

    #[test]
    fn retry_after_in_seconds_and_as_an_http_date() {
        use crate::registry::client::retry::parse_retry_after;
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
