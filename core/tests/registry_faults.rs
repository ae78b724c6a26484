//! A fault-injecting HTTP proxy in front of the rig's real plain-HTTP registry: 503s, a 429
//! with `Retry-After`, a connection cut in the middle of a blob upload, a failed manifest PUT.
//! The push must still complete, with content identical to the source (verified by pulling
//! it back from the registry directly and comparing digests and bytes).
//!
//! Fails (never skips) when the rig's `registry-plain` peer is down.

mod common;

use idpkit::registry::RegistryOptions;
use idpkit::{BuildOptions, Event, EventSink, Store};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn rig_plain() -> String {
    common::rig(&["REGISTRY_PLAIN"])["REGISTRY_PLAIN"].clone()
}

#[derive(Default)]
struct Faults {
    head_503: AtomicUsize,
    post_429: AtomicUsize,
    cut_upload: AtomicUsize,
    manifest_503: AtomicUsize,
    /// Like ingress-nginx's proxy-body-size: a larger request body gets 413.
    max_body: Option<usize>,
    /// Cut the first PATCH that continues an upload (its Content-Range does not start at 0)
    /// in the middle of its body: earlier chunks of that upload were accepted.
    cut_later_chunk: bool,
    chunk_cut: AtomicUsize,
    /// Every request gets 503 (a registry that is down behind its proxy).
    always_503: bool,
    /// Every blob request gets 503 (the registry answers `/v2/` but its storage is down).
    blobs_503: bool,
    /// Act as a bearer-token gateway whose tokens expire every `expire_every` requests.
    expire_every: usize,
    realm: Mutex<String>,
    token_gen: AtomicUsize,
    authorized: AtomicUsize,
    log: Mutex<Vec<String>>,
}

/// Answers with an injected failure and records it in the fault log.
fn refuse(
    client: &mut TcpStream,
    faults: &Faults,
    status: &str,
    extra: &str,
    method: &str,
    path: &str,
) {
    let code = status.split(' ').next().unwrap_or(status);
    faults
        .log
        .lock()
        .unwrap()
        .push(format!("{code} {method} {path}"));
    respond(client, status, extra)
}

