//! Handshake diagnostics: what a host presented, and why it is (not) trusted, with the
//! command that fixes it.

use super::verifier::{is_ca, is_self_signed};
use super::{host_name, TrustOptions, TrustStore};
use crate::cancel::{self, CancelToken};
use crate::error::{Error, ErrorKind, Result};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{AlertDescription, CertificateError};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the connection and the handshake may take, and how long the first answer after it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a blocked connect, read or write looks at its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// The outcome of a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Trusted,
    /// Signed by a CA none of the trust sources hold (or self-signed).
    UnknownIssuer,
    Expired,
    NotYetValid,
    /// Valid chain, but not issued for this host name.
    WrongHost,
    /// The server wants a client certificate (mutual TLS).
    ClientCertRequired,
    /// Any other certificate problem (bad signature, revoked, wrong purpose, ...).
    BadCertificate,
    /// The port answered, but not with TLS (a plain-HTTP server).
    NotTls,
    /// Nothing answered, or the handshake broke off.
    Unreachable,
}

impl Verdict {
    /// Every verdict, in declaration order: bindings list their enums from this.
    pub const ALL: [Verdict; 9] = [
        Verdict::Trusted,
        Verdict::UnknownIssuer,
        Verdict::Expired,
        Verdict::NotYetValid,
        Verdict::WrongHost,
        Verdict::ClientCertRequired,
        Verdict::BadCertificate,
        Verdict::NotTls,
        Verdict::Unreachable,
    ];

    /// The serde name (`unknown_issuer`, ...), as a static string. A new verdict stops this
    /// from compiling until it has a name here; a test checks the names against serde's and
    /// that `ALL` lists every verdict once (`Unreachable` stays the last one declared).
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Trusted => "trusted",
            Verdict::UnknownIssuer => "unknown_issuer",
            Verdict::Expired => "expired",
            Verdict::NotYetValid => "not_yet_valid",
            Verdict::WrongHost => "wrong_host",
            Verdict::ClientCertRequired => "client_cert_required",
            Verdict::BadCertificate => "bad_certificate",
            Verdict::NotTls => "not_tls",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// One certificate of a presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
    pub self_signed: bool,
    pub sha256: String,
}

/// The result of `idpkit trust check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrustReport {
    pub host: String,
    pub verdict: Verdict,
    pub trusted: bool,
    /// The host is marked insecure: it would be used even though it is not trusted.
    pub insecure: bool,
    pub chain: Vec<CertInfo>,
    /// Where the roots came from.
    pub sources: Vec<String>,
    /// What is wrong and how to fix it; when trusted, empty, or how it is trusted when that
    /// is worth knowing (a self-signed certificate that is one of the trust anchors).
    pub message: String,
}

pub(crate) fn cert_info(der: &CertificateDer<'_>) -> Option<CertInfo> {
    let (_, c) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        names.push(std::net::Ipv4Addr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        names.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let subject = c.subject().to_string();
    let issuer = c.issuer().to_string();
    Some(CertInfo {
        self_signed: subject == issuer,
        subject,
        issuer,
        not_before: c.validity().not_before.to_string(),
        not_after: c.validity().not_after.to_string(),
        names,
        sha256: {
            use sha2::Digest;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(der.as_ref())))
        },
    })
}

/// Connects to `host[:port]` (port 443 by default), runs a TLS handshake with the roots
/// `opts` assemble for it, and reports the chain and the verdict. Never skips verification,
/// even for an insecure host (the report says it is marked insecure). `cancel` stops it
/// within a tenth of a second, with `Cancelled`.
pub fn check(host: &str, opts: &TrustOptions, cancel: Option<&CancelToken>) -> Result<TrustReport> {
    cancel::check(cancel)?;
    let store = TrustStore::for_host(host, opts)?;
    let probed = probe(&store, host, cancel);
    cancel::check(cancel)?;
    let probed = probed?;
    let message = match probed.verdict {
        Verdict::Trusted if probed.pinned => format!(
            "trusted: {host} serves a self-signed certificate that is one of your trust anchors \
             (accepted as it is: valid now, issued for {}, for server authentication)",
            host_name(host)
        ),
        Verdict::Trusted => String::new(),
        _ => explain(host, &probed),
    };
    let verdict = probed.verdict;
    let chain: Vec<CertInfo> = probed.chain.iter().filter_map(cert_info).collect();
    Ok(TrustReport {
        host: host.to_string(),
        verdict,
        trusted: verdict == Verdict::Trusted,
        insecure: store.is_insecure(),
        chain,
        sources: store.sources().to_vec(),
        message,
    })
}

