//! `idpkit source watch flux` end to end: a GitRepository in the rig's kube-apiserver whose
//! status this test changes, artifacts served by the rig's nginx; one JSON line per revision
//! on stdout as it comes, SIGTERM and SIGINT end it with exit 0. Fails when the rig is not up.

mod common;
use common::*;

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(30);

/// A gzipped tar holding `b.txt`, served by the rig's nginx: its URL and sha256 digest.
fn serve(name: &str, content: &[u8]) -> (String, String) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("b.txt").unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, content).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    let body = gz.finish().unwrap();
    let file = format!("{name}.tar.gz");
    let dir = rig_dir().join("artifacts");
    std::fs::write(dir.join(format!(".{file}")), &body).unwrap();
    std::fs::rename(dir.join(format!(".{file}")), dir.join(&file)).unwrap();
    let base = rig()["ARTIFACT_URL"]
        .rsplit_once('/')
        .unwrap()
        .0
        .to_string();
    let digest = idpkit::digest::Digest::of(idpkit::digest::Algorithm::Sha256, &body);
    (format!("{base}/{file}"), digest.to_string())
}

fn ready(url: &str, revision: &str, digest: &str) -> Value {
    serde_json::json!({
        "artifact": {"url": url, "revision": revision, "digest": digest},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                        "message": format!("stored artifact for revision '{revision}'"),
                        "lastTransitionTime": "2026-12-03T00:00:00Z"}],
    })
}

