//! End-to-end registry and trust tests against the rig's real peers (tests/rig/up):
//! the TLS Distribution registry with htpasswd, the plain-HTTP one, and Gitea behind nginx.
//! They fail (never skip) when the rig is down, naming the peer.
//!
//! Every line idpkit prints in this suite is checked for the rig's passwords and tokens.

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const WRONG_PASSWORD: &str = "wrong-pw-7f3a9c1e55";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The rig's endpoints and credentials; panics naming the peer when it is not up.
fn rig(peers: &[&str]) -> HashMap<String, String> {
    let dir = std::env::var_os("IDPKIT_RIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".rig"));
    let file = dir.join("rig.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "the test rig is not up ({}: {e}); start it with tests/rig/up (needed: {})",
            file.display(),
            peers.join(", ")
        )
    });
    let mut env = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("export IDPKIT_RIG_") {
            if let Some((k, v)) = rest.split_once('=') {
                env.insert(k.to_string(), v.trim_matches('\'').to_string());
            }
        }
    }
    for peer in peers {
        let addr = match *peer {
            "registry-tls" => env["REGISTRY_TLS"].clone(),
            "registry-plain" => env["REGISTRY_PLAIN"].clone(),
            "nginx" | "gitea" => "127.0.0.1:38443".to_string(),
            "kube-apiserver" => env["KUBE_URL"].trim_start_matches("https://").to_string(),
            other => panic!("unknown rig peer {other}"),
        };
        let ok = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok());
        assert!(
            ok,
            "rig peer {peer} is not reachable at {addr}; start the rig with tests/rig/up"
        );
    }
    env
}

fn secrets(env: &HashMap<String, String>) -> Vec<String> {
    let mut s: Vec<String> = [
        "REGISTRY_PASSWORD",
        "GITEA_PASSWORD",
        "GITEA_TOKEN",
        "KUBE_TOKEN",
    ]
    .iter()
    .filter_map(|k| env.get(*k).cloned())
    .filter(|v| !v.is_empty())
    .collect();
    s.push(WRONG_PASSWORD.to_string());
    s
}

/// An isolated idpkit environment: its own HOME, config, Docker config, certs.d and store.
struct Env {
    dir: tempfile::TempDir,
    secrets: Vec<String>,
}

