//! Registry authentication: the challenge learnt from a 401, the `Authorization` header for
//! a scope, bearer tokens fetched from the realm (only with credentials where decision 0008
//! allows), and the messages of a refusal.

use super::*;

impl Client {
    pub(super) fn learn_challenge(&self, resp: &Response) {
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

    /// The `Authorization` header for `scope`, fetching a token when the registry uses them.
    pub(super) async fn authorization(&self, scope: &str) -> Result<Option<HeaderValue>> {
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

    pub(super) async fn fetch_token(&self, ch: &Challenge, scope: &str) -> Result<String> {
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
        self.retrying("token", false, async |_| {
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
                Err(e) if is_transient(&e) => return Ok(self.transport_failed(&e, realm)),
                Err(e) => return Err(self.transport_error(&e, realm)),
            };
            let status = resp.status();
            if retryable_status(status) {
                let retry_after = retry_after(&resp);
                return Ok(Try::Failed {
                    last: Err(self.error_for(resp, "token request").await),
                    retry_after,
                    reason: status.as_str().to_string(),
                });
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
            v.get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .map(|t| Try::Done(t.to_string()))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Network,
                        format!("{}: token answer has no token", self.registry),
                    )
                })
        })
        .await
    }

    /// Decides whether the token realm a challenge names may be asked, and whether the
    /// user's Basic credentials may go with the request: only over TLS, or in plain HTTP to
    /// the registry's own origin when the registry itself is spoken to in plain HTTP (a
    /// loopback registry, or one the user marked insecure). A plain-HTTP realm behind an
    /// HTTPS registry is refused unless the user marked that realm's host insecure (audited).
    pub(super) fn check_realm(&self, realm: &str) -> Result<bool> {
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

    pub(super) fn auth_error(&self, status: StatusCode) -> Error {
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
}

pub(super) fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