/// Reads one HTTP/1.1 request head; `None` at EOF.
fn read_head(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// The value of header `name` (case-insensitive) in a request or response head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

fn respond(s: &mut TcpStream, status: &str, extra: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

fn handle(mut client: TcpStream, upstream: String, faults: Arc<Faults>) {
    // A TLS ClientHello (idpkit tries HTTPS first): this proxy speaks plain HTTP only.
    let mut first = [0u8; 1];
    if client
        .peek(&mut first)
        .map_or(true, |n| n == 0 || first[0] == 0x16)
    {
        return;
    }
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let text = String::from_utf8_lossy(&head).to_string();
    let line = text.lines().next().unwrap_or("").to_string();
    let len = content_length(&text);
    let (method, path) = {
        let mut p = line.split(' ');
        (
            p.next().unwrap_or("").to_string(),
            p.next().unwrap_or("").to_string(),
        )
    };
    let mut body = vec![0u8; len];
    if faults.always_503 {
        return refuse(
            &mut client,
            &faults,
            "503 Service Unavailable",
            "",
            &method,
            &path,
        );
    }
    if faults.blobs_503 && path.contains("/blobs/") {
        return refuse(
            &mut client,
            &faults,
            "503 Service Unavailable",
            "",
            &method,
            &path,
        );
    }
    if faults.expire_every > 0 {
        if path.starts_with("/token") {
            let token = format!("tok{}", faults.token_gen.load(Ordering::SeqCst));
            faults
                .log
                .lock()
                .unwrap()
                .push(format!("token {token} {path}"));
            let doc = format!(r#"{{"token":"{token}"}}"#);
            let _ = write!(
                client,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}",
                doc.len()
            );
            return;
        }
        let want = format!(
            "authorization: bearer tok{}",
            faults.token_gen.load(Ordering::SeqCst)
        );
        if !text.to_ascii_lowercase().lines().any(|l| l.trim() == want) {
            faults
                .log
                .lock()
                .unwrap()
                .push(format!("401 {method} {path}"));
            let realm = faults.realm.lock().unwrap().clone();
            return respond(
                &mut client,
                "401 Unauthorized",
                &format!(
                    "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"fake-registry\"\r\n"
                ),
            );
        }
        let served = faults.authorized.fetch_add(1, Ordering::SeqCst) + 1;
        if served.checked_rem(faults.expire_every) == Some(0) {
            faults.token_gen.fetch_add(1, Ordering::SeqCst);
        }
    }
    if let Some(max) = faults.max_body {
        if len > max {
            let _ = client.read_exact(&mut body);
            faults
                .log
                .lock()
                .unwrap()
                .push(format!("413 {method} {len}"));
            return respond(&mut client, "413 Request Entity Too Large", "");
        }
        faults
            .log
            .lock()
            .unwrap()
            .push(format!("pass {method} {len}"));
    }
    if method == "PATCH" {
        let range = header(&text, "content-range").unwrap_or_default();
        if faults.cut_later_chunk
            && !range.starts_with("0-")
            && faults.chunk_cut.fetch_add(1, Ordering::SeqCst) == 0
        {
            let _ = client.read_exact(&mut body[..len / 2]);
            faults
                .log
                .lock()
                .unwrap()
                .push(format!("cut PATCH {range}"));
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        faults.log.lock().unwrap().push(format!("PATCH {range}"));
    }
    // Cut the first large upload in the middle.
    if faults.max_body.is_none()
        && !faults.cut_later_chunk
        && faults.expire_every == 0
        && (method == "PUT" || method == "PATCH")
        && len > 200_000
        && faults.cut_upload.fetch_add(1, Ordering::SeqCst) == 0
    {
        let _ = client.read_exact(&mut body[..len / 2]);
        faults
            .log
            .lock()
            .unwrap()
            .push(format!("cut {method} {path}"));
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    if client.read_exact(&mut body).is_err() {
        return;
    }
    let is_blob_head = method == "HEAD" && path.contains("/blobs/");
    if is_blob_head && faults.head_503.fetch_add(1, Ordering::SeqCst) == 0 {
        return refuse(
            &mut client,
            &faults,
            "503 Service Unavailable",
            "",
            &method,
            &path,
        );
    }
    if method == "POST"
        && faults.max_body.is_none()
        && faults.expire_every == 0
        && path.contains("/blobs/uploads/")
        && faults.post_429.fetch_add(1, Ordering::SeqCst) == 0
    {
        return refuse(
            &mut client,
            &faults,
            "429 Too Many Requests",
            "Retry-After: 1\r\n",
            &method,
            &path,
        );
    }
    if method == "PUT"
        && faults.max_body.is_none()
        && faults.expire_every == 0
        && path.contains("/manifests/")
        && faults.manifest_503.fetch_add(1, Ordering::SeqCst) == 0
    {
        return refuse(
            &mut client,
            &faults,
            "503 Service Unavailable",
            "",
            &method,
            &path,
        );
    }
    // Forward, one request per connection.
    let Ok(mut up) = TcpStream::connect(&upstream) else {
        return respond(&mut client, "502 Bad Gateway", "");
    };
    let mut out = Vec::new();
    for l in text.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("authorization:") {
            continue;
        }
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&body);
    if up.write_all(&out).is_err() {
        return;
    }
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    // Make the client drop the connection after this response.
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(resp.len());
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    if method == "GET" && path.contains("/blobs/uploads/") {
        let range = header(&head, "range").unwrap_or_default();
        faults.log.lock().unwrap().push(format!("status {range}"));
    }
    let mut new_head = String::new();
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            new_head.push_str(l);
            new_head.push_str("\r\n");
        }
    }
    new_head.push_str("Connection: close\r\n\r\n");
    let _ = client.write_all(new_head.as_bytes());
    let _ = client.write_all(&resp[split..]);
}

fn start_proxy(upstream: String, faults: Arc<Faults>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let up = upstream.clone();
            let f = faults.clone();
            std::thread::spawn(move || handle(c, up, f));
        }
    });
    addr
}

