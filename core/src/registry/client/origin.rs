//! Origins: one HTTP client per origin with that origin's trust, redirects followed by
//! idpkit (never down to plain HTTP), and URLs a registry names resolved against its base.

use super::*;

impl Client {
    /// The client to speak to `url` with, and whether `url` is the registry's own origin:
    /// the registry's client there, else one built from the trust of that origin's
    /// `host:port` (cached per origin).
    pub(super) fn http_for(&self, url: &str) -> Result<(reqwest::Client, bool)> {
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
    pub(super) fn redirect(
        &self,
        url: &str,
        resp: &Response,
        redirects: &mut u32,
    ) -> Result<Option<String>> {
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
pub(super) fn parse_base(base: &str) -> Result<reqwest::Url> {
    reqwest::Url::parse(&format!("{base}/"))
        .map_err(|e| Error::invalid(format!("registry {base:?} is not a valid host[:port]: {e}")))
}

/// `location` resolved against the URL it was named by (a redirect's request URL, or the
/// registry's base), with the same refusal of downgrades.
pub(super) fn resolve_from(base: &reqwest::Url, registry: &str, location: &str) -> Result<String> {
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
pub(super) fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(p) if host.contains(':') => format!("[{host}]:{p}"),
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The HTTP client for one origin's trust store.
pub(super) fn http_client(
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
