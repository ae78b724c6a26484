//! The store against crafted OCI layouts: Docker media types survive gc, a document that
//! does not match its digest (the only way to "list itself") is refused without a crash, and
//! a blob that is a symlink (to `/dev/zero`, say) is refused instead of copied.

use idpkit::{ErrorKind, Store};
use sha2::{Digest, Sha256};
use std::path::Path;

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Writes a blob into the layout and returns its descriptor JSON.
fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{d}","size":{}}}"#,
        bytes.len()
    )
}

fn layout_with(dir: &Path, top: &str, tag: &str) {
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let top = top.trim_end_matches('}');
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{top},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#
        ),
    )
    .unwrap();
}

fn new_layout() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("blobs/sha256")).unwrap();
    d
}

/// A Docker manifest list → Docker v2 schema 2 manifest → config and a gzip layer.
fn docker_image(layout: &Path) -> (String, String) {
    let layer = {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "hello.txt", &b"hello"[..]).unwrap();
        let raw = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        (gz.finish().unwrap(), digest(&raw))
    };
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        layer.1
    );
    let config_desc = blob(
        layout,
        "application/vnd.docker.container.image.v1+json",
        config.as_bytes(),
    );
    let layer_desc = blob(
        layout,
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        &layer.0,
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{config_desc},"layers":[{layer_desc}]}}"#
    );
    let manifest_desc = blob(layout, DOCKER_MANIFEST, manifest.as_bytes());
    let with_platform = format!(
        r#"{},"platform":{{"architecture":"amd64","os":"linux"}}}}"#,
        manifest_desc.trim_end_matches('}')
    );
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{with_platform}]}}"#
    );
    let list_desc = blob(layout, DOCKER_LIST, list.as_bytes());
    (list_desc, digest(&layer.0))
}

#[test]
fn gc_keeps_images_stored_with_docker_media_types() {
    let layout = new_layout();
    let (top, layer) = docker_image(layout.path());
    layout_with(layout.path(), &top, "v1");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .import(layout.path(), None, Some("localhost/docker:v1"))
        .unwrap();
    let layer_file = dir.path().join("blobs/sha256").join(&layer[7..]);
    assert!(layer_file.is_file());

    let report = store.gc().unwrap();
    assert_eq!(
        report.removed_blobs, 0,
        "gc removed blobs of a Docker image"
    );
    assert!(
        layer_file.is_file(),
        "gc removed the layer of a Docker image"
    );
    let out = tempfile::tempdir().unwrap();
    store
        .export("localhost/docker:v1", &out.path().join("copy"), None)
        .expect("export after gc");
}

#[test]
fn a_document_that_does_not_match_its_digest_is_refused() {
    let layout = new_layout();
    // An index that claims to be the blob it lists: its content cannot hash to that digest.
    let fake = "sha256:".to_string() + &"ab".repeat(32);
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{fake}","size":200}}]}}"#
    );
    std::fs::write(layout.path().join("blobs/sha256").join(&fake[7..]), &index).unwrap();
    let top = format!(
        r#"{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{fake}","size":{}}}"#,
        index.len()
    );
    layout_with(layout.path(), &top, "loop");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let e = store.import(layout.path(), None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{}", e.message);
    assert!(e.message.contains(&fake), "{}", e.message);
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn a_blob_that_is_a_symlink_is_refused_not_copied() {
    let layout = new_layout();
    let (top, layer) = docker_image(layout.path());
    layout_with(layout.path(), &top, "v1");
    let layer_path = layout.path().join("blobs/sha256").join(&layer[7..]);
    std::fs::remove_file(&layer_path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &layer_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let e = store.import(layout.path(), None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{}", e.message);
    assert!(e.message.contains("symlink"), "{}", e.message);
    let tmp_bytes: u64 = std::fs::read_dir(dir.path().join(".idpkit/tmp"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(tmp_bytes, 0, "the symlink's target was copied");
    assert!(store.images().unwrap().is_empty());
}