#[test]
fn push_through_faults_completes_with_identical_content() {
    let upstream = rig_plain();
    let faults = Arc::new(Faults::default());
    let proxy = start_proxy(upstream.clone(), faults.clone());

    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let mut data = vec![0u8; 1_500_000];
    let mut x = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(ctx.join("random.bin"), &data).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let name = format!(
        "idpkit-test/faults{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let via_proxy = format!("{proxy}/{name}:v1");
    let built = store
        .build(
            &BuildOptions {
                context: ctx.clone(),
                tags: vec![via_proxy.clone()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();

    let events = Arc::new(Mutex::new(Vec::<Event>::new()));
    let ev = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| ev.lock().unwrap().push(e.clone()));
    let opts = RegistryOptions {
        backoff_base_ms: 50,
        jobs: 2,
        ..Default::default()
    };
    let result = store
        .push(&via_proxy, None, &opts, Some(&sink))
        .unwrap_or_else(|e| {
            panic!(
                "push through the proxy failed: {e}; faults: {:?}",
                faults.log.lock().unwrap()
            )
        });
    assert_eq!(result.digest, built.digest);

    let log = faults.log.lock().unwrap().clone();
    for want in ["cut ", "503 HEAD", "429 POST", "503 PUT"] {
        assert!(
            log.iter().any(|l| l.starts_with(want)),
            "fault {want:?} not injected: {log:?}"
        );
    }
    let events = events.lock().unwrap().clone();
    let retries: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::RetryScheduled { .. }))
        .collect();
    assert!(
        retries.len() >= 4,
        "expected a retry per fault: {retries:?}"
    );
    assert!(
        retries
            .iter()
            .any(|e| matches!(e, Event::RetryScheduled { delay_ms, .. } if *delay_ms == 1000)),
        "Retry-After: 1 was not honoured: {retries:?}"
    );

    // Pull straight from the registry into an empty store: same digest, same bytes.
    let direct = format!("{upstream}/{name}:v1");
    let pulled = Store::open(tmp.path().join("pulled")).unwrap();
    let p = pulled
        .pull(&direct, &RegistryOptions::default(), None)
        .unwrap();
    assert_eq!(p.digest, built.digest);
    for e in std::fs::read_dir(pulled.root().join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(store.root().join("blobs/sha256").join(e.file_name())).unwrap()
        );
    }
}