/// What one handshake showed.
struct Probe {
    verdict: Verdict,
    chain: Vec<CertificateDer<'static>>,
    /// The TLS or network error, when there was one.
    detail: String,
    /// Trusted because the host serves one of the configured anchors itself.
    pinned: bool,
}

impl Probe {
    fn failed(verdict: Verdict, detail: String) -> Probe {
        Probe {
            verdict,
            chain: vec![],
            detail,
            pinned: false,
        }
    }
}

fn probe(store: &TrustStore, host: &str, cancel: Option<&CancelToken>) -> Result<Probe> {
    let (config, recorder) = store.client_config_with(None, false)?;
    let name = host_name(host).to_string();
    let port = match host.strip_prefix('[') {
        Some(r) => r.split("]:").nth(1),
        None => host.rsplit_once(':').map(|(_, p)| p),
    }
    .and_then(|p| p.parse::<u16>().ok())
    .unwrap_or(443);
    let server_name = ServerName::try_from(name.clone())
        .map_err(|_| Error::invalid(format!("{host:?} is not a valid host name")))?;
    let addr = match (name.as_str(), port).to_socket_addrs() {
        Ok(mut a) => a.next(),
        Err(e) => {
            return Ok(Probe::failed(
                Verdict::Unreachable,
                format!("cannot resolve {name}: {e}"),
            ))
        }
    };
    let Some(addr) = addr else {
        return Ok(Probe::failed(
            Verdict::Unreachable,
            format!("{name} has no address"),
        ));
    };
    let mut sock = match Watched::connect(&addr, cancel) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Probe::failed(
                Verdict::Unreachable,
                format!("cannot connect to {host}: {e}"),
            ))
        }
    };
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| Error::internal(format!("TLS client: {e}")))?;
    let mut result = Ok(());
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() {
        // TLS 1.3 servers report a missing client certificate after the handshake: send a
        // request and read the first bytes of the answer.
        let req = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        sock.deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        let mut buf = [0u8; 64];
        result = tls
            .write_all(req.as_bytes())
            .and_then(|_| tls.read(&mut buf).map(|_| ()));
    }
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    let recorded = recorder.failure.lock().ok().and_then(|f| f.clone());
    let pinned = recorder.pinned.load(std::sync::atomic::Ordering::Relaxed);
    let trusted = |chain| Probe {
        verdict: Verdict::Trusted,
        chain,
        detail: String::new(),
        pinned,
    };
    match result {
        Ok(()) => Ok(trusted(chain)),
        Err(e) => {
            let tls_err = recorded.or_else(|| {
                e.get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .cloned()
            });
            let (verdict, detail) = match tls_err {
                Some(t) => (verdict_of(&t), t.to_string()),
                None if chain.is_empty() => (Verdict::Unreachable, e.to_string()),
                // The handshake finished and a later read failed: not a trust problem.
                None => return Ok(trusted(chain)),
            };
            Ok(Probe {
                verdict,
                chain,
                detail,
                pinned: false,
            })
        }
    }
}

/// A socket whose connect, reads and writes give up when `cancel` fires (looked at every
/// [`CANCEL_POLL`]) or when `deadline` passes, whichever comes first.
struct Watched<'a> {
    sock: TcpStream,
    cancel: Option<&'a CancelToken>,
    deadline: Instant,
}

