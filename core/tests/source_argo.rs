//! Argo CD Applications and plain git sources against the rig: Applications created in the
//! rig's kube-apiserver (status written with the object, as Argo CD's controller writes it:
//! the Application CRD has no status subresource), pointing at the rig's git over HTTPS
//! (basic auth), Gitea behind idpbuilder's certificate, and sshd (a key from a Secret, host
//! keys from `argocd-ssh-known-hosts-cm`); credentials from `repository`, `repo-creds` and
//! explicit Secrets. Fails (never skips) when the rig is not up.

mod common;

use idpkit::gitops::argo::{fetch_argo, ArgoFetched, FetchArgoOptions};
use idpkit::gitops::git_cache::{fetch_git, FetchGitOptions, GitRemoteOptions};
use idpkit::gitops::CacheOptions;
use idpkit::kube::{KubeClient, KubeOptions};
use idpkit::registry::Credential;
use idpkit::trust::TrustOptions;
use idpkit::{Call, ErrorKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

type Rig = HashMap<String, String>;
const MANAGER: &str = "idpkit-test";

fn kube_options(env: &Rig) -> KubeOptions {
    KubeOptions {
        kubeconfig: Some(env["KUBECONFIG"].clone().into()),
        context: None,
    }
}

fn kube(env: &Rig) -> KubeClient {
    KubeClient::connect(&kube_options(env), None).unwrap()
}

/// A namespace of this test's own, standing for Argo CD's (its Secrets and ConfigMap),
/// so that tests running side by side do not see each other's.
fn argocd_namespace(env: &Rig, test: &str) -> String {
    let ns = format!("argocd-{test}-{}", std::process::id());
    kube(env)
        .apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            MANAGER,
        )
        .unwrap();
    ns
}

fn secret(env: &Rig, ns: &str, name: &str, kind: Option<&str>, data: Value) {
    let mut s = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "stringData": data,
    });
    if let Some(kind) = kind {
        s["metadata"]["labels"] = json!({"argocd.argoproj.io/secret-type": kind});
    }
    kube(env).apply(&s, MANAGER).unwrap();
}

/// Creates Application `argocd/name` with `spec` and `status` (written with the object).
fn application(env: &Rig, name: &str, spec: Value, status: Value) {
    kube(env)
        .apply(
            &json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "namespace": "argocd"},
                "spec": spec, "status": status,
            }),
            MANAGER,
        )
        .unwrap();
}

fn options(env: &Rig, cache: &Path, name: &str, argocd_ns: &str) -> FetchArgoOptions {
    FetchArgoOptions {
        namespace: "argocd".into(),
        name: name.into(),
        cluster: kube_options(env),
        argocd_namespace: Some(argocd_ns.into()),
        cache: CacheOptions {
            cache: Some(cache.to_path_buf()),
        },
        trust: trust(env),
        ..Default::default()
    }
}

fn trust(env: &Rig) -> TrustOptions {
    TrustOptions {
        ca_files: vec![env["CA"].clone().into(), env["GITEA_CA"].clone().into()],
        certs_d: Some(vec![]),
        no_platform_roots: true,
        ..Default::default()
    }
}

fn commit_of(env: &Rig, rev: &str) -> String {
    let out = std::process::Command::new("git")
        .args([
            "--git-dir",
            &env["GIT_FIXTURE_DIR"],
            "rev-parse",
            &format!("{rev}^{{commit}}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "rev-parse {rev}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn name(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Every file under `root` (the whole cache), as bytes: what an attacker reading the disk
/// would find.
fn any_file_contains(root: &Path, needle: &str) -> Option<String> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let bytes = std::fs::read(e.path()).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    return Some(e.path().display().to_string());
                }
            }
        }
    }
    None
}