#[test]
fn a_413_switches_the_blob_to_chunked_uploads() {
    let upstream = rig_plain();
    let faults = Arc::new(Faults {
        max_body: Some(600_000),
        ..Default::default()
    });
    let proxy = start_proxy(upstream.clone(), faults.clone());
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let mut data = vec![0u8; 1_500_000];
    let mut x = std::process::id() as u64 ^ 0x2545_f491_4f6c_dd1d;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(ctx.join("random.bin"), &data).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let name = format!("idpkit-test/limit{}", std::process::id());
    let tag = format!("{proxy}/{name}:v1");
    let built = store
        .build(
            &BuildOptions {
                context: ctx,
                tags: vec![tag.clone()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let opts = RegistryOptions {
        chunk_size: 500_000,
        ..Default::default()
    };
    let r = store
        .push(&tag, None, &opts, None)
        .unwrap_or_else(|e| panic!("push failed: {e}; {:?}", faults.log.lock().unwrap()));
    assert_eq!(r.digest, built.digest);
    let log = faults.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.starts_with("413 PUT")), "{log:?}");
    assert!(
        log.iter().filter(|l| l.starts_with("pass PATCH")).count() >= 3,
        "{log:?}"
    );
    let pulled = Store::open(tmp.path().join("pulled")).unwrap();
    let p = pulled
        .pull(
            &format!("{upstream}/{name}:v1"),
            &RegistryOptions::default(),
            None,
        )
        .unwrap();
    assert_eq!(p.digest, built.digest);
}

#[test]
fn a_registry_that_stays_down_fails_after_bounded_retries() {
    let _ = rig_plain();
    let faults = Arc::new(Faults {
        always_503: true,
        ..Default::default()
    });
    let proxy = start_proxy("127.0.0.1:9".into(), faults.clone());
    let events = Arc::new(Mutex::new(Vec::<Event>::new()));
    let ev = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| ev.lock().unwrap().push(e.clone()));
    let opts = RegistryOptions {
        attempts: 3,
        backoff_base_ms: 20,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let err = idpkit::registry::list_tags(&format!("{proxy}/x/y"), &opts, Some(&sink)).unwrap_err();
    assert_eq!(err.kind, idpkit::ErrorKind::Network, "{err}");
    assert!(
        err.message.contains(&proxy) && err.message.contains("503"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    let retries = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::RetryScheduled { .. }))
        .count();
    assert_eq!(retries, 2, "3 attempts = 2 retries");
}

#[test]
fn bearer_tokens_expiring_mid_push_are_fetched_again() {
    let upstream = rig_plain();
    let faults = Arc::new(Faults {
        expire_every: 3,
        ..Default::default()
    });
    let proxy = start_proxy(upstream.clone(), faults.clone());
    *faults.realm.lock().unwrap() = format!("http://{proxy}/token");
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    for i in 0..3 {
        std::fs::write(
            ctx.join(format!("f{i}.txt")),
            format!("{i} {}", std::process::id()),
        )
        .unwrap();
    }
    let store = Store::open(tmp.path().join("store")).unwrap();
    let name = format!("idpkit-test/bearer{}", std::process::id());
    let tag = format!("{proxy}/{name}:v1");
    let built = store
        .build(
            &BuildOptions {
                context: ctx,
                tags: vec![tag.clone()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let opts = RegistryOptions {
        jobs: 1,
        credential: Some(idpkit::registry::Credential::basic(
            "alice",
            "pw-not-checked",
            "test",
        )),
        ..Default::default()
    };
    let r = store
        .push(&tag, None, &opts, None)
        .unwrap_or_else(|e| panic!("push failed: {e}; {:?}", faults.log.lock().unwrap()));
    assert_eq!(r.digest, built.digest);
    let log = faults.log.lock().unwrap().clone();
    let tokens: Vec<&String> = log.iter().filter(|l| l.starts_with("token ")).collect();
    assert!(tokens.len() >= 3, "tokens were not fetched again: {log:?}");
    assert!(
        tokens.iter().all(|t| t.contains("service=fake-registry")
            && t.contains(&format!(
                "scope=repository%3A{}%3Apull%2Cpush",
                name.replace('/', "%2F")
            ))),
        "{tokens:?}"
    );
    // Every expiry cost exactly one 401 and a new token, never a failed push.
    let expired = log.iter().filter(|l| l.starts_with("401 ")).count();
    assert!(expired >= 3, "{log:?}");
    let pulled = Store::open(tmp.path().join("pulled")).unwrap();
    let p = pulled
        .pull(
            &format!("{upstream}/{name}:v1"),
            &RegistryOptions::default(),
            None,
        )
        .unwrap();
    assert_eq!(p.digest, built.digest);
}

#[test]
fn retries_stop_when_the_time_budget_is_spent() {
    let _ = rig_plain();
    let faults = Arc::new(Faults {
        always_503: true,
        ..Default::default()
    });
    let proxy = start_proxy("127.0.0.1:9".into(), faults);
    let opts = RegistryOptions {
        attempts: 1000,
        retry_budget_secs: 1,
        backoff_base_ms: 300,
        backoff_max_ms: 300,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let err = idpkit::registry::list_tags(&format!("{proxy}/x/y"), &opts, None).unwrap_err();
    assert_eq!(err.kind, idpkit::ErrorKind::Network, "{err}");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
}

#[test]
fn the_circuit_breaker_stops_parallel_blobs_retrying_a_dead_registry() {
    let upstream = rig_plain();
    let faults = Arc::new(Faults {
        blobs_503: true,
        ..Default::default()
    });
    let proxy = start_proxy(upstream, faults.clone());
    let tmp = tempfile::tempdir().unwrap();
    let store = idpkit::Store::open(tmp.path().join("store")).unwrap();
    // Three images' worth of layers: base, middle, top, plus a config: four blobs.
    let mut from = None;
    for (i, name) in ["base", "middle", "top"].iter().enumerate() {
        let ctx = tmp.path().join(name);
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join(format!("{name}.txt")), format!("{i}")).unwrap();
        let tag = format!("{proxy}/breaker/{name}:1");
        let opts = idpkit::BuildOptions {
            context: ctx,
            tags: vec![tag.clone()],
            from: from.clone(),
            ..Default::default()
        };
        store.build(&opts, None, None).unwrap();
        from = Some(tag);
    }
    let opts = RegistryOptions {
        attempts: 5,
        backoff_base_ms: 10,
        backoff_max_ms: 20,
        jobs: 4,
        breaker_threshold: 6,
        ..Default::default()
    };
    let err = store
        .push(&format!("{proxy}/breaker/top:1"), None, &opts, None)
        .unwrap_err();
    assert_eq!(err.kind, idpkit::ErrorKind::Network, "{err}");
    let blob_requests = faults.log.lock().unwrap().len();
    // Without the breaker: 4 blobs x 5 attempts = 20 tries. With it: about the threshold,
    // plus the tries already in flight when it opened.
    assert!(
        blob_requests <= 6 + 4,
        "{blob_requests} blob requests reached a dead registry"
    );
    assert!(blob_requests >= 6, "{blob_requests}");
}

#[test]
fn a_chunked_upload_cut_after_accepted_chunks_resumes_at_the_servers_offset() {
    let upstream = rig_plain();
    let faults = Arc::new(Faults {
        cut_later_chunk: true,
        ..Default::default()
    });
    let proxy = start_proxy(upstream.clone(), faults.clone());
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let data = common::random_bytes(3 << 20, std::process::id() as u64 ^ 0x2545_f491_4f6c_dd1d);
    std::fs::write(ctx.join("random.bin"), &data).unwrap();
    let name = format!("idpkit-test/resume{}", std::process::id());
    let via_proxy = format!("{proxy}/{name}:v1");
    let store = Store::open(tmp.path().join("store")).unwrap();
    let built = store
        .build(
            &BuildOptions {
                context: ctx,
                tags: vec![via_proxy.clone()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let opts = RegistryOptions {
        monolithic_max: 1,
        chunk_size: 1 << 20,
        backoff_base_ms: 10,
        ..Default::default()
    };
    store.push(&via_proxy, None, &opts, None).unwrap();

    let log = faults.log.lock().unwrap().clone();
    let cut = log
        .iter()
        .position(|l| l.starts_with("cut PATCH"))
        .unwrap_or_else(|| panic!("no PATCH was cut: {log:?}"));
    assert!(
        log[..cut].iter().any(|l| l.starts_with("PATCH 0-")),
        "a chunk was accepted before the cut: {log:?}"
    );
    // After the cut: the upload's status (the server's offset), then a PATCH starting there.
    let status = log[cut..]
        .iter()
        .find_map(|l| l.strip_prefix("status "))
        .unwrap_or_else(|| panic!("the upload's status was not asked: {log:?}"));
    let offset: u64 = status.rsplit('-').next().unwrap().parse::<u64>().unwrap() + 1;
    assert!(offset >= 1 << 20, "resumed from {offset}: {log:?}");
    let resumed = log[cut..]
        .iter()
        .find_map(|l| l.strip_prefix("PATCH "))
        .unwrap_or_else(|| panic!("no PATCH after the cut: {log:?}"));
    assert!(
        resumed.starts_with(&format!("{offset}-")),
        "resumed at {resumed}, the server had {offset} bytes: {log:?}"
    );

    // Identical content, read back straight from the registry.
    let direct = format!("{upstream}/{name}:v1");
    let pulled = Store::open(tmp.path().join("pulled")).unwrap();
    assert_eq!(
        pulled
            .pull(&direct, &RegistryOptions::default(), None)
            .unwrap()
            .digest,
        built.digest
    );
}