impl Env {
    fn new(rig: &HashMap<String, String>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env {
            dir,
            secrets: secrets(rig),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn cmd(&self, store: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_idpkit"));
        c.env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("DOCKER_CONFIG", self.path("docker"))
            .env("IDPKIT_CERTS_D", "")
            .env("IDPKIT_STORE", self.path(store))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("IDPKIT_REGISTRY_USERNAME")
            .env_remove("IDPKIT_REGISTRY_PASSWORD")
            .env_remove("IDPKIT_REGISTRY_TOKEN")
            .stdin(Stdio::null());
        c
    }

    /// Runs idpkit and checks its whole output for secrets.
    fn run(&self, mut c: Command, stdin: Option<&str>) -> Output {
        let out = if let Some(input) = stdin {
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().expect("run idpkit");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        } else {
            c.output().expect("run idpkit")
        };
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for s in &self.secrets {
            assert!(
                !all.contains(s.as_str()),
                "a secret leaked into idpkit's output: {c:?}"
            );
        }
        out
    }

    fn ok(&self, c: Command, stdin: Option<&str>) -> String {
        let dbg = format!("{c:?}");
        let out = self.run(c, stdin);
        assert!(
            out.status.success(),
            "{dbg} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn fails(&self, c: Command, stdin: Option<&str>) -> String {
        let dbg = format!("{c:?}");
        let out = self.run(c, stdin);
        assert!(!out.status.success(), "{dbg} should have failed");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// Builds an image from a fresh context (random content, so blobs are new) and tags it.
    fn build(&self, tag: &str, big: usize) {
        let ctx = self.path("ctx");
        std::fs::create_dir_all(ctx.join("app")).unwrap();
        std::fs::write(ctx.join("app/hello.txt"), format!("hello {tag}\n")).unwrap();
        let mut data = vec![0u8; big];
        let mut x: u64 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            ^ std::process::id() as u64;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        std::fs::write(ctx.join("app/random.bin"), &data).unwrap();
        let mut c = self.cmd("store");
        c.args(["build", "-t", tag]).arg(&ctx);
        self.ok(c, None);
    }
}

/// The rig's plain registry, a test environment and an image built for it (not pushed):
/// `{registry}/idpkit-test/{prefix}...:{tag}` with `size` random bytes.
fn built_on_plain_registry(
    prefix: &str,
    tag: &str,
    size: usize,
) -> (HashMap<String, String>, Env, String) {
    let rig = rig(&["registry-plain"]);
    let env = Env::new(&rig);
    let image = format!(
        "{}/idpkit-test/{}:{tag}",
        rig["REGISTRY_PLAIN"],
        unique(prefix)
    );
    env.build(&image, size);
    (rig, env, image)
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{}", std::process::id(), n % 1_000_000_000)
}

/// `skopeo inspect ARGS… docker://IMAGE`'s standard output (the test fails when skopeo does).
fn skopeo_inspect(args: &[&str], image: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .arg("inspect")
        .args(args)
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo is installed (tests/rig/up installs it)");
    assert!(
        out.status.success(),
        "skopeo inspect {args:?} {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn skopeo_digest(args: &[&str], image: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&skopeo_inspect(args, image)).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

/// `skopeo inspect --raw`: the manifest or index bytes exactly as the registry serves them.
fn skopeo_raw(args: &[&str], image: &str) -> Vec<u8> {
    skopeo_inspect(&[&["--raw"], args].concat(), image)
}

fn json_field(out: &str, field: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    match &v[field] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every blob of the pulled store exists, byte for byte, in the source store.
fn assert_same_blobs(src: &Path, dst: &Path) {
    let dir = dst.join("blobs/sha256");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let theirs = std::fs::read(e.path()).unwrap();
        let ours =
            std::fs::read(src.join("blobs/sha256").join(e.file_name())).unwrap_or_else(|_| {
                panic!("pulled blob {:?} is not in the source store", e.file_name())
            });
        assert_eq!(theirs, ours);
        n += 1;
    }
    assert!(n >= 3, "expected manifest, config and layer, got {n} blobs");
}

fn roundtrip(
    env: &Env,
    image: &str,
    push_args: &[&str],
    pull_args: &[&str],
    stdin_env: &[(&str, &str)],
    skopeo_args: &[&str],
) {
    let mut c = env.cmd("store");
    c.args(["--json", "push", image]).args(push_args);
    for (k, v) in stdin_env {
        c.env(k, v);
    }
    let out = env.ok(c, None);
    let digest = json_field(&out, "digest");
    assert!(digest.starts_with("sha256:"), "{out}");
    assert_eq!(json_field(&out, "unchanged"), "false");
    assert_eq!(
        skopeo_digest(skopeo_args, image),
        digest,
        "skopeo sees another digest"
    );

    // Unchanged re-push: nothing uploaded.
    let mut c = env.cmd("store");
    c.args(["--json", "push", image]).args(push_args);
    for (k, v) in stdin_env {
        c.env(k, v);
    }
    let again = env.ok(c, None);
    assert_eq!(json_field(&again, "unchanged"), "true", "{again}");

    // Pull into an empty store: identical blobs, same digest.
    let mut c = env.cmd("pulled");
    c.args(["--json", "pull", image]).args(pull_args);
    for (k, v) in stdin_env {
        c.env(k, v);
    }
    let pulled = env.ok(c, None);
    assert_eq!(json_field(&pulled, "digest"), digest);
    assert_same_blobs(&env.path("store"), &env.path("pulled"));
}

#[test]
fn tls_registry_login_push_inspect_pull() {
    let rig = rig(&["registry-tls"]);
    let env = Env::new(&rig);
    let reg = &rig["REGISTRY_TLS"];
    let ca = rig["CA"].clone();
    let image = format!("{reg}/idpkit-test/{}:v1", unique("tls"));
    env.build(&image, 300_000);

    let mut c = env.cmd("store");
    c.args([
        "login",
        reg,
        "-u",
        &rig["REGISTRY_USER"],
        "--password-stdin",
        "--ca-file",
        &ca,
    ]);
    let out = env.ok(c, Some(&format!("{}\n", rig["REGISTRY_PASSWORD"])));
    assert!(out.contains("logged in"), "{out}");
    let cfg = std::fs::read_to_string(env.path("docker/config.json")).unwrap();
    assert!(
        cfg.contains(reg.as_str()) && cfg.contains("\"auth\""),
        "{cfg}"
    );

    let creds = format!("{}:{}", rig["REGISTRY_USER"], rig["REGISTRY_PASSWORD"]);
    roundtrip(
        &env,
        &image,
        &["--ca-file", &ca],
        &["--ca-file", &ca],
        &[],
        &["--cert-dir", &rig["CERT_DIR"], "--creds", &creds],
    );

    let mut c = env.cmd("store");
    let repo = image.rsplit_once(':').unwrap().0;
    c.args(["tags", repo, "--ca-file", &ca]);
    assert_eq!(env.ok(c, None), "v1");

    let mut c = env.cmd("store");
    c.args(["logout", reg]);
    assert!(env.ok(c, None).contains("removed"));
    let mut c = env.cmd("store");
    c.args(["push", &image, "--ca-file", &ca]);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[AUTH]") && err.contains(reg.as_str()),
        "{err}"
    );
    // The advice is given once, with the registry to log in to.
    assert_eq!(err.matches("idpkit login").count(), 1, "{err}");
    assert!(err.contains(&format!("`idpkit login {reg}`")), "{err}");
}

#[test]
fn plain_http_registry_on_loopback() {
    let (_, env, image) = built_on_plain_registry("plain", "v1", 200_000);
    roundtrip(&env, &image, &[], &[], &[], &["--tls-verify=false"]);
    // The plain-HTTP fallback is audited.
    let mut c = env.cmd("store");
    c.args(["--json", "push", &image]);
    let out = env.run(c, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("insecure_connection") && err.contains("plain HTTP"),
        "{err}"
    );
}

#[test]
fn gitea_push_chunked_with_token_and_trust_add() {
    let rig = rig(&["nginx", "gitea"]);
    let env = Env::new(&rig);
    let reg = &rig["GITEA_REGISTRY"];
    let image = format!("{reg}/giteaadmin/{}:v1", unique("gitea"));
    env.build(&image, 3 << 20);

    // Before trusting it: UNTRUSTED, naming the host, what it serves (idpbuilder's one
    // self-signed CA certificate as its own) and how to trust exactly that certificate.
    let mut c = env.cmd("store");
    c.args(["push", &image]);
    let err = env.fails(c, None);
    assert!(err.contains("error[UNTRUSTED]"), "{err}");
    assert!(
        err.contains(reg.as_str())
            && err.contains("self-signed CA certificate served as the host's own")
            && err.contains("idpkit trust add")
            && !err.contains("the CA that signed it"),
        "{err}"
    );

    // The rig's other CA is no help: the certificate is trusted only as itself.
    let mut c = env.cmd("store");
    c.args(["push", &image, "--ca-file", &rig["CA"]]);
    let err = env.fails(c, None);
    assert!(err.contains("error[UNTRUSTED]"), "{err}");

    let mut c = env.cmd("store");
    c.args(["trust", "add", reg, &rig["GITEA_CA"]]);
    env.ok(c, None);
    let mut c = env.cmd("store");
    c.args(["trust", "check", reg]);
    let out = env.ok(c, None);
    assert!(
        out.contains("verdict: trusted") && out.contains("one of your trust anchors"),
        "{out}"
    );
    let creds = [
        ("IDPKIT_REGISTRY_USERNAME", rig["GITEA_USER"].as_str()),
        ("IDPKIT_REGISTRY_PASSWORD", rig["GITEA_TOKEN"].as_str()),
    ];
    let skopeo_creds = format!("{}:{}", rig["GITEA_USER"], rig["GITEA_PASSWORD"]);
    roundtrip(
        &env,
        &image,
        &["--monolithic-max", "1048576", "--chunk-size", "1048576"],
        &[],
        &creds,
        &[
            "--cert-dir",
            &rig["GITEA_CERT_DIR"],
            "--creds",
            &skopeo_creds,
        ],
    );
    // The 3 MiB layer really went up in 1 MiB PATCHes: nginx (idpbuilder's ingress in the
    // rig) logged each request to Gitea.
    let repo_path = image
        .split_once('/')
        .map(|(_, r)| r.trim_end_matches(":v1"))
        .unwrap();
    let access =
        std::fs::read_to_string(PathBuf::from(&rig["DIR"]).join("logs/nginx-access.log")).unwrap();
    let patches = access
        .lines()
        .filter(|l| l.contains(&format!("\"PATCH /v2/{repo_path}/blobs/uploads/")))
        .count();
    assert!(patches >= 3, "{patches} PATCH requests for {repo_path}");

    // Wrong password: AUTH, naming registry and user, never the password.
    let mut c = env.cmd("store");
    c.args(["push", &image])
        .env("IDPKIT_REGISTRY_USERNAME", &rig["GITEA_USER"])
        .env("IDPKIT_REGISTRY_PASSWORD", WRONG_PASSWORD);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[AUTH]") && err.contains(reg.as_str()),
        "{err}"
    );
    assert!(err.contains(rig["GITEA_USER"].as_str()), "{err}");
}

#[test]
fn wrong_password_is_an_auth_error_naming_registry_and_user() {
    let rig = rig(&["registry-tls"]);
    let env = Env::new(&rig);
    let reg = &rig["REGISTRY_TLS"];
    let mut c = env.cmd("store");
    c.args([
        "login",
        reg,
        "-u",
        &rig["REGISTRY_USER"],
        "--password-stdin",
        "--ca-file",
        &rig["CA"],
    ]);
    let err = env.fails(c, Some(WRONG_PASSWORD));
    assert!(err.contains("error[AUTH]"), "{err}");
    assert!(
        err.contains(reg.as_str()) && err.contains(&format!("user {}", rig["REGISTRY_USER"])),
        "{err}"
    );
    assert!(
        !env.path("docker/config.json").exists(),
        "a failed login stored credentials"
    );
}

#[test]
fn unknown_ca_expired_and_wrong_host_are_untrusted_with_the_fix() {
    let rig = rig(&["registry-tls", "nginx"]);
    let env = Env::new(&rig);
    let reg = &rig["REGISTRY_TLS"];
    let ca = rig["CA"].clone();

    // Unknown CA on push.
    let image = format!("{reg}/idpkit-test/{}:v1", unique("ca"));
    env.build(&image, 1000);
    let mut c = env.cmd("store");
    c.args(["push", &image]);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[UNTRUSTED]") && err.contains(reg.as_str()),
        "{err}"
    );
    assert!(
        err.contains("unknown certificate authority") || err.contains("self-signed"),
        "{err}"
    );
    assert!(
        err.contains(&format!("idpkit trust add {reg}")) && err.contains("--ca-file"),
        "{err}"
    );

    // trust check: the trusted registry prints its chain.
    let mut c = env.cmd("store");
    c.args(["trust", "check", reg, "--ca-file", &ca]);
    let out = env.ok(c, None);
    assert!(
        out.contains("subject:") && out.contains("verdict: trusted"),
        "{out}"
    );

    // Expired and wrong-host endpoints, classified.
    for (port, verdict, words) in [
        ("38444", "expired", "expired on"),
        ("38445", "wrong_host", "wrong-host.invalid"),
    ] {
        let host = format!("127.0.0.1:{port}");
        let mut c = env.cmd("store");
        c.args(["--json", "trust", "check", &host, "--ca-file", &ca]);
        let out = env.run(c, None);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success());
        assert_eq!(
            json_field(&stdout, "verdict").trim_matches('"'),
            verdict,
            "{stdout}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("UNTRUSTED") && err.contains(words), "{err}");

        let image = format!("{host}/idpkit-test/x:v1");
        let mut c = env.cmd("store");
        c.args(["tags", "--ca-file", &ca, &format!("{host}/idpkit-test/x")]);
        let err = env.fails(c, None);
        assert!(
            err.contains("error[UNTRUSTED]") && err.contains(words),
            "{image}: {err}"
        );
    }

    // --insecure for that host only: the expired endpoint is reached (nginx is no registry,
    // so the error is not about trust), and the audit event is printed.
    let mut c = env.cmd("store");
    c.args([
        "tags",
        "--insecure",
        "127.0.0.1:38444",
        "127.0.0.1:38444/idpkit-test/x",
    ]);
    let err = env.fails(c, None);
    assert!(
        !err.contains("UNTRUSTED") && err.contains("INSECURE 127.0.0.1:38444"),
        "{err}"
    );

    // The mark covers that host:port only: another port of the same host (the wrong-host
    // endpoint) is still verified, and no audit line names it.
    let mut c = env.cmd("store");
    c.args([
        "tags",
        "--insecure",
        "127.0.0.1:38444",
        "127.0.0.1:38445/idpkit-test/x",
    ]);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[UNTRUSTED]") && !err.contains("INSECURE"),
        "{err}"
    );

    // Every use is audited, with the exact host:port: two calls, two audit lines.
    for _ in 0..2 {
        let mut c = env.cmd("store");
        c.args([
            "tags",
            "--insecure",
            "127.0.0.1:38444",
            "127.0.0.1:38444/idpkit-test/x",
        ]);
        let err = env.fails(c, None);
        assert!(
            err.matches("INSECURE 127.0.0.1:38444").count() >= 1,
            "{err}"
        );
    }
}

#[test]
fn cluster_ca_and_gitea_login_from_the_kube_apiserver() {
    let rig = rig(&["kube-apiserver", "nginx", "gitea"]);
    let env = Env::new(&rig);
    let reg = &rig["GITEA_REGISTRY"];
    let kubeconfig = rig["KUBECONFIG"].clone();
    let image = format!("{reg}/giteaadmin/{}:v1", unique("cluster"));
    env.build(&image, 50_000);

    let mut c = env.cmd("store");
    c.args([
        "--json",
        "trust",
        "extract",
        "--kubeconfig",
        &kubeconfig,
        "--host",
        reg,
    ]);
    let out = env.ok(c, None);
    assert_eq!(
        json_field(&out, "source"),
        "default/idpbuilder-cert ca.crt",
        "{out}"
    );
    // Exactly the certificate Gitea serves, as idpbuilder stores it.
    let installed = env.path(&format!("config/idpkit/certs.d/{reg}/ca.crt"));
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&rig["GITEA_CA"]).unwrap()
    );
    // git over HTTPS to the same Gitea trusts the extracted certificate too (what the GitOps
    // and sandbox clones will rely on).
    let git = Command::new("git")
        .args(["ls-remote", &rig["GITEA_GIT_URL"], "refs/heads/main"])
        .env("GIT_SSL_CAINFO", &installed)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("HOME", env.path("home"))
        .output()
        .unwrap();
    assert!(
        git.status.success() && String::from_utf8_lossy(&git.stdout).contains("refs/heads/main"),
        "git ls-remote with the extracted certificate: {}",
        String::from_utf8_lossy(&git.stderr)
    );

