//! One retry policy for every request of an operation: which failures are transient, how
//! long to wait (exponential backoff with jitter, `Retry-After`), the attempt and time budget,
//! and the circuit breaker across parallel requests.

use super::*;

/// What one try of a request (or of a whole blob) came to.
pub(crate) enum Try<T> {
    /// Finished: the value to return.
    Done(T),
    /// Not a failed try: a redirect followed, a token renewed, a switch to chunked upload.
    /// Go again without counting it.
    Again,
    /// Failed transiently: go again after the backoff (or the server's `Retry-After`) while
    /// the policy allows; when it does not, the request ends with `last`.
    Failed {
        last: Result<T>,
        retry_after: Option<Duration>,
        reason: String,
    },
}

impl Client {
    /// A transient transport failure as a failed try (retried while the policy allows).
    pub(super) fn transport_failed<T>(&self, e: &reqwest::Error, url: &str) -> Try<T> {
        Try::Failed {
            last: Err(self.transport_error(e, url)),
            retry_after: None,
            reason: e.to_string(),
        }
    }

    /// The one retry loop of the registry client. It runs `attempt` until it is done,
    /// counting failed tries against the request's attempts and time budget and, with
    /// `breaker`, against the operation's circuit breaker. Every request (ping, token, send)
    /// and every blob transfer goes through it, so they all follow one policy.
    pub(crate) async fn retrying<T>(
        &self,
        what: &str,
        breaker: bool,
        mut attempt: impl AsyncFnMut(u32) -> Result<Try<T>>,
    ) -> Result<T> {
        let since = std::time::Instant::now();
        let mut n = 0u32;
        loop {
            n += 1;
            match attempt(n).await? {
                Try::Done(v) => return Ok(v),
                Try::Again => n -= 1,
                Try::Failed {
                    last,
                    retry_after,
                    reason,
                } => {
                    let more = if breaker {
                        self.failed_try(n, since)
                    } else {
                        self.can_retry(n, since)
                    };
                    if !more {
                        return last;
                    }
                    self.backoff(what, n, retry_after, &reason).await;
                }
            }
        }
    }

    /// Counts a transiently failed try and says whether it may be retried: within the
    /// request's attempts and time budget, and while the breaker is closed.
    pub(super) fn failed_try(&self, attempt: u32, since: std::time::Instant) -> bool {
        self.failures_in_a_row.fetch_add(1, Ordering::SeqCst);
        self.can_retry(attempt, since) && !self.breaker_open()
    }

    /// The breaker opens after `breaker_threshold` failed tries in a row across all the
    /// operation's requests (parallel blobs included), so a registry that went down stops
    /// getting every blob's full round of retries.
    pub(super) fn breaker_open(&self) -> bool {
        let threshold = self.opts.breaker_threshold;
        threshold > 0 && self.failures_in_a_row.load(Ordering::SeqCst) >= threshold
    }

    pub(super) fn check_breaker(&self) -> Result<()> {
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
    pub(super) fn can_retry(&self, attempt: u32, since: std::time::Instant) -> bool {
        attempt < self.opts.attempts && since.elapsed() < self.retry_budget()
    }

    pub(super) fn retry_budget(&self) -> Duration {
        Duration::from_secs(self.opts.retry_budget_secs.max(1))
    }

    pub(super) async fn backoff(
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
pub(super) fn parse_retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
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
