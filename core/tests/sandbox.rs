//! Sandbox runs, Compose files and Jobs against real peers: runs are cloned from the rig's
//! git server over HTTPS (basic auth, the rig's CA); every service combination's Compose
//! file is validated by the real `docker-compose config` and its Job by a server-side dry
//! run on the rig's kube-apiserver; `wait` follows a stored Job whose status (and pod) the
//! test sets, as no kubelet runs there. Fails (never skips) when the rig is missing.

mod common;

use idpkit::gitops::git_cache::GitRemoteOptions;
use idpkit::kube::{KubeClient, KubeOptions};
use idpkit::ops::{
    SandboxCloneOptions, SandboxJobOptions, SandboxRemoveOptions, SandboxRunsOptions,
};
use idpkit::sandbox::config::SandboxConfig;
use idpkit::sandbox::detect::{Detection, Ecosystem, Project, Service};
use idpkit::sandbox::facade;
use idpkit::sandbox::plan::{self, compose, job};
use idpkit::trust::TrustOptions;
use idpkit::{Call, ErrorKind, Event};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn rig() -> HashMap<String, String> {
    let rig = common::rig(&[]);
    let kube = rig["KUBE_URL"].trim_start_matches("https://").to_string();
    let git = rig["GIT_FIXTURE_HTTPS"]
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut probe = rig.clone();
    probe.insert("KUBE_HOSTPORT".into(), kube);
    probe.insert("GIT_HOSTPORT".into(), git);
    for key in ["KUBE_HOSTPORT", "GIT_HOSTPORT"] {
        let addr: std::net::SocketAddr = probe[key].parse().unwrap();
        assert!(
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).is_ok(),
            "rig peer {key} is not reachable at {addr}; start the rig with tests/rig/up"
        );
    }
    rig
}

fn kube(rig: &HashMap<String, String>) -> (KubeOptions, KubeClient) {
    let opts = KubeOptions {
        kubeconfig: Some(PathBuf::from(&rig["KUBECONFIG"])),
        context: None,
    };
    let client = KubeClient::connect(&opts, None).unwrap();
    (opts, client)
}

/// A namespace with the `default` ServiceAccount the ServiceAccount admission plugin wants
/// before it admits a pod (no controller-manager runs in the rig to make it).
fn namespace(client: &KubeClient, ns: &str) {
    client
        .apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            "idpkit-test",
        )
        .unwrap();
    client
        .apply(
            &json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": ns}}),
            "idpkit-test",
        )
        .unwrap();
}

fn project(services: &[Service]) -> Detection {
    Detection {
        projects: vec![Project {
            dir: ".".into(),
            ecosystem: Ecosystem::Ruby,
            framework: Some("rails".into()),
            version: Some("3.3.1".into()),
            services: services.to_vec(),
            setup: vec!["bundle install".into(), "bin/rails db:prepare".into()],
            evidence: vec![],
            warnings: vec![],
        }],
        unparsable: vec![],
    }
}

fn config_with_secrets() -> SandboxConfig {
    SandboxConfig::from_toml(
        "[job]\nenv_from_secrets = [\"sandbox-secrets\"]\n\
         git_credentials_secret = \"gitea-credential\"\n\
         [job.secret_env]\nGITHUB_TOKEN = \"agent-secrets/github-token\"\n",
        "test config",
    )
    .unwrap()
}