    let mut c = env.cmd("store");
    c.args(["login", reg, "--from-cluster", "--kubeconfig", &kubeconfig]);
    let out = env.ok(c, None);
    assert!(
        out.contains("logged in") && out.contains(rig["GITEA_USER"].as_str()),
        "{out}"
    );

    // No --ca-file, no credentials in the environment: both came from the cluster.
    let mut c = env.cmd("store");
    c.args(["--json", "push", &image]);
    let out = env.ok(c, None);
    let digest = json_field(&out, "digest");
    assert!(digest.starts_with("sha256:"), "{out}");

    // pull, tags, copy and delete through the same trust and login.
    let mut c = env.cmd("pulled");
    c.args(["--json", "pull", &image]);
    assert_eq!(json_field(&env.ok(c, None), "digest"), digest);
    let repo = image.trim_end_matches(":v1").to_string();
    let copy = format!("{repo}:v2");
    let mut c = env.cmd("store");
    c.args(["--json", "copy", &image, &copy]);
    assert_eq!(json_field(&env.ok(c, None), "digest"), digest);
    let mut c = env.cmd("store");
    c.args(["tags", &repo]);
    let mut tags: Vec<String> = env.ok(c, None).lines().map(String::from).collect();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    // v1 and v2 are one manifest: deleting v2 would delete v1 too, so it is refused,
    // naming v1, unless --force.
    let mut c = env.cmd("store");
    c.args(["delete", &copy]);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[CONFLICT]") && err.contains("v1") && err.contains("--force"),
        "{err}"
    );
    let mut c = env.cmd("store");
    c.args(["tags", &repo]);
    assert_eq!(env.ok(c, None).lines().count(), 2, "nothing was deleted");
    let mut c = env.cmd("store");
    c.args(["delete", "--force", &copy]);
    let out = env.ok(c, None);
    assert!(out.contains(&digest), "{out}");
    let mut c = env.cmd("other");
    c.args(["pull", &copy]);
    let err = env.fails(c, None);
    assert!(err.contains("error[NOT_FOUND]"), "{err}");

    // A kubeconfig context that does not exist is named.
    let mut c = env.cmd("store");
    c.args([
        "trust",
        "extract",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        "nope",
    ]);
    let err = env.fails(c, None);
    assert!(err.contains("\"nope\""), "{err}");
}

