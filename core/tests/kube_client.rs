//! The one Kubernetes client against the rig's real kube-apiserver: every way a kubeconfig
//! names credentials (token, client certificate, token file, exec plugin, a `KUBECONFIG`
//! list), what a wrong credential or CA gives, Secrets, ConfigMaps, Flux custom objects by
//! version with fallback, a watch that sees a status change and stops on cancel; and what a
//! hostile API server or kubeconfig cannot do. Fails (never skips) when the rig is not up.
//!
//! Tests that need the process environment (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`) run
//! themselves again in a child process with that environment, so no test changes the
//! environment of the others.

mod common;

use idpkit::kube::{KubeClient, KubeOptions};
use idpkit::{CancelToken, ErrorKind};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLUX: &str = "source.toolkit.fluxcd.io";
const NS: &str = "idpkit-kube-test";
const MANAGER: &str = "idpkit-tests";
/// Set in a child process started by [`in_child`].
const CHILD: &str = "IDPKIT_KUBE_TEST_CHILD";

/// The rig's variables; fails naming what to start when the API server does not answer.
fn rig() -> HashMap<String, String> {
    let rig = common::rig(&[]);
    let url = rig
        .get("KUBE_URL")
        .expect("rig.env has no IDPKIT_RIG_KUBE_URL");
    let addr = url.trim_start_matches("https://");
    let up = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok());
    assert!(
        up,
        "the rig's kube-apiserver is not reachable at {url}; start the rig with tests/rig/up"
    );
    rig
}

fn opts(kubeconfig: impl Into<PathBuf>) -> KubeOptions {
    KubeOptions {
        kubeconfig: Some(kubeconfig.into()),
        context: None,
    }
}

