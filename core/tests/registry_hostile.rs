//! What a hostile registry cannot make idpkit do with the user's credentials: send them to a
//! host it names in an upload `Location` or a `Link: rel="next"`, send them in cleartext to a
//! plain-HTTP token realm behind HTTPS, or mix another host's tag list into its own.
//!
//! The "registry" is a proxy in front of the rig's real plain-HTTP registry that demands Basic
//! credentials and rewrites headers; the "foreign host" listens on 127.0.0.2 and records what
//! it receives. Fails (never skips) when the rig is not up.

mod common;

use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::trust::TrustOptions;
use idpkit::{BuildOptions, ErrorKind, Event, EventSink, Store};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const SECRET: &str = "hostile-test-password-9f1c";

fn rig() -> HashMap<String, String> {
    common::rig(&["REGISTRY_PLAIN"])
}

/// A TLS server configuration with the rig's CA-signed server certificate.
fn rig_server_config(rig: &HashMap<String, String>) -> Arc<rustls::ServerConfig> {
    let pki = PathBuf::from(&rig["DIR"]).join("pki");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.join("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

/// Rewrites a response head: (method, path, head) → new head.
type Rewrite = dyn Fn(&str, &str, String) -> String + Send + Sync;

/// A recording HTTP proxy to `upstream` (or, without one, a server answering 401).
struct Peer {
    addr: String,
    /// Every request head received (lowercased).
    seen: Mutex<Vec<String>>,
}

impl Peer {
    fn heads(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_head(s: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).to_string())
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn serve_one(
    mut client: impl Read + Write,
    upstream: Option<&str>,
    require_basic: bool,
    rewrite: &Rewrite,
    peer: &Peer,
) {
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let lower = head.to_ascii_lowercase();
    peer.seen.lock().unwrap().push(lower.clone());
    let mut body = vec![0u8; content_length(&lower)];
    if client.read_exact(&mut body).is_err() {
        return;
    }
    let line = head.lines().next().unwrap_or_default().to_string();
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let unauthorized = |c: &mut dyn Write, challenge: &str| {
        let h = rewrite(
            method,
            path,
            format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\n"),
        );
        let _ = write!(c, "{h}Content-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let Some(upstream) = upstream else {
        return unauthorized(&mut client, "Basic realm=\"nothing here\"");
    };
    if require_basic && !lower.contains("\r\nauthorization: basic ") {
        return unauthorized(&mut client, "Basic realm=\"hostile\"");
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    let mut out = String::new();
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        let k = l.to_ascii_lowercase();
        if !k.starts_with("connection:") && !k.starts_with("authorization:") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    if up
        .write_all(out.as_bytes())
        .and_then(|_| up.write_all(&body))
        .is_err()
    {
        return;
    }
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(resp.len());
    let mut head = String::new();
    for l in String::from_utf8_lossy(&resp[..split])
        .split("\r\n")
        .filter(|l| !l.is_empty())
    {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            head.push_str(l);
            head.push_str("\r\n");
        }
    }
    let head = rewrite(method, path, head);
    let _ = client.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
    let _ = client.write_all(&resp[split..]);
}

fn start(
    bind: &str,
    upstream: Option<String>,
    require_basic: bool,
    rewrite: Arc<Rewrite>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Arc<Peer> {
    let l = TcpListener::bind(bind).unwrap();
    let peer = Arc::new(Peer {
        addr: l.local_addr().unwrap().to_string(),
        seen: Mutex::new(Vec::new()),
    });
    let p = peer.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let (p, up, rw, tls) = (p.clone(), upstream.clone(), rewrite.clone(), tls.clone());
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                let is_tls = c.peek(&mut first).is_ok_and(|n| n == 1 && first[0] == 0x16);
                match (is_tls, tls) {
                    (true, Some(cfg)) => {
                        let conn = rustls::ServerConnection::new(cfg).unwrap();
                        let s = rustls::StreamOwned::new(conn, c);
                        serve_one(s, up.as_deref(), require_basic, &*rw, &p)
                    }
                    (false, None) => serve_one(c, up.as_deref(), require_basic, &*rw, &p),
                    _ => {}
                }
            });
        }
    });
    peer
}

/// A host on 127.0.0.2 that forwards to the rig's registry and records what it receives.
fn foreign_host(rig: &HashMap<String, String>) -> Arc<Peer> {
    start(
        "127.0.0.2:0",
        Some(rig["REGISTRY_PLAIN"].clone()),
        false,
        no_rewrite(),
        None,
    )
}

