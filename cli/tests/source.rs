//! `idpkit source …` end to end against the rig's nginx (artifacts this test writes into the
//! directory it serves, at full speed and at 1 MiB/s): fetch, hit, ls, gc, eight processes
//! at once, and a kill -9 in the middle of an extraction. Fails when the rig is not up.

mod common;
use common::*;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn idpkit(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idpkit"));
    c.arg("--cache").arg(cache).env_remove("IDPKIT_CACHE");
    c
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "idpkit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A gzipped tar of `files` (name, bytes), as the rig serves it; returns its URLs (full
/// speed, throttled) and sha256 digest.
fn serve(name: &str, files: &[(&str, Vec<u8>)]) -> (String, String, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (n, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(n).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    let body = gz.finish().unwrap();
    let name = format!("cli-{}-{name}.tar.gz", std::process::id());
    let dir = rig_dir().join("artifacts");
    std::fs::write(dir.join(format!(".{name}")), &body).unwrap();
    std::fs::rename(dir.join(format!(".{name}")), dir.join(&name)).unwrap();
    let env = rig();
    let base = env["ARTIFACT_URL"]
        .rsplit_once("/artifacts/")
        .unwrap()
        .0
        .to_string();
    let digest = idpkit::digest::Digest::of(idpkit::digest::Algorithm::Sha256, &body);
    (
        format!("{base}/artifacts/{name}"),
        format!("{base}/artifacts-slow/{name}"),
        digest.to_string(),
    )
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn fetch(cache: &Path, url: &str, digest: &str) -> Command {
    let mut c = idpkit(cache);
    c.args([
        "--json", "source", "fetch", "artifact", url, "--digest", digest,
    ])
    .arg("--ca-file")
    .arg(&rig()["CA"]);
    c
}

/// Requests nginx logged for `path`.
fn downloads(path: &str) -> usize {
    let log = std::fs::read_to_string(rig_dir().join("logs/nginx-access.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains(&format!("GET {path} ")))
        .count()
}

#[test]
fn fetch_hit_ls_and_gc_through_the_cli() {
    let cache = tempfile::tempdir().unwrap();
    let (url, _, digest) = serve("basic", &[("a/b.txt", b"hello".to_vec())]);
    let first = json(&fetch(cache.path(), &url, &digest).output().unwrap());
    assert_eq!(first["hit"], false);
    let path = PathBuf::from(first["path"].as_str().unwrap());
    assert!(path.starts_with(cache.path().join("artifact")));
    assert_eq!(std::fs::read(path.join("a/b.txt")).unwrap(), b"hello");
    let second = json(&fetch(cache.path(), &url, &digest).output().unwrap());
    assert_eq!(second["hit"], true);
    // Without --json, the path alone (for `cd "$(idpkit source fetch …)"`).
    let plain = idpkit(cache.path())
        .args([
            "source",
            "fetch",
            "artifact",
            &url,
            "--digest",
            &digest,
            "--ca-file",
            &rig()["CA"],
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(plain.stdout).unwrap().trim(),
        path.display().to_string()
    );

    let ls = json(
        &idpkit(cache.path())
            .args(["--json", "source", "ls"])
            .output()
            .unwrap(),
    );
    assert_eq!(ls.as_array().unwrap().len(), 1);
    assert_eq!(ls[0]["url"], url.as_str());
    let gc = json(
        &idpkit(cache.path())
            .args(["--json", "source", "gc", "--max-size", "1"])
            .output()
            .unwrap(),
    );
    assert_eq!(gc["removed"].as_array().unwrap().len(), 1);
    assert!(!path.exists());
    let none = idpkit(cache.path())
        .args(["source", "gc"])
        .output()
        .unwrap();
    assert_eq!(
        none.status.code(),
        Some(2),
        "a gc without a rule is a usage error"
    );
}

#[test]
fn a_wrong_digest_exits_with_the_integrity_code_and_caches_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let (url, _, _) = serve("wrong", &[("x", b"x".to_vec())]);
    let out = fetch(cache.path(), &url, &format!("sha256:{}", "1".repeat(64)))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ls = json(
        &idpkit(cache.path())
            .args(["--json", "source", "ls"])
            .output()
            .unwrap(),
    );
    assert_eq!(ls.as_array().unwrap().len(), 0);
}

#[test]
fn eight_processes_fetching_one_revision_download_it_once() {
    let cache = tempfile::tempdir().unwrap();
    // Served at 1 MiB/s, so the eight overlap while the first downloads.
    let (_, slow, digest) = serve("eight", &[("data.bin", noise(1 << 20, 8))]);
    let path = slow.split_once("38446").unwrap().1.to_string();
    let children: Vec<_> = (0..8)
        .map(|_| {
            fetch(cache.path(), &slow, &digest)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Value> = children
        .into_iter()
        .map(|c| json(&c.wait_with_output().unwrap()))
        .collect();
    assert_eq!(downloads(&path), 1, "one download for eight processes");
    let paths: Vec<&str> = outs.iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert!(paths.iter().all(|p| *p == paths[0]));
    assert_eq!(outs.iter().filter(|o| o["hit"] == false).count(), 1);
    assert_eq!(
        std::fs::read(Path::new(paths[0]).join("data.bin")).unwrap(),
        noise(1 << 20, 8)
    );
}

#[test]
fn a_kill_during_extraction_is_followed_by_a_correct_fetch() {
    let cache = tempfile::tempdir().unwrap();
    let files = [
        ("one.bin", noise(2 << 20, 1)),
        ("two.bin", noise(2 << 20, 2)),
    ];
    let (url, slow, digest) = serve("killed", &files);
    let mut child = fetch(cache.path(), &slow, &digest).spawn().unwrap();
    // Part way through (4 MiB at 1 MiB/s): the first file is being written.
    std::thread::sleep(Duration::from_millis(1500));
    let partial: Vec<_> = std::fs::read_dir(cache.path().join("artifact"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .collect();
    assert_eq!(
        partial.len(),
        1,
        "the fetch is mid-extraction when it is killed"
    );
    assert!(partial[0].join("one.bin").exists());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let ls = json(
        &idpkit(cache.path())
            .args(["--json", "source", "ls"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        ls.as_array().unwrap().len(),
        0,
        "nothing looks complete: {ls}"
    );
    let r = json(&fetch(cache.path(), &url, &digest).output().unwrap());
    assert_eq!(r["hit"], false);
    let dir = PathBuf::from(r["path"].as_str().unwrap());
    for (name, data) in &files {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), data, "{name}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_flux_source_from_the_cluster_through_the_cli() {
    let env = rig();
    let cache = tempfile::tempdir().unwrap();
    let name = format!("cli-flux-{}", std::process::id());
    // The object and its status as source-controller leaves them, through kubectl's own API.
    let kube = rig_kube(&env);
    kube.apply(
        &serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"}, "spec": {"url": "https://example.invalid/x.git"}}),
        "idpkit-test",
    )
    .unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    kube.patch_status(
        "source.toolkit.fluxcd.io",
        "v1",
        "gitrepositories",
        "flux-system",
        &name,
        &serde_json::json!({
            "artifact": {"url": env["ARTIFACT_URL"], "revision": format!("feature/x@sha1:{sha}"),
                         "digest": format!("sha256:{}", env["ARTIFACT_SHA256"])},
            "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored",
                            "lastTransitionTime": "2026-12-03T00:00:00Z"}],
        }),
    )
    .unwrap();
    let out = idpkit(cache.path())
        .args([
            "--json",
            "source",
            "fetch",
            "flux",
            "GitRepository",
            &format!("flux-system/{name}"),
        ])
        .arg("--kubeconfig")
        .arg(&env["KUBECONFIG"])
        .arg("--ca-file")
        .arg(&env["CA"])
        .output()
        .unwrap();
    let r = json(&out);
    assert_eq!(
        PathBuf::from(r["path"].as_str().unwrap()),
        cache.path().join(format!(
            "flux-artifact/flux-system/{name}/feature_x-sha-0123456"
        ))
    );
    let bad = idpkit(cache.path())
        .args(["source", "fetch", "flux", "GitRepository", "no-slash"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("NAMESPACE/NAME"));
}

/// `idpkit` with `input` on standard input.
fn with_stdin(mut c: Command, input: &str) -> Output {
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_git_revision_through_the_cli_with_the_password_on_stdin() {
    let env = rig();
    let cache = tempfile::tempdir().unwrap();
    let git = |password: &str| {
        let mut c = idpkit(cache.path());
        c.args([
            "--json",
            "source",
            "fetch",
            "git",
            &env["GIT_FIXTURE_HTTPS"],
        ])
        .args([
            "--rev",
            "v0.2.0",
            "--username",
            &env["GIT_USER"],
            "--password-stdin",
        ])
        .arg("--ca-file")
        .arg(&env["CA"]);
        with_stdin(c, &format!("{password}\n"))
    };
    let r = json(&git(&env["GIT_PASSWORD"]));
    assert_eq!(r["hit"], false);
    let dir = PathBuf::from(r["path"].as_str().unwrap());
    assert_eq!(dir.parent().unwrap(), cache.path().join("git"));
    assert!(dir.join("README.md").is_file());
    assert!(
        r["revision"]
            .as_str()
            .unwrap()
            .starts_with("refs/tags/v0.2.0@sha1:"),
        "{r}"
    );
    assert_eq!(json(&git(&env["GIT_PASSWORD"]))["hit"], true);
    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    assert!(!config.contains(&env["GIT_PASSWORD"]), "{config}");
    // A wrong password: the AUTH exit code, and the password is not echoed.
    let bad = git("pw-wrong-cli-4711");
    assert_eq!(
        bad.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!String::from_utf8_lossy(&bad.stderr).contains("pw-wrong-cli-4711"));
}

#[test]
fn an_argo_application_through_the_cli_prints_each_source_directory() {
    let env = rig();
    let cache = tempfile::tempdir().unwrap();
    let kube = rig_kube(&env);
    let ns = format!("argocd-cli-{}", std::process::id());
    let app = format!("cli-argo-{}", std::process::id());
    for object in [
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "fixture", "namespace": ns,
                         "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"url": env["GIT_FIXTURE_HTTPS"], "username": env["GIT_USER"],
                           "password": env["GIT_PASSWORD"]}}),
        serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": app, "namespace": "argocd"},
            "spec": {"project": "default", "sources": [
                {"repoURL": env["GIT_FIXTURE_HTTPS"], "path": "log", "targetRevision": "main"},
                {"repoURL": "https://charts.example.invalid", "chart": "nginx", "targetRevision": "1.0.0"}],
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}}),
    ] {
        kube.apply(&object, "idpkit-test").unwrap();
    }
    let out = idpkit(cache.path())
        .args(["source", "fetch", "argo", &format!("argocd/{app}")])
        .args([
            "--argocd-namespace",
            &ns,
            "--kubeconfig",
            &env["KUBECONFIG"],
        ])
        .args(["--ca-file", &env["CA"]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let dir = PathBuf::from(lines[0]);
    assert!(
        dir.starts_with(cache.path().join("argocd-repo/argocd").join(&app)),
        "{stdout}"
    );
    assert!(
        dir.ends_with("log") && dir.join("001.txt").is_file(),
        "{stdout}"
    );
    assert!(
        lines[1].contains("skipped") && lines[1].contains("Helm"),
        "{stdout}"
    );
}