fn target(name: &str, ns: &str) -> job::JobTarget {
    job::JobTarget {
        name: name.into(),
        namespace: ns.into(),
        repo_url: "https://gitea.cnoe.localtest.me:8443/giteaAdmin/shop.git".into(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        git_ref: Some("refs/heads/main".into()),
        run: Some("shop-20261204-133000-0a0b0c".into()),
    }
}

/// `docker-compose config` of `file` with `profiles` active: the resolved document.
fn compose_config(file: &Path, profiles: &str) -> Value {
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(file)
        .args(["config"])
        .env("COMPOSE_PROFILES", profiles)
        .output()
        .expect("docker-compose is not installed (scripts/setup-system.sh installs it)");
    assert!(
        out.status.success(),
        "docker-compose config refused {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

#[test]
fn every_service_combination_is_a_valid_compose_file_and_an_admitted_job() {
    let rig = rig();
    let (_, client) = kube(&rig);
    let ns = common::unique("sbx-combos");
    namespace(&client, &ns);
    let config = config_with_secrets();
    let tmp = tempfile::tempdir().unwrap();
    let all = [Service::Postgres, Service::Mysql, Service::Redis];
    for mask in 0..8u8 {
        let services: Vec<Service> = (0..3)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| all[i])
            .collect();
        let p = plan::from_detection(tmp.path(), project(&services), &config, None);
        assert!(!p.fallback);
        assert_eq!(p.image, "claude-sandbox:ruby-3.3");
        assert_eq!(p.version.as_deref(), Some("3.3.6"));
        let names: Vec<Service> = p.services.iter().map(|s| s.service).collect();
        assert_eq!(names, services);

        // Compose: the real CLI accepts it, and resolves the services the plan names.
        let file = tmp.path().join(format!("compose-{mask}.yaml"));
        let doc = compose::document(&p, &config, tmp.path());
        std::fs::write(&file, compose::to_yaml(&p, &doc).unwrap()).unwrap();
        let resolved = compose_config(&file, &p.compose_profiles());
        let svc = resolved["services"].as_object().unwrap();
        assert_eq!(svc.len(), services.len() + 1, "{resolved:#?}");

        // Job: the API server validates and admits it (dry run: nothing stored).
        let name = format!("sandbox-combo-{mask}");
        let j = job::job(&p, &config, &target(&name, &ns));
        let admitted = client
            .create_job(&j, true)
            .unwrap_or_else(|e| panic!("services {services:?}: {e}"));
        let spec = admitted.spec.unwrap().template.spec.unwrap();
        assert!(
            client.job(&ns, &name).unwrap().is_none(),
            "a dry run stored it"
        );

        // Sidecars and Compose services agree on image, env and health check.
        let init = spec.init_containers.unwrap();
        assert_eq!(init[0].name, "clone");
        assert_eq!(init.len(), services.len() + 1);
        for s in &p.services {
            let side = init.iter().find(|c| c.name == s.name).unwrap();
            assert_eq!(side.restart_policy.as_deref(), Some("Always"));
            let probe = side.startup_probe.as_ref().unwrap().exec.as_ref().unwrap();
            let c = &svc[&s.name];
            assert_eq!(c["image"], json!(side.image.as_deref().unwrap()));
            let mut test: Vec<String> =
                serde_json::from_value(c["healthcheck"]["test"].clone()).unwrap();
            assert_eq!(test.remove(0), "CMD");
            assert_eq!(Some(test), probe.command.clone());
            for e in side.env.as_deref().unwrap_or_default() {
                assert_eq!(
                    c["environment"][&e.name],
                    json!(e.value.as_deref().unwrap())
                );
            }
        }
        // The main container finds each service by the same variable.
        let main = &spec.containers[0];
        let compose_main = &svc["claude"];
        if services.contains(&Service::Postgres) && services.contains(&Service::Mysql) {
            assert!(
                p.warnings.iter().any(|w| w.contains("DATABASE_URL")),
                "{:?}",
                p.warnings
            );
        }
        // Where two services name one variable (postgres and mysql: DATABASE_URL), the
        // first keeps it.
        let mut claimed = std::collections::HashSet::new();
        for s in p
            .services
            .iter()
            .filter(|s| claimed.insert(s.url_env.clone()))
        {
            let k8s = main
                .env
                .as_ref()
                .unwrap()
                .iter()
                .find(|e| e.name == s.url_env)
                .unwrap();
            assert_eq!(k8s.value.as_deref(), Some(s.url_for("localhost").as_str()));
            assert_eq!(
                compose_main["environment"][&s.url_env],
                json!(s.url_for(&s.name))
            );
            assert_eq!(
                compose_main["depends_on"][&s.name]["condition"],
                json!("service_healthy")
            );
        }
    }
}

#[test]
fn the_job_references_secrets_and_runs_locked_down() {
    let config = config_with_secrets();
    let tmp = tempfile::tempdir().unwrap();
    let p = plan::from_detection(tmp.path(), project(&[Service::Postgres]), &config, None);
    let j = job::job(&p, &config, &target("sandbox-x", "default"));
    let spec = j.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(3600));
    assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    for c in pod.init_containers.iter().flatten().chain(&pod.containers) {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert!(c.resources.as_ref().unwrap().limits.is_some(), "{}", c.name);
    }
    let main = &pod.containers[0];
    let token = main
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "GITHUB_TOKEN")
        .unwrap();
    assert!(token.value.is_none());
    let r = token
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (r.name.as_str(), r.key.as_str()),
        ("agent-secrets", "github-token")
    );
    let from = main.env_from.as_ref().unwrap();
    assert_eq!(from[0].secret_ref.as_ref().unwrap().name, "sandbox-secrets");
    let clone = &pod.init_containers.as_ref().unwrap()[0];
    let pw = clone
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "GIT_PASSWORD")
        .unwrap();
    assert!(pw.value.is_none());
    assert_eq!(
        pw.value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap()
            .name,
        "gitea-credential"
    );
    // No credential is in the clone step's script or arguments: only the variable's name.
    let script = clone.command.as_ref().unwrap().join(" ");
    assert!(
        script.contains("${GIT_PASSWORD}") && !script.contains("http://"),
        "{script}"
    );
    let labels = j.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[job::RUN_LABEL], "shop-20261204-133000-0a0b0c");
}

