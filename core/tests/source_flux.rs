//! Flux sources read from the rig's kube-apiserver (objects created by this test, their
//! status set through the status subresource as source-controller sets it) pointing at the
//! rig's artifact server. Fails when the rig is not up.

mod common;

use idpkit::gitops::flux::{fetch_flux, FetchFluxOptions};
use idpkit::gitops::CacheOptions;
use idpkit::kube::{KubeClient, KubeOptions};
use idpkit::trust::TrustOptions;
use idpkit::{Call, ErrorKind};
use serde_json::json;
use std::collections::HashMap;

fn main_commit(env: &HashMap<String, String>) -> String {
    let out = std::process::Command::new("git")
        .args(["--git-dir", &env["GIT_FIXTURE_DIR"], "rev-parse", "main"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Creates `kind` `flux-system/name` and sets its status (Ready with `artifact`, or as given).
fn source(
    env: &HashMap<String, String>,
    kind: &str,
    plural: &str,
    name: &str,
    status: serde_json::Value,
) {
    let kube = KubeClient::connect(&kube_options(env), None).unwrap();
    kube.apply(
        &json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": env["GIT_FIXTURE_HTTPS"]},
        }),
        "idpkit-test",
    )
    .unwrap();
    kube.patch_status(
        "source.toolkit.fluxcd.io",
        "v1",
        plural,
        "flux-system",
        name,
        &status,
    )
    .unwrap();
}

fn ready(url: &str, revision: &str, digest: &str) -> serde_json::Value {
    json!({
        "artifact": {"url": url, "revision": revision, "digest": digest, "size": 1,
                     "path": "gitrepository/flux-system/x/abc.tar.gz",
                     "lastUpdateTime": "2026-12-03T00:00:00Z"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                        "message": format!("stored artifact for revision '{revision}'"),
                        "lastTransitionTime": "2026-12-03T00:00:00Z"}],
        "observedGeneration": 1,
    })
}

fn kube_options(env: &HashMap<String, String>) -> KubeOptions {
    KubeOptions {
        kubeconfig: Some(env["KUBECONFIG"].clone().into()),
        context: None,
    }
}

fn options(
    env: &HashMap<String, String>,
    cache: &std::path::Path,
    kind: &str,
    name: &str,
) -> FetchFluxOptions {
    FetchFluxOptions {
        kind: kind.into(),
        namespace: "flux-system".into(),
        name: name.into(),
        cluster: kube_options(env),
        cache: CacheOptions {
            cache: Some(cache.to_path_buf()),
        },
        trust: TrustOptions {
            ca_files: vec![env["CA"].clone().into()],
            no_platform_roots: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

#[test]
fn a_ready_git_repository_is_fetched_into_the_smc_layout_and_then_hit() {
    let env = common::rig(&[]);
    let commit = main_commit(&env);
    let name = unique("podinfo");
    let revision = format!("refs/heads/main@sha1:{commit}");
    let digest = format!("sha256:{}", env["ARTIFACT_SHA256"]);
    source(
        &env,
        "GitRepository",
        "gitrepositories",
        &name,
        ready(&env["ARTIFACT_URL"], &revision, &digest),
    );
    let cache = tempfile::tempdir().unwrap();
    let r = fetch_flux(
        &options(&env, cache.path(), "gitrepository", &name),
        &Call::new(),
    )
    .unwrap();
    assert!(!r.hit);
    assert_eq!(
        r.path,
        cache.path().join(format!(
            "flux-artifact/flux-system/{name}/main-sha-{}",
            &commit[..7]
        ))
    );
    assert_eq!(r.source, format!("GitRepository flux-system/{name}"));
    assert_eq!(r.revision, revision);
    assert!(r.path.join("README.md").is_file());
    let again = fetch_flux(
        &options(&env, cache.path(), "GitRepository", &name),
        &Call::new(),
    )
    .unwrap();
    assert!(again.hit);
}

#[test]
fn a_source_that_is_not_ready_is_refused_quoting_its_message() {
    let env = common::rig(&[]);
    let name = unique("failing");
    source(
        &env,
        "Bucket",
        "buckets",
        &name,
        json!({"conditions": [{"type": "Ready", "status": "False", "reason": "BucketOperationFailed",
               "message": "bucket 'manifests' does not exist", "lastTransitionTime": "2026-12-03T00:00:00Z"}]}),
    );
    let cache = tempfile::tempdir().unwrap();
    let e = fetch_flux(&options(&env, cache.path(), "Bucket", &name), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(
        e.message.contains(&format!("Bucket flux-system/{name}")),
        "{e}"
    );
    assert!(
        e.message.contains("bucket 'manifests' does not exist"),
        "{e}"
    );
}

#[test]
fn a_status_digest_that_does_not_match_caches_nothing() {
    let env = common::rig(&[]);
    let name = unique("swapped");
    let wrong = format!("sha256:{}", "e".repeat(64));
    source(
        &env,
        "OCIRepository",
        "ocirepositories",
        &name,
        ready(&env["ARTIFACT_URL"], &format!("latest@{wrong}"), &wrong),
    );
    let cache = tempfile::tempdir().unwrap();
    let e = fetch_flux(
        &options(&env, cache.path(), "OCIRepository", &name),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    let entries = idpkit::gitops::cache::Cache::open(Some(cache.path()))
        .unwrap()
        .list()
        .unwrap();
    assert!(entries.is_empty());
}

#[test]
fn a_missing_object_and_an_unsupported_kind_are_clear() {
    let env = common::rig(&[]);
    let cache = tempfile::tempdir().unwrap();
    let e = fetch_flux(
        &options(&env, cache.path(), "GitRepository", "no-such-source"),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.message.contains("flux-system/no-such-source"), "{e}");
    let e = fetch_flux(
        &options(&env, cache.path(), "HelmRepository", "x"),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
}