fn no_rewrite() -> Arc<Rewrite> {
    Arc::new(|_: &str, _: &str, h: String| h)
}

fn replace_header(head: &str, name: &str, value: &str) -> String {
    let mut out: String = head
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with(&format!("{name}:")))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str(&format!("{name}: {value}\r\n"));
    out
}

fn creds() -> RegistryOptions {
    RegistryOptions {
        credential: Some(Credential::basic("hostile-user", SECRET, "test")),
        attempts: 1,
        trust: TrustOptions {
            certs_d: Some(vec![]),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn image(store: &Store, tag: &str) {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("f"),
        format!("{tag} {}", std::process::id()),
    )
    .unwrap();
    store
        .build(
            &BuildOptions {
                context: ctx.path().into(),
                tags: vec![tag.into()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
}

fn has_password(head: &str) -> bool {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("hostile-user:{SECRET}"))
        .to_ascii_lowercase();
    head.contains("authorization:") || head.contains(&basic) || head.contains(SECRET)
}

#[test]
fn an_upload_location_on_another_host_is_followed_without_credentials() {
    let rig = rig();
    let foreign = foreign_host(&rig);
    let faddr = foreign.addr.clone();
    let rewrite: Arc<Rewrite> = Arc::new(move |method: &str, path: &str, head: String| {
        if method != "POST" || !path.contains("/blobs/uploads/") {
            return head;
        }
        let Some(loc) = head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_string())
        }) else {
            return head;
        };
        let rest = loc.find("/v2/").map(|i| &loc[i..]).unwrap_or(&loc);
        replace_header(&head, "location", &format!("http://{faddr}{rest}"))
    });
    let reg = start(
        "127.0.0.1:0",
        Some(rig["REGISTRY_PLAIN"].clone()),
        true,
        rewrite,
        None,
    );

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tag = format!("{}/hostile/location:v1", reg.addr);
    image(&store, &tag);
    let opts = RegistryOptions {
        monolithic_max: 0,
        ..creds()
    };
    store.push(&tag, None, &opts, None).unwrap();

    let foreign_heads = foreign.heads();
    assert!(
        !foreign_heads.is_empty(),
        "the upload was not sent to the Location the registry named"
    );
    for h in &foreign_heads {
        assert!(
            !has_password(h),
            "credentials went to the foreign host: {h}"
        );
    }
    assert!(
        reg.heads().iter().any(|h| has_password(h)),
        "the registry itself got the credentials"
    );
}

#[test]
fn a_next_page_link_on_another_host_is_refused() {
    let rig = rig();
    let foreign = foreign_host(&rig);
    let faddr = foreign.addr.clone();
    let rewrite: Arc<Rewrite> = Arc::new(move |method: &str, path: &str, head: String| {
        if method == "GET" && path.contains("/tags/list") && head.starts_with("HTTP/1.1 200") {
            let link = format!("<http://{faddr}/v2/hostile/link/tags/list?last=v1>; rel=\"next\"");
            return replace_header(&head, "link", &link);
        }
        head
    });
    let reg = start(
        "127.0.0.1:0",
        Some(rig["REGISTRY_PLAIN"].clone()),
        true,
        rewrite,
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tag = format!("{}/hostile/link:v1", reg.addr);
    image(&store, &tag);
    store.push(&tag, None, &creds(), None).unwrap();

    let err =
        registry::list_tags(&format!("{}/hostile/link", reg.addr), &creds(), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Policy, "{}", err.message);
    assert!(
        err.message.contains(&foreign.addr) && err.message.contains("another host"),
        "{}",
        err.message
    );
    assert!(
        foreign.heads().is_empty(),
        "idpkit followed the foreign Link"
    );
    assert!(!err.message.contains(SECRET));
}

/// A TLS "registry" (the rig's CA-signed server certificate) whose every answer is a Bearer
/// challenge naming `realm`.
fn tls_registry_with_realm(realm: String) -> (Arc<Peer>, PathBuf) {
    let rig = rig();
    let pki = PathBuf::from(&rig["DIR"]).join("pki");
    let cfg = rig_server_config(&rig);
    let challenge = format!("Bearer realm=\"{realm}\",service=\"hostile\"");
    let rewrite: Arc<Rewrite> = Arc::new(move |_: &str, _: &str, head: String| {
        replace_header(&head, "www-authenticate", &challenge)
    });
    let peer = start("127.0.0.1:0", None, false, rewrite, Some(cfg));
    (peer, pki.join("ca.crt"))
}

#[test]
fn a_plain_http_token_realm_behind_https_gets_no_credentials() {
    let realm_host = start("127.0.0.2:0", None, false, no_rewrite(), None);
    let realm = format!("http://{}/token", realm_host.addr);
    let (reg, ca) = tls_registry_with_realm(realm);
    let mut opts = creds();
    opts.trust.ca_files = vec![ca];
    opts.trust.no_platform_roots = true;

    let err = registry::list_tags(&format!("{}/hostile/realm", reg.addr), &opts, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Policy, "{}", err.message);
    assert!(
        err.message.contains("plain HTTP") && err.message.contains(&realm_host.addr),
        "{}",
        err.message
    );
    assert!(
        realm_host.heads().is_empty(),
        "the plain-HTTP realm was asked"
    );

    // Marked insecure by the user: asked, audited, and still never given the password.
    opts.trust.insecure_hosts = vec![realm_host.addr.clone()];
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| seen.lock().unwrap().push(e.clone()));
    let err = registry::list_tags(&format!("{}/hostile/realm", reg.addr), &opts, Some(&sink))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth, "{}", err.message);
    let heads = realm_host.heads();
    assert!(!heads.is_empty(), "the insecure realm was not asked");
    for h in &heads {
        assert!(
            !has_password(h),
            "credentials went to a plain-HTTP realm: {h}"
        );
    }
    assert!(
        events.lock().unwrap().iter().any(|e| matches!(e,
            Event::InsecureConnection { host, .. } if *host == realm_host.addr)),
        "no insecure_connection event for the realm"
    );
}

