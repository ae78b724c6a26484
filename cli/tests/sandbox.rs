//! `idpkit sandbox` end to end: the bundled Rails example pushed to a fresh repository on the
//! rig's git server, cloned into a run with `--password-stdin`, planned, written as a Compose
//! file the real `docker-compose` accepts, sent to the rig's kube-apiserver as a dry run and
//! for real, followed with `--wait` to the exit status the test gives its pod, and removed.

mod common;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn idpkit() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idpkit"))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000
}

fn run(args: &[&str], root: &Path, stdin: Option<&str>) -> Output {
    let mut c = Command::new(idpkit())
        .args(args)
        .env("IDPKIT_SANDBOX_HOME", root)
        .env_remove("IDPKIT_SANDBOX_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    c.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A fresh repository on the rig's git server holding examples/rails-shop on `main`.
fn rails_repo(rig: &HashMap<String, String>) -> String {
    let name = format!("rails-shop-{}-{}", std::process::id(), nanos());
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rig/lib.sh");
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(". '{}' && rig_git_repo {name}", lib.display()),
        ])
        .env("IDPKIT_RIG_DIR", common::rig_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "rig_git_repo: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let ssh = text.lines().nth(1).unwrap().to_string();
    let https = text.lines().next().unwrap().to_string();
    let work = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rails-shop");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .current_dir(work.path())
            .env("GIT_SSH_COMMAND", &rig["GIT_SSH_COMMAND"])
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "-b", "main", "."]);
    Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", example.display()))
        .arg(work.path())
        .status()
        .unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "shop"]);
    git(&["push", "-q", &ssh, "main"]);
    https
}

#[test]
fn clone_plan_compose_job_and_remove_a_rails_project() {
    let rig = common::rig();
    let url = rails_repo(&rig);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let out = run(
        &[
            "--json",
            "sandbox",
            "clone",
            &url,
            "--rev",
            "main",
            "--username",
            &rig["GIT_USER"],
            "--password-stdin",
            "--ca-file",
            &rig["CA"],
        ],
        r,
        Some(&format!("{}\n", rig["GIT_PASSWORD"])),
    );
    let stdout = ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&rig["GIT_PASSWORD"]));
    let run_doc: Value = serde_json::from_str(&stdout).unwrap();
    let dir = run_doc["dir"].as_str().unwrap().to_string();
    assert!(dir.starts_with(r.to_str().unwrap()), "{dir}");
    assert_eq!(run_doc["branch"], json!("main"));
    assert!(Path::new(&dir).join("src/Gemfile.lock").is_file());

    let ls = ok(&run(&["sandbox", "ls"], r, None));
    assert!(ls.contains(run_doc["id"].as_str().unwrap()), "{ls}");

    // The plan: text for people, JSON with evidence for programs.
    let text = ok(&run(&["sandbox", "plan", &dir], r, None));
    assert!(text.contains("image:    claude-sandbox:ruby-3.3"), "{text}");
    assert!(text.contains("services: postgres, redis"), "{text}");
    let plan: Value =
        serde_json::from_str(&ok(&run(&["--json", "sandbox", "plan", &dir], r, None))).unwrap();
    assert_eq!(plan["runtime"], json!("ruby"));
    assert_eq!(plan["version"], json!("3.3.6"));
    assert_eq!(plan["fallback"], json!(false));
    assert_eq!(plan["projects"][0]["framework"], json!("rails"));
    // A run's id is enough.
    let by_id = ok(&run(
        &["sandbox", "plan", run_doc["id"].as_str().unwrap()],
        r,
        None,
    ));
    assert_eq!(by_id, text);

    // Compose: the file the real docker-compose accepts with the printed profiles.
    let file = r.join("compose.yaml");
    let printed = ok(&run(
        &["sandbox", "compose", &dir, "-o", file.to_str().unwrap()],
        r,
        None,
    ));
    assert_eq!(
        printed.trim(),
        "COMPOSE_PROFILES=claude,with-postgres,with-redis"
    );
    let check = Command::new("docker-compose")
        .arg("-f")
        .arg(&file)
        .args(["config", "--services"])
        .env("COMPOSE_PROFILES", "claude,with-postgres,with-redis")
        .output()
        .expect("docker-compose is not installed (scripts/setup-system.sh installs it)");
    assert!(check.status.success(), "{check:?}");
    let mut services: Vec<String> = String::from_utf8_lossy(&check.stdout)
        .lines()
        .map(String::from)
        .collect();
    services.sort();
    assert_eq!(services, ["claude", "postgres", "redis"]);

    // The Job: printed, admitted by a dry run, then created for real.
    let kubeconfig = rig["KUBECONFIG"].clone();
    let yaml = ok(&run(&["sandbox", "job", &dir], r, None));
    assert!(
        yaml.contains("restartPolicy: Always") && yaml.contains(&url),
        "{yaml}"
    );
    let dry = run(
        &[
            "sandbox",
            "job",
            &dir,
            "--apply",
            "--dry-run",
            "--kubeconfig",
            &kubeconfig,
        ],
        r,
        None,
    );
    let dry_manifest = ok(&dry);
    assert!(
        String::from_utf8_lossy(&dry.stderr).contains("dry run"),
        "{dry:?}"
    );
    // What the server defaulted is shown; no uid of a Job that was never stored.
    assert!(
        dry_manifest.contains("completionMode: NonIndexed"),
        "{dry_manifest}"
    );
    assert!(!dry_manifest.contains("uid"), "{dry_manifest}");
    let created: Value = serde_json::from_str(&ok(&run(
        &[
            "--json",
            "sandbox",
            "job",
            &dir,
            "--apply",
            "--kubeconfig",
            &kubeconfig,
        ],
        r,
        None,
    )))
    .unwrap();
    assert!(
        created["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "{created}"
    );
    assert_eq!(
        created["name"],
        json!(format!("sandbox-{}", run_doc["id"].as_str().unwrap()))
    );
    // A second apply of the same run is a conflict, said as one.
    let again = run(
        &[
            "sandbox",
            "job",
            &dir,
            "--apply",
            "--kubeconfig",
            &kubeconfig,
        ],
        r,
        None,
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("CONFLICT"),
        "{again:?}"
    );

    let removed = ok(&run(
        &["sandbox", "rm", run_doc["id"].as_str().unwrap()],
        r,
        None,
    ));
    assert!(removed.contains("removed"));
    assert!(!Path::new(&dir).exists());
    let missing = run(&["sandbox", "plan", &dir], r, None);
    assert!(!missing.status.success());
}

