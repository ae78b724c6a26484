//! `insecure_hosts` (`--insecure HOST:PORT`) covers exactly that host:port: the same port
//! under another host name and another port of the same host are still verified, and every
//! call that uses the mark emits an `insecure_connection` event naming the exact host:port,
//! not only the first one of the process. Against the rig's TLS registry, whose CA the
//! calls are not given (so without the mark its certificate is refused).

mod common;

use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::trust::TrustOptions;
use idpkit::{ErrorKind, Event, EventSink, Store};
use std::sync::{Arc, Mutex};

fn opts(rig: &std::collections::HashMap<String, String>, insecure: &str) -> RegistryOptions {
    RegistryOptions {
        trust: TrustOptions {
            insecure_hosts: vec![insecure.to_string()],
            no_platform_roots: true,
            certs_d: Some(vec![]),
            ..Default::default()
        },
        credential: Some(Credential::basic(
            &rig["REGISTRY_USER"],
            &rig["REGISTRY_PASSWORD"],
            "test",
        )),
        attempts: 1,
        ..Default::default()
    }
}

/// The `insecure_connection` events of one call, as (host, reason).
fn audited(
    call: impl FnOnce(&EventSink) -> idpkit::Result<Vec<String>>,
) -> (idpkit::Result<Vec<String>>, Vec<(String, String)>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| {
        if let Event::InsecureConnection { host, reason } = e {
            seen.lock().unwrap().push((host.clone(), reason.clone()));
        }
    });
    let r = call(&sink);
    let events = events.lock().unwrap().clone();
    (r, events)
}

#[test]
fn the_insecure_mark_covers_one_host_port_and_every_use_is_audited() {
    let rig = common::rig(&["REGISTRY_TLS"]);
    let reg = rig["REGISTRY_TLS"].clone();
    let (host, port) = reg.rsplit_once(':').unwrap();
    assert_eq!(host, "127.0.0.1", "the rig's registry listens on 127.0.0.1");
    let repo = format!("idpkit-test/insecure-scope-{}", std::process::id());

    // A tag to list, pushed with the mark (the registry's certificate is not verified).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let tag = format!("{reg}/{repo}:v1");
    common::build_one_file(&store, dir.path(), &tag, tag.as_bytes());
    let marked = opts(&rig, &reg);
    store.push(&tag, None, &marked, None).unwrap();

    // Every call that uses the mark is audited, in the same process, with the exact
    // host:port and why: not once per process, not once per host.
    for call in 0..3 {
        let (r, events) =
            audited(|s| registry::list_tags(&format!("{reg}/{repo}"), &marked, Some(s)));
        assert_eq!(r.unwrap(), vec!["v1".to_string()], "call {call}");
        assert!(
            !events.is_empty(),
            "call {call}: no insecure_connection event"
        );
        for (h, reason) in &events {
            assert_eq!(h, &reg, "call {call}: audit event for another host:port");
            assert!(
                reason.contains("not verified") && reason.contains("marked insecure"),
                "call {call}: {reason}"
            );
        }
    }

    // The same port under another host name (the certificate names localhost too): verified,
    // refused, and nothing audited.
    let other_host = format!("localhost:{port}");
    let (r, events) =
        audited(|s| registry::list_tags(&format!("{other_host}/{repo}"), &marked, Some(s)));
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{other_host}: {}", e.message);
    assert!(e.message.contains(&other_host), "{}", e.message);
    assert!(events.is_empty(), "{other_host} was audited: {events:?}");

    // Another port of the same host (nginx's expired endpoint): verified, refused.
    let other_port = rig["TLS_EXPIRED_URL"]
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    assert!(other_port.starts_with("127.0.0.1:") && other_port != reg);
    let (r, events) =
        audited(|s| registry::list_tags(&format!("{other_port}/{repo}"), &marked, Some(s)));
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{other_port}: {}", e.message);
    assert!(e.message.contains("expired"), "{}", e.message);
    assert!(events.is_empty(), "{other_port} was audited: {events:?}");

    // And without the mark the registry itself is refused: the mark is what let it through.
    let (r, events) = audited(|s| {
        registry::list_tags(
            &format!("{reg}/{repo}"),
            &opts(&rig, "127.0.0.1:1"),
            Some(s),
        )
    });
    assert_eq!(r.unwrap_err().kind, ErrorKind::Untrusted);
    assert!(events.is_empty(), "{events:?}");
}
