//! The git fetcher against the rig's real servers: git http-backend behind nginx with basic
//! auth (a CA-signed leaf), Gitea behind the certificate idpbuilder serves, sshd with a key;
//! every kind of revision, updates, refused credentials and certificates, unknown host keys,
//! escaping symlinks, secrets on disk, shallowness and cancellation. Fails (never skips) when
//! the rig is not up.

mod common;

use idpkit::gitops::git::{self, GitAuth, GitCheckout, GitOptions, GitSource, KnownHosts};
use idpkit::trust::TrustOptions;
use idpkit::{Call, CancelToken, ErrorKind, Event, EventSink};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Rig = HashMap<String, String>;

/// rig.env, with the git peers this file needs answering.
fn rig() -> Rig {
    let env = common::rig(&[]);
    for key in ["GIT_FIXTURE_HTTPS", "GITEA_GIT_URL", "GIT_FIXTURE_SSH"] {
        let url = reqwest_free_parse(&env[key]);
        let ok = url
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok());
        assert!(
            ok,
            "rig peer {key} ({url}) is not reachable; start the rig with tests/rig/up"
        );
    }
    env
}

/// `host:port` of a URL (`scheme://[user@]host:port/...`).
fn reqwest_free_parse(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.contains(':') {
        hostport.to_string()
    } else if url.starts_with("https") {
        format!("{hostport}:443")
    } else {
        format!("{hostport}:22")
    }
}

/// Only the given CA: no platform roots, no certs.d.
fn trust_only(ca: Option<&str>) -> TrustOptions {
    TrustOptions {
        ca_files: ca.map(PathBuf::from).into_iter().collect(),
        certs_d: Some(vec![]),
        no_platform_roots: true,
        ..Default::default()
    }
}

fn https_options(rig: &Rig) -> GitOptions {
    GitOptions {
        auth: GitAuth::Basic {
            username: rig["GIT_USER"].clone(),
            password: rig["GIT_PASSWORD"].clone(),
        },
        trust: trust_only(Some(&rig["CA"])),
        ..Default::default()
    }
}

fn ssh_key(rig: &Rig) -> GitAuth {
    GitAuth::SshKey {
        private_key_pem: std::fs::read_to_string(&rig["SSH_KEY"]).unwrap(),
        passphrase: None,
    }
}

fn ssh_options(rig: &Rig) -> GitOptions {
    GitOptions {
        auth: ssh_key(rig),
        known_hosts: KnownHosts::File(rig["SSH_KNOWN_HOSTS"].clone().into()),
        ..Default::default()
    }
}

fn source(url: &str, revision: Option<&str>) -> GitSource {
    GitSource {
        url: url.to_string(),
        revision: revision.map(String::from),
        ..Default::default()
    }
}

/// The commit `rev` names in the fixture's bare repository, as git itself resolves it.
fn rev_parse(git_dir: &str, rev: &str) -> String {
    let out = Command::new("git")
        .args([
            "--git-dir",
            git_dir,
            "rev-parse",
            &format!("{rev}^{{commit}}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "git rev-parse {rev}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn counter(dest: &Path) -> String {
    std::fs::read_to_string(dest.join("counter.txt"))
        .unwrap()
        .trim()
        .to_string()
}

fn recorder() -> (EventSink, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    let sink: EventSink = Arc::new(move |ev: &Event| e.lock().unwrap().push(ev.clone()));
    (sink, events)
}

/// No file under `dir` (`.git` included: config, reflogs, packs, FETCH_HEAD) holds any of
/// `secrets`.
fn assert_no_secret_on_disk(dir: &Path, secrets: &[&str]) {
    let mut files = 0;
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{} holds a secret",
                entry.display()
            );
        }
    }
    assert!(files > 3, "walked only {files} files");
    assert!(dir.join(".git/config").is_file());
    assert!(dir.join(".git/logs/HEAD").is_file(), "HEAD has a reflog");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = p.symlink_metadata().unwrap();
        if m.is_dir() {
            out.extend(walk(&p));
        } else if m.is_file() {
            out.push(p);
        }
    }
    out
}

