//! The verifier's accept/reject cases, with certificates of each shape made by rcgen and
//! trust configured the way a user configures it (a CA file).

use super::super::{TrustOptions, TrustStore};
use super::Verifier;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::CertificateError;
use std::sync::atomic::Ordering;
use std::time::Duration;

const HOST: &str = "gitea.cnoe.localtest.me";

/// idpbuilder's `createSelfSignedCertificate` (pkg/build/tls.go): one self-signed P-256
/// certificate, CA:TRUE, keyUsage digitalSignature+certSign, EKU serverAuth, O=cnoe.io,
/// SANs `cnoe.localtest.me` and `*.cnoe.localtest.me`, valid for a year from now.
fn idpbuilder_params() -> CertificateParams {
    let mut p = CertificateParams::new(vec![
        "cnoe.localtest.me".to_string(),
        "*.cnoe.localtest.me".to_string(),
    ])
    .unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "cnoe.io");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time_now();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::hours(8766);
    p
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn self_signed(p: CertificateParams) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    p.self_signed(&key).unwrap().der().clone()
}

/// A test root CA and a way to sign with it.
struct Root {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn root() -> Root {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "idpkit test root");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let cert = p.self_signed(&key).unwrap().der().clone();
    Root {
        cert,
        issuer: Issuer::new(p, key),
    }
}

fn signed_by(root: &Root, p: CertificateParams) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    p.signed_by(&key, &root.issuer).unwrap().der().clone()
}

fn pem(certs: &[&CertificateDer<'_>]) -> String {
    use base64::Engine;
    certs
        .iter()
        .map(|c| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(c.as_ref());
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|l| std::str::from_utf8(l).unwrap())
                .collect();
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
        })
        .collect()
}

