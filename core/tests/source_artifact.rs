//! Fetching artifacts from the rig's nginx (the fixture's tarball, and hostile tarballs this
//! test writes into the directory nginx serves): verified, extracted safely, published
//! whole, hit the second time. Fails when the rig is not up.

mod common;

use idpkit::gitops::cache::Cache;
use idpkit::gitops::{fetch_artifact, CacheOptions, FetchArtifactOptions};
use idpkit::trust::TrustOptions;
use idpkit::{Call, ErrorKind};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

struct Rig {
    env: HashMap<String, String>,
    /// `https://127.0.0.1:PORT/artifacts/`
    base: String,
    /// The directory nginx serves there.
    dir: PathBuf,
}

fn rig() -> Rig {
    let env = common::rig(&[]);
    let url = env["ARTIFACT_URL"].clone();
    let base = url.rsplit_once('/').unwrap().0.to_string() + "/";
    let dir = common::rig_dir().join("artifacts");
    Rig { env, base, dir }
}

impl Rig {
    fn trust(&self) -> TrustOptions {
        TrustOptions {
            ca_files: vec![self.env["CA"].clone().into()],
            no_platform_roots: true,
            ..Default::default()
        }
    }

    fn options(&self, cache: &Path, url: String, digest: String) -> FetchArtifactOptions {
        FetchArtifactOptions {
            url,
            digest,
            cache: CacheOptions {
                cache: Some(cache.to_path_buf()),
            },
            trust: self.trust(),
            ..Default::default()
        }
    }

    /// Serves `bytes` as `name` (unique per test) and returns its URL and sha256 digest.
    fn serve(&self, name: &str, bytes: &[u8]) -> (String, String) {
        let name = format!("test-{}-{name}", std::process::id());
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.dir.join(&name)).unwrap();
        let digest = idpkit::digest::Digest::of(idpkit::digest::Algorithm::Sha256, bytes);
        (format!("{}{name}", self.base), digest.to_string())
    }
}

fn fixture_files(rig: &Rig) -> Vec<String> {
    let out = std::process::Command::new("git")
        .args([
            "--git-dir",
            &rig.env["GIT_FIXTURE_DIR"],
            "ls-tree",
            "-r",
            "--name-only",
            "main",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn the_fixture_artifact_is_fetched_verified_and_then_hit() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", rig.env["ARTIFACT_SHA256"]);
    let opts = rig.options(
        cache.path(),
        rig.env["ARTIFACT_URL"].clone(),
        digest.clone(),
    );
    let first = fetch_artifact(&opts, &Call::new()).unwrap();
    assert!(!first.hit);
    assert_eq!(first.digest, digest);
    assert_eq!(
        first.path,
        cache
            .path()
            .join("artifact")
            .join(format!("sha256-{}", rig.env["ARTIFACT_SHA256"]))
    );
    assert_eq!(files_under(&first.path), fixture_files(&rig));
    assert_eq!(first.files as usize, fixture_files(&rig).len());
    let second = fetch_artifact(&opts, &Call::new()).unwrap();
    assert!(second.hit);
    assert_eq!(second.path, first.path);
    let listed = Cache::open(Some(cache.path())).unwrap().list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].url, rig.env["ARTIFACT_URL"]);
}

#[test]
fn a_digest_mismatch_is_integrity_and_nothing_is_cached() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let opts = rig.options(cache.path(), rig.env["ARTIFACT_URL"].clone(), wrong);
    let e = fetch_artifact(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(
        e.message.contains("nothing was cached") && e.message.contains("fixture.tar.gz"),
        "{e}"
    );
    assert!(Cache::open(Some(cache.path()))
        .unwrap()
        .list()
        .unwrap()
        .is_empty());
    let leftovers = walk(cache.path());
    assert!(
        leftovers
            .iter()
            .all(|p| p.extension().is_some_and(|x| x == "lock")),
        "{leftovers:?}"
    );
}

#[test]
fn without_the_rigs_ca_the_server_is_untrusted() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let mut opts = rig.options(
        cache.path(),
        rig.env["ARTIFACT_URL"].clone(),
        format!("sha256:{}", rig.env["ARTIFACT_SHA256"]),
    );
    opts.trust.ca_files.clear();
    let e = fetch_artifact(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{e}");
    assert!(e.message.contains("127.0.0.1"), "{e}");
}

