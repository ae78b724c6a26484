//! A kubeconfig that would send the cluster token in cleartext (`server: http://…`) is
//! refused before anything is sent, for `extract_ca` and for Gitea's credentials.

use idpkit::trust::{self, ClusterOptions};
use idpkit::ErrorKind;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn a_plain_http_api_server_gets_no_token() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for _ in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{addr}\n\
             users:\n- name: u\n  user:\n    token: kube-token-that-must-not-travel\n\
             contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let opts = ClusterOptions {
        kubeconfig: Some(kubeconfig),
        certs_d: Some(dir.path().join("certs.d")),
        ..Default::default()
    };
    let e = trust::extract_ca(&opts, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Policy, "{}", e.message);
    assert!(
        e.message.contains("https://") && e.message.contains(&addr.to_string()),
        "{}",
        e.message
    );
    let e = trust::gitea_credential(&opts, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Policy, "{}", e.message);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the API server was contacted"
    );
    assert!(
        !dir.path().join("certs.d").exists(),
        "something was installed"
    );
}