struct Watcher {
    child: Child,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn watch(env: &HashMap<String, String>, cache: &Path, name: &str) -> Watcher {
    watch_args(
        env,
        cache,
        &["flux", "GitRepository", &format!("flux-system/{name}")],
    )
}

/// `idpkit source watch ARGS…` against the rig's API server and CA.
fn watch_args(env: &HashMap<String, String>, cache: &Path, args: &[&str]) -> Watcher {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idpkit"))
        .arg("--cache")
        .arg(cache)
        .env_remove("IDPKIT_CACHE")
        .args(["source", "watch"])
        .args(args)
        .arg("--kubeconfig")
        .arg(&env["KUBECONFIG"])
        .arg("--ca-file")
        .arg(&env["CA"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    Watcher {
        child,
        lines,
        stderr,
    }
}

impl Watcher {
    fn line(&self, what: &str) -> Value {
        let l = self
            .lines
            .recv_timeout(STEP)
            .unwrap_or_else(|e| panic!("no line on stdout within {STEP:?} for {what}: {e}"));
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{what}: {l:?} is not JSON: {e}"))
    }

    /// Sends `signal` and returns the exit code and stderr, bounded by [`STEP`].
    fn stop(mut self, signal: &str) -> (Option<i32>, String, Vec<String>) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
        let at = Instant::now();
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            if at.elapsed() > STEP {
                let _ = self.child.kill();
                panic!("idpkit source watch still runs {STEP:?} after kill {signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = self.stderr.join().unwrap();
        // The reader thread ends with stdout: every line left is in the channel.
        std::thread::sleep(Duration::from_millis(100));
        (code, stderr, self.lines.try_iter().collect())
    }
}

#[test]
fn source_watch_prints_a_line_per_revision_and_stops_on_sigterm() {
    let env = rig();
    let cache = tempfile::tempdir().unwrap();
    let name = format!(
        "cli-watch-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let kube = rig_kube(&env);
    kube.apply(
        &serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"}, "spec": {"url": "https://example.invalid/x.git"}}),
        "idpkit-test",
    )
    .unwrap();
    let set = |status: Value| {
        kube.patch_status(
            "source.toolkit.fluxcd.io",
            "v1",
            "gitrepositories",
            "flux-system",
            &name,
            &status,
        )
        .unwrap();
    };
    let rev_a = format!("main@sha1:{}", "a".repeat(40));
    let rev_b = format!("main@sha1:{}", "b".repeat(40));
    set(ready(
        &env["ARTIFACT_URL"],
        &rev_a,
        &format!("sha256:{}", env["ARTIFACT_SHA256"]),
    ));

    let w = watch(&env, cache.path(), &name);
    let a = w.line("revision A");
    assert_eq!(a["revision"], rev_a.as_str());
    assert_eq!(a["hit"], false);
    let path_a = PathBuf::from(a["path"].as_str().unwrap());
    assert_eq!(
        path_a,
        cache
            .path()
            .join(format!("flux-artifact/flux-system/{name}/main-sha-aaaaaaa"))
    );
    assert!(path_a.join("README.md").is_file());

    let (url_b, digest_b) = serve(&name, b"revision b");
    set(ready(&url_b, &rev_b, &digest_b));
    let b = w.line("revision B");
    assert_eq!(b["revision"], rev_b.as_str());
    assert_eq!(b["digest"], digest_b.as_str());
    let path_b = PathBuf::from(b["path"].as_str().unwrap());
    assert_eq!(std::fs::read(path_b.join("b.txt")).unwrap(), b"revision b");

    let (code, stderr, rest) = w.stop("-TERM");
    assert_eq!(code, Some(0), "exit after SIGTERM; stderr: {stderr}");
    assert!(rest.is_empty(), "no line after the two revisions: {rest:?}");
    assert!(
        stderr.contains("2 revisions fetched, 0 failed"),
        "stderr: {stderr}"
    );

    // Ctrl-C: the same. The revision is in the cache now: a hit.
    let w = watch(&env, cache.path(), &name);
    let again = w.line("revision B from the cache");
    assert_eq!(
        (&again["revision"], &again["hit"]),
        (&b["revision"], &Value::Bool(true))
    );
    let (code, stderr, _) = w.stop("-INT");
    assert_eq!(code, Some(0), "exit after SIGINT; stderr: {stderr}");

    // `idpkit source watch … | head -1`: once the reader is gone, the watch ends on its own.
    let mut child = Command::new(env!("CARGO_BIN_EXE_idpkit"))
        .arg("--cache")
        .arg(cache.path())
        .args(["-q", "source", "watch", "flux", "GitRepository"])
        .arg(format!("flux-system/{name}"))
        .arg("--kubeconfig")
        .arg(&env["KUBECONFIG"])
        .arg("--ca-file")
        .arg(&env["CA"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains(&rev_b), "{first}");
    // The reader (and its pipe) dropped here.
    let at = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if at.elapsed() > STEP {
            let _ = child.kill();
            panic!("idpkit source watch still runs {STEP:?} after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    let _ = std::fs::remove_file(rig_dir().join(format!("artifacts/{name}.tar.gz")));
}

#[test]
fn source_watch_argo_prints_a_line_per_git_source_and_again_when_the_sync_revision_moves() {
    let env = rig();
    let cache = tempfile::tempdir().unwrap();
    let kube = rig_kube(&env);
    let ns = format!("argocd-cliw-{}", std::process::id());
    let app = format!("cli-watch-argo-{}", std::process::id());
    let commit = |rev: &str| {
        let out = Command::new("git")
            .args(["--git-dir", &env["GIT_FIXTURE_DIR"], "rev-parse", rev])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let application = |revision: &str| {
        serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": app, "namespace": "argocd"},
            "spec": {"project": "default", "source": {"repoURL": env["GIT_FIXTURE_HTTPS"], "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}},
            "status": {"sync": {"revision": revision}}})
    };
    for object in [
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "fixture", "namespace": ns,
                         "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"url": env["GIT_FIXTURE_HTTPS"], "username": env["GIT_USER"],
                           "password": env["GIT_PASSWORD"]}}),
        application(&commit("develop")),
    ] {
        kube.apply(&object, "idpkit-test").unwrap();
    }
    let w = watch_args(
        &env,
        cache.path(),
        &["argo", &format!("argocd/{app}"), "--argocd-namespace", &ns],
    );
    let first = w.line("the synced revision");
    assert!(
        first["revision"]
            .as_str()
            .unwrap()
            .ends_with(&commit("develop")),
        "{first}"
    );
    kube.apply(&application(&commit("main")), "idpkit-test")
        .unwrap();
    let second = w.line("the new synced revision");
    assert!(
        second["revision"]
            .as_str()
            .unwrap()
            .ends_with(&commit("main")),
        "{second}"
    );
    let (code, stderr, rest) = w.stop("-TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(!stderr.contains(&env["GIT_PASSWORD"]));
}