/// A kubeconfig for the rig's API server with `user` (YAML lines under `user:`, indented by
/// four spaces) and the CA file `ca`.
fn kubeconfig(rig: &HashMap<String, String>, ca: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: rig\n  cluster:\n    server: {}\n    certificate-authority: {ca}\n\
         users:\n- name: me\n  user:\n{user}\ncontexts:\n- name: rig\n  context:\n    cluster: rig\n    user: me\n\
         current-context: rig\n",
        rig["KUBE_URL"]
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Reads the Secret every rig has: proof that the client is authenticated and trusted.
fn reads_gitea_credential(kube: &KubeClient, rig: &HashMap<String, String>) {
    let d = kube
        .secret("gitea", "gitea-credential")
        .unwrap()
        .expect("the rig has Secret gitea/gitea-credential");
    assert_eq!(d.text("username"), Some(rig["GITEA_USER"].as_str()));
}

/// Runs test `name` of this binary again in a child process with `env` set and `remove`
/// unset; the child sees [`CHILD`] and runs the body. Fails when the child fails or ran
/// no test.
fn in_child(name: &str, env: &[(&str, &std::ffi::OsStr)], remove: &[&str]) {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for (k, v) in env {
        c.env(k, v);
    }
    for k in remove {
        c.env_remove(k);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child run of {name} failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn a_token_kubeconfig_reads_secrets_and_says_none_for_a_missing_one() {
    let rig = rig();
    let kube = KubeClient::connect(&opts(&rig["KUBECONFIG"]), None).unwrap();
    assert_eq!(kube.context(), "idpkit-rig");
    assert_eq!(kube.server(), rig["KUBE_URL"]);
    reads_gitea_credential(&kube, &rig);
    assert!(kube.secret("gitea", "no-such-secret").unwrap().is_none());
    assert!(kube
        .config_map("gitea", "no-such-config")
        .unwrap()
        .is_none());
    // Neither the client nor a Secret's data show a credential when printed.
    let d = kube.secret("gitea", "gitea-credential").unwrap().unwrap();
    let shown = format!("{kube:?} {d:?}");
    assert!(shown.contains("username"), "{shown}");
    for secret in [
        &rig["KUBE_TOKEN"],
        &rig["GITEA_PASSWORD"],
        &rig["GITEA_TOKEN"],
    ] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
}

#[test]
fn a_client_certificate_kubeconfig_reads_secrets() {
    let rig = rig();
    let kube = KubeClient::connect(&opts(&rig["KUBECONFIG_CERT"]), None).unwrap();
    reads_gitea_credential(&kube, &rig);
}

/// `KUBECONFIG=first:second`: the first file has neither the context nor its cluster, the
/// second has both; the first file's `current-context` wins, as with kubectl.
#[test]
fn a_kubeconfig_list_finds_the_context_in_the_second_file() {
    if std::env::var_os(CHILD).is_some() {
        let rig = rig();
        let kube = KubeClient::connect(&KubeOptions::default(), None).unwrap();
        assert_eq!(kube.context(), "from-second");
        reads_gitea_credential(&kube, &rig);
        return;
    }
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let first = write(
        tmp.path(),
        "first",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: elsewhere\n  cluster:\n    server: https://127.0.0.1:1\n\
         contexts:\n- name: other\n  context:\n    cluster: elsewhere\ncurrent-context: from-second\n",
    );
    let second = write(
        tmp.path(),
        "second",
        &kubeconfig(
            &rig,
            &rig["CA"],
            &format!("    token: {}", rig["KUBE_TOKEN"]),
        )
        .replace("name: rig\n  context", "name: from-second\n  context")
        .replace("current-context: rig", "current-context: other"),
    );
    let list = std::env::join_paths([first, second]).unwrap();
    in_child(
        "a_kubeconfig_list_finds_the_context_in_the_second_file",
        &[("KUBECONFIG", &list)],
        &[],
    );
}

/// `tokenFile` relative to the kubeconfig, in a context named by the option rather than
/// `current-context` (which names a context that is not there).
#[test]
fn a_token_file_in_a_named_context() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "token", &format!("{}\n", rig["KUBE_TOKEN"]));
    let text = kubeconfig(&rig, &rig["CA"], "    tokenFile: token")
        .replace("current-context: rig", "current-context: gone");
    let path = write(tmp.path(), "config", &text);
    let e = KubeClient::connect(&opts(&path), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(e.message.contains("\"gone\""), "{}", e.message);
    let kube = KubeClient::connect(
        &KubeOptions {
            kubeconfig: Some(path),
            context: Some("rig".into()),
        },
        None,
    )
    .unwrap();
    reads_gitea_credential(&kube, &rig);
}

/// An exec credential plugin (a script next to the kubeconfig, named relatively) that
/// prints an ExecCredential with the rig's token; one that fails is AUTH, naming the
/// plugin and quoting none of its output.
#[test]
fn an_exec_credential_plugin() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "token", &rig["KUBE_TOKEN"]);
    let plugin = write(
        tmp.path(),
        "credential.sh",
        "#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\
         \"status\":{\"token\":\"%s\"}}' \"$(cat \"$(dirname \"$0\")/token\")\"\n",
    );
    let failing = write(
        tmp.path(),
        "failing.sh",
        "#!/bin/sh\ncat \"$(dirname \"$0\")/token\"\ncat \"$(dirname \"$0\")/token\" >&2\nexit 3\n",
    );
    for p in [&plugin, &failing] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let user = |script: &str| {
        format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./{script}\n      \
             interactiveMode: Never"
        )
    };
    let good = write(
        tmp.path(),
        "config",
        &kubeconfig(&rig, &rig["CA"], &user("credential.sh")),
    );
    let kube = KubeClient::connect(&opts(good), None).unwrap();
    reads_gitea_credential(&kube, &rig);

    let bad = write(
        tmp.path(),
        "config-failing",
        &kubeconfig(&rig, &rig["CA"], &user("failing.sh")),
    );
    let e = KubeClient::connect(&opts(bad), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(
        e.message.contains("failing.sh") && e.message.contains("\"rig\""),
        "{}",
        e.message
    );
    assert!(!e.message.contains(&rig["KUBE_TOKEN"]), "{}", e.message);
}

#[test]
fn a_wrong_token_is_auth_naming_context_and_server() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let path = write(
        tmp.path(),
        "config",
        &kubeconfig(&rig, &rig["CA"], "    token: not-the-rig-token-4711"),
    );
    let kube = KubeClient::connect(&opts(&path), None).unwrap();
    let e = kube.secret("gitea", "gitea-credential").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(
        e.message.contains("\"rig\"")
            && e.message.contains(&rig["KUBE_URL"])
            && e.message.contains("401"),
        "{}",
        e.message
    );
    assert!(
        !e.message.contains("not-the-rig-token-4711"),
        "{}",
        e.message
    );
}

