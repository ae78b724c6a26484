//! `idpkit git-guard` end to end: real `git` pushing over SSH to a bare repository on the
//! rig, through the installed pre-push hook and through the installed `git` wrapper; the
//! remote's refs are read back to prove what was refused never landed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn idpkit() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idpkit"))
}

/// A clone of a fresh rig repository over SSH, with `main` and `feature` pushed.
struct Clone {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    url: String,
    ssh: String,
}

impl Clone {
    fn new(name: &str) -> Clone {
        let rig = common::rig();
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rig/lib.sh");
        // a name per run: the repository starts empty, whatever earlier runs pushed
        let unique = format!("{name}-{}-{}", std::process::id(), nanos());
        let out = Command::new("bash")
            .args([
                "-c",
                &format!(". '{}' && rig_git_repo {unique}", lib.display()),
            ])
            .env("IDPKIT_RIG_DIR", common::rig_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "rig_git_repo: {out:?}");
        let url = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("work");
        std::fs::write(tmp.path().join("gitconfig"), "").unwrap();
        let c = Clone {
            tmp,
            dir,
            url,
            ssh: rig["GIT_SSH_COMMAND"].clone(),
        };
        let parent = c.tmp.path().to_path_buf();
        c.git_ok(&parent, &["init", "-q", "-b", "main", "work"]);
        std::fs::write(c.dir.join("a"), "1").unwrap();
        c.git_ok(&c.dir, &["add", "a"]);
        c.git_ok(&c.dir, &["commit", "-qm", "one"]);
        c.git_ok(&c.dir, &["branch", "feature"]);
        c.git_ok(&c.dir, &["remote", "add", "origin", &c.url]);
        c.git_ok(&c.dir, &["push", "-q", "origin", "main", "feature"]);
        c
    }