#[test]
fn wait_exits_with_the_main_containers_status() {
    let rig = common::rig();
    let kube = common::rig_kube(&rig);
    let ns = format!("sbx-cli-{}-{}", std::process::id(), nanos());
    for obj in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": ns}}),
    ] {
        kube.apply(&obj, "idpkit-test").unwrap();
    }
    let project = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let name = "sandbox-wait-exit";
    let child = Command::new(idpkit())
        .args(["sandbox", "job"])
        .arg(project.path())
        .args([
            "--apply",
            "--wait",
            "--timeout",
            "60s",
            "--name",
            name,
            "-n",
            &ns,
            "--repo-url",
            "https://example.com/org/shop.git",
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--kubeconfig",
            &rig["KUBECONFIG"],
        ])
        .env("IDPKIT_SANDBOX_HOME", root.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while kube
        .custom_object("batch", &["v1"], "jobs", &ns, name)
        .is_err()
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pod = format!("{name}-x1y2z");
    kube.apply(
        &json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": ns,
                "labels": {"batch.kubernetes.io/job-name": name}},
            "spec": {"containers": [{"name": "claude", "image": "claude-sandbox:latest"}],
                     "restartPolicy": "Never"}}),
        "idpkit-test",
    )
    .unwrap();
    kube.patch_status(
        "",
        "v1",
        "pods",
        &ns,
        &pod,
        &json!({
        "phase": "Failed",
        "containerStatuses": [{"name": "claude", "image": "claude-sandbox:latest",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 42, "reason": "Error"}}}]}),
    )
    .unwrap();
    let now = "2026-12-04T12:00:00Z";
    kube.patch_status(
        "batch",
        "v1",
        "jobs",
        &ns,
        name,
        &json!({
        "startTime": now, "failed": 1,
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "failed", "lastTransitionTime": now},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "failed", "lastTransitionTime": now}]}),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failed (exit 42, BackoffLimitExceeded)"),
        "{err}"
    );
}

#[test]
fn bad_input_is_named() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let out = run(&["sandbox", "rm", "../../etc"], r, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a sandbox run id"));
    let out = run(&["sandbox", "plan", "/no/such/dir"], r, None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/no/such/dir"),
        "{out:?}"
    );
    let cfg = r.join("bad.toml");
    std::fs::write(&cfg, "[services.postgres]\nimgae = \"x\"\n").unwrap();
    let out = run(
        &[
            "sandbox",
            "plan",
            r.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        r,
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("imgae") && err.contains("bad.toml"),
        "{err}"
    );
    let out = run(&["sandbox", "job", r.to_str().unwrap(), "--wait"], r, None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--apply"),
        "{out:?}"
    );
    let out = run(&["sandbox", "ls"], r, None);
    assert_eq!(ok(&out).trim(), "");
}
