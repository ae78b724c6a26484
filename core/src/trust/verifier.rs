//! The one server-certificate verifier every TLS client of idpkit uses (registry calls,
//! `trust check`, the Kubernetes API, and later HTTPS and git-over-HTTPS clients).
//!
//! It is WebPKI path validation against the operation's roots, plus one case WebPKI refuses:
//! a server certificate that is byte-for-byte one of the trust anchors the operation was
//! configured with (a pinned self-signed certificate). idpbuilder serves exactly that: one
//! self-signed certificate with `CA:TRUE` that ingress-nginx presents as its own leaf, which
//! webpki rejects as `CaUsedAsEndEntity` while Go's crypto/x509 (skopeo, crane, docker)
//! accepts it once it is in the root pool. Such a certificate is accepted here only when it is
//! within its validity period, is issued for the host name (webpki's own name check), and its
//! extKeyUsage, if present, allows server authentication; rustls still verifies the handshake
//! signature with its key. See docs/decisions/0007-pinned-self-signed-leaf.md.

use crate::event::{emit, Event, EventSink};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the verifier saw on the last handshake: the chain, the verification error, and
/// whether the certificate was accepted as a pinned trust anchor.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) chain: Mutex<Vec<CertificateDer<'static>>>,
    pub(crate) failure: Mutex<Option<rustls::Error>>,
    pub(crate) pinned: AtomicBool,
}

/// The DER bytes of every configured trust anchor, for the pinned-certificate case.
#[derive(Default, Clone)]
pub(crate) struct Anchors(HashSet<Vec<u8>>);

impl Anchors {
    pub(crate) fn add(&mut self, cert: &CertificateDer<'_>) {
        self.0.insert(cert.as_ref().to_vec());
    }

    pub(crate) fn contains(&self, cert: &CertificateDer<'_>) -> bool {
        self.0.contains(cert.as_ref())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

pub(crate) struct Verifier {
    pub(crate) inner: Arc<WebPkiServerVerifier>,
    pub(crate) anchors: Anchors,
    /// The host name verification is skipped for (insecure mode), lowercase.
    pub(crate) insecure_name: Option<String>,
    /// `host[:port]` as the operation named it, for events and messages.
    pub(crate) host: String,
    pub(crate) sink: Option<EventSink>,
    pub(crate) recorder: Arc<Recorder>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("host", &self.host)
            .field("anchors", &self.anchors.len())
            .field("insecure_name", &self.insecure_name)
            .finish()
    }
}

impl Verifier {
    /// WebPKI first; on failure, the pinned-anchor rule; on failure again, insecure mode.
    fn decide(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let webpki = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let err = match webpki {
            Ok(v) => return Ok(v),
            Err(e) if self.anchors.contains(end_entity) => {
                match verify_pinned(end_entity, server_name, now) {
                    Ok(()) => {
                        self.recorder.pinned.store(true, Ordering::Relaxed);
                        return Ok(ServerCertVerified::assertion());
                    }
                    // The pinned rule's own reason (expired, wrong host) says more than
                    // WebPKI's CaUsedAsEndEntity.
                    Err(pinned) => {
                        tracing::debug!(host = %self.host, "pinned anchor refused: {pinned} (webpki: {e})");
                        pinned
                    }
                }
            }
            // WebPKI refuses a CA certificate as leaf before it looks for an issuer; for a
            // self-signed one (idpbuilder's) the truth is that nobody trusts it yet.
            Err(e) if is_ca_as_leaf(&e) && is_self_signed(end_entity) => {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            }
            Err(e) => e,
        };
        Err(err)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut c) = self.recorder.chain.lock() {
            *c = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        match self.decide(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(v) => Ok(v),
            Err(e) => {
                let name = server_name.to_str().to_ascii_lowercase();
                if self.insecure_name.as_deref() == Some(name.as_str()) {
                    emit(
                        self.sink.as_ref(),
                        Event::InsecureConnection {
                            host: self.host.clone(),
                            reason: format!("certificate not verified ({e}); host marked insecure"),
                        },
                    );
                    tracing::warn!(host = %self.host, "insecure: certificate not verified: {e}");
                    return Ok(ServerCertVerified::assertion());
                }
                if let Ok(mut f) = self.recorder.failure.lock() {
                    *f = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn is_ca_as_leaf(e: &rustls::Error) -> bool {
    matches!(e, rustls::Error::InvalidCertificate(CertificateError::Other(o))
        if o.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity))
}

/// Issuer and subject are the same name (the certificate claims to have signed itself).
pub(crate) fn is_self_signed(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert.as_ref())
        .is_ok_and(|(_, c)| c.issuer().as_raw() == c.subject().as_raw())
}

/// Whether the certificate says it is a CA (basicConstraints CA:TRUE).
pub(crate) fn is_ca(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert.as_ref()).is_ok_and(|(_, c)| c.is_ca())
}

/// The checks a pinned anchor served as the leaf must still pass: validity period, host
/// name (webpki's subject-name check, wildcards and IP addresses included) and, when the
/// certificate restricts its purpose, server authentication among them.
pub(crate) fn verify_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| bad(CertificateError::BadEncoding))?;
    let now_secs = now.as_secs() as i64;
    let validity = parsed.validity();
    if now_secs < validity.not_before.timestamp() {
        return Err(bad(CertificateError::NotValidYet));
    }
    if now_secs > validity.not_after.timestamp() {
        return Err(bad(CertificateError::Expired));
    }
    match parsed.extended_key_usage() {
        Ok(None) => {}
        Ok(Some(eku)) if eku.value.server_auth || eku.value.any => {}
        Ok(Some(_)) => return Err(bad(CertificateError::InvalidPurpose)),
        Err(_) => return Err(bad(CertificateError::BadEncoding)),
    }
    let ee =
        webpki::EndEntityCert::try_from(cert).map_err(|_| bad(CertificateError::BadEncoding))?;
    ee.verify_is_valid_for_subject_name(server_name)
        .map_err(|_| bad(CertificateError::NotValidForName))
}

#[cfg(test)]
mod tests;