#[test]
fn credential_helper_and_registry_auth_file() {
    let rig = rig(&["registry-tls"]);
    let env = Env::new(&rig);
    let reg = &rig["REGISTRY_TLS"];
    let ca = rig["CA"].clone();
    let image = format!("{reg}/idpkit-test/{}:v1", unique("helper"));
    env.build(&image, 10_000);

    // credHelpers: docker-credential-idpkittest answers for this registry only.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-idpkittest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread host\n[ \"$host\" = \"{reg}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}}' \"$host\" '{}' '{}'\n",
            rig["REGISTRY_USER"], rig["REGISTRY_PASSWORD"]
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(env.path("docker")).unwrap();
    std::fs::write(
        env.path("docker/config.json"),
        format!(r#"{{"credHelpers": {{"{reg}": "idpkittest"}}}}"#),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = env.cmd("store");
    c.args(["--json", "push", &image, "--ca-file", &ca])
        .env("PATH", &path);
    let out = env.ok(c, None);
    assert!(json_field(&out, "digest").starts_with("sha256:"), "{out}");

    // REGISTRY_AUTH_FILE comes first: its (wrong) password is used, and named as the source.
    let b64 = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            ch.stdin
                .take()
                .unwrap()
                .write_all(format!("{}:{WRONG_PASSWORD}", rig["REGISTRY_USER"]).as_bytes())?;
            ch.wait_with_output()
        })
        .unwrap();
    let auth_file = env.path("auth.json");
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths": {{"{reg}": {{"auth": "{}"}}}}}}"#,
            String::from_utf8_lossy(&b64.stdout).trim()
        ),
    )
    .unwrap();
    let mut c = env.cmd("store");
    c.args(["push", &image, "--ca-file", &ca])
        .env("PATH", &path)
        .env("REGISTRY_AUTH_FILE", &auth_file);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[AUTH]") && err.contains("auth.json"),
        "{err}"
    );
}

#[test]
fn copy_mounts_within_a_registry_and_streams_across_registries() {
    let rig = rig(&["registry-plain", "registry-tls"]);
    let env = Env::new(&rig);
    let plain = &rig["REGISTRY_PLAIN"];
    let tls = &rig["REGISTRY_TLS"];
    let a = format!("{plain}/idpkit-test/{}", unique("copya"));
    let b = format!("{plain}/idpkit-test/{}", unique("copyb"));
    env.build(&format!("{a}:v1"), 20_000);
    let mut c = env.cmd("store");
    c.args(["--json", "push", &format!("{a}:v1")]);
    let digest = json_field(&env.ok(c, None), "digest");

    // Another repository of the same registry: blobs are mounted, not uploaded.
    let mut c = env.cmd("store");
    c.args(["--json", "copy", &format!("{a}:v1"), &format!("{b}:v2")]);
    let out = env.ok(c, None);
    assert_eq!(json_field(&out, "digest"), digest);
    assert_eq!(json_field(&out, "blobs_mounted"), "2", "{out}");
    assert_eq!(json_field(&out, "blobs_uploaded"), "0", "{out}");

    // Re-tag in place: nothing but the manifest moves.
    let mut c = env.cmd("store");
    c.args(["--json", "copy", &format!("{b}:v2"), &format!("{b}:v3")]);
    let out = env.ok(c, None);
    assert_eq!(json_field(&out, "blobs_skipped"), "2", "{out}");
    let mut c = env.cmd("store");
    c.args(["tags", &b]);
    assert_eq!(env.ok(c, None), "v2\nv3");
    assert_eq!(
        skopeo_digest(&["--tls-verify=false"], &format!("{b}:v3")),
        digest
    );

    // Across registries (plain HTTP -> TLS with basic auth).
    let dst = format!("{tls}/idpkit-test/{}:v1", unique("copyx"));
    let mut c = env.cmd("store");
    c.args([
        "--json",
        "copy",
        &format!("{a}:v1"),
        &dst,
        "--ca-file",
        &rig["CA"],
    ])
    .env("IDPKIT_REGISTRY_USERNAME", &rig["REGISTRY_USER"])
    .env("IDPKIT_REGISTRY_PASSWORD", &rig["REGISTRY_PASSWORD"]);
    let out = env.ok(c, None);
    assert_eq!(json_field(&out, "digest"), digest, "{out}");
    let creds = format!("{}:{}", rig["REGISTRY_USER"], rig["REGISTRY_PASSWORD"]);
    assert_eq!(
        skopeo_digest(&["--cert-dir", &rig["CERT_DIR"], "--creds", &creds], &dst),
        digest
    );
}

