//! Mutual TLS: a rustls server that requires a client certificate signed by the rig's CA.
//! Without one, `trust::check` says `client_cert_required` and names the certs.d folder; with
//! `client.cert`/`client.key` in the host's certs.d folder the handshake is trusted.
//!
//! Fails (never skips) when the rig's CA is missing (tests/rig/up creates it).

use idpkit::trust::{self, TrustOptions, Verdict};
use idpkit::ErrorKind;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn rig_pki() -> PathBuf {
    let dir = std::env::var_os("IDPKIT_RIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.rig"));
    let pki = dir.join("pki");
    assert!(
        pki.join("ca.key").is_file() && pki.join("server.crt").is_file(),
        "the test rig's CA is missing ({}); start the rig with tests/rig/up",
        pki.display()
    );
    pki
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client certificate signed by the rig CA: (cert, key) paths.
fn client_cert(pki: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("client.key");
    let csr = dir.join("client.csr");
    let cert = dir.join("client.cert");
    let ext = dir.join("ext.cnf");
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=idpkit-test-client",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        pki.join("ca.crt").to_str().unwrap(),
        "-CAkey",
        pki.join("ca.key").to_str().unwrap(),
        "-set_serial",
        "4242",
        "-days",
        "1",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

/// Serves TLS on 127.0.0.1 with the rig's server certificate, client certificate required.
fn mtls_server(pki: &Path) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.join("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.join("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, sock);
                let mut buf = [0u8; 1024];
                if tls.read(&mut buf).is_ok() {
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    let _ = tls.flush();
                }
            });
        }
    });
    addr
}

#[test]
fn client_certificates_come_from_the_hosts_certs_d_folder() {
    let pki = rig_pki();
    let host = mtls_server(&pki);
    let tmp = tempfile::tempdir().unwrap();
    let certs_d = tmp.path().join("certs.d");
    std::fs::create_dir_all(&certs_d).unwrap();
    let opts = TrustOptions {
        ca_files: vec![pki.join("ca.crt")],
        certs_d: Some(vec![certs_d.clone()]),
        no_platform_roots: true,
        ..Default::default()
    };

    let report = trust::check(&host, &opts, None).unwrap();
    assert_eq!(report.verdict, Verdict::ClientCertRequired, "{report:?}");
    assert!(
        report.message.contains("client.cert") && report.message.contains(&host),
        "{}",
        report.message
    );

    // A certificate without its key is named.
    let dir = certs_d.join(&host);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = client_cert(&pki, tmp.path());
    std::fs::copy(&cert, dir.join("client.cert")).unwrap();
    let err = trust::check(&host, &opts, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
    assert!(err.message.contains("client.key"), "{err}");

    std::fs::copy(&key, dir.join("client.key")).unwrap();
    let report = trust::check(&host, &opts, None).unwrap();
    assert_eq!(report.verdict, Verdict::Trusted, "{report:?}");
    assert!(report.chain[0].names.iter().any(|n| n == "127.0.0.1"));
    assert!(
        report
            .sources
            .iter()
            .any(|s| s.contains("client certificate")),
        "{:?}",
        report.sources
    );
}
