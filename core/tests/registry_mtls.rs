//! Push and pull through a real nginx that requires a client certificate
//! (`ssl_verify_client on`) in front of the rig's real registry: with `client.cert` and
//! `client.key` in the host's certs.d folder the round trip works; without them the error
//! says the host wants a client certificate and where to put it.

mod common;

use idpkit::registry::RegistryOptions;
use idpkit::trust::TrustOptions;
use idpkit::{ErrorKind, Store};
use std::path::Path;

fn certs_d(
    root: &Path,
    host: &str,
    rig: &std::collections::HashMap<String, String>,
    client: bool,
) -> TrustOptions {
    let dir = root.join(host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&rig["CA"], dir.join("ca.crt")).unwrap();
    if client {
        std::fs::copy(&rig["CLIENT_CERT"], dir.join("client.cert")).unwrap();
        std::fs::copy(&rig["CLIENT_KEY"], dir.join("client.key")).unwrap();
    }
    TrustOptions {
        certs_d: Some(vec![root.to_path_buf()]),
        no_platform_roots: true,
        ..Default::default()
    }
}

#[test]
fn push_and_pull_through_a_client_certificate_proxy() {
    let rig = common::rig(&["REGISTRY_MTLS"]);
    let host = rig["REGISTRY_MTLS"].clone();
    let tmp = tempfile::tempdir().unwrap();
    let tag = format!("{host}/idpkit-test/mtls-{}:v1", std::process::id());
    let store = Store::open(tmp.path().join("store")).unwrap();
    let built = common::build_one_file(&store, tmp.path(), &tag, tag.as_bytes());

    let without = RegistryOptions {
        trust: certs_d(&tmp.path().join("no-client"), &host, &rig, false),
        attempts: 1,
        ..Default::default()
    };
    let e = store.push(&tag, None, &without, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(
        e.message.contains("client certificate") && e.message.contains("client.cert"),
        "{}",
        e.message
    );

    let with = RegistryOptions {
        trust: certs_d(&tmp.path().join("client"), &host, &rig, true),
        ..Default::default()
    };
    let pushed = store.push(&tag, None, &with, None).unwrap();
    assert_eq!(pushed.digest, built.digest);
    let other = Store::open(tmp.path().join("other")).unwrap();
    let pulled = other.pull(&tag, &with, None).unwrap();
    assert_eq!(pulled.digest, built.digest);
}