/// A kubeconfig whose CA is not the one that signed the API server's certificate (here:
/// idpbuilder's self-signed one): UNTRUSTED, naming the server and what to fix, and no
/// request (so no token) is sent.
#[test]
fn a_ca_that_does_not_match_is_untrusted() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let path = write(
        tmp.path(),
        "config",
        &kubeconfig(
            &rig,
            &rig["GITEA_CA"],
            &format!("    token: {}", rig["KUBE_TOKEN"]),
        ),
    );
    let kube = KubeClient::connect(&opts(&path), None).unwrap();
    let e = kube.secret("gitea", "gitea-credential").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(
        e.message.contains(&rig["KUBE_URL"])
            && e.message
                .contains("not signed by the certificate authority")
            && e.message.contains("certificate-authority"),
        "{}",
        e.message
    );
}

#[test]
fn insecure_skip_tls_verify_is_refused_before_anything_is_sent() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let text = kubeconfig(&rig, &rig["CA"], "    token: t").replace(
        "    certificate-authority:",
        "    insecure-skip-tls-verify: true\n    certificate-authority:",
    );
    let e = KubeClient::connect(&opts(write(tmp.path(), "config", &text)), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Policy, "{}", e.message);
    assert!(
        e.message.contains("insecure-skip-tls-verify") && e.message.contains("config"),
        "{}",
        e.message
    );
}

fn admin(rig: &HashMap<String, String>) -> KubeClient {
    let kube = KubeClient::connect(&opts(&rig["KUBECONFIG"]), None).unwrap();
    kube.apply(
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        MANAGER,
    )
    .unwrap();
    kube
}

/// A Flux GitRepository (v1, the storage version) with its status set through the status
/// subresource.
fn git_repository(kube: &KubeClient, name: &str, revision: &str) {
    kube.apply(
        &json!({
            "apiVersion": format!("{FLUX}/v1"),
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"url": "https://example.invalid/repo.git", "interval": "1m", "ref": {"branch": "main"}},
        }),
        MANAGER,
    )
    .unwrap();
    set_revision(kube, name, revision);
}

fn set_revision(kube: &KubeClient, name: &str, revision: &str) {
    kube.patch_status(
        FLUX,
        "v1",
        "gitrepositories",
        NS,
        name,
        &json!({"artifact": {"revision": revision, "digest": "sha256:00", "url": "http://x/a.tar.gz"}}),
    )
    .unwrap();
}

fn revision(o: &serde_json::Value) -> String {
    o.pointer("/status/artifact/revision")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_custom_object_by_version_with_fallback_and_clear_not_found() {
    let rig = rig();
    let kube = admin(&rig);
    let rev = format!("main@sha1:{:040x}", std::process::id());
    git_repository(&kube, "read-me", &rev);

    let (v, o) = kube
        .custom_object(FLUX, &["v1", "v1beta2"], "gitrepositories", NS, "read-me")
        .unwrap();
    assert_eq!(v, "v1");
    assert_eq!(o["kind"], "GitRepository");
    assert_eq!(o["spec"]["ref"]["branch"], "main");
    assert_eq!(revision(&o), rev);

    // v1beta1 is not served: the next version answers.
    let (v, o) = kube
        .custom_object(
            FLUX,
            &["v1beta1", "v1beta2"],
            "gitrepositories",
            NS,
            "read-me",
        )
        .unwrap();
    assert_eq!(v, "v1beta2");
    assert_eq!(o["apiVersion"], format!("{FLUX}/v1beta2"));
    assert_eq!(revision(&o), rev);

    let e = kube
        .custom_object(FLUX, &["v1", "v1beta2"], "gitrepositories", NS, "nope")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(
        e.message
            .contains(&format!("gitrepositories.{FLUX} {NS}/nope"))
            && e.message.contains("v1, v1beta2"),
        "{}",
        e.message
    );
    let e = kube
        .custom_object(FLUX, &["v1"], "helmthings", NS, "read-me")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(
        e.message
            .contains(&format!("does not serve helmthings.{FLUX}")),
        "{}",
        e.message
    );
}

/// Argo CD's repository Secrets, found by their label; a Secret without it is not listed.
#[test]
fn secrets_by_label_and_a_config_map() {
    let rig = rig();
    let kube = admin(&rig);
    let secret = |name: &str, labelled: bool| {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NS},
            "stringData": {"url": format!("https://git.example/{name}"), "password": "pw-4711"},
        });
        if labelled {
            s["metadata"]["labels"] = json!({"argocd.argoproj.io/secret-type": "repository"});
        }
        kube.apply(&s, MANAGER).unwrap();
    };
    secret("repo-a", true);
    secret("repo-b", true);
    secret("unlabelled", false);
    let found = kube
        .secrets_with_label(NS, "argocd.argoproj.io/secret-type=repository")
        .unwrap();
    let mut names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["repo-a", "repo-b"]);
    let (_, a) = found.iter().find(|(n, _)| n == "repo-a").unwrap();
    assert_eq!(a.text("url"), Some("https://git.example/repo-a"));
    assert_eq!(a.get("password"), Some(&b"pw-4711"[..]));
    assert!(!format!("{found:?}").contains("pw-4711"));

    kube.apply(
        &json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": NS},
            "data": {"ssh_known_hosts": "example.org ssh-ed25519 AAAA\n"},
        }),
        MANAGER,
    )
    .unwrap();
    let cm = kube
        .config_map(NS, "argocd-ssh-known-hosts-cm")
        .unwrap()
        .unwrap();
    assert_eq!(cm["ssh_known_hosts"], "example.org ssh-ed25519 AAAA\n");
}

