//! What `trust add` and `export` leave on disk: only certificates in certs.d (never the key
//! of a combined cert+key file), and exported blobs that are copies, so editing the export
//! cannot change the store.

use idpkit::{BuildOptions, Store};
use std::os::unix::fs::MetadataExt;

#[test]
fn trust_add_writes_the_certificates_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["registry.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let combined = dir.path().join("combined.pem");
    std::fs::write(&combined, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
    let certs_d = dir.path().join("certs.d");
    let installed = idpkit::trust::add("registry.example:5000", &combined, Some(&certs_d)).unwrap();
    let text = std::fs::read_to_string(&installed).unwrap();
    assert!(
        !text.contains("PRIVATE KEY"),
        "the key was copied into certs.d:\n{text}"
    );
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 1);
    assert_eq!(
        text.trim(),
        cert.pem().trim(),
        "the certificate is installed unchanged"
    );
}

#[test]
fn an_exported_blob_is_a_copy_not_the_stores_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), b"export me").unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let built = store
        .build(
            &BuildOptions {
                context: ctx,
                tags: vec!["localhost/export:v1".into()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let out = dir.path().join("layout");
    store.export("localhost/export:v1", &out, None).unwrap();
    let hex = &built.layer.digest[7..];
    let exported = out.join("blobs/sha256").join(hex);
    let stored = dir.path().join("store/blobs/sha256").join(hex);
    assert_ne!(
        std::fs::metadata(&exported).unwrap().ino(),
        std::fs::metadata(&stored).unwrap().ino(),
        "export hard-linked the store's blob"
    );
    // An edit of the export (as another tool might make) leaves the store intact.
    let mut perms = std::fs::metadata(&exported).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&exported, perms).unwrap();
    std::fs::write(&exported, b"tampered").unwrap();
    let (digest, _) = idpkit_sha256(&stored);
    assert_eq!(digest, built.layer.digest);
}

fn idpkit_sha256(path: &std::path::Path) -> (String, u64) {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    (
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes))),
        bytes.len() as u64,
    )
}
