//! The plan as a Kubernetes Job: a clone init step, the services as native sidecars
//! (init containers with `restartPolicy: Always` and a startup probe, so the main container
//! starts once they are ready and the Job completes when it ends), and the main container.
//! Secrets only by reference; a non-root pod; no retries; a deadline and a TTL.

use super::Plan;
use crate::sandbox::config::SandboxConfig;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    EnvVarSource, ExecAction, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretEnvSource, SecretKeySelector, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The label every sandbox Job and its pod carry with the run's id.
pub const RUN_LABEL: &str = "idpkit.dev/run";
const WORKSPACE: &str = "workspace";

/// What the Job is for beyond the plan.
#[derive(Debug, Clone)]
pub struct JobTarget {
    pub name: String,
    pub namespace: String,
    /// The repository the clone step fetches (no credentials in it).
    pub repo_url: String,
    /// The commit it checks out.
    pub commit: String,
    /// The ref to fetch when the server will not send a commit by id (`refs/heads/main`).
    pub git_ref: Option<String>,
    /// The run's id, for the run label.
    pub run: Option<String>,
}

/// The clone step. Credentials, when configured, reach git through a credential helper
/// reading the environment (a Secret reference), so they are in no argument, URL or
/// `.git/config`.
const CLONE_SCRIPT: &str = r#"set -eu
git init -q .
git remote add origin "$REPO_URL"
fetch() {
  if [ -n "${GIT_PASSWORD:-}" ]; then
    git -c credential.helper='!f() { echo "username=${GIT_USERNAME:-x-access-token}"; echo "password=${GIT_PASSWORD}"; }; f' fetch -q "$@"
  else
    git fetch -q "$@"
  fi
}
fetch --depth 1 origin "$REPO_COMMIT" || fetch origin "${REPO_REF:-HEAD}"
git checkout -q --detach "$REPO_COMMIT"
"#;

fn plain(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
    }
}

fn resources(cpu_req: &str, mem_req: &str, cpu_lim: &str, mem_lim: &str) -> ResourceRequirements {
    let q = |cpu: &str, mem: &str| {
        Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(mem.into())),
        ]))
    };
    ResourceRequirements {
        requests: q(cpu_req, mem_req),
        limits: q(cpu_lim, mem_lim),
        ..Default::default()
    }
}

fn locked_down(user: i64) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(user),
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        ..Default::default()
    }
}

fn workspace_mount(path: &str) -> Vec<VolumeMount> {
    vec![VolumeMount {
        name: WORKSPACE.into(),
        mount_path: path.into(),
        ..Default::default()
    }]
}

/// A label value from free text: at most 63 of `[a-z0-9A-Z._-]`, alphanumeric at both ends.
pub fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A Job name from `prefix` and `base` (a run id, a directory name): lower-case letters,
/// digits and `-` (every other character becomes `-`), at most 63, alphanumeric at both ends,
/// so its pods' `job-name` label is valid too.
pub fn job_name(prefix: &str, base: &str) -> String {
    let name: String = format!("{prefix}{base}")
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    name.trim_matches('-').to_string()
}