#[test]
fn a_single_source_over_https_uses_its_repository_secret_the_synced_revision_and_then_hits() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "single");
    // The Secret's URL differs in case and `.git` from the Application's: Argo CD's
    // normalization makes them one repository.
    let url = env["GIT_FIXTURE_HTTPS"].clone();
    secret(
        &env,
        &ns,
        "fixture-repo",
        Some("repository"),
        json!({"url": url.trim_end_matches(".git").to_uppercase().replace("HTTPS://", "https://"),
               "username": env["GIT_USER"], "password": env["GIT_PASSWORD"], "type": "git"}),
    );
    let app = name("single");
    let develop = commit_of(&env, "develop");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": url, "path": "log", "targetRevision": "main"},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({"sync": {"status": "Synced", "revision": develop}}),
    );
    let cache = tempfile::tempdir().unwrap();
    let r: ArgoFetched = fetch_argo(&options(&env, cache.path(), &app, &ns), &Call::new()).unwrap();
    assert_eq!(r.application, format!("Application argocd/{app}"));
    assert_eq!(r.sources.len(), 1);
    let s = &r.sources[0];
    assert_eq!(
        s.commit.as_deref(),
        Some(develop.as_str()),
        "the synced revision, not main"
    );
    assert_eq!(
        s.credentials.as_deref(),
        Some(format!("Secret {ns}/fixture-repo (repository)").as_str())
    );
    let fetched = s.fetched.as_ref().unwrap();
    assert!(!fetched.hit);
    assert_eq!(
        fetched.revision,
        format!("sha1:{develop}"),
        "Flux's form for a bare commit"
    );
    let argo_dir = cache.path().join("argocd-repo/argocd").join(&app);
    assert_eq!(fetched.path.parent().unwrap(), argo_dir);
    assert_eq!(s.dir.as_deref(), Some(fetched.path.join("log").as_path()));
    assert!(fetched.path.join("DEVELOP.md").is_file(), "develop's tree");
    assert!(fetched.path.join("log/001.txt").is_file());
    assert!(fetched.files > 10, "{fetched:?}");
    // The password is nowhere on disk: not in .git/config, the reflog, FETCH_HEAD, records.
    assert_eq!(any_file_contains(cache.path(), &env["GIT_PASSWORD"]), None);

    let again = fetch_argo(&options(&env, cache.path(), &app, &ns), &Call::new()).unwrap();
    let hit = again.sources[0].fetched.as_ref().unwrap();
    assert!(hit.hit);
    assert_eq!(hit.path, fetched.path);

    // A new synced revision is a new entry beside the old one.
    let main = commit_of(&env, "main");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": url, "path": "log", "targetRevision": "main"},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({"sync": {"status": "Synced", "revision": main}}),
    );
    let moved = fetch_argo(&options(&env, cache.path(), &app, &ns), &Call::new()).unwrap();
    let m = moved.sources[0].fetched.as_ref().unwrap();
    assert!(!m.hit);
    assert_ne!(m.path, fetched.path);
    assert!(!m.path.join("DEVELOP.md").exists());
    assert!(
        fetched.path.join("DEVELOP.md").is_file(),
        "the old entry is untouched"
    );
}