fn clone_options(rig: &HashMap<String, String>, root: &Path) -> SandboxCloneOptions {
    SandboxCloneOptions {
        remote: GitRemoteOptions {
            url: rig["GIT_FIXTURE_HTTPS"].clone(),
            trust: TrustOptions {
                ca_files: vec![PathBuf::from(&rig["CA"])],
                certs_d: Some(vec![]),
                no_platform_roots: true,
                ..Default::default()
            },
            ..Default::default()
        },
        root: Some(root.to_path_buf()),
    }
}

fn git_call(rig: &HashMap<String, String>, password: &str) -> Call {
    Call::new().with_credential(Some(idpkit::registry::Credential::basic(
        &rig["GIT_USER"],
        password,
        "test",
    )))
}

#[test]
fn each_clone_is_a_fresh_run_listed_until_removed() {
    let rig = rig();
    let root = tempfile::tempdir().unwrap();
    // A killed clone's leftover (its process gone) is swept; a live one's is not.
    let dead = root
        .path()
        .join(".tmp-old-20261204-000000-000000-999999999");
    let live = root.path().join(format!(
        ".tmp-new-20261204-000000-000000-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(dead.join("src")).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    let mut o = clone_options(&rig, root.path());
    o.remote.revision = Some("develop".into());
    let call = git_call(&rig, &rig["GIT_PASSWORD"]);
    let a = facade::clone(&o, &call).unwrap();
    let b = facade::clone(&o, &call).unwrap();
    assert!(!dead.exists(), "a dead clone's leftover stayed");
    assert!(live.exists(), "a live clone's directory was swept");
    assert_ne!(a.id, b.id);
    assert_ne!(a.checkout, b.checkout);
    assert_eq!(a.commit, b.commit);
    assert_eq!(a.commit.len(), 40);
    assert_eq!(a.resolved_ref.as_deref(), Some("refs/heads/develop"));
    assert_eq!(a.branch.as_deref(), Some("develop"));
    // The checkout is on the branch, tracking origin's, as `git clone` leaves it.
    let head = Command::new("git")
        .args(["-C"])
        .arg(&a.checkout)
        .args(["rev-parse", "--abbrev-ref", "HEAD", "@{upstream}"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout),
        "develop\norigin/develop\n"
    );
    let config = std::fs::read_to_string(a.checkout.join(".git/config")).unwrap();
    assert!(!config.contains(&rig["GIT_PASSWORD"]));
    let listed = facade::list(&SandboxRunsOptions {
        root: Some(root.path().into()),
    })
    .unwrap();
    let mut ids: Vec<&str> = listed.runs.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    let mut want = vec![a.id.as_str(), b.id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(listed.runs.iter().all(|r| r.commit == a.commit));

    let removed = facade::remove(&SandboxRemoveOptions {
        id: a.id.clone(),
        root: Some(root.path().into()),
    })
    .unwrap();
    assert_eq!(removed.id, a.id);
    assert!(!a.dir.exists());
    let listed = facade::list(&SandboxRunsOptions {
        root: Some(root.path().into()),
    })
    .unwrap();
    assert_eq!(listed.runs.len(), 1);
    let e = facade::remove(&SandboxRemoveOptions {
        id: "../etc".into(),
        root: Some(root.path().into()),
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let e = facade::remove(&SandboxRemoveOptions {
        id: a.id.clone(),
        root: Some(root.path().into()),
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[test]
fn a_refused_clone_leaves_no_run_and_no_password() {
    let rig = rig();
    let root = tempfile::tempdir().unwrap();
    let wrong = "wrong-password-5e1d";
    let e = facade::clone(&clone_options(&rig, root.path()), &git_call(&rig, wrong)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains(wrong));
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Creates a Job for an empty project with `apply`, then plays the kubelet and the Job
/// controller: a pod whose main container ended with `exit`, and the Job's final status.
fn run_and_end(rig: &HashMap<String, String>, exit: Option<i32>, condition: &str) -> Value {
    let (kopts, client) = kube(rig);
    let ns = common::unique("sbx-wait");
    namespace(&client, &ns);
    let dir = tempfile::tempdir().unwrap();
    let opts = SandboxJobOptions {
        dir: dir.path().into(),
        repo_url: Some("https://example.com/org/shop.git".into()),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        namespace: Some(ns.clone()),
        apply: true,
        wait: true,
        timeout_seconds: Some(60),
        cluster: kopts,
        ..Default::default()
    };
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let seen = events.clone();
    let waiter = std::thread::spawn(move || {
        let call = Call::new().with_sink(Some(Arc::new(move |e: &Event| {
            seen.lock().unwrap().push(e.clone())
        })));
        facade::run_job(&opts, &call)
    });
    // The Job appears; its name is the config's prefix, the directory's name and the commit.
    let dirname = dir.path().file_name().unwrap().to_string_lossy();
    let name = job::job_name("sandbox-", &format!("{dirname}-0123456"));
    assert!(
        name.starts_with("sandbox-") && name.ends_with("-0123456"),
        "{name}"
    );
    while client.job(&ns, &name).unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if let Some(code) = exit {
        let pod = format!("{name}-abcde");
        client
            .apply(
                &json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns,
                        "labels": {"batch.kubernetes.io/job-name": name}},
                    "spec": {"containers": [{"name": "claude", "image": "claude-sandbox:latest"}],
                             "restartPolicy": "Never"}}),
                "idpkit-test",
            )
            .unwrap();
        client
            .patch_status(
                "",
                "v1",
                "pods",
                &ns,
                &pod,
                &json!({
                "phase": if code == 0 { "Succeeded" } else { "Failed" },
                "containerStatuses": [{"name": "claude", "image": "claude-sandbox:latest",
                    "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": "Error"}}}]}),
            )
            .unwrap();
    }
    let now = "2026-12-04T12:00:00Z";
    let mut conditions = vec![];
    if condition == "Failed" {
        conditions.push(json!({"type": "FailureTarget", "status": "True",
            "reason": "DeadlineExceeded", "message": "deadline", "lastTransitionTime": now}));
    } else {
        conditions.push(json!({"type": "SuccessCriteriaMet", "status": "True",
            "reason": "CompletionsReached", "message": "done", "lastTransitionTime": now}));
    }
    conditions.push(json!({"type": condition, "status": "True",
        "reason": if condition == "Failed" { "DeadlineExceeded" } else { "CompletionsReached" },
        "message": "set by the test", "lastTransitionTime": now}));
    let mut status = json!({"startTime": now, "conditions": conditions,
        "failed": if condition == "Failed" { 1 } else { 0 },
        "succeeded": if condition == "Failed" { 0 } else { 1 }});
    if condition == "Complete" {
        status["completionTime"] = json!(now);
    }
    client
        .patch_status("batch", "v1", "jobs", &ns, &name, &status)
        .unwrap();
    let result = waiter.join().unwrap().unwrap();
    assert!(result.applied && !result.dry_run);
    assert!(result.uid.is_some());
    let events = events.lock().unwrap();
    json!({"outcome": result.outcome, "events": events.len(), "name": name})
}

#[test]
fn wait_returns_the_main_containers_exit_status() {
    let rig = rig();
    let r = run_and_end(&rig, Some(3), "Failed");
    let o = &r["outcome"];
    assert_eq!(o["succeeded"], json!(false));
    assert_eq!(o["exit_code"], json!(3));
    assert_eq!(o["reason"], json!("DeadlineExceeded"));
    assert_eq!(
        o["pod"],
        json!(format!("{}-abcde", r["name"].as_str().unwrap()))
    );
}

#[test]
fn wait_without_a_pod_reads_the_jobs_condition() {
    let rig = rig();
    let r = run_and_end(&rig, None, "Complete");
    let o = &r["outcome"];
    assert_eq!(o["succeeded"], json!(true));
    assert_eq!(o["exit_code"], json!(0));
    assert_eq!(o["pod"], Value::Null);
}

#[test]
fn job_options_that_cannot_go_together_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (apply, dry_run, wait) in [
        (false, true, false),
        (false, false, true),
        (true, true, true),
    ] {
        let e = facade::run_job(
            &SandboxJobOptions {
                dir: dir.path().into(),
                apply,
                dry_run,
                wait,
                ..Default::default()
            },
            &Call::new(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
    }
    // No run, no checkout, no repo_url: nothing to clone, said so.
    let e = facade::run_job(
        &SandboxJobOptions {
            dir: dir.path().into(),
            ..Default::default()
        },
        &Call::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("repo_url"), "{e}");
    // Credentials in the URL are refused: the Job may only reference them.
    let e = facade::run_job(
        &SandboxJobOptions {
            dir: dir.path().into(),
            repo_url: Some("https://u:hunter2@example.com/x.git".into()),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            ..Default::default()
        },
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(!e.to_string().contains("hunter2"), "{e}");
    // The commit goes into the clone step: only a commit id is taken.
    let e = facade::run_job(
        &SandboxJobOptions {
            dir: dir.path().into(),
            repo_url: Some("https://example.com/x.git".into()),
            commit: Some("main; rm -rf /".into()),
            ..Default::default()
        },
        &Call::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not a commit id"), "{e}");
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

const RAILS_LOCK: &str = "GEM
  remote: https://rubygems.org/
  specs:
    pg (1.5.6)
    pg_search (2.3.6)
    rails (7.1.3)
    sidekiq (7.2.2)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  pg
  pg_search
  rails (~> 7.1)
  sidekiq

RUBY VERSION
   ruby 3.3.1p55

BUNDLED WITH
   2.5.6
";

#[test]
fn plans_of_project_fixtures() {
    let plan_of = |files: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), files);
        let p = facade::plan(&idpkit::ops::SandboxPlanOptions {
            dir: dir.path().into(),
            config: None,
        })
        .unwrap();
        (dir, p)
    };
    let names =
        |p: &plan::Plan| -> Vec<String> { p.services.iter().map(|s| s.name.clone()).collect() };
    // Rails with pg and sidekiq: postgres and redis, the 3.3 image, Rails' setup.
    let (_d, p) = plan_of(&[
        ("Gemfile", "source \"https://rubygems.org\"\nruby \"3.3.1\"\ngem \"rails\", \"~> 7.1\"\ngem \"pg\"\ngem \"pg_search\"\ngem \"sidekiq\"\n"),
        ("Gemfile.lock", RAILS_LOCK),
        (".ruby-version", "3.3.1\n"),
        ("config/application.rb", "require_relative \"boot\"\nrequire \"rails/all\"\n"),
    ]);
    assert_eq!(names(&p), ["postgres", "redis"]);
    assert_eq!(p.profiles, ["claude", "with-postgres", "with-redis"]);
    assert_eq!(
        (p.image.as_str(), p.version.as_deref()),
        ("claude-sandbox:ruby-3.3", Some("3.3.6"))
    );
    assert!(!p.fallback);
    let setup: Vec<&str> = p.setup.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(setup, ["bundle install", "bin/rails db:prepare"]);
    let ev = &p.projects[0].evidence;
    assert!(
        ev.iter()
            .any(|e| e.file == "Gemfile.lock" && e.line == Some(4) && e.found.contains("pg")),
        "{ev:#?}"
    );
    assert!(!ev
        .iter()
        .any(|e| e.found.contains("pg_search") && e.found.contains("postgres")));
    // Plain Ruby naming no service: no services, and no fallback.
    let (_d, p) = plan_of(&[
        ("Gemfile", "source \"https://rubygems.org\"\ngem \"rake\"\n"),
        ("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n    rake (13.1.0)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  rake\n\nBUNDLED WITH\n   2.5.6\n"),
    ]);
    assert!(p.services.is_empty() && !p.fallback, "{p:#?}");
    assert_eq!(p.profiles, ["claude"]);
    // .ruby-version and the lock disagree: said in the plan.
    let (_d, p) = plan_of(&[
        ("Gemfile", "source \"https://rubygems.org\"\ngem \"pg\"\n"),
        ("Gemfile.lock", &RAILS_LOCK.replace("3.3.1p55", "3.2.2p53")),
        (".ruby-version", "ruby-3.3.1\n"),
    ]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("3.2.2") && w.contains("3.3.1")),
        "{:?}",
        p.warnings
    );
    // An unreadable Gemfile (a directory where the file should be) and invalid JSON: the
    // safe fallback, saying why and naming the files.
    let (_d, p) = plan_of(&[
        ("Gemfile/x", ""),
        ("web/package.json", "{\"dependencies\": {\n"),
    ]);
    assert!(p.fallback, "{p:#?}");
    let reason = p.fallback_reason.clone().unwrap();
    assert!(reason.contains("package.json"), "{reason}");
    assert_eq!(names(&p), ["postgres", "mysql", "redis"]);
    // An empty repository: the fallback too.
    let (_d, p) = plan_of(&[]);
    assert!(p.fallback && p.fallback_reason.unwrap().contains("no Ruby"));
}

/// A loopback HTTP/1.1 server answering each request head with `answer(head)` (keep-alive:
/// several requests per connection); returns its base URL and every head it received.
fn http_peer(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let (seen, answer) = (heads.clone(), Arc::new(answer));
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(mut s) = conn else { return };
            let (seen, answer) = (seen.clone(), answer.clone());
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while s.read(&mut byte).unwrap_or(0) == 1 {
                    buf.push(byte[0]);
                    if buf.ends_with(b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf).into_owned();
                        buf.clear();
                        seen.lock().unwrap().push(head.clone());
                        if s.write_all(answer(&head).as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (base, heads)
}

const CHALLENGE: &str =
    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n";

fn has_authorization(head: &str) -> bool {
    head.lines()
        .any(|l| l.to_ascii_lowercase().starts_with("authorization:"))
}

fn hostile_clone(url: &str, password: &str) -> (idpkit::Error, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let o = SandboxCloneOptions {
        remote: GitRemoteOptions {
            url: url.into(),
            ..Default::default()
        },
        root: Some(root.path().into()),
    };
    let call = Call::new().with_credential(Some(idpkit::registry::Credential::basic(
        "agent", password, "test",
    )));
    let e = facade::clone(&o, &call).unwrap_err();
    (e, root)
}

#[test]
fn a_clone_redirected_to_another_host_takes_no_credential_there_and_leaves_no_run() {
    let password = "hostile-redirect-pw-7f3e";
    // The foreign host asks for credentials too: it must never get them.
    let (foreign, foreign_heads) = http_peer(|_| CHALLENGE.to_string());
    let target = format!("{foreign}/stolen.git/info/refs?service=git-upload-pack");
    // The repository's host challenges, then sends the authenticated request elsewhere.
    let (origin, origin_heads) = http_peer(move |head| {
        if has_authorization(head) {
            format!("HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n")
        } else {
            CHALLENGE.to_string()
        }
    });
    let (e, root) = hostile_clone(&format!("{origin}/shop.git"), password);
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains(password), "{e}");
    let origin_heads = origin_heads.lock().unwrap();
    assert!(
        origin_heads.iter().any(|h| has_authorization(h)),
        "the origin never got the credential, so the test proves nothing: {origin_heads:?}"
    );
    let foreign_heads = foreign_heads.lock().unwrap();
    assert!(!foreign_heads.is_empty(), "the redirect was not followed");
    assert!(
        foreign_heads.iter().all(|h| !has_authorization(h)),
        "the credential went to another origin: {foreign_heads:?}"
    );
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_clone_redirected_in_a_circle_ends_with_a_clear_error() {
    let (base, heads) = http_peer(|head| {
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        format!("HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\n\r\n")
    });
    let (e, root) = hostile_clone(&format!("{base}/loop.git"), "circle-pw-2b9c");
    assert!(e.to_string().contains("redirects"), "{e}");
    let n = heads.lock().unwrap().len();
    assert!(n <= 8, "{n} requests for one circular redirect");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}