    fn command(&self, program: &Path, dir: &Path, path_prefix: Option<&Path>) -> Command {
        let mut cmd = Command::new(program);
        let path = std::env::var("PATH").unwrap();
        let path = match path_prefix {
            Some(p) => format!("{}:{path}", p.display()),
            None => path,
        };
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.tmp.path())
            .env("GIT_CONFIG_GLOBAL", self.tmp.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_SSH_COMMAND", &self.ssh)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@idpkit.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@idpkit.invalid");
        cmd
    }

    /// `git` as found on PATH, with `prefix` (a wrapper directory) first.
    fn git_via(&self, prefix: Option<&Path>, args: &[&str]) -> Output {
        self.command(Path::new("git"), &self.dir, prefix)
            .args(args)
            .output()
            .unwrap()
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self
            .command(Path::new("git"), dir, None)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn idpkit(&self, args: &[&str]) -> Output {
        self.command(&idpkit(), &self.dir, None)
            .args(args)
            .output()
            .unwrap()
    }

    /// The remote's commit for a branch, read from the server (None: no such branch).
    fn remote(&self, branch: &str) -> Option<String> {
        let out = self.git_ok(
            &self.dir,
            &["ls-remote", "origin", &format!("refs/heads/{branch}")],
        );
        out.split_whitespace().next().map(str::to_string)
    }

    fn head(&self, rev: &str) -> String {
        self.git_ok(&self.dir, &["rev-parse", rev])
    }

    /// Rewrites the last commit of the current branch (a push of it is non-fast-forward).
    fn rewrite(&self) {
        self.git_ok(&self.dir, &["commit", "-q", "--amend", "-m", "rewritten"]);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_pre_push_hook_refuses_rewrites_and_deletes_of_protected_branches() {
    let c = Clone::new("guard-hook");
    let out = c.idpkit(&["git-guard", "install", "--hook"]);
    assert!(out.status.success(), "{out:?}");
    let hook = c.dir.join(".git/hooks/pre-push");
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("git-guard hook"));

    let before = c.remote("main").unwrap();
    c.rewrite();
    // git itself is told to force; the hook sees a non-fast-forward of main and refuses
    let out = c.git_via(None, &["push", "--force", "origin", "main"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("non-fast-forward"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        c.remote("main").unwrap(),
        before,
        "main is unchanged on the server"
    );
    // however the push is spelled: an alias, a + refspec, a config refspec
    let out = c.git_via(None, &["-c", "alias.p=push", "p", "origin", "+main"]);
    assert!(!out.status.success());
    let out = c.git_via(
        None,
        &[
            "-c",
            "remote.origin.push=+refs/heads/main",
            "push",
            "origin",
        ],
    );
    assert!(!out.status.success());
    assert_eq!(c.remote("main").unwrap(), before);
    // a delete of main: refused; of feature: allowed
    let out = c.git_via(None, &["push", "origin", ":main"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("deleting the protected ref"),
        "{}",
        stderr(&out)
    );
    assert!(c.remote("main").is_some());
    let out = c.git_via(None, &["push", "origin", "--delete", "feature"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(c.remote("feature"), None);
    // a forced push of an unprotected branch goes through
    c.git_ok(&c.dir, &["switch", "-q", "-c", "topic"]);
    c.git_ok(&c.dir, &["push", "-q", "origin", "topic"]);
    c.rewrite();
    let out = c.git_via(None, &["push", "-f", "origin", "topic"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(c.remote("topic").unwrap(), c.head("HEAD"));
    // a fast-forward of main is let through with a warning
    c.git_ok(&c.dir, &["switch", "-q", "main"]);
    c.git_ok(&c.dir, &["reset", "-q", "--hard", &before]);
    std::fs::write(c.dir.join("a"), "2").unwrap();
    c.git_ok(&c.dir, &["commit", "-qam", "two"]);
    let out = c.git_via(None, &["push", "origin", "main"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("warning") && stderr(&out).contains("direct push"),
        "{}",
        stderr(&out)
    );
    assert_eq!(c.remote("main").unwrap(), c.head("main"));
}

#[test]
fn the_git_wrapper_blocks_before_git_runs() {
    let c = Clone::new("guard-wrapper");
    let bin = c.tmp.path().join("guard-bin");
    let out = c.idpkit(&[
        "--json",
        "git-guard",
        "install",
        "--wrapper",
        bin.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let installed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let real = installed[0]["real_git"].as_str().unwrap().to_string();
    assert!(
        !real.starts_with(bin.to_str().unwrap()),
        "the wrapper runs the real git: {real}"
    );

    let before = c.remote("main").unwrap();
    c.rewrite();
    for args in [
        &["push", "-f", "origin", "main"][..],
        &["push", "origin", "-uf", "main"],
        &["push", "--force-with-lease", "origin", "main"],
        &["push", "origin", "+HEAD:main"],
        &["push", "--mirror", "origin"],
        &["-c", "alias.yolo=push --force", "yolo", "origin", "main"],
        &["push", "origin", ":main"],
    ] {
        let out = c.git_via(Some(&bin), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(
            stderr(&out).contains("idpkit git-guard: blocked"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(c.remote("main").unwrap(), before, "{args:?} changed main");
    }
    // git runs normally through the wrapper for everything else
    let out = c.git_via(Some(&bin), &["log", "--oneline", "-1"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("rewritten"));
    c.git_ok(&c.dir, &["switch", "-q", "-c", "topic"]);
    let out = c.git_via(Some(&bin), &["push", "-q", "origin", "topic"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(c.remote("topic").unwrap(), c.head("HEAD"));
}

#[test]
fn check_exits_by_decision_and_reports_json() {
    let c = Clone::new("guard-check");
    let code = |args: &[&str]| {
        let mut a = vec!["git-guard", "check", "--"];
        a.extend_from_slice(args);
        c.idpkit(&a).status.code()
    };
    assert_eq!(code(&["push", "origin", "feature"]), Some(0));
    assert_eq!(code(&["push", "-f", "origin", "main"]), Some(1));
    assert_eq!(code(&["push", "origin", "main"]), Some(2));
    let out = c.idpkit(&[
        "--json",
        "git-guard",
        "check",
        "--",
        "push",
        "--delete",
        "origin",
        "main",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "block");
    assert_eq!(v["findings"][0]["rule"], "delete");
    assert_eq!(v["findings"][0]["reference"], "refs/heads/main");
    // a broken policy file blocks (fails closed) and names the file
    std::fs::write(c.dir.join("idpkit-sandbox.toml"), "[git_guard\n").unwrap();
    let out = c.idpkit(&["git-guard", "check", "--", "push", "origin", "feature"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("idpkit-sandbox.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn install_keeps_a_hook_it_did_not_write() {
    let c = Clone::new("guard-install");
    let hook = c.dir.join(".git/hooks/pre-push");
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let out = c.idpkit(&["git-guard", "install", "--hook"]);
    assert_eq!(out.status.code(), Some(10), "CONFLICT: {out:?}");
    assert!(stderr(&out).contains("pre-push"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    let out = c.idpkit(&["git-guard", "install", "--hook", "--force"]);
    assert!(out.status.success(), "{out:?}");
    // reinstalling over its own hook needs no --force
    let out = c.idpkit(&["git-guard", "install", "--hook"]);
    assert!(out.status.success(), "{out:?}");
    // core.hooksPath is where git looks, so it is where the hook goes
    c.git_ok(&c.dir, &["config", "core.hooksPath", "githooks"]);
    let out = c.idpkit(&["git-guard", "install", "--hook"]);
    assert!(out.status.success(), "{out:?}");
    assert!(c.dir.join("githooks/pre-push").is_file());
}