#[test]
fn multi_source_applications_take_repo_creds_by_longest_prefix_and_skip_helm_sources() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "multi");
    let git_base = env["GIT_URL"].trim_end_matches('/').to_string();
    // Two repo-creds for the rig's git host: the longer prefix (the /git path) wins; the
    // host-wide one holds a wrong password that would fail.
    let host_only = git_base.rsplit_once('/').unwrap().0.to_string();
    secret(
        &env,
        &ns,
        "git-host",
        Some("repo-creds"),
        json!({"url": host_only, "username": env["GIT_USER"], "password": "wrong-host-wide"}),
    );
    secret(
        &env,
        &ns,
        "git-path",
        Some("repo-creds"),
        json!({"url": git_base, "username": env["GIT_USER"], "password": env["GIT_PASSWORD"]}),
    );
    // Gitea, with the idpbuilder certificate: an org-wide repo-creds (upper case in the
    // Secret, as users write it) and Gitea's own admin credentials.
    let gitea = env["GITEA_GIT_URL"].clone();
    let gitea_org = gitea
        .rsplit_once('/')
        .unwrap()
        .0
        .replace("giteaAdmin", "GITEAADMIN");
    secret(
        &env,
        &ns,
        "gitea-org",
        Some("repo-creds"),
        json!({"url": gitea_org, "username": env["GITEA_USER"], "password": env["GITEA_PASSWORD"]}),
    );
    let app = name("multi");
    application(
        &env,
        &app,
        json!({"project": "default", "sources": [
            {"repoURL": env["GIT_FIXTURE_HTTPS"], "targetRevision": "v1.0.0", "ref": "values"},
            {"repoURL": "https://charts.example.invalid", "chart": "nginx", "targetRevision": "1.2.3"},
            {"repoURL": gitea, "targetRevision": "main", "path": "."},
        ], "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({}),
    );
    let cache = tempfile::tempdir().unwrap();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: idpkit::EventSink =
        std::sync::Arc::new(move |e: &idpkit::Event| seen.lock().unwrap().push(e.clone()));
    let r = fetch_argo(
        &options(&env, cache.path(), &app, &ns),
        &Call::new().with_sink(Some(sink)),
    )
    .unwrap();
    assert_eq!(r.sources.len(), 3);
    let [fixture, chart, rig] = &r.sources[..] else {
        unreachable!()
    };
    assert_eq!(fixture.ref_name.as_deref(), Some("values"));
    assert_eq!(
        fixture.commit.as_deref(),
        Some(commit_of(&env, "v1.0.0").as_str())
    );
    assert_eq!(
        fixture.credentials.as_deref(),
        Some(format!("Secret {ns}/git-path (repo-creds)").as_str())
    );
    assert!(chart.fetched.is_none());
    assert!(
        chart.skipped.as_deref().unwrap().contains("Helm"),
        "{chart:?}"
    );
    assert!(events.lock().unwrap().iter().any(|e| matches!(e,
        idpkit::Event::Warning { message } if message.contains("charts.example.invalid"))));
    assert_eq!(
        rig.credentials.as_deref(),
        Some(format!("Secret {ns}/gitea-org (repo-creds)").as_str())
    );
    let rig_entry = rig.fetched.as_ref().unwrap();
    assert_eq!(rig.commit.as_ref().unwrap().len(), 40);
    assert_eq!(
        rig.dir.as_deref(),
        Some(rig_entry.path.as_path()),
        "path \".\" is the root"
    );
    assert!(rig_entry.files >= 1);
    // Two sources, two entries under the Application's directory.
    assert_ne!(fixture.fetched.as_ref().unwrap().path, rig_entry.path);
    for secret_text in [&env["GIT_PASSWORD"], &env["GITEA_PASSWORD"]] {
        assert_eq!(any_file_contains(cache.path(), secret_text), None);
    }
}

#[test]
fn ssh_with_a_key_from_a_secret_checks_host_keys_from_argo_cds_config_map() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "ssh");
    let key = std::fs::read_to_string(&env["SSH_KEY"]).unwrap();
    secret(
        &env,
        &ns,
        "deploy-key",
        None,
        json!({"sshPrivateKey": key.trim_end()}),
    );
    let app = name("ssh");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": env["GIT_FIXTURE_SSH"], "targetRevision": "feature/x"},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({}),
    );
    let known = std::fs::read_to_string(&env["SSH_KNOWN_HOSTS"]).unwrap();
    let host = known.split_whitespace().next().unwrap().to_string();
    let known_hosts = |text: String| {
        kube(&env)
            .apply(
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": ns},
                        "data": {"ssh_known_hosts": text}}),
                MANAGER,
            )
            .unwrap();
    };
    // The ConfigMap lists another key for the host (the client's own): refused.
    let other = std::fs::read_to_string(format!("{}.pub", env["SSH_KEY"])).unwrap();
    let mut other = other.split_whitespace();
    known_hosts(format!(
        "{host} {} {}\n",
        other.next().unwrap(),
        other.next().unwrap()
    ));
    let cache = tempfile::tempdir().unwrap();
    let mut o = options(&env, cache.path(), &app, &ns);
    o.secret = Some(format!("{ns}/deploy-key"));
    let e = fetch_argo(&o, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{e}");
    assert!(
        e.message
            .contains(&format!("Application argocd/{app} source 0")),
        "{e}"
    );
    assert!(!e.message.contains("PRIVATE KEY"), "{e}");
    assert_eq!(
        std::fs::read_dir(cache.path().join("argocd-repo/argocd").join(&app))
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0),
        0,
        "nothing published"
    );

    known_hosts(known);
    let r = fetch_argo(&o, &Call::new()).unwrap();
    let s = &r.sources[0];
    assert_eq!(
        s.commit.as_deref(),
        Some(commit_of(&env, "feature/x").as_str())
    );
    assert_eq!(
        s.credentials.as_deref(),
        Some(format!("Secret {ns}/deploy-key").as_str())
    );
    let key_body: String = key.lines().nth(1).unwrap().to_string();
    assert_eq!(any_file_contains(cache.path(), &key_body), None);
}

