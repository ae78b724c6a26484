//! A registry call stops promptly when its cancel token fires, and leaves the store as it was.

use idpkit::registry::RegistryOptions;
use idpkit::{BuildOptions, CancelToken, ErrorKind, Store};
use std::time::{Duration, Instant};

#[test]
fn a_cancelled_push_stops_promptly_instead_of_retrying() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("a.txt"), b"a").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A "registry" that never answers: without cancellation the push would wait for the
    // read timeout, then retry.
    let host = silent_host();
    let tag = format!("{host}/cancel/app:1");
    let tag = tag.as_str();
    let opts = BuildOptions {
        context: ctx.path().into(),
        tags: vec![tag.into()],
        ..Default::default()
    };
    store.build(&opts, None, None).unwrap();

    let token = CancelToken::new();
    let reg = RegistryOptions {
        attempts: 50,
        backoff_base_ms: 2_000,
        cancel: Some(token.clone()),
        ..Default::default()
    };
    let trigger = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.cancel();
    });
    let start = Instant::now();
    let err = store.push(tag, None, &reg, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{}", err.message);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );

    // A token cancelled beforehand stops pull and list_tags before any request.
    let err = store.pull(tag, &reg, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    let err = idpkit::registry::list_tags(&format!("{host}/cancel/app"), &reg, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    assert_eq!(
        std::fs::read_dir(dir.path().join(".idpkit/tmp"))
            .unwrap()
            .count(),
        0
    );
}

/// A host that accepts connections and never answers them.
fn silent_host() -> String {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("127.0.0.1:{port}")
}

#[test]
fn a_cancelled_trust_check_stops_promptly_and_cluster_calls_do_not_start() {
    let host = silent_host();
    let token = CancelToken::new();
    let trigger = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.cancel();
    });
    let start = Instant::now();
    let err = idpkit::trust::check(&host, &Default::default(), Some(&token)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{}", err.message);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );

    // A cancelled token stops the cluster calls before they read the kubeconfig, and
    // nothing is installed.
    let certs = tempfile::tempdir().unwrap();
    let cluster = idpkit::trust::ClusterOptions {
        kubeconfig: Some(certs.path().join("no-such-kubeconfig")),
        certs_d: Some(certs.path().join("certs.d")),
        ..Default::default()
    };
    let err = idpkit::trust::extract_ca(&cluster, Some(&token)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    let err = idpkit::trust::gitea_credential(&cluster, Some(&token)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    assert!(!certs.path().join("certs.d").exists());
}