#[test]
fn copy_and_pull_take_every_platform_of_an_index_when_asked() {
    let rig = rig(&["registry-plain", "registry-tls"]);
    let env = Env::new(&rig);
    let plain = &rig["REGISTRY_PLAIN"];
    let repo = format!("{plain}/idpkit-test/{}", unique("multi"));
    // Two images of two platforms, pushed by tag, and an index of both PUT as buildx does.
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let ctx = env.path(&format!("ctx-{arch}"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("arch"), arch).unwrap();
        let tag = format!("{repo}:{arch}");
        let mut c = env.cmd("store");
        c.args(["build", "--platform", &format!("linux/{arch}"), "-t", &tag])
            .arg(&ctx);
        env.ok(c, None);
        let mut c = env.cmd("store");
        c.args(["--json", "push", &tag]);
        let digest = json_field(&env.ok(c, None), "digest");
        let size = skopeo_raw(&["--tls-verify=false"], &tag).len();
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"os": "linux", "architecture": arch}}));
    }
    let index = serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let path = repo.split_once('/').unwrap().1;
    let mut put = Command::new("curl");
    put.args(["-fsS", "-X", "PUT", "-H"])
        .arg("Content-Type: application/vnd.oci.image.index.v1+json")
        .args(["--data-binary", &index.to_string()])
        .arg(format!("http://{plain}/v2/{path}/manifests/multi"));
    assert!(put.status().unwrap().success(), "PUT of the index");
    let multi = format!("{repo}:multi");
    let index_bytes = skopeo_raw(&["--tls-verify=false"], &multi);

    // inspect --remote shows the index, typed, beside the chosen platform's manifest.
    let mut c = env.cmd("empty-store");
    c.args([
        "--json",
        "inspect",
        "--remote",
        &multi,
        "--platform",
        "linux/arm64",
    ]);
    let seen: serde_json::Value = serde_json::from_str(&env.ok(c, None)).unwrap();
    assert_eq!(seen["index"]["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(seen["config"]["architecture"], "arm64");
    assert_eq!(
        seen["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    let index_digest = seen["index_digest"].as_str().unwrap().to_string();

    // Across registries, --all-platforms: skopeo reads the same index bytes at the
    // destination, and each platform's manifest.
    let creds = format!("{}:{}", rig["REGISTRY_USER"], rig["REGISTRY_PASSWORD"]);
    let tls_args = [
        "--cert-dir",
        rig["CERT_DIR"].as_str(),
        "--creds",
        creds.as_str(),
    ];
    let dst = format!("{}/idpkit-test/{}", rig["REGISTRY_TLS"], unique("multix"));
    let copy = |flags: &[&str], tag: &str| {
        let mut c = env.cmd("store");
        c.args([
            "--json",
            "copy",
            &multi,
            &format!("{dst}:{tag}"),
            "--ca-file",
            &rig["CA"],
        ])
        .args(flags)
        .env("IDPKIT_REGISTRY_USERNAME", &rig["REGISTRY_USER"])
        .env("IDPKIT_REGISTRY_PASSWORD", &rig["REGISTRY_PASSWORD"]);
        json_field(&env.ok(c, None), "digest")
    };
    assert_eq!(copy(&["--all-platforms"], "all"), index_digest);
    assert_eq!(skopeo_raw(&tls_args, &format!("{dst}:all")), index_bytes);
    for m in &manifests {
        let child = format!("{dst}@{}", m["digest"].as_str().unwrap());
        assert_eq!(skopeo_digest(&tls_args, &child), m["digest"]);
    }
    // Without it: one platform, as its own manifest.
    let one = copy(&["--platform", "linux/arm64"], "one");
    assert_eq!(one, manifests[1]["digest"].as_str().unwrap());
    // --platform and --all-platforms together are a usage error.
    let mut c = env.cmd("store");
    c.args([
        "copy",
        &multi,
        &format!("{dst}:x"),
        "--all-platforms",
        "--platform",
        "linux/arm64",
    ]);
    assert!(env.fails(c, None).contains("--all-platforms"));

    // pull --all-platforms keeps the index in the store; push carries every platform again.
    let mut c = env.cmd("pulled");
    c.args(["--json", "pull", "--all-platforms", &multi]);
    assert_eq!(json_field(&env.ok(c, None), "digest"), index_digest);
    let mut c = env.cmd("pulled");
    c.args(["--json", "images"]);
    let images: serde_json::Value = serde_json::from_str(&env.ok(c, None)).unwrap();
    assert_eq!(
        images[0]["media_type"],
        "application/vnd.oci.image.index.v1+json"
    );
    let again = format!("{repo}:again");
    let mut c = env.cmd("pulled");
    c.args(["--json", "push", &multi, &again]);
    assert_eq!(json_field(&env.ok(c, None), "digest"), index_digest);
    assert_eq!(skopeo_raw(&["--tls-verify=false"], &again), index_bytes);
}

#[test]
fn build_from_a_remote_base_pulls_it_first() {
    let (rig, env, base) = built_on_plain_registry("frombase", "base", 10_000);
    let reg = &rig["REGISTRY_PLAIN"];
    let mut c = env.cmd("store");
    c.args(["push", &base]);
    env.ok(c, None);

    // A fresh store has no base image: build pulls it, then appends the new layer.
    let ctx = env.path("app-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("app.txt"), b"on top\n").unwrap();
    let mut c = env.cmd("fresh-store");
    c.args(["build", "--from", &base, "-t", "localhost/on-remote:1"])
        .arg(&ctx);
    env.ok(c, None);
    let mut c = env.cmd("fresh-store");
    c.args(["--json", "inspect", "localhost/on-remote:1"]);
    let info: serde_json::Value = serde_json::from_str(&env.ok(c, None)).unwrap();
    assert_eq!(info["manifest"]["layers"].as_array().unwrap().len(), 2);
    let mut c = env.cmd("fresh-store");
    c.args(["--json", "images"]);
    let images = env.ok(c, None);
    assert!(
        images.contains(&base),
        "the pulled base is in the store: {images}"
    );

    // A base that is neither in the store nor in the registry names what was tried.
    let missing = format!("{reg}/idpkit-test/{}:none", unique("nobase"));
    let mut c = env.cmd("fresh-store");
    c.args(["build", "--from", &missing, "-t", "localhost/x:1"])
        .arg(&ctx);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[NOT_FOUND]") && err.contains(&missing) && err.contains("pulling"),
        "{err}"
    );
}

#[test]
fn a_terminal_shows_one_bar_per_blob_and_the_audit_line() {
    let (_, env, image) = built_on_plain_registry("tty", "tty", 3_000_000);
    let mut c = env.cmd("store");
    c.args(["--json", "inspect", &image]);
    let info: serde_json::Value = serde_json::from_str(&env.ok(c, None)).unwrap();
    let layer = info["manifest"]["layers"][0]["digest"].as_str().unwrap();
    let short = &layer["sha256:".len().."sha256:".len() + 12];
    let config = info["manifest"]["config"]["digest"].as_str().unwrap();
    let config_short = &config["sha256:".len().."sha256:".len() + 12];

    // `script` (util-linux) gives idpkit a pseudo-terminal, as a person's shell would.
    let typescript = env.path("typescript");
    let command = format!(
        "{} --store {} push {image}",
        env!("CARGO_BIN_EXE_idpkit"),
        env.path("store").display()
    );
    let mut c = env.cmd("store");
    c.env_remove("IDPKIT_STORE");
    let mut script = Command::new("script");
    script.envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    script.args(["-qec", &command]).arg(&typescript);
    let out = env.run(script, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let screen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(
        screen.contains(short),
        "a bar names the layer {short}: {screen}"
    );
    assert!(screen.contains("done"), "{screen}");
    // One bar per blob, each drawn as `<12 hex> [====]`: exactly the config's and the layer's.
    let bytes = screen.as_bytes();
    let mut bars: Vec<&str> = (12..bytes.len().saturating_sub(1))
        .filter(|&i| bytes[i] == b' ' && bytes[i + 1] == b'[')
        .filter(|&i| bytes[i - 12..i].iter().all(|b| b.is_ascii_hexdigit()))
        .map(|i| &screen[i - 12..i])
        .collect();
    bars.sort_unstable();
    bars.dedup();
    let mut want = vec![config_short, short];
    want.sort_unstable();
    assert_eq!(bars, want, "one bar per blob: {screen}");
    assert!(
        screen.contains("INSECURE") && screen.contains("plain HTTP"),
        "{screen}"
    );
}

#[test]
fn trust_extract_and_login_with_a_client_certificate_kubeconfig() {
    // kind and idpbuilder write kubeconfigs with an embedded client certificate.
    let rig = rig(&["kube-apiserver", "nginx", "gitea"]);
    let env = Env::new(&rig);
    let reg = &rig["GITEA_REGISTRY"];
    let kubeconfig = rig["KUBECONFIG_CERT"].clone();
    let mut c = env.cmd("store");
    c.args([
        "trust",
        "extract",
        "--kubeconfig",
        &kubeconfig,
        "--host",
        reg,
    ]);
    env.ok(c, None);
    let installed = env.path(&format!("config/idpkit/certs.d/{reg}/ca.crt"));
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&rig["GITEA_CA"]).unwrap()
    );
    let mut c = env.cmd("store");
    c.args(["login", reg, "--from-cluster", "--kubeconfig", &kubeconfig]);
    let out = env.ok(c, None);
    assert!(
        out.contains("logged in") && out.contains(rig["GITEA_USER"].as_str()),
        "{out}"
    );
}

#[test]
fn inspect_remote_reads_the_registry_and_pulls_nothing() {
    let (rig, env, image) = built_on_plain_registry("remoteinspect", "insp", 20_000);
    let mut c = env.cmd("store");
    c.args(["push", &image]);
    env.ok(c, None);
    let mut c = env.cmd("store");
    c.args(["--json", "inspect", &image]);
    let local: serde_json::Value = serde_json::from_str(&env.ok(c, None)).unwrap();

    // A store that never saw the image reads it from the registry; nothing lands in it.
    let mut c = env.cmd("empty-store");
    c.args(["--json", "inspect", "--remote", &image]);
    let remote: serde_json::Value = serde_json::from_str(&env.ok(c, None)).unwrap();
    assert_eq!(remote["digest"], local["digest"]);
    assert_eq!(remote["manifest"], local["manifest"]);
    assert_eq!(remote["config"], local["config"]);
    let mut c = env.cmd("empty-store");
    c.args(["--json", "images"]);
    assert_eq!(env.ok(c, None).trim(), "[]");

    // A tag the registry does not have is NOT_FOUND, naming it.
    let missing = format!(
        "{}/idpkit-test/{}:none",
        rig["REGISTRY_PLAIN"],
        unique("noinsp")
    );
    let mut c = env.cmd("empty-store");
    c.args(["inspect", "--remote", &missing]);
    let err = env.fails(c, None);
    assert!(
        err.contains("error[NOT_FOUND]") && err.contains("does not exist"),
        "{err}"
    );
    // --platform only with --remote.
    let mut c = env.cmd("empty-store");
    c.args(["inspect", "--platform", "linux/arm64", &image]);
    let err = env.fails(c, None);
    assert!(
        err.contains("--remote") && err.contains("required"),
        "--platform without --remote: {err}"
    );
}

/// The exit code of a failed run, and its stderr.
fn exit_code(env: &Env, c: Command, stdin: Option<&str>) -> (Option<i32>, String) {
    let out = env.run(c, stdin);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn per_command_credentials_from_stdin_and_files_with_no_stored_login() {
    let rig = rig(&["registry-tls"]);
    let env = Env::new(&rig);
    let reg = &rig["REGISTRY_TLS"];
    let (user, password) = (&rig["REGISTRY_USER"], &rig["REGISTRY_PASSWORD"]);
    let repo = format!("{reg}/idpkit-test/{}", unique("creds"));
    let image = format!("{repo}:v1");
    env.build(&image, 50_000);
    // Trust through a certs.d root given on the command line (HOST:PORT/ca.crt, as
    // containers' certs.d), with the system's roots left out: the rig's CA is the only anchor.
    let certs_d = env.path("my-certs.d");
    std::fs::create_dir_all(certs_d.join(reg)).unwrap();
    std::fs::copy(&rig["CA"], certs_d.join(reg).join("ca.crt")).unwrap();
    let trust = [
        "--certs-d",
        certs_d.to_str().unwrap(),
        "--no-platform-roots",
    ];
    let stdin_pw = format!("{password}\n");
    let creds_file = env.path("rig.creds");
    std::fs::write(&creds_file, format!("{user}:{password}\n")).unwrap();
    let file = creds_file.to_str().unwrap();

    // Nobody logged in: AUTH, exit 4, naming the registry.
    let mut c = env.cmd("store");
    c.args(["push", &image]).args(trust);
    let (code, err) = exit_code(&env, c, None);
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("error[AUTH]") && err.contains(reg.as_str()),
        "{err}"
    );

    // push with --username/--password-stdin.
    let mut c = env.cmd("store");
    c.args([
        "--json",
        "push",
        &image,
        "--username",
        user,
        "--password-stdin",
    ])
    .args(trust);
    let digest = json_field(&env.ok(c, Some(&stdin_pw)), "digest");
    assert!(digest.starts_with("sha256:"));

    // tags, catalog, inspect --remote and pull with a credentials file.
    let mut c = env.cmd("store");
    c.args(["tags", &repo, "--creds-file", file]).args(trust);
    assert_eq!(env.ok(c, None), "v1");
    let mut c = env.cmd("store");
    c.args(["catalog", reg, "--creds-file", file]).args(trust);
    let repos = env.ok(c, None);
    assert!(
        repos.lines().any(|l| repo.ends_with(l)),
        "{repo} not in {repos}"
    );
    let mut c = env.cmd("empty");
    c.args([
        "--json",
        "inspect",
        "--remote",
        &image,
        "--creds-file",
        file,
    ])
    .args(trust);
    assert_eq!(json_field(&env.ok(c, None), "digest"), digest);
    let mut c = env.cmd("pulled");
    c.args([
        "--json",
        "pull",
        &image,
        "--username",
        user,
        "--password-stdin",
    ])
    .args(trust)
    .args(["--jobs", "2", "--attempts", "2", "--connect-timeout", "5"]);
    assert_eq!(json_field(&env.ok(c, Some(&stdin_pw)), "digest"), digest);
    assert_same_blobs(&env.path("store"), &env.path("pulled"));

    // Nothing of this was stored.
    assert!(!env.path("docker/config.json").exists());

    // A wrong password is AUTH, exit 4, naming the user and where the password came from.
    let mut c = env.cmd("store");
    c.args(["tags", &repo, "--username", user, "--password-stdin"])
        .args(trust);
    let (code, err) = exit_code(&env, c, Some(&format!("{WRONG_PASSWORD}\n")));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains(&format!("user {user}")) && err.contains("--password-stdin"),
        "{err}"
    );
    let bad_file = env.path("wrong.creds");
    std::fs::write(&bad_file, format!("{user}:{WRONG_PASSWORD}\n")).unwrap();
    let mut c = env.cmd("store");
    c.args(["pull", &image, "--creds-file"])
        .arg(&bad_file)
        .args(trust);
    let (code, err) = exit_code(&env, c, None);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("--creds-file"), "{err}");

    // Without the rig's certs.d (and no system roots) the registry is UNTRUSTED: exit 5.
    let empty_certs = env.path("no-certs.d");
    std::fs::create_dir_all(&empty_certs).unwrap();
    let mut c = env.cmd("store");
    c.args([
        "tags",
        &repo,
        "--creds-file",
        file,
        "--no-platform-roots",
        "--certs-d",
    ])
    .arg(&empty_certs);
    let (code, err) = exit_code(&env, c, None);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("error[UNTRUSTED]"), "{err}");

    // delete with credentials; then the tag is NOT_FOUND: exit 3.
    let mut c = env.cmd("store");
    c.args(["delete", &image, "--creds-file", file]).args(trust);
    assert!(env.ok(c, None).contains(&digest));
    let mut c = env.cmd("empty");
    c.args(["inspect", "--remote", &image, "--creds-file", file])
        .args(trust);
    let (code, err) = exit_code(&env, c, None);
    assert_eq!(code, Some(3), "{err}");
}