/// The watch delivers the object as it is, then its status change (made by another
/// client while the watch waits), and stops soon after the cancel token fires.
#[test]
fn a_watch_sees_a_status_change_and_stops_on_cancel() {
    let rig = rig();
    let kube = admin(&rig);
    let name = "watched";
    let nonce = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (r0, r1) = (
        format!("main@sha1:0-{nonce}"),
        format!("main@sha1:1-{nonce}"),
    );
    git_repository(&kube, name, &r0);

    let cancel = CancelToken::new();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let writer = kube.clone();
    let trigger = cancel.clone();
    let r1_ = r1.clone();
    let helper = std::thread::spawn(move || {
        // The first revision seen: change it. The second: cancel while the watch waits.
        rx.recv().unwrap();
        set_revision(&writer, name, &r1_);
        assert_eq!(rx.recv().unwrap(), r1_);
        std::thread::sleep(Duration::from_millis(300));
        let at = Instant::now();
        trigger.cancel();
        at
    });
    let mut seen = Vec::new();
    let e = kube
        .watch_custom(
            FLUX,
            "v1",
            "gitrepositories",
            NS,
            name,
            Some(&cancel),
            |o| {
                let rev = revision(&o);
                seen.push(rev.clone());
                let _ = tx.send(rev);
                Ok(true)
            },
        )
        .unwrap_err();
    let stopped = Instant::now();
    let cancelled_at = helper.join().unwrap();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{}", e.message);
    assert_eq!(seen, [r0, r1.clone()]);
    assert!(
        stopped.duration_since(cancelled_at) < Duration::from_secs(2),
        "the watch took {:?} to stop",
        stopped.duration_since(cancelled_at)
    );

    // `Ok(false)` from the callback ends the watch with Ok; a missing object is NOT_FOUND.
    let mut got = None;
    kube.watch_custom(FLUX, "v1", "gitrepositories", NS, name, None, |o| {
        got = Some(revision(&o));
        Ok(false)
    })
    .unwrap();
    assert_eq!(got.as_deref(), Some(r1.as_str()));
    let e = kube
        .watch_custom(
            FLUX,
            "v1",
            "gitrepositories",
            NS,
            "never-made",
            None,
            |_| Ok(true),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(
        e.message.contains(&format!("{NS}/never-made")),
        "{}",
        e.message
    );
}

/// A kubeconfig that is not YAML, one whose broken YAML holds a token, and a file that is
/// not text: INVALID_INPUT naming the file; the token is not quoted.
#[test]
fn a_kubeconfig_that_is_not_yaml_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("not-yaml", "clusters: [ {name: x, cluster: {server: https://a}\n  - : : :\n".to_string()),
        (
            "broken-token",
            "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: [kube-token-that-must-not-show\n".to_string(),
        ),
        ("shape", "clusters: kube-token-that-must-not-show\n".to_string()),
    ];
    for (name, text) in cases {
        let path = write(tmp.path(), name, &text);
        let e = KubeClient::connect(&opts(&path), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{name}: {}", e.message);
        assert!(
            e.message.contains(&path.display().to_string()),
            "{name}: {}",
            e.message
        );
        assert!(
            !e.message.contains("kube-token-that-must-not-show"),
            "{name}: {}",
            e.message
        );
    }
    let binary = tmp.path().join("binary");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0xd8, 0x00]).unwrap();
    let e = KubeClient::connect(&opts(&binary), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("binary"), "{}", e.message);
    let missing = tmp.path().join("missing");
    let e = KubeClient::connect(&opts(&missing), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(e.message.contains("missing"), "{}", e.message);
}

