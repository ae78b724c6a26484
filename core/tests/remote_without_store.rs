//! Manifests and blobs fetched from a real registry without a local store (what a Flux
//! `OCIRepository` fetch and `crane blob` do): verified before they appear, nothing left
//! behind when they do not verify. Fails when the rig is not up.

mod common;

use idpkit::registry::{self, RegistryOptions};
use idpkit::{ErrorKind, Store};
use sha2::Digest as _;

#[test]
fn a_manifest_and_a_layer_arrive_verified_without_a_store() {
    let rig = common::rig(&["REGISTRY_PLAIN"]);
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let content = common::random_bytes(300_000, 7);
    let built = common::build_one_file(&store, tmp.path(), "localhost/remote:1", &content);
    let reference = format!(
        "{}/remote/no-store-{}:1",
        rig["REGISTRY_PLAIN"],
        std::process::id()
    );
    let opts = RegistryOptions::default();
    store
        .push("localhost/remote:1", Some(&reference), &opts, None)
        .unwrap();

    let m = registry::fetch_manifest(&reference, &opts, None).unwrap();
    assert_eq!(m.digest, built.digest);
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&m.bytes))),
        built.digest
    );
    // By digest too, and the digest is checked.
    let by_digest = format!(
        "{}/remote/no-store-{}@{}",
        rig["REGISTRY_PLAIN"],
        std::process::id(),
        built.digest
    );
    assert_eq!(
        registry::fetch_manifest(&by_digest, &opts, None)
            .unwrap()
            .bytes,
        m.bytes
    );

    let layer = &built.layer;
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let dest = out.join("layer.tar.gz");
    let n =
        registry::fetch_blob(&reference, &layer.digest, layer.size, &dest, &opts, None).unwrap();
    assert_eq!(n, layer.size);
    let bytes = std::fs::read(&dest).unwrap();
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes))),
        layer.digest
    );

    // A size that does not match is an INTEGRITY error and leaves nothing behind.
    let wrong = out.join("wrong.tar.gz");
    let e = registry::fetch_blob(
        &reference,
        &layer.digest,
        layer.size - 1,
        &wrong,
        &opts,
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{}", e.message);
    assert!(!wrong.exists());
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("layer.tar.gz")],
        "a temporary file was left"
    );

    // A digest that is not one is refused before any request.
    let e =
        registry::fetch_blob(&reference, "sha256:../../etc", 1, &wrong, &opts, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let e = registry::fetch_manifest(
        &format!(
            "{}/remote/absent-{}:1",
            rig["REGISTRY_PLAIN"],
            std::process::id()
        ),
        &opts,
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
}

#[test]
fn inspect_remote_reads_manifest_and_config_without_pulling() {
    let rig = common::rig(&["REGISTRY_TLS"]);
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let built = common::build_one_file(&store, tmp.path(), "localhost/insp:1", b"inspect me\n");
    let reference = format!(
        "{}/remote/inspect-{}:1",
        rig["REGISTRY_TLS"],
        std::process::id()
    );
    let opts = common::tls_registry_options(&rig);
    store
        .push("localhost/insp:1", Some(&reference), &opts, None)
        .unwrap();

    let seen = registry::inspect_remote(&reference, &opts, None).unwrap();
    let local = store.inspect("localhost/insp:1").unwrap();
    assert_eq!(seen.digest, built.digest);
    assert_eq!(seen.manifest, local.manifest);
    assert_eq!(seen.config, local.config);
    assert!(seen.config.is_some(), "an image has an image config");
    assert!(seen.index.is_none());
    assert_eq!(seen.index_digest, None);
    assert!(seen.platforms.is_empty());
    // Nothing was pulled anywhere: a fresh store stays empty.
    let other = Store::open(tmp.path().join("other")).unwrap();
    assert!(other.images().unwrap().is_empty());

    // Without credentials the TLS registry refuses: AUTH, naming the registry.
    let anonymous = RegistryOptions {
        credential: Some(registry::Credential::Anonymous),
        ..opts.clone()
    };
    let e = registry::inspect_remote(&reference, &anonymous, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
}