#[test]
fn token_stdin_and_copy_with_source_credentials() {
    let rig = rig(&["registry-tls", "nginx", "gitea"]);
    let env = Env::new(&rig);
    let mut secrets = env.secrets.clone();
    secrets.push(rig["GITEA_REGISTRY_TOKEN"].clone());
    let env = Env { secrets, ..env };
    let tls = &rig["REGISTRY_TLS"];
    let gitea = &rig["GITEA_REGISTRY"];
    let token = format!("{}\n", rig["GITEA_REGISTRY_TOKEN"]);
    let trust = [
        "--ca-file",
        rig["CA"].as_str(),
        "--ca-file",
        rig["GITEA_CA"].as_str(),
        "--no-platform-roots",
    ];
    let src = format!("{tls}/idpkit-test/{}:v1", unique("copysrc"));
    env.build(&src, 30_000);
    let creds_file = env.path("tls.creds");
    std::fs::write(
        &creds_file,
        format!("{}:{}\n", rig["REGISTRY_USER"], rig["REGISTRY_PASSWORD"]),
    )
    .unwrap();
    let mut c = env.cmd("store");
    c.args(["--json", "push", &src, "--creds-file"])
        .arg(&creds_file)
        .args(trust);
    let digest = json_field(&env.ok(c, None), "digest");

    // A registry token on standard input.
    let pushed = format!(
        "{gitea}/{}/{}:v1",
        rig["GITEA_USER"].to_lowercase(),
        unique("tokenstdin")
    );
    let mut c = env.cmd("store");
    c.args(["tag", &src, &pushed]);
    env.ok(c, None);
    let mut c = env.cmd("store");
    c.args(["--json", "push", &pushed, "--token-stdin"])
        .args(trust);
    assert_eq!(json_field(&env.ok(c, Some(&token)), "digest"), digest);
    let mut c = env.cmd("store");
    c.args(["tags", pushed.rsplit_once(':').unwrap().0, "--token-stdin"])
        .args(trust);
    assert_eq!(env.ok(c, Some(&token)), "v1");
    let mut c = env.cmd("store");
    c.args(["tags", pushed.rsplit_once(':').unwrap().0, "--token-stdin"])
        .args(trust);
    let (code, err) = exit_code(&env, c, Some("not-a-valid-token-55aa\n"));
    assert_eq!(code, Some(4), "{err}");
    assert!(!err.contains("not-a-valid-token-55aa"), "{err}");

    // copy across registries: the source's credentials from a file, the destination's
    // token from standard input; neither goes to the other registry.
    let dst = format!(
        "{gitea}/{}/{}:v1",
        rig["GITEA_USER"].to_lowercase(),
        unique("copydst")
    );
    let mut c = env.cmd("store");
    c.args([
        "--json",
        "copy",
        &src,
        &dst,
        "--token-stdin",
        "--source-creds-file",
    ])
    .arg(&creds_file)
    .args(trust);
    let out = env.ok(c, Some(&token));
    assert_eq!(json_field(&out, "digest"), digest, "{out}");

    // The other way round: the source's password on standard input, the destination's
    // token in a file.
    let token_file = env.path("gitea.creds");
    std::fs::write(&token_file, format!("token:{token}")).unwrap();
    let dst2 = format!(
        "{gitea}/{}/{}:v1",
        rig["GITEA_USER"].to_lowercase(),
        unique("copydst2")
    );
    let mut c = env.cmd("store");
    c.args([
        "--json",
        "copy",
        &src,
        &dst2,
        "--source-username",
        &rig["REGISTRY_USER"],
        "--source-password-stdin",
        "--creds-file",
    ])
    .arg(&token_file)
    .args(trust);
    let out = env.ok(c, Some(&format!("{}\n", rig["REGISTRY_PASSWORD"])));
    assert_eq!(json_field(&out, "digest"), digest, "{out}");

    // Without the source's credentials the source refuses: AUTH.
    let mut c = env.cmd("store");
    c.args(["copy", &src, &dst2, "--token-stdin"]).args(trust);
    let (code, err) = exit_code(&env, c, Some(&token));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains(tls.as_str()), "{err}");
}