/// The Job for `plan`.
pub fn job(plan: &Plan, config: &SandboxConfig, target: &JobTarget) -> Job {
    let jc = &config.job;
    let workdir = config.image.workdir.as_str();
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "idpkit-sandbox".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "idpkit".to_string(),
        ),
    ]);
    if let Some(run) = &target.run {
        labels.insert(RUN_LABEL.into(), label_value(run));
    }
    if let Some(rt) = plan.runtime {
        labels.insert("idpkit.dev/runtime".into(), rt.name().into());
    }
    let annotations = BTreeMap::from([
        ("idpkit.dev/repository".to_string(), target.repo_url.clone()),
        ("idpkit.dev/commit".to_string(), target.commit.clone()),
    ]);

    let mut clone_env = vec![
        plain("REPO_URL", &target.repo_url),
        plain("REPO_COMMIT", &target.commit),
    ];
    if let Some(r) = &target.git_ref {
        clone_env.push(plain("REPO_REF", r));
    }
    if !jc.git_credentials_secret.is_empty() {
        clone_env.push(from_secret(
            "GIT_USERNAME",
            &jc.git_credentials_secret,
            "username",
        ));
        clone_env.push(from_secret(
            "GIT_PASSWORD",
            &jc.git_credentials_secret,
            "password",
        ));
    }
    let clone = Container {
        name: "clone".into(),
        image: Some(if jc.clone_image.is_empty() {
            plan.image.clone()
        } else {
            jc.clone_image.clone()
        }),
        command: Some(vec!["sh".into(), "-c".into(), CLONE_SCRIPT.into()]),
        working_dir: Some(workdir.into()),
        env: Some(clone_env),
        volume_mounts: Some(workspace_mount(workdir)),
        security_context: Some(locked_down(jc.run_as_user)),
        resources: Some(resources("100m", "128Mi", "1", "512Mi")),
        ..Default::default()
    };

    let mut init = vec![clone];
    for s in &plan.services {
        let sc = config.service(s.service);
        init.push(Container {
            name: s.name.clone(),
            image: Some(s.image.clone()),
            args: (!s.args.is_empty()).then(|| s.args.clone()),
            env: Some(s.env.iter().map(|(k, v)| plain(k, v)).collect()),
            ports: Some(vec![ContainerPort {
                container_port: i32::from(s.port),
                name: Some(label_value(&s.name).chars().take(15).collect()),
                ..Default::default()
            }]),
            // A native sidecar: runs for the pod's life, and the main container starts
            // only once its startup probe passed.
            restart_policy: Some("Always".into()),
            startup_probe: Some(Probe {
                exec: Some(ExecAction {
                    command: Some(s.health.clone()),
                }),
                period_seconds: Some(s.health_interval_seconds as i32),
                failure_threshold: Some(s.health_retries as i32),
                timeout_seconds: Some(5),
                ..Default::default()
            }),
            security_context: Some(locked_down(sc.run_as_user)),
            resources: Some(resources(
                &sc.cpu_request,
                &sc.memory_request,
                &sc.cpu_limit,
                &sc.memory_limit,
            )),
            ..Default::default()
        });
    }

    let mut env: Vec<EnvVar> = plan
        .service_env(|_| "localhost".into())
        .iter()
        .map(|(k, v)| plain(k, v))
        .collect();
    env.push(plain("SANDBOX_SETUP", plan.setup_script()));
    env.push(plain("REPO_URL", &target.repo_url));
    env.push(plain("REPO_COMMIT", &target.commit));
    for (var, source) in &jc.secret_env {
        if let Some((secret, key)) = source.split_once('/') {
            env.push(from_secret(var, secret, key));
        }
    }
    let env_from: Vec<EnvFromSource> = jc
        .env_from_secrets
        .iter()
        .map(|name| EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: name.clone(),
                optional: Some(false),
            }),
            ..Default::default()
        })
        .collect();
    let main = Container {
        name: config.profiles.main.clone(),
        image: Some(plan.image.clone()),
        command: (!jc.command.is_empty()).then(|| jc.command.clone()),
        working_dir: Some(workdir.into()),
        env: Some(env),
        env_from: (!env_from.is_empty()).then_some(env_from),
        volume_mounts: Some(workspace_mount(workdir)),
        security_context: Some(locked_down(jc.run_as_user)),
        resources: Some(resources(
            &jc.cpu_request,
            &jc.memory_request,
            &jc.cpu_limit,
            &jc.memory_limit,
        )),
        ..Default::default()
    };

    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        init_containers: Some(init),
        containers: vec![main],
        volumes: Some(vec![Volume {
            name: WORKSPACE.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }]),
        // The agent needs no access to the cluster it runs in.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(jc.run_as_user),
            run_as_group: Some(jc.run_as_user),
            fs_group: Some(jc.run_as_user),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(target.name.clone()),
            namespace: Some(target.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(jc.active_deadline_seconds),
            ttl_seconds_after_finished: Some(jc.ttl_seconds_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    }
}