#[test]
fn a_wrong_password_is_an_auth_error_that_names_the_source_and_not_the_password() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "wrong");
    secret(
        &env,
        &ns,
        "wrong",
        Some("repository"),
        json!({"url": env["GIT_FIXTURE_HTTPS"], "username": env["GIT_USER"], "password": "pw-wrong-31337"}),
    );
    let app = name("wrong");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": env["GIT_FIXTURE_HTTPS"]},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({}),
    );
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let e = fetch_argo(&options(&env, cache.path(), &app, &ns), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "gives up"
    );
    assert!(e.message.contains("source 0"), "{e}");
    assert!(!e.message.contains("pw-wrong-31337"), "{e}");
}

#[test]
fn hostile_applications_are_refused_before_anything_is_written() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "hostile");
    let cache = tempfile::tempdir().unwrap();
    let app = name("escape");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": env["GIT_FIXTURE_HTTPS"], "path": "log/../../../../etc"},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({}),
    );
    let e = fetch_argo(&options(&env, cache.path(), &app, &ns), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
    assert!(e.message.contains("leaves the repository"), "{e}");

    let app = name("userinfo");
    let with_password = env["GIT_FIXTURE_HTTPS"].replace("https://", "https://u:pw-in-url-4711@");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": with_password},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({}),
    );
    let e = fetch_argo(&options(&env, cache.path(), &app, &ns), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
    assert!(!e.message.contains("pw-in-url-4711"), "{e}");
    assert_eq!(any_file_contains(cache.path(), "pw-in-url-4711"), None);

    let e = fetch_argo(
        &options(&env, cache.path(), "no-such-app", &ns),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

#[test]
fn a_plain_git_source_is_resolved_cached_and_hit_by_commit_without_the_network() {
    let env = common::rig(&[]);
    let cache = tempfile::tempdir().unwrap();
    let basic = |password: &str| {
        Call::new().with_credential(Some(Credential::Basic {
            username: env["GIT_USER"].clone(),
            password: password.into(),
            source: "test".into(),
        }))
    };
    let o = FetchGitOptions {
        remote: GitRemoteOptions {
            url: env["GIT_FIXTURE_HTTPS"].clone(),
            revision: Some("develop".into()),
            trust: trust(&env),
            ..Default::default()
        },
        cache: CacheOptions {
            cache: Some(cache.path().to_path_buf()),
        },
    };
    let develop = commit_of(&env, "develop");
    let first = fetch_git(&o, &basic(&env["GIT_PASSWORD"])).unwrap();
    assert!(!first.hit);
    assert_eq!(first.revision, format!("refs/heads/develop@sha1:{develop}"));
    assert_eq!(first.path.parent().unwrap(), cache.path().join("git"));
    assert!(first.path.join("DEVELOP.md").is_file());
    let second = fetch_git(&o, &basic(&env["GIT_PASSWORD"])).unwrap();
    assert!(second.hit);
    assert_eq!(second.path, first.path);
    // By commit: a hit that never asks the server (a wrong password would fail there).
    let mut by_commit = o.clone();
    by_commit.remote.revision = Some(develop.clone());
    let third = fetch_git(&by_commit, &basic("wrong")).unwrap();
    assert!(third.hit, "the branch's entry is the commit's");
    assert_eq!(third.path, first.path);
    // A branch needs the server: the wrong password is an AUTH error.
    let e = fetch_git(&o, &basic("wrong")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert_eq!(any_file_contains(cache.path(), &env["GIT_PASSWORD"]), None);
}

#[test]
fn an_insecure_repository_secret_skips_verification_of_that_host_only_and_is_audited() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "insecure");
    let gitea = env["GITEA_GIT_URL"].clone();
    let app = name("insecure");
    application(
        &env,
        &app,
        json!({"project": "default", "source": {"repoURL": gitea, "targetRevision": "main"},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}),
        json!({}),
    );
    let cache = tempfile::tempdir().unwrap();
    // Trusting only the rig's CA, not idpbuilder's certificate: Gitea is untrusted...
    let mut o = options(&env, cache.path(), &app, &ns);
    o.trust.ca_files = vec![env["CA"].clone().into()];
    let repo_secret = |insecure: &str| {
        secret(
            &env,
            &ns,
            "gitea",
            Some("repository"),
            json!({"url": gitea, "username": env["GITEA_USER"], "password": env["GITEA_PASSWORD"],
                   "insecure": insecure}),
        )
    };
    repo_secret("false");
    let e = fetch_argo(&o, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{e}");
    // ...unless its repository Secret says `insecure: "true"`, which is audited per use.
    repo_secret("true");
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: idpkit::EventSink =
        std::sync::Arc::new(move |e: &idpkit::Event| seen.lock().unwrap().push(e.clone()));
    let r = fetch_argo(&o, &Call::new().with_sink(Some(sink))).unwrap();
    assert!(r.sources[0].fetched.is_some());
    let audits: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            idpkit::Event::InsecureConnection { host, .. } => Some(host.clone()),
            _ => None,
        })
        .collect();
    assert!(!audits.is_empty(), "no audit event");
    assert!(
        audits.iter().all(|h| h == "gitea.cnoe.localtest.me:38443"),
        "{audits:?}"
    );
}