#[test]
fn login_asks_a_terminal_for_the_password() {
    let rig = rig(&["registry-tls"]);
    let env = Env::new(&rig);
    let reg = &rig["REGISTRY_TLS"];
    // `script` gives idpkit a pseudo-terminal; the password is typed once the prompt shows,
    // with echo off, so it never appears on the screen.
    let command = format!(
        "{} login {reg} -u {} --ca-file {}",
        env!("CARGO_BIN_EXE_idpkit"),
        rig["REGISTRY_USER"],
        rig["CA"]
    );
    let c = env.cmd("store");
    let mut script = Command::new("script");
    script.envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    script
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("script (util-linux) is installed");
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let mut buf = [0u8; 256];
    use std::io::Read;
    while !String::from_utf8_lossy(&screen).contains("Password for") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&screen));
        screen.extend_from_slice(&buf[..n]);
    }
    // Let rpassword turn echo off after printing the prompt.
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", rig["REGISTRY_PASSWORD"]).as_bytes())
        .unwrap();
    stdout.read_to_end(&mut screen).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let screen = String::from_utf8_lossy(&screen);
    for s in &env.secrets {
        assert!(!screen.contains(s.as_str()), "the password was echoed");
    }
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains(&format!("Password for {} at {reg}", rig["REGISTRY_USER"]))
            && screen.contains("logged in"),
        "{screen}"
    );
    let cfg = std::fs::read_to_string(env.path("docker/config.json")).unwrap();
    assert!(cfg.contains(reg.as_str()), "{cfg}");
}