/// A TLS server on 127.0.0.1 with the rig's CA-signed certificate that answers every
/// request with `answer` (the head, then the body from `body`).
fn hostile_api_server(
    rig: &HashMap<String, String>,
    head: &'static str,
    body: fn(&mut dyn Write),
) -> String {
    let pki = PathBuf::from(&rig["DIR"]).join("pki");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.join("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, sock);
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                if tls.write_all(head.as_bytes()).is_ok() {
                    body(&mut tls);
                }
                let _ = tls.flush();
            });
        }
    });
    format!("https://{addr}")
}

fn hostile_kubeconfig(rig: &HashMap<String, String>, dir: &Path, server: &str) -> PathBuf {
    let text = kubeconfig(
        rig,
        &rig["CA"],
        "    token: kube-token-for-a-hostile-server",
    )
    .replace(&rig["KUBE_URL"], server);
    write(dir, "config", &text)
}

/// An answer larger than the client accepts (an endless Secret) is cut off with a clear
/// NETWORK error, and an answer that is not a Kubernetes object is named as such.
#[test]
fn a_hostile_api_server_cannot_flood_or_confuse_the_client() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let flood = hostile_api_server(
        &rig,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        |w| {
            let chunk = vec![b'A'; 1 << 20];
            let _ = w.write_all(b"100000\r\n");
            let _ = w.write_all(&[b"{\"data\":{\"a\":\"".as_slice(), &chunk[14..]].concat());
            let _ = w.write_all(b"\r\n");
            // 80 MiB, more than the 64 MiB limit.
            for _ in 0..80 {
                if w.write_all(b"100000\r\n").is_err()
                    || w.write_all(&chunk).is_err()
                    || w.write_all(b"\r\n").is_err()
                {
                    return;
                }
            }
        },
    );
    let kube =
        KubeClient::connect(&opts(hostile_kubeconfig(&rig, tmp.path(), &flood)), None).unwrap();
    let start = Instant::now();
    let e = kube.secret("default", "flood").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{}", e.message);
    assert!(
        e.message.contains("more than 64 MiB") && e.message.contains(&flood),
        "{}",
        e.message
    );
    assert!(start.elapsed() < Duration::from_secs(30));

    let html = hostile_api_server(
        &rig,
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 27\r\n\r\n",
        |w| {
            let _ = w.write_all(b"<html>captive portal</html>");
        },
    );
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let kube = KubeClient::connect(&opts(hostile_kubeconfig(&rig, &other, &html)), None).unwrap();
    let e = kube.secret("default", "x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{}", e.message);
    assert!(
        e.message.contains("not a Kubernetes object") && e.message.contains("Secret default/x"),
        "{}",
        e.message
    );
}

/// No kubeconfig anywhere and `KUBERNETES_SERVICE_HOST` set: the pod's service account is
/// what is used (here it is missing, so the error names where it should be). A successful
/// in-cluster connection needs the fixed, root-owned /var/run/secrets/kubernetes.io path;
/// see docs/decisions/0010-kube-rs.md.
#[test]
fn in_a_pod_without_a_kubeconfig_the_service_account_is_used() {
    if std::env::var_os(CHILD).is_some() {
        let e = KubeClient::connect(&KubeOptions::default(), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
        assert!(
            e.message
                .contains("/var/run/secrets/kubernetes.io/serviceaccount")
                && e.message.contains("KUBERNETES_SERVICE_HOST"),
            "{}",
            e.message
        );
        return;
    }
    let rig = rig();
    assert!(
        !Path::new("/var/run/secrets/kubernetes.io/serviceaccount").exists(),
        "this test runs outside a pod"
    );
    let home = tempfile::tempdir().unwrap();
    let url = rig["KUBE_URL"].trim_start_matches("https://").to_string();
    let (host, port) = url.rsplit_once(':').unwrap();
    in_child(
        "in_a_pod_without_a_kubeconfig_the_service_account_is_used",
        &[
            ("HOME", home.path().as_os_str()),
            ("KUBERNETES_SERVICE_HOST", host.as_ref()),
            ("KUBERNETES_SERVICE_PORT", port.as_ref()),
        ],
        &["KUBECONFIG"],
    );
}
