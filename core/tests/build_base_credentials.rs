//! `build --from REMOTE` pulls its base with the login stored for the base's registry only:
//! `IDPKIT_REGISTRY_*` (given for the registry of a push or pull) never reach a base's host.
//! Its own test binary, because it sets process-wide environment variables.

use idpkit::{BuildOptions, ErrorKind, Store};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[test]
fn a_remote_base_never_receives_the_environments_credentials() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let heads = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut first = [0u8; 1];
            if c.peek(&mut first)
                .map_or(true, |n| n == 0 || first[0] == 0x16)
            {
                continue; // a TLS hello: this "registry" speaks plain HTTP on loopback
            }
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && c.read(&mut b).is_ok_and(|n| n == 1) {
                head.push(b[0]);
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).to_ascii_lowercase());
            let _ = c.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"base\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("IDPKIT_REGISTRY_USERNAME", "env-user");
    std::env::set_var(
        "IDPKIT_REGISTRY_PASSWORD",
        "env-password-for-another-registry",
    );
    std::env::set_var("DOCKER_CONFIG", home.path().join("docker"));
    std::env::remove_var("REGISTRY_AUTH_FILE");
    std::env::remove_var("XDG_RUNTIME_DIR");

    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("a"), b"a").unwrap();
    let store = Store::open(home.path().join("store")).unwrap();
    let e = store
        .build(
            &BuildOptions {
                context: ctx.path().into(),
                from: Some(format!("{addr}/team/base:1")),
                tags: vec!["localhost/child:1".into()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    let heads = heads.lock().unwrap();
    assert!(!heads.is_empty(), "the base's registry was never asked");
    for h in heads.iter() {
        assert!(
            !h.contains("authorization:"),
            "credentials went to the base's registry: {h}"
        );
    }
}