/// A plain-HTTP loopback server: each connection's request head goes to `answer` on its own
/// thread (a TLS hello is dropped, so idpkit falls back to plain HTTP); `answer` writes the
/// whole reply, `GET /v2/` included ([`V2_OK`]).
fn raw_server(answer: impl Fn(&mut TcpStream, &str) + Send + Sync + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                if c.peek(&mut first)
                    .map_or(true, |n| n == 0 || first[0] == 0x16)
                {
                    return;
                }
                if let Some(head) = read_head(&mut c) {
                    answer(&mut c, &head);
                }
            });
        }
    });
    addr
}

const V2_OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A plain-HTTP "registry" on loopback that answers `/v2/` and then streams an endless body
/// (no length, up to 256 MiB) to every other request; returns its address and how many
/// bytes it managed to send in all.
fn endless_registry() -> (String, Arc<std::sync::atomic::AtomicU64>) {
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = sent.clone();
    let addr = raw_server(move |c, head| {
        if head.starts_with("GET /v2/ ") {
            let _ = c.write_all(V2_OK);
            return;
        }
        let _ = c.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n",
        );
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..256 {
            if c.write_all(&chunk).is_err() {
                break;
            }
            total.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (addr, sent)
}

#[test]
fn endless_manifests_and_lists_are_refused_at_their_limit() {
    let (addr, sent) = endless_registry();
    let opts = RegistryOptions {
        attempts: 1,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let e = store
        .pull(&format!("{addr}/endless/app:v1"), &opts, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("manifest larger than"), "{}", e.message);
    let e = registry::list_tags(&format!("{addr}/endless/app"), &opts, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("list page larger than"), "{}", e.message);
    // The reads stopped near the 16 MiB limits instead of taking all 2 x 256 MiB.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let total = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(total < 128 << 20, "{total} bytes were read");
}

/// An index listing `children` (digest, media type), each marked linux/amd64, as a registry
/// serves it; the test serves no child unless it says so.
fn index_of(children: &[(String, &str)]) -> String {
    let manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(digest, media)| {
            serde_json::json!({"mediaType": media, "digest": digest, "size": 2,
            "platform": {"os": "linux", "architecture": "amd64"}})
        })
        .collect();
    serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA, "manifests": manifests})
        .to_string()
}

const INDEX_MEDIA: &str = "application/vnd.oci.image.index.v1+json";