#[test]
fn a_missing_artifact_is_not_found_and_an_in_cluster_host_can_be_overridden() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", rig.env["ARTIFACT_SHA256"]);
    let opts = rig.options(
        cache.path(),
        format!("{}no-such.tar.gz", rig.base),
        digest.clone(),
    );
    let e = fetch_artifact(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    // source-controller's address as Flux writes it (a shard's host ends in a dot), reached
    // through the override; the rig certificate names 127.0.0.1.
    let url = rig.env["ARTIFACT_URL"].replace(
        "127.0.0.1:",
        "source-controller.flux-system.svc.cluster.local.:",
    );
    let port = rig
        .base
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let mut opts = rig.options(cache.path(), url.clone(), digest);
    opts.host_override = Some(format!("127.0.0.1:{port}"));
    let r = fetch_artifact(&opts, &Call::new()).unwrap();
    assert_eq!(
        r.url, url,
        "the entry records the URL as the source gave it"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A tar holding `name` (set byte for byte) with `data`, and a regular file after it.
fn tar_with(name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_path("after.txt").unwrap();
    h.set_size(1);
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn hostile_artifacts_from_a_real_server_are_refused_and_nothing_escapes() {
    let rig = rig();
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    use tar::EntryType as T;
    let cases: Vec<(&str, Vec<u8>, ErrorKind, &str)> = vec![
        (
            "traversal",
            gzip(&tar_with(b"../../evil", T::Regular, b"", b"x")),
            ErrorKind::UnsafeArchive,
            "\"..\"",
        ),
        (
            "absolute",
            gzip(&tar_with(b"/tmp/idpkit-evil", T::Regular, b"", b"x")),
            ErrorKind::UnsafeArchive,
            "absolute",
        ),
        (
            "hardlink",
            gzip(&tar_with(b"h", T::Link, b"/etc/passwd", b"")),
            ErrorKind::UnsafeArchive,
            "hard link",
        ),
        (
            "device",
            gzip(&tar_with(b"d", T::Char, b"", b"")),
            ErrorKind::UnsafeArchive,
            "device",
        ),
        (
            "fifo",
            gzip(&tar_with(b"f", T::Fifo, b"", b"")),
            ErrorKind::UnsafeArchive,
            "FIFO",
        ),
        (
            "notgzip",
            b"<html>bad gateway</html>".to_vec(),
            ErrorKind::UnsafeArchive,
            "not gzip",
        ),
        (
            "truncated",
            {
                let g = gzip(&tar_with(
                    b"big",
                    T::Regular,
                    b"",
                    &common::random_bytes(200_000, 7),
                ));
                g[..g.len() / 2].to_vec()
            },
            ErrorKind::UnsafeArchive,
            "truncated",
        ),
    ];
    for (name, bytes, kind, needle) in cases {
        let (url, digest) = rig.serve(&format!("{name}.tar.gz"), &bytes);
        let e =
            fetch_artifact(&rig.options(&cache, url.clone(), digest), &Call::new()).unwrap_err();
        assert_eq!(e.kind, kind, "{name}: {e}");
        assert!(
            e.message.contains(needle) && e.message.contains(&url),
            "{name}: {e}"
        );
        assert!(
            Cache::open(Some(&cache))
                .unwrap()
                .list()
                .unwrap()
                .is_empty(),
            "{name}"
        );
    }
    assert!(!Path::new("/tmp/idpkit-evil").exists());
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        1,
        "nothing beside the cache"
    );
    // A symlink escape is skipped and reported; the rest is published.
    let (url, digest) = rig.serve(
        "symlink.tar.gz",
        &gzip(&tar_with(b"link", T::Symlink, b"../../../../etc", b"")),
    );
    let r = fetch_artifact(&rig.options(&cache, url, digest), &Call::new()).unwrap();
    assert_eq!(
        r.skipped_symlinks,
        vec!["link -> ../../../../etc".to_string()]
    );
    assert!(!r.path.join("link").exists() && r.path.join("after.txt").exists());
}

#[test]
fn an_artifact_over_the_download_limit_is_refused() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let body = gzip(&tar_with(
        b"big",
        tar::EntryType::Regular,
        b"",
        &common::random_bytes(300_000, 3),
    ));
    let (url, digest) = rig.serve("large.tar.gz", &body);
    let mut opts = rig.options(cache.path(), url, digest);
    opts.limits.max_download_size = 100_000;
    let e = fetch_artifact(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
    assert!(e.message.contains("download limit of 100000"), "{e}");
}

#[test]
fn a_bad_digest_option_names_the_field() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let opts = rig.options(
        cache.path(),
        rig.env["ARTIFACT_URL"].clone(),
        "md5:abc".into(),
    );
    let e = fetch_artifact(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("digest"), "{e}");
}

#[test]
fn cancel_stops_a_fetch() {
    let rig = rig();
    let cache = tempfile::tempdir().unwrap();
    let c = idpkit::CancelToken::new();
    c.cancel();
    let opts = rig.options(
        cache.path(),
        rig.env["ARTIFACT_URL"].clone(),
        format!("sha256:{}", rig.env["ARTIFACT_SHA256"]),
    );
    let e = fetch_artifact(&opts, &Call::new().with_cancel(Some(c))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
}