#[test]
fn https_with_basic_auth_checks_out_every_kind_of_revision() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_HTTPS"];
    let dir = &rig["GIT_FIXTURE_DIR"];
    let opts = https_options(&rig);
    let tmp = tempfile::tempdir().unwrap();
    let main = rev_parse(dir, "main");
    let cases: [(Option<&str>, &str, &str, Option<&str>); 8] = [
        (None, "main", "120", Some("refs/heads/main")),
        (Some("HEAD"), "main", "120", Some("refs/heads/main")),
        (Some("main"), "main", "120", Some("refs/heads/main")),
        (Some("develop"), "develop", "80", Some("refs/heads/develop")),
        (Some("v0.1.0"), "v0.1.0", "10", Some("refs/tags/v0.1.0")),
        (Some("v0.2.0"), "v0.2.0", "60", Some("refs/tags/v0.2.0")),
        (
            Some("refs/heads/feature/x"),
            "feature/x",
            "80",
            Some("refs/heads/feature/x"),
        ),
        (Some(main.as_str()), "main", "120", None),
    ];
    for (i, (rev, git_rev, count, resolved)) in cases.into_iter().enumerate() {
        let dest = tmp.path().join(format!("c{i}"));
        let got = git::checkout(&dest, &source(url, rev), &opts, &Call::new())
            .unwrap_or_else(|e| panic!("{rev:?}: {e:?}"));
        assert_eq!(got.commit, rev_parse(dir, git_rev), "{rev:?}");
        assert_eq!(got.resolved_ref.as_deref(), resolved, "{rev:?}");
        assert_eq!(counter(&dest), count, "{rev:?}");
        assert!(got.removed_symlinks.is_empty());
        // Shallow over HTTPS: one commit of history, recorded as git records it.
        assert!(
            got.shallow && dest.join(".git/shallow").is_file(),
            "{rev:?} not shallow"
        );
        let shallow = std::fs::read_to_string(dest.join(".git/shallow")).unwrap();
        assert_eq!(shallow.trim(), got.commit, "{rev:?}");
        let head = Command::new("git")
            .args(["-C", dest.to_str().unwrap(), "rev-parse", "HEAD"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&head.stdout).trim(), got.commit);
    }
    assert!(tmp.path().join("c3/DEVELOP.md").is_file());
    assert!(!tmp.path().join("c4/log/011.txt").exists());

    // A commit no ref points at, full and abbreviated: the server cannot send it alone, so
    // the whole history comes (not shallow).
    let old = rev_parse(dir, "main~90");
    for (i, rev) in [old.clone(), old[..10].to_string()].iter().enumerate() {
        let dest = tmp.path().join(format!("sha{i}"));
        let got = git::checkout(&dest, &source(url, Some(rev)), &opts, &Call::new()).unwrap();
        assert_eq!(
            (got.commit.as_str(), got.resolved_ref.as_deref()),
            (old.as_str(), None)
        );
        assert_eq!(counter(&dest), "30");
        assert!(!got.shallow);
    }

    // ls_remote tells the same without fetching.
    let rev = git::ls_remote(&source(url, Some("v0.1.0")), &opts, &Call::new()).unwrap();
    assert_eq!(rev.commit.unwrap(), rev_parse(dir, "v0.1.0"));

    let e = git::checkout(
        &tmp.path().join("nope"),
        &source(url, Some("no-such-branch")),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(
        e.message.contains("no-such-branch") && e.message.contains("develop"),
        "{}",
        e.message
    );
    assert!(
        !tmp.path().join("nope").exists(),
        "a failed checkout leaves nothing"
    );
}

