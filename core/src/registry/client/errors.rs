//! Error mapping: transport failures, registry error bodies (read with a limit), and the
//! redaction of every secret of the call from what a server echoes.

use super::*;

impl Client {
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

    /// `s` without any form of the user's credential or of a bearer token fetched for it.
    pub(super) fn redact(&self, s: &str) -> String {
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
    pub(super) async fn error_body(mut resp: Response) -> String {
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
}

/// Replaces every secret in `s` (servers sometimes echo what they got).
pub(super) fn redact_all<'a>(s: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = s.to_string();
    for secret in secrets {
        if !secret.is_empty() {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

pub(super) fn is_tls_text(e: &reqwest::Error) -> bool {
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

/// The first `message` of a distribution error body (`{"errors":[{"code","message"}]}`).
pub(super) fn server_message(body: &str) -> Option<String> {
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
