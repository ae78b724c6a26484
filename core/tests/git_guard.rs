//! The git push guard against real repositories made by the real `git`: every rule, every
//! spelling of a forced or destructive command the issue lists, and the pre-push hook's
//! decisions from real ref updates.

use idpkit::gitguard::{self, Decision, GuardVerdict, Rule};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A clone with branches `main` (current unless a test switches) and `feature`, remote
/// `origin` (a bare repository beside it), and a config isolated from the machine's.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    bare: PathBuf,
    env: HashMap<String, String>,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("work");
        let bare = tmp.path().join("origin.git");
        let global = tmp.path().join("gitconfig");
        std::fs::write(&global, "").unwrap();
        let env: HashMap<String, String> = [
            ("GIT_CONFIG_GLOBAL", global.to_str().unwrap()),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_AUTHOR_NAME", "t"),
            ("GIT_AUTHOR_EMAIL", "t@idpkit.invalid"),
            ("GIT_COMMITTER_NAME", "t"),
            ("GIT_COMMITTER_EMAIL", "t@idpkit.invalid"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let r = Repo {
            _tmp: tmp,
            dir,
            bare,
            env,
        };
        r.git_in(
            r.dir.parent().unwrap(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        r.git_in(
            r.dir.parent().unwrap(),
            &["init", "-q", "-b", "main", "work"],
        );
        std::fs::write(r.dir.join("a"), "1").unwrap();
        r.git(&["add", "a"]);
        r.git(&["commit", "-qm", "one"]);
        r.git(&["branch", "feature"]);
        r.git(&["remote", "add", "origin", r.bare.to_str().unwrap()]);
        r
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", dir)
            .envs(&self.env)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.dir, args)
    }

    fn check_with(&self, args: &[&str], extra: &[(&str, &str)]) -> GuardVerdict {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        gitguard::check(&args, &self.dir, None, &|k| env.get(k).cloned()).unwrap()
    }

    fn check(&self, args: &[&str]) -> GuardVerdict {
        self.check_with(args, &[])
    }
}

fn rules(v: &GuardVerdict) -> Vec<Rule> {
    v.findings.iter().map(|f| f.rule).collect()
}

#[track_caller]
fn expect(v: &GuardVerdict, decision: Decision, rule: Option<Rule>, case: &str) {
    assert_eq!(v.decision, decision, "{case}: {v:#?}");
    assert_eq!(v.exit_code, decision.exit_code(), "{case}");
    if let Some(r) = rule {
        assert!(rules(v).contains(&r), "{case}: expected {r:?} in {v:#?}");
    }
}

#[test]
fn every_spelling_of_a_forced_or_destructive_push() {
    use Decision::*;
    let r = Repo::new();
    r.git(&["switch", "-q", "feature"]);
    let cases: &[(&[&str], Decision, Option<Rule>)] = &[
        (&["push", "origin", "feature"], Allow, None),
        (&["push", "origin", "main"], Warn, Some(Rule::DirectPush)),
        (
            &["push", "origin", "feature:heads/main"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &["push", "-f", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "origin", "main", "-f"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "-uf", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "-fu", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "--force", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "--force", "--no-force", "origin", "main"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &["push", "--forc", "origin", "main"],
            Block,
            Some(Rule::UnknownOption),
        ),
        (
            &["push", "--force-with-lease", "origin", "main"],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (
            &["push", "--force-with-lease=main", "origin", "main"],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (
            &["push", "--force-with-lease=main:abc123", "origin", "main"],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (
            &["push", "--force-w", "origin", "main"],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (
            &[
                "push",
                "--force-if-includes",
                "--force-with-lease",
                "origin",
                "main",
            ],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (
            &["push", "--force-if-includes", "origin", "main"],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (&["push", "origin", "+main"], Block, Some(Rule::ForcePush)),
        (
            &["push", "origin", "+HEAD:main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (&["push", "origin", "+@:main"], Block, Some(Rule::ForcePush)),
        (
            &["push", "origin", "+refs/heads/feature:refs/heads/main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (&["push", "origin", "+feature"], Allow, None),
        (&["push", "-f", "origin", "feature"], Allow, None),
        (&["push", "--mirror", "origin"], Block, Some(Rule::Mirror)),
        (&["push", "--mir", "origin"], Block, Some(Rule::Mirror)),
        (
            &["push", "--delete", "origin", "main"],
            Block,
            Some(Rule::Delete),
        ),
        (&["push", "-d", "origin", "main"], Block, Some(Rule::Delete)),
        (&["push", "origin", "-d", "main"], Block, Some(Rule::Delete)),
        (&["push", "origin", ":main"], Block, Some(Rule::Delete)),
        (
            &["push", "origin", ":refs/heads/main"],
            Block,
            Some(Rule::Delete),
        ),
        (&["push", "origin", "--delete", "feature"], Allow, None),
        (
            &["push", "--prune", "origin", "refs/heads/*:refs/heads/*"],
            Block,
            Some(Rule::Prune),
        ),
        (&["push", "--all", "origin"], Warn, Some(Rule::DirectPush)),
        (
            &["push", "--branches", "origin"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &["push", "--all", "-f", "origin"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "origin", "+refs/heads/*:refs/heads/*"],
            Block,
            Some(Rule::ForcePush),
        ),
        (&["push", "--dry-run", "-f", "origin", "main"], Allow, None),
        (&["push", "-nf", "origin", "main"], Allow, None),
        (
            &["push", "-f", "--", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["push", "-o", "-f", "origin", "main"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &["push", "--repo=origin", "-f", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        // git: the first argument is the repository even with --repo, so this pushes
        // the current branch (feature) to a remote named "main"
        (&["push", "--repo=origin", "-f", "main"], Allow, None),
        (&["push", "origin", "-f", "tag", "v1"], Allow, None),
        (
            &["-c", "push.default=matching", "push", "origin"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &["-c", "push.default=matching", "push", "-f"],
            Block,
            Some(Rule::ForcePush),
        ),
        (&["push", "-f"], Allow, None),
        (
            &["--no-pager", "push", "-f", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["-P", "-c", "color.ui=never", "push", "-f", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (&["--frobnicate", "push"], Block, Some(Rule::UnknownOption)),
        (
            &[
                "-c",
                "remote.origin.push=+refs/heads/*:refs/heads/*",
                "push",
                "origin",
            ],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["-c", "remote.origin.push=refs/heads/main", "push"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &["-c", "remote.origin.mirror=true", "push"],
            Block,
            Some(Rule::Mirror),
        ),
        (
            &["-c", "Remote.origin.Mirror", "push"],
            Block,
            Some(Rule::Mirror),
        ),
        (
            &["-c", "alias.p=push -f", "p", "origin", "main"],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &[
                "-c",
                "alias.p=push --force-with-lease",
                "p",
                "origin",
                "main",
            ],
            Block,
            Some(Rule::ForceWithLease),
        ),
        (
            &["-c", "alias.p=!git push -f origin main", "p"],
            Block,
            Some(Rule::OpaqueAlias),
        ),
        (&["-c", "alias.hi=!echo hi", "hi"], Allow, None),
        (
            &["-c", "alias.push=push -f", "push", "origin", "feature"],
            Allow,
            None,
        ),
        (
            &["-c", "alias.push=push -f", "push", "origin", "main"],
            Warn,
            Some(Rule::DirectPush),
        ),
        (
            &[
                "-c",
                "alias.a=b",
                "-c",
                "alias.b=push --force",
                "a",
                "origin",
                "main",
            ],
            Block,
            Some(Rule::ForcePush),
        ),
        (
            &["-c", "alias.a=b", "-c", "alias.b=a", "a"],
            Block,
            Some(Rule::AliasLoop),
        ),
        (
            &["send-pack", "../origin.git", "main"],
            Block,
            Some(Rule::SendPack),
        ),
        (
            &["send-pack", "--all", "../origin.git"],
            Block,
            Some(Rule::SendPack),
        ),
        (&["send-pack", "../origin.git", "feature"], Allow, None),
        (&["status"], Allow, None),
    ];
    for (args, decision, rule) in cases {
        expect(&r.check(args), *decision, *rule, &args.join(" "));
    }
}

#[test]
fn a_push_without_a_refspec_resolves_the_current_branch() {
    use Decision::*;
    let r = Repo::new();
    expect(
        &r.check(&["push"]),
        Warn,
        Some(Rule::DirectPush),
        "push on main",
    );
    expect(
        &r.check(&["push", "-f"]),
        Block,
        Some(Rule::ForcePush),
        "push -f on main",
    );
    expect(
        &r.check(&["push", "origin", "HEAD"]),
        Warn,
        Some(Rule::DirectPush),
        "push HEAD",
    );
    expect(
        &r.check(&["-c", "push.default=nothing", "push", "-f"]),
        Allow,
        None,
        "nothing",
    );
    // an upstream under another name is what `push.default=upstream` writes
    r.git(&["switch", "-q", "feature"]);
    r.git(&["config", "branch.feature.remote", "origin"]);
    r.git(&["config", "branch.feature.merge", "refs/heads/main"]);
    expect(
        &r.check(&["-c", "push.default=upstream", "push", "-f"]),
        Block,
        Some(Rule::ForcePush),
        "upstream main",
    );
    // -C and --git-dir from anywhere reach the same repository
    let elsewhere = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "-C",
        r.dir.to_str().unwrap(),
        "push",
        "-f",
        "origin",
        "main",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = gitguard::check(&args, elsewhere.path(), None, &|k| r.env.get(k).cloned()).unwrap();
    expect(&v, Block, Some(Rule::ForcePush), "-C");
    let gd = format!("--git-dir={}", r.dir.join(".git").display());
    let args: Vec<String> = [gd.as_str(), "push", "-f"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let v = gitguard::check(&args, elsewhere.path(), None, &|k| r.env.get(k).cloned()).unwrap();
    // HEAD of that repository is feature now, whose upstream is main under simple: blocked
    expect(&v, Block, Some(Rule::ForcePush), "--git-dir");
}

#[test]
fn aliases_and_config_from_files_and_the_environment() {
    use Decision::*;
    let r = Repo::new();
    r.git(&["config", "alias.p", "push -f"]);
    expect(
        &r.check(&["p", "origin", "main"]),
        Block,
        Some(Rule::ForcePush),
        "repo alias",
    );
    assert_eq!(r.check(&["p", "origin", "main"]).aliases, vec!["p"]);
    r.git(&[
        "config",
        "remote.origin.push",
        "+refs/heads/main:refs/heads/main",
    ]);
    expect(
        &r.check(&["push"]),
        Block,
        Some(Rule::ForcePush),
        "remote.origin.push",
    );
    r.git(&["config", "--unset", "remote.origin.push"]);
    r.git(&["config", "remote.origin.mirror", "true"]);
    expect(
        &r.check(&["push", "origin", "feature"]),
        Block,
        Some(Rule::Mirror),
        "mirror cfg",
    );
    r.git(&["config", "--unset", "remote.origin.mirror"]);

    let count = [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "alias.q"),
        ("GIT_CONFIG_VALUE_0", "push --force"),
    ];
    expect(
        &r.check_with(&["q", "origin", "main"], &count),
        Block,
        Some(Rule::ForcePush),
        "GIT_CONFIG_COUNT",
    );
    let params = [("GIT_CONFIG_PARAMETERS", "'alias.q'='push --mirror'")];
    expect(
        &r.check_with(&["q", "origin"], &params),
        Block,
        Some(Rule::Mirror),
        "GIT_CONFIG_PARAMETERS",
    );
    let other_global = r.dir.parent().unwrap().join("other-gitconfig");
    std::fs::write(&other_global, "[alias]\n\tq = !git push origin :main\n").unwrap();
    let g = [("GIT_CONFIG_GLOBAL", other_global.to_str().unwrap())];
    expect(
        &r.check_with(&["q"], &g),
        Block,
        Some(Rule::OpaqueAlias),
        "GIT_CONFIG_GLOBAL",
    );
    let ce = [("ALIASVAL", "push -d")];
    expect(
        &r.check_with(
            &["--config-env=alias.q=ALIASVAL", "q", "origin", "main"],
            &ce,
        ),
        Block,
        Some(Rule::Delete),
        "--config-env",
    );
}

#[test]
fn local_rewrites_of_a_protected_branch() {
    use Decision::*;
    let r = Repo::new();
    let cases: &[(&[&str], Decision, Option<Rule>)] = &[
        (&["reset", "--hard"], Warn, Some(Rule::ResetHard)),
        (&["reset", "--hard", "HEAD~0"], Warn, Some(Rule::ResetHard)),
        (&["reset", "--har"], Warn, Some(Rule::ResetHard)),
        (&["reset", "--hard", "--soft"], Allow, None),
        (&["reset", "--soft", "HEAD"], Allow, None),
        (&["branch", "-D", "main"], Warn, Some(Rule::BranchRewrite)),
        (
            &["branch", "-d", "-f", "main"],
            Warn,
            Some(Rule::BranchRewrite),
        ),
        (
            &["branch", "--delete", "--force", "main"],
            Warn,
            Some(Rule::BranchRewrite),
        ),
        (
            &["branch", "-M", "feature", "main"],
            Warn,
            Some(Rule::BranchRewrite),
        ),
        (
            &["branch", "-M", "main", "old"],
            Warn,
            Some(Rule::BranchRewrite),
        ),
        (
            &["branch", "-f", "main", "feature"],
            Warn,
            Some(Rule::BranchRewrite),
        ),
        (&["branch", "-D", "feature"], Allow, None),
        (&["branch", "-dr", "origin/main"], Allow, None),
        (&["branch", "new"], Allow, None),
        (&["checkout", "-B", "main"], Warn, Some(Rule::BranchRewrite)),
        (&["switch", "-C", "main"], Warn, Some(Rule::BranchRewrite)),
        (
            &["switch", "--force-create=main"],
            Warn,
            Some(Rule::BranchRewrite),
        ),
        (&["switch", "-c", "other"], Allow, None),
        (
            &["update-ref", "-d", "refs/heads/main"],
            Block,
            Some(Rule::UpdateRef),
        ),
        (
            &["update-ref", "-m", "x", "-d", "refs/heads/main"],
            Block,
            Some(Rule::UpdateRef),
        ),
        (
            &["update-ref", "refs/heads/main", "HEAD"],
            Warn,
            Some(Rule::UpdateRef),
        ),
        (&["update-ref", "--stdin"], Block, Some(Rule::UpdateRef)),
        (&["update-ref", "-d", "refs/heads/feature"], Allow, None),
    ];
    for (args, decision, rule) in cases {
        expect(&r.check(args), *decision, *rule, &args.join(" "));
    }
    r.git(&["switch", "-q", "feature"]);
    expect(
        &r.check(&["reset", "--hard"]),
        Allow,
        None,
        "reset --hard on feature",
    );
}

#[test]
fn the_sandbox_config_sets_protected_branches_and_levels() {
    use Decision::*;
    let r = Repo::new();
    std::fs::write(
        r.dir.join(gitguard::CONFIG_FILE),
        "[git_guard]\nprotected = [\"trunk\", \"release/*\"]\ndirect_push = \"block\"\nforce_unprotected = \"warn\"\n",
    )
    .unwrap();
    let v = r.check(&["push", "-f", "origin", "main"]);
    expect(
        &v,
        Warn,
        Some(Rule::ForcePush),
        "main unprotected, force warns",
    );
    assert_eq!(
        v.policy_file.as_deref(),
        Some(r.dir.join(gitguard::CONFIG_FILE).as_path())
    );
    expect(
        &r.check(&["push", "origin", "main:trunk"]),
        Block,
        Some(Rule::DirectPush),
        "direct block",
    );
    expect(
        &r.check(&["push", "origin", "main:release/2"]),
        Block,
        Some(Rule::DirectPush),
        "glob",
    );
    // an explicit config wins over the repository's own
    let pinned = r.dir.parent().unwrap().join("pinned.toml");
    std::fs::write(&pinned, "[git_guard]\nprotected = [\"main\"]\n").unwrap();
    let args: Vec<String> = ["push", "origin", "main:trunk"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let v = gitguard::check(&args, &r.dir, Some(&pinned), &|k| r.env.get(k).cloned()).unwrap();
    expect(&v, Allow, None, "pinned config");
    let v = r.check_with(
        &["push", "-f", "origin", "main"],
        &[(gitguard::ENV_CONFIG, pinned.to_str().unwrap())],
    );
    expect(
        &v,
        Block,
        Some(Rule::ForcePush),
        "config from the environment",
    );
    // a broken config is an error naming the file, never a silent default
    std::fs::write(
        r.dir.join(gitguard::CONFIG_FILE),
        "[git_guard]\nprotected = \"main\"\n",
    )
    .unwrap();
    let args: Vec<String> = vec!["push".into()];
    let e = gitguard::check(&args, &r.dir, None, &|k| r.env.get(k).cloned()).unwrap_err();
    assert!(e.message.contains(gitguard::CONFIG_FILE), "{}", e.message);
}

#[test]
fn the_hook_decides_from_real_ref_updates() {
    use Decision::*;
    let r = Repo::new();
    r.git(&["push", "-q", "origin", "main", "feature"]);
    let old = r.git(&["rev-parse", "main"]);
    std::fs::write(r.dir.join("a"), "2").unwrap();
    r.git(&["commit", "-qam", "two"]);
    let ahead = r.git(&["rev-parse", "main"]);
    r.git(&["switch", "-q", "-c", "rewrite", &old]);
    r.git(&["commit", "-q", "--amend", "-m", "rewritten"]);
    let rewritten = r.git(&["rev-parse", "HEAD"]);
    let zero = "0".repeat(40);
    let hook = |updates: String| {
        gitguard::check_hook(&updates, &r.dir, None, &|k| r.env.get(k).cloned()).unwrap()
    };
    let line = |l: &str, rr: &str, ro: &str| format!("refs/heads/x {l} {rr} {ro}\n");
    expect(
        &hook(line(&ahead, "refs/heads/main", &old)),
        Warn,
        Some(Rule::DirectPush),
        "ff",
    );
    expect(
        &hook(line(&rewritten, "refs/heads/main", &old)),
        Block,
        Some(Rule::NonFastForward),
        "non-ff",
    );
    expect(
        &hook(line(&zero, "refs/heads/main", &old)),
        Block,
        Some(Rule::Delete),
        "delete",
    );
    expect(
        &hook(line(&rewritten, "refs/heads/feature", &old)),
        Allow,
        None,
        "non-ff unprotected",
    );
    expect(
        &hook(line(&zero, "refs/heads/feature", &old)),
        Allow,
        None,
        "delete unprotected",
    );
    expect(
        &hook(line(&ahead, "refs/heads/main", &zero)),
        Warn,
        Some(Rule::DirectPush),
        "create",
    );
    // a remote commit this repository does not have cannot be proven an ancestor
    let unknown = "1234567890".repeat(4);
    expect(
        &hook(line(&ahead, "refs/heads/main", &unknown)),
        Block,
        Some(Rule::NonFastForward),
        "unknown",
    );
    // several lines: the strongest decides, every finding listed
    let v =
        hook(line(&ahead, "refs/heads/main", &old) + &line(&zero, "refs/heads/production", &old));
    expect(&v, Block, Some(Rule::Delete), "two lines");
    assert_eq!(v.findings.len(), 2);
    for garbage in ["garbage\n", "not a ref update\n", "a b c d e\n"] {
        let e =
            gitguard::check_hook(garbage, &r.dir, None, &|k| r.env.get(k).cloned()).unwrap_err();
        assert_eq!(e.kind, idpkit::ErrorKind::InvalidInput, "{garbage:?}");
        assert!(e.message.contains("line 1"), "{}", e.message);
    }
}

#[test]
fn an_unreadable_repository_is_refused_not_guessed() {
    let r = Repo::new();
    std::fs::write(r.dir.join(".git/config"), "[core\n\tbare = garbage").unwrap();
    let v = r.check(&["push", "origin", "feature"]);
    expect(&v, Decision::Block, Some(Rule::Unreadable), "corrupt repo");
    // outside any repository, git refuses a push itself; the guard lets git say so
    let nowhere = tempfile::tempdir().unwrap();
    let args: Vec<String> = vec!["status".into()];
    let v = gitguard::check(&args, nowhere.path(), None, &|k| r.env.get(k).cloned()).unwrap();
    expect(&v, Decision::Allow, None, "no repo");
}

#[test]
fn messages_never_repeat_a_password_from_a_url() {
    let r = Repo::new();
    let v = r.check(&[
        "push",
        "-f",
        "https://user:s3cret@git.example.com/r.git",
        "main",
    ]);
    expect(&v, Decision::Block, Some(Rule::ForcePush), "url");
    let text = serde_json::to_string(&v).unwrap() + &v.describe();
    assert!(!text.contains("s3cret"), "{text}");
}