#[test]
fn update_moves_an_existing_checkout_to_exactly_another_revision() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_HTTPS"];
    let dir = &rig["GIT_FIXTURE_DIR"];
    let opts = https_options(&rig);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("c");
    git::checkout(&dest, &source(url, Some("main")), &opts, &Call::new()).unwrap();
    std::fs::write(dest.join("stray.txt"), "left by someone").unwrap();
    std::fs::write(dest.join("counter.txt"), "edited").unwrap();

    let got = git::update(&dest, &source(url, Some("develop")), &opts, &Call::new()).unwrap();
    assert_eq!(got.commit, rev_parse(dir, "develop"));
    assert_eq!(counter(&dest), "80");
    assert!(dest.join("DEVELOP.md").is_file());
    assert!(!dest.join("log/120.txt").exists(), "files of main are gone");
    assert!(!dest.join("stray.txt").exists(), "untracked files are gone");

    let got = git::update(&dest, &source(url, Some("v0.1.0")), &opts, &Call::new()).unwrap();
    assert_eq!(got.commit, rev_parse(dir, "v0.1.0"));
    assert_eq!(counter(&dest), "10");
    assert!(!dest.join("DEVELOP.md").exists());

    // Back to a commit fetched before: no download needed, same answer.
    let got = git::update(&dest, &source(url, Some("develop")), &opts, &Call::new()).unwrap();
    assert_eq!(got.commit, rev_parse(dir, "develop"));
    assert_eq!(counter(&dest), "80");

    let e = git::update(
        &tmp.path().join("missing"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
}

#[test]
fn a_wrong_password_is_auth_after_one_try_and_names_the_host() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_HTTPS"];
    let tmp = tempfile::tempdir().unwrap();
    let wrong = "wrong-Pa55word-idpkit";
    let opts = GitOptions {
        auth: GitAuth::Basic {
            username: rig["GIT_USER"].clone(),
            password: wrong.into(),
        },
        ..https_options(&rig)
    };
    let start = Instant::now();
    let e = git::checkout(
        &tmp.path().join("c"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(
        e.message.contains("127.0.0.1:") && e.message.contains("rejected"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(wrong) && !format!("{opts:?}").contains(wrong));
    assert!(!tmp.path().join("c").exists());

    // No credentials at all: AUTH saying what to give.
    let opts = GitOptions {
        auth: GitAuth::None,
        ..https_options(&rig)
    };
    let e = git::checkout(
        &tmp.path().join("c"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(e.message.contains("requires credentials"), "{}", e.message);
}

#[test]
fn https_trusts_exactly_what_the_registry_client_trusts() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_HTTPS"];
    let tmp = tempfile::tempdir().unwrap();
    // The rig CA not given: the certificate is refused, with the fix.
    let opts = GitOptions {
        trust: trust_only(None),
        ..https_options(&rig)
    };
    let e = git::checkout(
        &tmp.path().join("c"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(e.message.contains("127.0.0.1:"), "{}", e.message);

    // A valid chain for another name (the rig's wrong-host endpoint).
    let wrong = format!("{}/git/fixture.git", rig["TLS_WRONGHOST_URL"]);
    let e = git::ls_remote(&source(&wrong, None), &https_options(&rig), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);

    // Insecure: works without the CA, and says so in an audit event.
    let (sink, events) = recorder();
    let opts = GitOptions {
        trust: trust_only(None),
        insecure: true,
        ..https_options(&rig)
    };
    git::checkout(
        &tmp.path().join("i"),
        &source(url, None),
        &opts,
        &Call::new().with_sink(Some(sink)),
    )
    .unwrap();
    assert!(events.lock().unwrap().iter().any(|e| matches!(e,
        Event::InsecureConnection { host, .. } if host.starts_with("127.0.0.1:"))));
}

#[test]
fn gitea_behind_idpbuilders_certificate_with_a_token_and_a_password() {
    let rig = rig();
    let url = &rig["GITEA_GIT_URL"];
    let tmp = tempfile::tempdir().unwrap();
    let trust = trust_only(Some(&rig["GITEA_CA"]));
    let token = rig["GITEA_TOKEN"].clone();
    let password = rig["GITEA_PASSWORD"].clone();
    let mut commits = Vec::new();
    for (i, auth) in [
        GitAuth::Token(token.clone()),
        GitAuth::Basic {
            username: rig["GITEA_USER"].clone(),
            password: password.clone(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let dest = tmp.path().join(format!("g{i}"));
        let opts = GitOptions {
            auth,
            trust: trust.clone(),
            ..Default::default()
        };
        let got = git::checkout(&dest, &source(url, None), &opts, &Call::new()).unwrap();
        assert_eq!(got.resolved_ref.as_deref(), Some("refs/heads/main"));
        assert!(got.shallow);
        assert!(
            std::fs::read_dir(&dest).unwrap().count() > 1,
            "files checked out"
        );
        assert_no_secret_on_disk(&dest, &[&token, &password]);
        commits.push(got.commit);
    }
    assert_eq!(commits[0], commits[1]);

    // idpbuilder's certificate, not given: UNTRUSTED, saying it is self-signed.
    let opts = GitOptions {
        auth: GitAuth::Token(token),
        trust: trust_only(None),
        ..Default::default()
    };
    let e = git::checkout(
        &tmp.path().join("u"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(
        e.message.contains("gitea.cnoe.localtest.me"),
        "{}",
        e.message
    );
}

#[test]
fn ssh_with_a_key_checks_host_keys_from_a_file_or_configmap_text() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_SSH"];
    let dir = &rig["GIT_FIXTURE_DIR"];
    let tmp = tempfile::tempdir().unwrap();
    let key = std::fs::read_to_string(&rig["SSH_KEY"]).unwrap();

    let got = git::checkout(
        &tmp.path().join("f"),
        &source(url, Some("v0.1.0")),
        &ssh_options(&rig),
        &Call::new(),
    )
    .unwrap();
    assert_eq!(got.commit, rev_parse(dir, "v0.1.0"));
    assert_eq!(counter(&tmp.path().join("f")), "10");
    assert!(got.shallow, "shallow over SSH");
    let key_body: String = key.lines().nth(1).unwrap().to_string();
    assert_no_secret_on_disk(&tmp.path().join("f"), &[&key_body]);

    // The same keys as Argo CD's argocd-ssh-known-hosts-cm text.
    let cm = GitOptions {
        known_hosts: KnownHosts::Text(std::fs::read_to_string(&rig["SSH_KNOWN_HOSTS"]).unwrap()),
        ..ssh_options(&rig)
    };
    let got = git::checkout(
        &tmp.path().join("t"),
        &source(url, Some("develop")),
        &cm,
        &Call::new(),
    )
    .unwrap();
    assert_eq!(got.commit, rev_parse(dir, "develop"));
    let got = git::update(
        &tmp.path().join("t"),
        &source(url, Some("main")),
        &cm,
        &Call::new(),
    )
    .unwrap();
    assert_eq!(got.commit, rev_parse(dir, "main"));
    assert_eq!(counter(&tmp.path().join("t")), "120");
}

#[test]
fn an_unknown_or_changed_ssh_host_key_is_untrusted_and_insecure_is_audited() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_SSH"];
    let tmp = tempfile::tempdir().unwrap();
    let port = &rig["SSH_PORT"];

    let unknown = GitOptions {
        known_hosts: KnownHosts::Text(String::new()),
        ..ssh_options(&rig)
    };
    let e = git::checkout(
        &tmp.path().join("u"),
        &source(url, None),
        &unknown,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(
        e.message.contains(&format!("[127.0.0.1]:{port}"))
            && e.message.contains("SHA256:")
            && e.message
                .contains(&format!("ssh-keyscan -p {port} 127.0.0.1")),
        "{}",
        e.message
    );
    assert!(!tmp.path().join("u").exists());

    // Another ed25519 key listed for the host: the key changed.
    let other = std::fs::read_to_string(format!("{}.pub", rig["SSH_KEY"])).unwrap();
    let other: Vec<&str> = other.split_whitespace().collect();
    let changed = GitOptions {
        known_hosts: KnownHosts::Text(format!("[127.0.0.1]:{port} {} {}\n", other[0], other[1])),
        ..ssh_options(&rig)
    };
    let e = git::checkout(
        &tmp.path().join("c"),
        &source(url, None),
        &changed,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(e.message.contains("CHANGED"), "{}", e.message);

    // Insecure: the key is not checked, and an audit event says so.
    let (sink, events) = recorder();
    let insecure = GitOptions {
        insecure: true,
        ..unknown
    };
    let got = git::checkout(
        &tmp.path().join("i"),
        &source(url, None),
        &insecure,
        &Call::new().with_sink(Some(sink)),
    )
    .unwrap();
    assert_eq!(got.commit, rev_parse(&rig["GIT_FIXTURE_DIR"], "main"));
    let events = events.lock().unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::InsecureConnection { host, reason }
            if host == &format!("[127.0.0.1]:{port}") && reason.contains("SSH host key"))),
        "{events:?}"
    );
}

#[test]
fn a_refused_ssh_key_is_auth_after_one_try() {
    let rig = rig();
    let url = &rig["GIT_FIXTURE_SSH"];
    let tmp = tempfile::tempdir().unwrap();
    // A valid key that is not authorized: the rig's own host key.
    let host_key = Path::new(&rig["SSH_KEY"]).with_file_name("host_ed25519");
    let opts = GitOptions {
        auth: GitAuth::SshKey {
            private_key_pem: std::fs::read_to_string(host_key).unwrap(),
            passphrase: None,
        },
        ..ssh_options(&rig)
    };
    let start = Instant::now();
    let e = git::checkout(
        &tmp.path().join("c"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(e.message.contains("[127.0.0.1]:"), "{}", e.message);

    // No key at all.
    let opts = GitOptions {
        auth: GitAuth::None,
        ..ssh_options(&rig)
    };
    let e = git::checkout(
        &tmp.path().join("c"),
        &source(url, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(e.message.contains("wants an SSH key"), "{}", e.message);
}

#[test]
fn credentials_reach_no_file_of_the_checkout() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("c");
    let opts = https_options(&rig);
    git::checkout(
        &dest,
        &source(&rig["GIT_FIXTURE_HTTPS"], Some("develop")),
        &opts,
        &Call::new(),
    )
    .unwrap();
    git::update(
        &dest,
        &source(&rig["GIT_FIXTURE_HTTPS"], Some("v0.2.0")),
        &opts,
        &Call::new(),
    )
    .unwrap();
    let password = rig["GIT_PASSWORD"].as_str();
    let b64 = {
        use std::process::Stdio;
        let mut c = Command::new("base64")
            .args(["-w0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{}:{password}", rig["GIT_USER"]).as_bytes())
            .unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
    };
    assert_no_secret_on_disk(&dest, &[password, &b64]);
    let config = std::fs::read_to_string(dest.join(".git/config")).unwrap();
    assert!(
        config.contains(&format!("url = {}", rig["GIT_FIXTURE_HTTPS"])),
        "{config}"
    );
    assert!(
        !config.contains('@'),
        "no user info in the remote URL: {config}"
    );

    // A password in the URL is refused before anything is written.
    let with_password =
        rig["GIT_FIXTURE_HTTPS"].replace("https://", &format!("https://rig:{password}@"));
    let e = git::checkout(
        &tmp.path().join("p"),
        &source(&with_password, None),
        &opts,
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(!e.message.contains(password), "{}", e.message);
    assert!(!tmp.path().join("p").exists());
}

/// A repository of the rig (`rig_git_repo`) holding escaping and inside symlinks.
fn symlink_repo(rig: &Rig) -> String {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rig/lib.sh");
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(". '{}' && rig_git_repo git-fetch-symlinks", lib.display()),
        ])
        .env("IDPKIT_RIG_DIR", common::rig_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "rig_git_repo: {out:?}");
    let https = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let bare = format!("{}/git-fetch-symlinks.git", rig["GIT_REPOS"]);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::create_dir_all(w.join("sub")).unwrap();
    std::fs::write(w.join("sub/file.yaml"), "kind: ConfigMap\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", w.join("x")).unwrap();
    std::os::unix::fs::symlink("../../outside", w.join("sub/y")).unwrap();
    std::os::unix::fs::symlink("sub/file.yaml", w.join("inside")).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-C", w.to_str().unwrap()])
            .args(args)
            // Fixed dates and identity: the same commit every run, so the push is a no-op.
            .env("GIT_AUTHOR_DATE", "1700000000 +0000")
            .env("GIT_COMMITTER_DATE", "1700000000 +0000")
            .env("GIT_AUTHOR_NAME", "idpkit test")
            .env("GIT_AUTHOR_EMAIL", "test@idpkit.invalid")
            .env("GIT_COMMITTER_NAME", "idpkit test")
            .env("GIT_COMMITTER_EMAIL", "test@idpkit.invalid")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "symlinks"]);
    git(&["push", "-q", "--force", &bare, "main:main"]);
    https
}

#[test]
fn symlinks_that_leave_the_tree_are_removed_and_reported() {
    let rig = rig();
    let url = symlink_repo(&rig);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("c");
    let (sink, events) = recorder();
    let got = git::checkout(
        &dest,
        &source(&url, None),
        &https_options(&rig),
        &Call::new().with_sink(Some(sink)),
    )
    .unwrap();
    assert_eq!(
        got.removed_symlinks,
        [PathBuf::from("sub/y"), PathBuf::from("x")]
    );
    assert!(dest.join("x").symlink_metadata().is_err());
    assert!(dest.join("sub/y").symlink_metadata().is_err());
    assert_eq!(
        std::fs::read_link(dest.join("inside")).unwrap(),
        PathBuf::from("sub/file.yaml")
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("inside")).unwrap(),
        "kind: ConfigMap\n"
    );
    let warnings = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Warning { message } if message.contains("removed symlink")))
        .count();
    assert_eq!(warnings, 2);

    // An update restores the commit exactly, then removes them again.
    let again = git::update(
        &dest,
        &source(&url, None),
        &https_options(&rig),
        &Call::new(),
    )
    .unwrap();
    assert_eq!(again.removed_symlinks, got.removed_symlinks);
    assert!(dest.join("x").symlink_metadata().is_err());
}

#[test]
fn a_local_repository_is_cloned_whole() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", rig["GIT_FIXTURE_DIR"]);
    let got: GitCheckout = git::checkout(
        &tmp.path().join("c"),
        &source(&url, Some("v0.2.0")),
        &GitOptions::default(),
        &Call::new(),
    )
    .unwrap();
    assert_eq!(got.commit, rev_parse(&rig["GIT_FIXTURE_DIR"], "v0.2.0"));
    assert!(!got.shallow, "the local transport cannot fetch shallowly");
}

#[test]
fn cancelling_before_or_while_fetching_is_cancelled() {
    let rig = rig();
    let tmp = tempfile::tempdir().unwrap();
    let token = CancelToken::new();
    token.cancel();
    let call = Call::new().with_cancel(Some(token));
    let e = git::checkout(
        &tmp.path().join("b"),
        &source(&rig["GIT_FIXTURE_HTTPS"], None),
        &https_options(&rig),
        &call,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(!tmp.path().join("b").exists());

    // A server that advertises a ref and then never sends the pack.
    let url = stalling_server();
    let token = CancelToken::new();
    let trigger = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        trigger.cancel();
    });
    let start = Instant::now();
    let call = Call::new().with_cancel(Some(token));
    let e = git::checkout(
        &tmp.path().join("w"),
        &source(&url, None),
        &GitOptions::default(),
        &call,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{}", e.message);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(!tmp.path().join("w").exists());
}

#[test]
fn a_dumb_or_hostile_http_server_is_a_clear_error() {
    let url =
        serve_once("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
    let tmp = tempfile::tempdir().unwrap();
    let e = git::checkout(
        &tmp.path().join("d"),
        &source(&url, None),
        &GitOptions::default(),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{}", e.message);
    assert!(
        e.message.contains("not a smart git HTTP server"),
        "{}",
        e.message
    );

    let url = serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let e = git::checkout(
        &tmp.path().join("n"),
        &source(&url, None),
        &GitOptions::default(),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
}

/// A git URL on loopback whose first request gets `answer` (then the server goes away).
fn serve_once(answer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}/r.git")
}

/// A smart-HTTP server that advertises one branch, then answers the pack request with
/// headers and nothing more, for at most 30 s.
fn stalling_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let oid = "1111111111111111111111111111111111111111";
        let pkt = |s: &str| format!("{:04x}{s}", s.len() + 4);
        let advert = format!(
            "{}0000{}{}0000",
            pkt("# service=git-upload-pack\n"),
            pkt(&format!("{oid} HEAD\0symref=HEAD:refs/heads/main multi_ack_detailed side-band-64k shallow\n")),
            pkt(&format!("{oid} refs/heads/main\n")),
        );
        for _ in 0..4 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            let mut buf = vec![0u8; 65536];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if req.starts_with("GET") {
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{advert}",
                    advert.len()
                );
            } else {
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-result\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                // Hold the connection open without sending the pack.
                let _ = s.read(&mut buf);
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
        }
    });
    format!("http://127.0.0.1:{port}/r.git")
}