impl<'a> Watched<'a> {
    fn connect(addr: &SocketAddr, cancel: Option<&'a CancelToken>) -> io::Result<Self> {
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        let sock = loop {
            match TcpStream::connect_timeout(addr, CANCEL_POLL) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    Self::give_up(cancel, deadline, e)?;
                }
                done => break done?,
            }
        };
        sock.set_read_timeout(Some(CANCEL_POLL))?;
        sock.set_write_timeout(Some(CANCEL_POLL))?;
        Ok(Self {
            sock,
            cancel,
            deadline,
        })
    }

    /// `Ok` to try again; the error once cancelled or past the deadline.
    fn give_up(cancel: Option<&CancelToken>, deadline: Instant, e: io::Error) -> io::Result<()> {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            // Not `Interrupted`: std and rustls retry that kind.
            return Err(io::Error::other("cancelled"));
        }
        if Instant::now() >= deadline {
            return Err(e);
        }
        Ok(())
    }

    fn retry<T>(&mut self, mut op: impl FnMut(&mut TcpStream) -> io::Result<T>) -> io::Result<T> {
        loop {
            match op(&mut self.sock) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    Self::give_up(self.cancel, self.deadline, e)?;
                }
                done => return done,
            }
        }
    }
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(|s| s.read(buf))
    }
}

impl Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(|s| s.write(buf))
    }
    // rustls writes records vectored: keep that one `writev` per flush.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.retry(|s| s.write_vectored(bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.retry(|s| s.flush())
    }
}

pub(crate) fn verdict_of(e: &rustls::Error) -> Verdict {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => Verdict::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Verdict::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Verdict::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Verdict::WrongHost
            }
            _ => Verdict::BadCertificate,
        },
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired)
        | rustls::Error::NoCertificatesPresented => Verdict::ClientCertRequired,
        rustls::Error::AlertReceived(AlertDescription::HandshakeFailure) => Verdict::Unreachable,
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            Verdict::NotTls
        }
        _ => Verdict::Unreachable,
    }
}

fn explain(host: &str, probe: &Probe) -> String {
    let leaf_der = probe.chain.first();
    let info = leaf_der.and_then(cert_info);
    let leaf = info.as_ref();
    let detail = &probe.detail;
    let subject = leaf
        .map(|c| format!("certificate {:?} (issuer {:?})", c.subject, c.issuer))
        .unwrap_or_else(|| "its certificate".into());
    let certs_d = crate::config::idpkit_certs_d().join(host);
    let add_fix = format!(
        "if you trust the CA that signed it, run `idpkit trust add {host} CA.pem` (installs it as {}/ca.crt), or pass it as a CA file (--ca-file CA.pem, the ca_files option); \
         for an idpbuilder cluster the CA is in Secret default/idpbuilder-cert (key ca.crt)",
        certs_d.display()
    );
    // idpbuilder (and `openssl req -x509`) serve one self-signed CA certificate as the
    // host's own: what to trust is exactly that certificate, not "the CA that signed it".
    let self_signed_ca = leaf_der.is_some_and(|d| is_self_signed(d) && is_ca(d));
    match probe.verdict {
        Verdict::Trusted => String::new(),
        Verdict::UnknownIssuer if self_signed_ca => format!(
            "TLS: {host} presented {subject}, a self-signed CA certificate served as the host's own certificate \
             (as idpbuilder does), and it is not one of your trust anchors; trust exactly that certificate: \
             for an idpbuilder cluster run `idpkit trust extract --host {host}` (it reads Secret default/idpbuilder-cert), \
             otherwise get that certificate from the host's operator and run `idpkit trust add {host} CERT.pem` \
             (installs it as {}/ca.crt) or pass it as a CA file (--ca-file, the ca_files option)",
            certs_d.display()
        ),
        Verdict::UnknownIssuer => {
            let what = if leaf.is_some_and(|c| c.self_signed) {
                "is self-signed and not trusted"
            } else {
                "is signed by an unknown certificate authority"
            };
            format!("TLS: {host} presented {subject}, which {what}; {add_fix}")
        }
        Verdict::BadCertificate if self_signed_ca || leaf_der.is_some_and(is_ca) => format!(
            "TLS: {host} presented {subject}, a CA certificate (basicConstraints CA:TRUE) as its own certificate, \
             which is accepted only when it is itself one of your trust anchors ({detail}); trust exactly that \
             certificate with `idpkit trust add {host} CERT.pem`, or have the server present a leaf certificate"
        ),
        Verdict::Expired => format!(
            "TLS: {host} presented {subject}, which expired on {}; the server must renew it (check the clocks too); \
             to go on anyway for this host only, mark it insecure (--insecure {host}, the insecure_hosts option)",
            leaf.map(|c| c.not_after.as_str()).unwrap_or("?")
        ),
        Verdict::NotYetValid => format!(
            "TLS: {host} presented {subject}, which is not valid before {}; check this machine's clock",
            leaf.map(|c| c.not_before.as_str()).unwrap_or("?")
        ),
        Verdict::WrongHost => format!(
            "TLS: {host} presented {subject}, issued for {} and not for {}; use one of those names, \
             or have the certificate reissued with this name",
            leaf.map(|c| c.names.join(", ")).unwrap_or_default(),
            host_name(host)
        ),
        Verdict::ClientCertRequired => client_cert_required(host),
        Verdict::BadCertificate => {
            format!("TLS: {host} presented {subject}, which was rejected: {detail}; {add_fix}")
        }
        // A registry on loopback is spoken to in plain HTTP without being marked (the
        // registry client falls back by itself), so advising --insecure there is wrong.
        Verdict::NotTls if matches!(super::host_name(host), "localhost" | "127.0.0.1" | "::1") => format!(
            "{host} does not speak TLS (a plain-HTTP server?); there is no certificate to trust: \
             idpkit speaks plain HTTP to a registry on loopback without being told"
        ),
        Verdict::NotTls => format!(
            "{host} does not speak TLS (a plain-HTTP server?); to use plain HTTP for this host only, mark it insecure (--insecure {host}, the insecure_hosts option)"
        ),
        Verdict::Unreachable => format!("cannot reach {host}: {detail}"),
    }
}