/// The verifier a user gets who passed `trusted` as a CA file (no platform roots).
fn verifier_trusting(trusted: &[&CertificateDer<'_>]) -> (Verifier, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, pem(trusted)).unwrap();
    let opts = TrustOptions {
        ca_files: vec![file],
        certs_d: Some(vec![]),
        no_platform_roots: true,
        ..Default::default()
    };
    let store = TrustStore::for_host(&format!("{HOST}:8443"), &opts).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    (store.verifier(None, false, provider).unwrap(), dir)
}

fn verify(
    v: &Verifier,
    leaf: &CertificateDer<'_>,
    chain: &[CertificateDer<'_>],
    host: &str,
) -> Result<(), rustls::Error> {
    verify_at(v, leaf, chain, host, UnixTime::now())
}

fn verify_at(
    v: &Verifier,
    leaf: &CertificateDer<'_>,
    chain: &[CertificateDer<'_>],
    host: &str,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(host.to_string()).unwrap();
    v.verify_server_cert(leaf, chain, &name, &[], now)
        .map(|_| ())
}

fn cert_error(r: Result<(), rustls::Error>) -> CertificateError {
    match r {
        Err(rustls::Error::InvalidCertificate(e)) => e,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[test]
fn idpbuilder_certificate_is_trusted_when_it_is_a_configured_anchor() {
    let cert = self_signed(idpbuilder_params());
    let (v, _d) = verifier_trusting(&[&cert]);
    verify(&v, &cert, &[], HOST).expect("the pinned idpbuilder certificate is trusted");
    assert!(
        v.recorder.pinned.load(Ordering::Relaxed),
        "recorded as pinned"
    );
    // The wildcard's parent name is in the SANs as well.
    verify(&v, &cert, &[], "cnoe.localtest.me").unwrap();
}

#[test]
fn idpbuilder_certificate_is_not_trusted_without_configuration() {
    let cert = self_signed(idpbuilder_params());
    let other = self_signed(idpbuilder_params());
    let (v, _d) = verifier_trusting(&[&other]);
    assert_eq!(
        cert_error(verify(&v, &cert, &[], HOST)),
        CertificateError::UnknownIssuer
    );
    assert!(!v.recorder.pinned.load(Ordering::Relaxed));
}

#[test]
fn pinned_certificate_for_another_host_is_refused() {
    let cert = self_signed(idpbuilder_params());
    let (v, _d) = verifier_trusting(&[&cert]);
    assert_eq!(
        cert_error(verify(&v, &cert, &[], "gitea.example.com")),
        CertificateError::NotValidForName
    );
    // A wildcard covers one label only.
    assert_eq!(
        cert_error(verify(&v, &cert, &[], "a.gitea.cnoe.localtest.me")),
        CertificateError::NotValidForName
    );
}

#[test]
fn pinned_certificate_outside_its_validity_is_refused() {
    let mut p = idpbuilder_params();
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2020, 2, 1);
    let cert = self_signed(p);
    let (v, _d) = verifier_trusting(&[&cert]);
    assert_eq!(
        cert_error(verify(&v, &cert, &[], HOST)),
        CertificateError::Expired
    );

    let cert = self_signed(idpbuilder_params());
    let (v, _d) = verifier_trusting(&[&cert]);
    let a_day_ago = UnixTime::since_unix_epoch(
        UnixTime::now()
            .as_secs()
            .checked_sub(86_400)
            .map(Duration::from_secs)
            .unwrap(),
    );
    assert_eq!(
        cert_error(verify_at(&v, &cert, &[], HOST, a_day_ago)),
        CertificateError::NotValidYet
    );
}

#[test]
fn pinned_certificate_for_another_purpose_is_refused() {
    let mut p = idpbuilder_params();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = self_signed(p);
    let (v, _d) = verifier_trusting(&[&cert]);
    assert_eq!(
        cert_error(verify(&v, &cert, &[], HOST)),
        CertificateError::InvalidPurpose
    );

    // No extKeyUsage at all (`openssl req -x509` without -addext) is any purpose.
    let mut p = idpbuilder_params();
    p.extended_key_usages = vec![];
    let cert = self_signed(p);
    let (v, _d) = verifier_trusting(&[&cert]);
    verify(&v, &cert, &[], HOST).unwrap();
}

#[test]
fn same_subject_with_another_key_is_refused() {
    // Same subject, names and extensions as the trusted one: only the bytes differ.
    let trusted = self_signed(idpbuilder_params());
    let impostor = self_signed(idpbuilder_params());
    let (v, _d) = verifier_trusting(&[&trusted]);
    assert_eq!(
        cert_error(verify(&v, &impostor, &[], HOST)),
        CertificateError::UnknownIssuer
    );
    assert!(!v.recorder.pinned.load(Ordering::Relaxed));
}

#[test]
fn ca_certificate_served_as_leaf_signed_by_trusted_root_is_refused() {
    let root = root();
    let mut p = idpbuilder_params();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::CommonName, "intermediate as leaf");
    let ca_leaf = signed_by(&root, p);
    let (v, _d) = verifier_trusting(&[&root.cert]);
    let e = verify(&v, &ca_leaf, &[], HOST).expect_err("a CA certificate as leaf is refused");
    assert!(super::is_ca_as_leaf(&e), "{e:?}");
}

#[test]
fn leaf_signed_by_trusted_root_still_verifies_by_chain() {
    let root = root();
    let mut p = CertificateParams::new(vec![HOST.to_string()]).unwrap();
    p.is_ca = IsCa::ExplicitNoCa;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = signed_by(&root, p);
    let (v, _d) = verifier_trusting(&[&root.cert]);
    verify(&v, &leaf, &[], HOST).unwrap();
    assert!(
        !v.recorder.pinned.load(Ordering::Relaxed),
        "a chain, not a pin"
    );
    assert!(matches!(
        cert_error(verify(&v, &leaf, &[], "other.cnoe.localtest.me")),
        CertificateError::NotValidForNameContext { .. }
    ));
}