#[test]
fn an_index_too_wide_or_nested_is_refused_before_its_manifests_are_fetched() {
    use sha2::Digest as _;
    let manifest_media = "application/vnd.oci.image.manifest.v1+json";
    // 1001 platforms: one request each would follow.
    let wide = index_of(
        &(0..1001)
            .map(|i| (format!("sha256:{:064x}", i), manifest_media))
            .collect::<Vec<_>>(),
    );
    // An index whose only child is another index (the inner one served by its digest).
    let inner = index_of(&[(format!("sha256:{:064x}", 7), manifest_media)]);
    let inner_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&inner)));
    let nested = index_of(&[(inner_digest.clone(), INDEX_MEDIA)]);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    let inner_path = format!("/manifests/{inner_digest}");
    let addr = raw_server(move |c, head| {
        if head.starts_with("GET /v2/ ") {
            let _ = c.write_all(V2_OK);
            return;
        }
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        seen.lock().unwrap().push(path.clone());
        let body = if path.ends_with("/manifests/wide") {
            &wide
        } else if path.ends_with("/manifests/nested") {
            &nested
        } else if path.ends_with(&inner_path) {
            &inner
        } else {
            let _ = c.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Type: {INDEX_MEDIA}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let all = RegistryOptions {
        all_platforms: true,
        attempts: 1,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();

    let e = store
        .pull(&format!("{addr}/h/app:wide"), &all, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(
        e.message
            .contains("lists 1001 manifests, more than the 1000"),
        "{}",
        e.message
    );
    assert_eq!(
        *asked.lock().unwrap(),
        ["/v2/h/app/manifests/wide"],
        "no child was fetched"
    );

    let e = store
        .pull(&format!("{addr}/h/app:nested"), &all, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(
        e.message.contains("lists another index") && e.message.contains(&inner_digest),
        "{}",
        e.message
    );
    // Nothing of either landed in the store.
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn insecure_host_port_does_not_cover_another_port_of_the_same_host() {
    // The realm is another port of 127.0.0.1, serving a certificate idpkit is not told to
    // trust; only the registry's own host:port is marked insecure.
    let cfg = rig_server_config(&rig());
    let realm_host = start("127.0.0.1:0", None, false, no_rewrite(), Some(cfg));
    let (reg, _ca) = tls_registry_with_realm(format!("https://{}/token", realm_host.addr));
    let mut opts = creds();
    opts.trust.no_platform_roots = true;
    opts.trust.insecure_hosts = vec![reg.addr.clone()];
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| seen.lock().unwrap().push(e.clone()));

    let err =
        registry::list_tags(&format!("{}/hostile/port", reg.addr), &opts, Some(&sink)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Untrusted, "{}", err.message);
    assert!(err.message.contains(&realm_host.addr), "{}", err.message);
    assert!(
        realm_host.heads().is_empty(),
        "the realm on another port got a request over an unverified connection"
    );
    // Every audit event names the exact host:port that was not verified.
    for e in events.lock().unwrap().iter() {
        if let Event::InsecureConnection { host, .. } = e {
            assert_eq!(*host, reg.addr, "audit event for the wrong host:port");
        }
    }
    assert!(!err.message.contains(SECRET));
}

/// A plain-HTTP loopback "registry" that hands out bearer token `token` at its own `/token`
/// (given Basic credentials) and answers every authorized request with a 400 whose message
/// echoes the `Authorization` header it received.
fn echoing_registry(bearer: bool, token: &'static str) -> String {
    let own = Arc::new(Mutex::new(String::new()));
    let realm_host = own.clone();
    let addr = raw_server(move |c, head| {
        let auth = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("Authorization: ")
                    .or(l.strip_prefix("authorization: "))
            })
            .map(str::to_string);
        let reply = |c: &mut TcpStream, status: &str, extra: &str, body: &str| {
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        };
        if head.starts_with("GET /token") {
            return reply(c, "200 OK", "", &format!(r#"{{"token":"{token}"}}"#));
        }
        match auth {
            None => {
                let ch = if bearer {
                    let a = realm_host.lock().unwrap().clone();
                    format!(
                        "WWW-Authenticate: Bearer realm=\"http://{a}/token\",service=\"echo\"\r\n"
                    )
                } else {
                    "WWW-Authenticate: Basic realm=\"echo\"\r\n".to_string()
                };
                reply(c, "401 Unauthorized", &ch, "");
            }
            Some(v) => {
                let body =
                    format!(r#"{{"errors":[{{"code":"DENIED","message":"you sent {v}"}}]}}"#);
                reply(c, "400 Bad Request", "", &body);
            }
        }
    });
    *own.lock().unwrap() = addr.clone();
    addr
}

#[test]
fn echoed_credentials_are_redacted_in_every_form() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("hostile-user:{SECRET}"));
    let opts = RegistryOptions {
        attempts: 1,
        ..creds()
    };
    let basic = echoing_registry(false, "unused");
    let e = registry::list_tags(&format!("{basic}/echo/app"), &opts, None).unwrap_err();
    assert!(
        e.message.contains("you sent Basic <redacted>"),
        "{}",
        e.message
    );
    assert!(
        !e.message.contains(&b64) && !e.message.contains(SECRET),
        "{}",
        e.message
    );

    let token = "fetched-bearer-token-7d2e";
    let bearer = echoing_registry(true, token);
    let e = registry::list_tags(&format!("{bearer}/echo/app"), &opts, None).unwrap_err();
    assert!(
        e.message.contains("you sent Bearer <redacted>"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(token), "{}", e.message);
}

#[test]
fn a_copy_never_hands_the_destinations_credentials_to_the_source() {
    let rig = rig();
    // The source asks for Basic credentials and records what it gets; the destination is
    // the rig's registry itself.
    let source = start(
        "127.0.0.2:0",
        Some(rig["REGISTRY_PLAIN"].clone()),
        true,
        no_rewrite(),
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tag = format!("{}/hostile/copy-src:v1", source.addr);
    image(&store, &tag);
    // 127.0.0.2 is not `localhost`: plain HTTP to it must be asked for.
    let mut plain = creds();
    plain.trust.insecure_hosts = vec![source.addr.clone()];
    let source_login = RegistryOptions {
        credential: Some(Credential::basic(
            "source-user",
            "source-password-41",
            "test",
        )),
        ..plain.clone()
    };
    store.push(&tag, None, &source_login, None).unwrap();
    let before = source.heads().len();

    let destination = format!("{}/hostile/copy-dst:v1", rig["REGISTRY_PLAIN"]);
    let e = registry::copy(&tag, &destination, &plain, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(e.message.contains(&source.addr), "{}", e.message);
    for h in &source.heads()[before..] {
        assert!(
            !has_password(h),
            "the destination's credentials went to the source: {h}"
        );
    }

    // Given the source's own credentials, the copy goes through.
    let opts = RegistryOptions {
        source_credential: source_login.credential.clone(),
        ..plain
    };
    let copied = registry::copy(&tag, &destination, &opts, None).unwrap();
    assert!(copied.digest.starts_with("sha256:"));
}

#[test]
fn a_blob_redirected_to_another_host_is_fetched_there_without_credentials() {
    let rig = rig();
    let foreign = foreign_host(&rig);
    let faddr = foreign.addr.clone();
    let rewrite: Arc<Rewrite> = Arc::new(move |method: &str, path: &str, head: String| {
        if method == "GET" && path.contains("/blobs/sha256:") && head.starts_with("HTTP/1.1 200") {
            let rest = head.split_once("\r\n").map(|(_, r)| r).unwrap_or("");
            let moved = format!("HTTP/1.1 307 Temporary Redirect\r\n{rest}");
            return replace_header(&moved, "location", &format!("http://{faddr}{path}"));
        }
        head
    });
    let reg = start(
        "127.0.0.1:0",
        Some(rig["REGISTRY_PLAIN"].clone()),
        true,
        rewrite,
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("a")).unwrap();
    let tag = format!("{}/hostile/redirect:v1", reg.addr);
    image(&store, &tag);
    store.push(&tag, None, &creds(), None).unwrap();

    let other = Store::open(dir.path().join("b")).unwrap();
    let mut opts = creds();
    opts.trust.insecure_hosts = vec![foreign.addr.clone()];
    let pulled = other.pull(&tag, &opts, None).unwrap();
    assert_eq!(
        pulled.digest,
        store.inspect(&tag).unwrap().digest,
        "the pulled image differs"
    );
    let heads = foreign.heads();
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with("get /v2/hostile/redirect/blobs/")),
        "the redirect was not followed: {heads:?}"
    );
    for h in &heads {
        assert!(!has_password(h), "credentials followed the redirect: {h}");
    }
}

/// A plain-HTTP loopback "registry" whose first tag-list request gets a 429 with
/// `Retry-After: {retry_after()}` and the next one the list; records when each came.
fn busy_registry(retry_after: fn() -> String) -> (String, Arc<Mutex<Vec<std::time::Instant>>>) {
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let addr = raw_server(move |c, head| {
        if head.starts_with("GET /v2/ ") {
            let _ = c.write_all(V2_OK);
            return;
        }
        let mut t = seen.lock().unwrap();
        t.push(std::time::Instant::now());
        if t.len() == 1 {
            let _ = write!(
                c,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                retry_after()
            );
        } else {
            let body = r#"{"name":"busy/app","tags":["v1"]}"#;
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, times)
}

#[test]
fn retry_after_is_waited_for_in_both_forms() {
    let opts = RegistryOptions {
        backoff_base_ms: 10,
        backoff_max_ms: 20,
        ..Default::default()
    };
    // Seconds, and an HTTP-date two seconds ahead (whole seconds: between 1 and 2 s away).
    let forms: [(fn() -> String, u128); 2] = [
        (|| "1".to_string(), 950),
        (
            || {
                let at = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
                httpdate::fmt_http_date(at)
            },
            950,
        ),
    ];
    for (form, at_least_ms) in forms {
        let (addr, times) = busy_registry(form);
        let tags = registry::list_tags(&format!("{addr}/busy/app"), &opts, None).unwrap();
        assert_eq!(tags, ["v1"]);
        let t = times.lock().unwrap();
        assert_eq!(t.len(), 2, "one 429, one retry");
        let waited = (t[1] - t[0]).as_millis();
        assert!(
            waited >= at_least_ms && waited < 5_000,
            "waited {waited} ms for Retry-After: {}",
            form()
        );
    }
}

/// What a hostile registry does with the config blob `inspect_remote` reads.
#[derive(Clone, Copy)]
enum ConfigTrick {
    /// Serves other bytes than the manifest's digest names.
    Swapped,
    /// Serves a config without end.
    Endless,
    /// Redirects the config to another host (which serves the right bytes).
    Redirect,
}

/// A plain-HTTP loopback registry asking for Basic credentials, serving one manifest whose
/// config it then plays `trick` with; returns its address and the foreign host's heads.
fn config_trick_registry(trick: ConfigTrick) -> (String, Arc<Mutex<Vec<String>>>) {
    use sha2::Digest as _;
    const CONFIG: &str =
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(CONFIG)));
    let foreign_heads = Arc::new(Mutex::new(Vec::new()));
    let seen = foreign_heads.clone();
    let foreign = raw_server(move |c, head| {
        seen.lock().unwrap().push(head.to_ascii_lowercase());
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{CONFIG}",
            CONFIG.len()
        );
    });
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":{}}},"layers":[]}}"#,
        CONFIG.len()
    );
    let addr = raw_server(move |c, head| {
        if !head
            .to_ascii_lowercase()
            .contains("\r\nauthorization: basic ")
        {
            let _ = c.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"hostile\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        if head.starts_with("GET /v2/ ") {
            let _ = c.write_all(V2_OK);
        } else if head.contains("/manifests/") {
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{manifest}",
                manifest.len()
            );
        } else {
            match trick {
                ConfigTrick::Swapped => {
                    let evil = r#"{"architecture":"evil","os":"linux"}"#;
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{evil}",
                        evil.len()
                    );
                }
                ConfigTrick::Endless => {
                    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let chunk = vec![b' '; 1 << 20];
                    for _ in 0..64 {
                        if c.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                }
                ConfigTrick::Redirect => {
                    let _ = write!(
                        c,
                        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{foreign}/storage/config\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    (addr, foreign_heads)
}

#[test]
fn inspect_remote_verifies_the_config_bounds_it_and_keeps_credentials_home() {
    let opts = creds();
    // Other bytes than the manifest names: INTEGRITY, nothing returned.
    let (addr, _) = config_trick_registry(ConfigTrick::Swapped);
    let e = registry::inspect_remote(&format!("{addr}/h/app:v1"), &opts, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{}", e.message);
    assert!(!e.message.contains(SECRET));
    // A config without end is refused at its limit.
    let (addr, _) = config_trick_registry(ConfigTrick::Endless);
    let e = registry::inspect_remote(&format!("{addr}/h/app:v1"), &opts, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("config larger than"), "{}", e.message);
    // A redirect to another host is followed without the registry's credentials.
    let (addr, foreign) = config_trick_registry(ConfigTrick::Redirect);
    let seen = registry::inspect_remote(&format!("{addr}/h/app:v1"), &opts, None).unwrap();
    assert_eq!(seen.config.unwrap().architecture, "amd64");
    let heads = foreign.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        !heads[0].contains("authorization:") && !has_password(&heads[0]),
        "the foreign host got credentials: {}",
        heads[0]
    );
}