/// What to do when `host` wants a client certificate (mutual TLS) it did not get.
pub(crate) fn client_cert_required(host: &str) -> String {
    format!(
        "TLS: {host} requires a client certificate (mutual TLS); put client.cert and client.key in {}",
        crate::config::idpkit_certs_d().join(host).display()
    )
}

/// An `UNTRUSTED` error for a verdict (the message names host, certificate and the fix).
pub(crate) fn untrusted_error(report: &TrustReport) -> Error {
    let kind = match report.verdict {
        Verdict::Unreachable | Verdict::NotTls => ErrorKind::Network,
        _ => ErrorKind::Untrusted,
    };
    Error::new(kind, report.message.clone())
}

/// After a failed HTTPS request: re-runs the handshake to tell a trust problem (with its
/// explanation) from a network one. `None` when the handshake is fine.
pub(crate) fn classify_transport_error(
    host: &str,
    opts: &TrustOptions,
    cancel: Option<&CancelToken>,
) -> Option<Error> {
    let store = TrustStore::for_host(host, opts).ok()?;
    let probed = probe(&store, host, cancel).ok()?;
    let verdict = probed.verdict;
    if verdict == Verdict::Trusted {
        return None;
    }
    if store.is_insecure() && !matches!(verdict, Verdict::NotTls | Verdict::Unreachable) {
        return None;
    }
    let report = TrustReport {
        host: host.to_string(),
        verdict,
        trusted: false,
        insecure: store.is_insecure(),
        message: explain(host, &probed),
        chain: probed.chain.iter().filter_map(cert_info).collect(),
        sources: store.sources().to_vec(),
    };
    Some(untrusted_error(&report))
}

#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn every_verdict_is_listed_once_under_its_serde_name() {
        let mut codes: Vec<&str> = Verdict::ALL.iter().map(|v| v.code()).collect();
        for v in Verdict::ALL {
            assert_eq!(serde_json::to_value(v).unwrap(), v.code());
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Verdict::ALL.len(), "a verdict is listed twice");
        // Discriminants count up from 0 and `Unreachable` is the last one declared.
        assert_eq!(
            Verdict::ALL.len(),
            Verdict::Unreachable as usize + 1,
            "a verdict is missing"
        );
    }
}
