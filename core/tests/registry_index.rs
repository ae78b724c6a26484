//! A multi-platform image (an OCI index of two platforms) on the rig's registries: read
//! typed without pulling, pulled and copied with every platform or with one. The index is
//! PUT as a registry receives it from `docker buildx` or `crane index append`. Fails when the
//! rig is not up.

mod common;

use idpkit::registry::{self, RegistryOptions};
use idpkit::{BuildOptions, Store};
use std::process::Command;

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

struct Pushed {
    digest: String,
    size: u64,
    platform: (&'static str, &'static str),
}

/// Builds and pushes one image per platform to `repo`, then PUTs an index of them as
/// `repo:multi`; returns the index's digest and the images.
fn multi_platform_index(store: &Store, dir: &std::path::Path, repo: &str) -> (String, Vec<Pushed>) {
    let mut pushed = Vec::new();
    // arm64 first: a store holding the whole index must still pick this machine's platform.
    for (arch, tag) in [("arm64", "arm"), ("amd64", "amd")] {
        let ctx = dir.join(format!("ctx-{arch}"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("arch"), arch).unwrap();
        let local = format!("localhost/multi:{arch}");
        let built = store
            .build(
                &BuildOptions {
                    context: ctx,
                    tags: vec![local.clone()],
                    platform: Some(format!("linux/{arch}")),
                    ..Default::default()
                },
                None,
                None,
            )
            .unwrap();
        store
            .push(
                &local,
                Some(&format!("{repo}:{tag}")),
                &RegistryOptions::default(),
                None,
            )
            .unwrap();
        let size = std::fs::metadata(store.blob_path(&built.digest).unwrap())
            .unwrap()
            .len();
        pushed.push(Pushed {
            digest: built.digest,
            size,
            platform: ("linux", arch),
        });
    }
    let manifests: Vec<serde_json::Value> = pushed
        .iter()
        .map(|p| {
            serde_json::json!({"mediaType": MANIFEST, "digest": p.digest, "size": p.size,
                "platform": {"os": p.platform.0, "architecture": p.platform.1}})
        })
        .collect();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": INDEX, "manifests": manifests,
        "annotations": {"org.opencontainers.image.title": "multi"}}))
    .unwrap();
    let (host, path) = repo.split_once('/').unwrap();
    let out = Command::new("curl")
        .args(["-fsS", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {INDEX}"))
        .arg("--data-binary")
        .arg("@-")
        .arg(format!("http://{host}/v2/{path}/manifests/multi"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(&index)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "PUT of the index failed");
    (idpkit::digest::sha256_digest(&index), pushed)
}

#[test]
fn an_index_is_read_typed_and_copied_with_every_platform_or_one() {
    let rig = common::rig(&["REGISTRY_PLAIN", "REGISTRY_TLS"]);
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let repo = format!(
        "{}/index/{}",
        rig["REGISTRY_PLAIN"],
        common::unique("multi")
    );
    let (index_digest, pushed) = multi_platform_index(&store, tmp.path(), &repo);
    let multi = format!("{repo}:multi");

    // Read without pulling: the index itself, typed, and the chosen platform's manifest.
    let arm = RegistryOptions {
        platform: Some("linux/arm64".into()),
        ..Default::default()
    };
    let seen = registry::inspect_remote(&multi, &arm, None).unwrap();
    assert_eq!(seen.index_digest.as_deref(), Some(index_digest.as_str()));
    let index = seen.index.as_ref().expect("the index, typed");
    assert_eq!(index.schema_version, 2);
    assert_eq!(index.media_type.as_deref(), Some(INDEX));
    assert_eq!(index.manifests.len(), 2);
    assert_eq!(index.manifests[0].digest, pushed[0].digest);
    assert_eq!(
        index.manifests[0].platform.as_ref().unwrap().architecture,
        "arm64"
    );
    assert_eq!(
        index.annotations.as_ref().unwrap()["org.opencontainers.image.title"],
        "multi"
    );
    assert_eq!(seen.digest, pushed[0].digest);
    assert_eq!(seen.config.as_ref().unwrap().architecture, "arm64");
    assert_eq!(seen.platforms, ["linux/arm64", "linux/amd64"]);

    // Across registries without all_platforms: one platform arrives, as its own manifest.
    let tls = common::tls_registry_options(&rig);
    let dst_repo = format!("{}/index/{}", rig["REGISTRY_TLS"], common::unique("copy"));
    let one = registry::copy(
        &multi,
        &format!("{dst_repo}:one"),
        &RegistryOptions {
            platform: Some("linux/arm64".into()),
            ..tls.clone()
        },
        None,
    )
    .unwrap();
    assert_eq!(one.digest, pushed[0].digest);

    // With all_platforms: the index, byte for byte (same digest), and both manifests.
    let all = RegistryOptions {
        all_platforms: true,
        ..tls.clone()
    };
    let copied = registry::copy(&multi, &format!("{dst_repo}:all"), &all, None).unwrap();
    assert_eq!(copied.digest, index_digest);
    let there = registry::inspect_remote(&format!("{dst_repo}:all"), &tls, None).unwrap();
    assert_eq!(there.index_digest.as_deref(), Some(index_digest.as_str()));
    for p in &pushed {
        let child = registry::fetch_manifest(&format!("{dst_repo}@{}", p.digest), &tls, None)
            .expect("every platform's manifest was copied");
        assert_eq!(child.digest, p.digest);
    }

    // Pull with all_platforms: the store keeps the index (tagged) and every manifest, so it
    // pushes them all again.
    let fresh = Store::open(tmp.path().join("fresh")).unwrap();
    let pulled = fresh
        .pull(
            &multi,
            &RegistryOptions {
                all_platforms: true,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(pulled.digest, index_digest);
    assert_eq!(pulled.index_digest.as_deref(), Some(index_digest.as_str()));
    let images = fresh.images().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0].media_type, INDEX);
    // The stored index reads as this machine's platform (not its first entry), for inspect
    // and as a build base.
    let host = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let local = fresh.inspect(&pulled.reference).unwrap();
    assert_eq!(local.config.as_ref().unwrap().architecture, host);
    let ctx = tmp.path().join("on-top");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), "on top").unwrap();
    fresh
        .build(
            &BuildOptions {
                context: ctx,
                tags: vec!["localhost/on-multi:1".into()],
                from: Some(pulled.reference.clone()),
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let on_top = fresh.inspect("localhost/on-multi:1").unwrap();
    assert_eq!(on_top.config.as_ref().unwrap().architecture, host);
    assert_eq!(on_top.manifest.layers.len(), 2);
    let again = format!("{dst_repo}:again");
    let re = fresh
        .push(&pulled.reference, Some(&again), &tls, None)
        .unwrap();
    assert_eq!(re.digest, index_digest);
    assert_eq!(re.blobs_uploaded, 0, "every blob was already there: {re:?}");
}
