//! What a real artifact server does not do on demand: answer 503 once, cut a body short,
//! redirect in circles. A scripted loopback server stands in for a broken source-controller.

use idpkit::gitops::{fetch_artifact, CacheOptions, FetchArtifactOptions};
use idpkit::{Call, ErrorKind, Event, EventSink};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A tar.gz of one file.
fn tarball() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("app.yaml").unwrap();
    h.set_size(5);
    h.set_cksum();
    b.append(&h, &b"kind:"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// Serves each request with the next answer of `script(n, body)`; returns the base URL and
/// the request counter.
fn server(script: fn(usize, &[u8]) -> Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let body = tarball();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let i = count.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(&script(i, &body));
        }
    });
    (url, n)
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn digest() -> String {
    idpkit::digest::Digest::of(idpkit::digest::Algorithm::Sha256, &tarball()).to_string()
}

fn options(cache: &std::path::Path, url: String) -> FetchArtifactOptions {
    let mut o = FetchArtifactOptions {
        url,
        digest: digest(),
        cache: CacheOptions {
            cache: Some(cache.to_path_buf()),
        },
        ..Default::default()
    };
    o.limits.attempts = 3;
    o
}

#[test]
fn a_busy_server_is_retried_and_the_retry_is_reported() {
    let (base, n) = server(|i, body| {
        if i == 0 {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec()
        } else {
            ok(body)
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let ev = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| ev.lock().unwrap().push(e.clone()));
    let r = fetch_artifact(
        &options(cache.path(), format!("{base}/a.tar.gz")),
        &Call::new().with_sink(Some(sink)),
    )
    .unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert!(r.path.join("app.yaml").exists());
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::RetryScheduled { reason, .. } if reason.contains("503"))));
}

#[test]
fn a_body_cut_short_every_time_fails_as_network_after_the_attempts() {
    let (base, n) = server(|_, body| {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(&body[..body.len() / 2]);
        r
    });
    let cache = tempfile::tempdir().unwrap();
    let e = fetch_artifact(
        &options(cache.path(), format!("{base}/a.tar.gz")),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e}");
    assert_eq!(n.load(Ordering::SeqCst), 3, "three attempts");
    assert!(idpkit::gitops::cache::Cache::open(Some(cache.path()))
        .unwrap()
        .list()
        .unwrap()
        .is_empty());
}

#[test]
fn endless_redirects_end() {
    let (base, _) = server(|_, _| {
        b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec()
    });
    let cache = tempfile::tempdir().unwrap();
    let mut o = options(cache.path(), format!("{base}/a.tar.gz"));
    o.limits.attempts = 1;
    let e = fetch_artifact(&o, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e}");
    assert!(e.message.contains("redirects"), "{e}");
}

#[test]
fn credentials_in_the_url_are_refused_without_echoing_them() {
    let cache = tempfile::tempdir().unwrap();
    let o = options(
        cache.path(),
        "https://user:s3cr3t-pw@127.0.0.1:1/a.tar.gz".into(),
    );
    let e = fetch_artifact(&o, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(!e.message.contains("s3cr3t-pw"), "{e}");
}
