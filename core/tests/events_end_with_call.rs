//! Every event reaches the sink before its call returns and none after, even the audit
//! events of TLS handshakes that an insecure registry's pooled connections finish in the
//! background. Runs against the rig's TLS registry behind a proxy that slows every TLS
//! handshake down, marked insecure (so every handshake emits `insecure_connection`), with
//! parallel jobs, several times.

mod common;

use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::trust::TrustOptions;
use idpkit::{Event, EventSink, Store};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A TCP proxy to `upstream` that holds the server's first bytes (its ServerHello) back for
/// `delay` on every connection: slow handshakes, which hyper finishes in the background when
/// a pooled connection frees up first.
fn slow_handshakes(upstream: String, delay: Duration) -> String {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let Ok(up) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
            let (mut c, mut up) = (c, up);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut up2);
                let _ = up2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut first = true;
                loop {
                    let n = match up.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if first {
                        std::thread::sleep(delay);
                        first = false;
                    }
                    if c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

/// One registry call given the test's sink.
type Call<'a> = dyn Fn(&EventSink) + 'a;

#[test]
fn no_event_arrives_after_a_registry_call_returned() {
    let rig = common::rig(&["REGISTRY_TLS"]);
    let reg = slow_handshakes(rig["REGISTRY_TLS"].clone(), Duration::from_millis(150));
    let opts = RegistryOptions {
        trust: TrustOptions {
            insecure_hosts: vec![reg.clone()],
            no_platform_roots: true,
            certs_d: Some(vec![]),
            ..Default::default()
        },
        credential: Some(Credential::basic(
            &rig["REGISTRY_USER"],
            &rig["REGISTRY_PASSWORD"],
            "test",
        )),
        jobs: 4,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let tag = format!("{reg}/idpkit-test/events-{}:v1", std::process::id());
    common::build_one_file(&store, dir.path(), &tag, tag.as_bytes());

    let returned = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicUsize::new(0));
    let audits = Arc::new(AtomicUsize::new(0));
    let (r, l, a) = (returned.clone(), late.clone(), audits.clone());
    let sink: EventSink = Arc::new(move |e: &Event| {
        if r.load(Ordering::SeqCst) {
            l.fetch_add(1, Ordering::SeqCst);
        }
        if matches!(e, Event::InsecureConnection { .. }) {
            a.fetch_add(1, Ordering::SeqCst);
        }
    });
    let calls: Vec<Box<Call>> = vec![
        Box::new(|s| {
            store.push(&tag, None, &opts, Some(s)).unwrap();
        }),
        Box::new(|s| {
            let other = Store::open(dir.path().join(format!("pulled-{}", rand_suffix()))).unwrap();
            other.pull(&tag, &opts, Some(s)).unwrap();
        }),
        Box::new(|s| {
            registry::list_tags(tag.trim_end_matches(":v1"), &opts, Some(s)).unwrap();
        }),
    ];
    for round in 0..3 {
        for call in &calls {
            returned.store(false, Ordering::SeqCst);
            call(&sink);
            returned.store(true, Ordering::SeqCst);
        }
        // Give background handshakes time to finish and (wrongly) emit.
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(
            late.load(Ordering::SeqCst),
            0,
            "round {round}: an event arrived after its call returned"
        );
    }
    assert!(
        audits.load(Ordering::SeqCst) > 0,
        "no insecure_connection event was emitted at all"
    );
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