#[test]
fn a_watched_application_is_fetched_again_when_its_synced_revision_changes() {
    let env = common::rig(&[]);
    let ns = argocd_namespace(&env, "watch");
    secret(
        &env,
        &ns,
        "fixture",
        Some("repository"),
        json!({"url": env["GIT_FIXTURE_HTTPS"], "username": env["GIT_USER"], "password": env["GIT_PASSWORD"]}),
    );
    let app = name("watch");
    let spec = json!({"project": "default",
        "source": {"repoURL": env["GIT_FIXTURE_HTTPS"], "path": "log", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}});
    let develop = commit_of(&env, "develop");
    let main = commit_of(&env, "main");
    application(
        &env,
        &app,
        spec.clone(),
        json!({"sync": {"revision": develop}}),
    );
    let cache = tempfile::tempdir().unwrap();
    let o = options(&env, cache.path(), &app, &ns);
    let (tx, rx) = std::sync::mpsc::channel();
    let sink: idpkit::EventSink = std::sync::Arc::new(move |e: &idpkit::Event| {
        if let Some(f) = idpkit::gitops::SourceFetched::from_event(e) {
            let _ = tx.send(f);
        }
    });
    let cancel = idpkit::CancelToken::new();
    let call = Call::new()
        .with_sink(Some(sink))
        .with_cancel(Some(cancel.clone()));
    let watch = std::thread::spawn(move || idpkit::gitops::watch::watch_argo(&o, &call));
    let wait = std::time::Duration::from_secs(30);
    let first = rx.recv_timeout(wait).expect("the first revision");
    assert!(first.revision.ends_with(&develop), "{first:?}");
    // A change that is not about the sources (health) fetches nothing; a new synced revision does.
    application(
        &env,
        &app,
        spec.clone(),
        json!({"sync": {"revision": develop}, "health": {"status": "Healthy"}}),
    );
    application(&env, &app, spec, json!({"sync": {"revision": main}}));
    let second = rx.recv_timeout(wait).expect("the new revision");
    assert!(second.revision.ends_with(&main), "{second:?}");
    assert_ne!(second.path, first.path);
    cancel.cancel();
    let summary = watch.join().unwrap().expect("cancel ends a watch normally");
    assert_eq!((summary.fetched, summary.failed), (2, 0));
    assert_eq!(summary.last.unwrap().path, second.path);
    assert!(rx.try_recv().is_err(), "the health change fetched nothing");
}