/// `doctor` against the rig: the TLS registry trusted through certs.d, the API server
/// reached with the rig's kubeconfig and its version shown.
#[test]
fn doctor_against_the_rig_finds_everything_working() {
    let env = rig(&["registry-tls", "kube-apiserver"]);
    let tmp = tempfile::tempdir().unwrap();
    let host = env["REGISTRY_TLS"].clone();
    let certs_d = tmp.path().join("certs.d");
    std::fs::create_dir_all(certs_d.join(&host)).unwrap();
    std::fs::copy(&env["CA"], certs_d.join(&host).join("ca.crt")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idpkit"))
        .args([
            "--json",
            "--store",
            tmp.path().join("store").to_str().unwrap(),
        ])
        .args([
            "doctor",
            "--registry",
            &host,
            "--kubeconfig",
            &env["KUBECONFIG"],
        ])
        .env("IDPKIT_CERTS_D", &certs_d)
        .env("HOME", tmp.path())
        .env("DOCKER_CONFIG", tmp.path().join("docker"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let find = |area: &str, name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["area"] == area && c["name"] == name)
            .unwrap_or_else(|| panic!("no {area}/{name} in {report}"))
            .clone()
    };
    assert_eq!(find("trust", &host)["status"], "ok");
    let api = find("cluster", "API server");
    assert_eq!(api["status"], "ok");
    assert!(
        api["detail"].as_str().unwrap().contains("Kubernetes v1."),
        "{api}"
    );
    assert!(find("trust", "certs.d")["detail"]
        .as_str()
        .unwrap()
        .contains(&host));
}
