//! Behaviour of `Store::build` a user can see: reproducible digests, layer contents,
//! the layer cache, concurrency, and errors that leave the store untouched.

use idpkit::{BuildOptions, CancelToken, ErrorKind, Event, EventSink, Store};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// A context with the cases that matter: nested dirs, an executable, a symlink, a hard
/// link, a long name, ignored files and an exception.
fn sample_context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("app/main.py"), b"print('hi')\n");
    write(&d.join("app/run.sh"), b"#!/bin/sh\nexec python3 main.py\n");
    fs::set_permissions(d.join("app/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    write(&d.join("data/big.bin"), &vec![7u8; 3 << 20]);
    fs::hard_link(d.join("data/big.bin"), d.join("data/big-link.bin")).unwrap();
    symlink("../app/main.py", d.join("data/main-link.py")).unwrap();
    symlink("/etc/passwd", d.join("data/outside-link")).unwrap();
    let long = format!("deep/{}/{}.txt", "d".repeat(120), "f".repeat(150));
    write(&d.join(long), b"long name\n");
    write(&d.join("docs/keep.md"), b"keep\n");
    write(&d.join("docs/drop.md"), b"drop\n");
    write(&d.join("debug.log"), b"noise\n");
    write(
        &d.join(".dockerignore"),
        b"# comment\n*.log\ndocs\n!docs/keep.md\n",
    );
    dir
}

fn opts(ctx: &Path, tag: &str) -> BuildOptions {
    BuildOptions {
        context: ctx.to_path_buf(),
        tags: vec![tag.to_string()],
        source_date_epoch: Some(1_700_000_000),
        ..Default::default()
    }
}

/// (path, type, mode, uid, mtime, link target) of every entry of a gzip layer.
fn layer_entries(store: &Store, digest: &str) -> Vec<(String, char, u32, u64, u64, String)> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let file = fs::File::open(store.root().join("blobs/sha256").join(hex)).unwrap();
    let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let kind = match h.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Regular => 'f',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Link => 'h',
                other => panic!("unexpected entry type {other:?}"),
            };
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                e.path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_string(),
                kind,
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.mtime().unwrap(),
                link,
            )
        })
        .collect()
}

fn read_file_in_layer(store: &Store, digest: &str, path: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let file = fs::File::open(store.root().join("blobs/sha256").join(hex)).unwrap();
    let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == path {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            return v;
        }
    }
    panic!("{path} not in layer");
}

#[test]
fn layer_holds_the_context_minus_ignored_files_reproducibly() {
    let ctx = sample_context();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let r = store
        .build(&opts(ctx.path(), "reg.local/app:v1"), None, None)
        .unwrap();
    let entries = layer_entries(&store, &r.layer.digest);
    let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();

    let long = format!("deep/{}/{}.txt", "d".repeat(120), "f".repeat(150));
    let expected = vec![
        ".dockerignore",
        "app",
        "app/main.py",
        "app/run.sh",
        "data",
        "data/big-link.bin",
        "data/big.bin",
        "data/main-link.py",
        "data/outside-link",
        "deep",
        &long[..5 + 120],
        long.as_str(),
        "docs/keep.md",
    ];
    assert_eq!(
        paths, expected,
        "sorted, ignored files gone, exception kept"
    );
    assert_eq!(r.entries, expected.len() as u64);
    for e in &entries {
        assert_eq!(e.3, 0, "uid 0 for {}", e.0);
        assert_eq!(e.4, 1_700_000_000, "mtime from the epoch for {}", e.0);
    }
    let get = |p: &str| entries.iter().find(|e| e.0 == p).unwrap().clone();
    assert_eq!(get("app/run.sh").2 & 0o777, 0o755, "mode kept");
    assert_eq!(get("app/main.py").2 & 0o777, 0o644);
    assert_eq!(get("data/main-link.py").1, 'l');
    assert_eq!(get("data/main-link.py").5, "../app/main.py");
    assert_eq!(
        get("data/outside-link").5,
        "/etc/passwd",
        "symlink kept, not followed"
    );
    // Sorted order puts big-link.bin first: it carries the data, big.bin links to it.
    assert_eq!(get("data/big-link.bin").1, 'f');
    assert_eq!(get("data/big.bin").1, 'h');
    assert_eq!(get("data/big.bin").5, "data/big-link.bin");
    assert_eq!(
        read_file_in_layer(&store, &r.layer.digest, &long),
        b"long name\n"
    );

    // Same context into another store, one thread instead of many: same bytes.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Store::open(other_dir.path()).unwrap();
    let mut o = opts(ctx.path(), "reg.local/app:v1");
    o.threads = Some(1);
    let r1 = other.build(&o, None, None).unwrap();
    o.threads = Some(8);
    o.no_cache = true;
    let r8 = other.build(&o, None, None).unwrap();
    assert_eq!(r.digest, r1.digest);
    assert_eq!(r.digest, r8.digest);
    assert!(!r8.cached);
}

#[test]
fn checkout_mtimes_do_not_change_the_digest() {
    let a = sample_context();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let first = store.build(&opts(a.path(), "x/app:1"), None, None).unwrap();
    // A fresh checkout: same content, new mtimes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let new_time = fs::FileTimes::new().set_modified(std::time::SystemTime::now());
    fs::File::options()
        .write(true)
        .open(a.path().join("app/main.py"))
        .unwrap()
        .set_times(new_time)
        .unwrap();
    let second = store.build(&opts(a.path(), "x/app:1"), None, None).unwrap();
    assert!(!second.cached, "a touched file invalidates the cache");
    assert_eq!(
        first.digest, second.digest,
        "but the content, hence the digest, is the same"
    );
}

#[test]
fn unchanged_rebuild_reuses_the_layer_and_any_change_invalidates_it() {
    let ctx = sample_context();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: EventSink = Arc::new(move |e: &Event| seen.lock().unwrap().push(e.clone()));

    let cold = store
        .build(&opts(ctx.path(), "x/app:1"), Some(&sink), None)
        .unwrap();
    assert!(!cold.cached);
    let warm = store
        .build(&opts(ctx.path(), "x/app:1"), Some(&sink), None)
        .unwrap();
    assert!(warm.cached);
    assert_eq!(cold.digest, warm.digest);
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::LayerCached { .. })));

    write(&ctx.path().join("app/main.py"), b"print('changed')\n");
    let changed = store
        .build(&opts(ctx.path(), "x/app:1"), None, None)
        .unwrap();
    assert!(!changed.cached);
    assert_ne!(changed.digest, cold.digest);

    // Options that change the layer's bytes are part of the key too.
    let mut o = opts(ctx.path(), "x/app:1");
    o.prefix = "/srv".into();
    let moved = store.build(&o, None, None).unwrap();
    assert!(!moved.cached);
    assert!(layer_entries(&store, &moved.layer.digest)
        .iter()
        .any(|e| e.0 == "srv/app/main.py"));
}

/// Paths of the regular files in a layer.
fn files_in_layer(store: &Store, digest: &str) -> Vec<String> {
    layer_entries(store, digest)
        .into_iter()
        .filter(|e| e.1 == 'f')
        .map(|e| e.0)
        .collect()
}

/// An unchanged rebuild reuses each directory's listing from the last build instead of
/// reading the directory again; adding, removing or renaming an entry deep down must still
/// reach the next layer, even when the directory's mtime is put back.
#[test]
fn remembered_directory_listings_never_hide_a_change() {
    let ctx = sample_context();
    let d = ctx.path();
    for dir in ["add", "remove", "rename", "restored"] {
        write(&d.join(format!("deep/{dir}/x/keep.txt")), b"keep\n");
        write(&d.join(format!("deep/{dir}/x/old.txt")), b"old\n");
    }
    // Listings are remembered only for directories that changed at least two seconds
    // (oci/listing.rs RACY_WINDOW) before the walk began.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let build = || store.build(&opts(d, "x/app:1"), None, None).unwrap();

    let cold = build();
    let listings = store_dir.path().join(".idpkit/listings");
    assert_eq!(
        fs::read_dir(&listings).unwrap().count(),
        1,
        "one file per context"
    );
    let warm = build();
    assert!(warm.cached);
    assert_eq!(warm.digest, cold.digest);

    write(&d.join("deep/add/x/new.txt"), b"new\n");
    fs::remove_file(d.join("deep/remove/x/old.txt")).unwrap();
    fs::rename(
        d.join("deep/rename/x/old.txt"),
        d.join("deep/rename/x/renamed.txt"),
    )
    .unwrap();
    let restored = d.join("deep/restored/x");
    let mtime = fs::metadata(&restored).unwrap().modified().unwrap();
    write(&restored.join("new.txt"), b"new\n");
    fs::File::open(&restored)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(fs::metadata(&restored).unwrap().modified().unwrap(), mtime);

    let changed = build();
    assert!(!changed.cached);
    let files = files_in_layer(&store, &changed.layer.digest);
    for present in [
        "deep/add/x/new.txt",
        "deep/rename/x/renamed.txt",
        "deep/restored/x/new.txt",
        "deep/remove/x/keep.txt",
    ] {
        assert!(files.iter().any(|f| f == present), "{present} missing");
    }
    for gone in ["deep/remove/x/old.txt", "deep/rename/x/old.txt"] {
        assert!(!files.iter().any(|f| f == gone), "{gone} still there");
    }
    // And the listings file says what the next build needs: still exactly this layer.
    assert_eq!(build().digest, changed.digest);
}

/// The layer-cache entries of a store, parsed.
fn cache_entries(store_dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    fs::read_dir(store_dir.join(".idpkit/cache"))
        .unwrap()
        .flatten()
        .map(|f| {
            let json = serde_json::from_slice(&fs::read(f.path()).unwrap()).unwrap();
            (f.path(), json)
        })
        .collect()
}

/// A file written just before a build could be written again in the same timestamp tick
/// after the walk stat'ed it, leaving its size and times as recorded (git's "racily clean"
/// files). The cache entry keeps the hash of such files' content and a hit holds only while
/// it matches; once the context has settled, hits stop re-hashing.
#[test]
fn racily_clean_files_are_checked_by_content_until_they_settle() {
    let ctx = sample_context();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let build = || {
        store
            .build(&opts(ctx.path(), "x/app:1"), None, None)
            .unwrap()
    };

    let cold = build();
    let [(entry_path, mut entry)] = cache_entries(store_dir.path()).try_into().unwrap();
    let racy = entry["racy"].as_array_mut().expect("fresh files are racy");
    let main = racy
        .iter_mut()
        .find(|f| f["path"] == "app/main.py")
        .expect("app/main.py is recorded");
    // What a write in the same tick would leave: metadata as recorded, content not what
    // the layer holds. No real peer produces that tick on demand, so the entry says it.
    main["xxh3"] = serde_json::json!("0".repeat(32));
    fs::write(&entry_path, serde_json::to_vec(&entry).unwrap()).unwrap();
    let rebuilt = build();
    assert!(
        !rebuilt.cached,
        "a racy file whose content differs is rebuilt"
    );
    assert_eq!(rebuilt.digest, cold.digest);
    assert!(
        build().cached,
        "the rebuilt entry holds the content's true hash"
    );

    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(build().cached);
    let [(_, settled)] = cache_entries(store_dir.path()).try_into().unwrap();
    assert!(
        settled.get("racy").is_none(),
        "settled files need no hash: {settled}"
    );
    assert!(build().cached);
}

#[test]
fn config_carries_the_options() {
    let ctx = sample_context();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let mut o = opts(ctx.path(), "x/app:1");
    o.entrypoint = Some(vec!["/app/run.sh".into()]);
    o.cmd = Some(vec!["--port".into(), "80".into()]);
    o.env = BTreeMap::from([("MODE".into(), "prod".into())]);
    o.workdir = Some("/app".into());
    o.user = Some("1000:1000".into());
    o.labels = BTreeMap::from([("team".into(), "platform".into())]);
    o.annotations = BTreeMap::from([("org.opencontainers.image.source".into(), "git".into())]);
    o.platform = Some("linux/arm64/v8".into());
    let r = store.build(&o, None, None).unwrap();
    let info = store.inspect("x/app:1").unwrap();
    assert_eq!(info.digest, r.digest);
    let c = info.config.as_ref().expect("an image config");
    assert_eq!(c.architecture, "arm64");
    assert_eq!(c.variant.as_deref(), Some("v8"));
    assert_eq!(c.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    let run = c.config.as_ref().expect("the config's config");
    assert_eq!(run.entrypoint.as_ref().unwrap()[0], "/app/run.sh");
    assert_eq!(run.cmd.as_ref().unwrap()[1], "80");
    assert_eq!(run.env.as_ref().unwrap()[0], "MODE=prod");
    assert_eq!(run.working_dir.as_deref(), Some("/app"));
    assert_eq!(run.user.as_deref(), Some("1000:1000"));
    assert_eq!(run.labels.as_ref().unwrap()["team"], "platform");
    assert_eq!(c.rootfs.diff_ids[0], r.layer.diff_id.as_str());
    assert_eq!(
        info.manifest.annotations.as_ref().unwrap()["org.opencontainers.image.source"],
        "git"
    );
    // The typed result serializes with the image spec's own names.
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["config"]["config"]["WorkingDir"], "/app");
    assert_eq!(json["manifest"]["schemaVersion"], 2);
}

#[test]
fn from_appends_a_layer_on_top_of_a_base_image() {
    let base_ctx = tempfile::tempdir().unwrap();
    write(&base_ctx.path().join("etc/base.conf"), b"base\n");
    let app_ctx = tempfile::tempdir().unwrap();
    write(&app_ctx.path().join("app.txt"), b"app\n");
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let mut b = opts(base_ctx.path(), "x/base:1");
    b.env = BTreeMap::from([("PATH".into(), "/bin".into()), ("A".into(), "1".into())]);
    b.cmd = Some(vec!["sh".into()]);
    let base = store.build(&b, None, None).unwrap();
    let mut a = opts(app_ctx.path(), "x/app:1");
    a.from = Some("x/base:1".into());
    a.env = BTreeMap::from([("A".into(), "2".into())]);
    let app = store.build(&a, None, None).unwrap();
    let info = store.inspect("x/app:1").unwrap();
    let layers = &info.manifest.layers;
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].digest, base.layer.digest.as_str());
    assert_eq!(layers[1].digest, app.layer.digest.as_str());
    let config = info.config.as_ref().unwrap();
    assert_eq!(config.rootfs.diff_ids.len(), 2);
    let run = config.config.as_ref().unwrap();
    assert_eq!(run.env.as_deref().unwrap(), ["A=2", "PATH=/bin"]);
    assert_eq!(run.cmd.as_deref().unwrap(), ["sh"]);
    assert_eq!(config.history.as_ref().unwrap().len(), 2);

    let err = store
        .build(
            &BuildOptions {
                from: Some("x/missing:1".into()),
                ..a.clone()
            },
            None,
            None,
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("x/missing:1"), "{}", err.message);
}

#[test]
fn four_parallel_builds_into_one_store_all_land() {
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let ctxs: Vec<_> = (0..4)
        .map(|i| {
            let d = tempfile::tempdir().unwrap();
            write(&d.path().join("n.txt"), format!("{i}").as_bytes());
            write(&d.path().join("blob.bin"), &vec![i as u8; 2 << 20]);
            d
        })
        .collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ctxs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let store = store.clone();
                let o = opts(c.path(), &format!("x/app:{i}"));
                s.spawn(move || store.build(&o, None, None))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let images = store.images().unwrap();
    assert_eq!(images.len(), 4);
    for (i, r) in results.iter().enumerate() {
        let row = images
            .iter()
            .find(|m| m.reference.as_deref() == Some(&format!("docker.io/x/app:{i}")))
            .unwrap();
        assert_eq!(row.digest, r.digest);
        assert!(store.inspect(&format!("x/app:{i}")).is_ok());
    }
}

#[test]
fn bad_input_names_the_problem_and_leaves_the_store_unchanged() {
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let ctx = sample_context();
    store
        .build(&opts(ctx.path(), "x/app:1"), None, None)
        .unwrap();
    let index_before = fs::read(store_dir.path().join("index.json")).unwrap();
    let blobs_before = fs::read_dir(store_dir.path().join("blobs/sha256"))
        .unwrap()
        .count();

    let missing = ctx.path().join("nope");
    let e = store
        .build(&opts(&missing, "x/app:2"), None, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(
        e.message.contains(&missing.display().to_string()),
        "{}",
        e.message
    );

    let file = ctx.path().join("app/main.py");
    let e = store
        .build(&opts(&file, "x/app:2"), None, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("not a directory"), "{}", e.message);

    let e = store
        .build(&opts(ctx.path(), "x/App:2"), None, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("\"App\""), "{}", e.message);

    let loop_dir = tempfile::tempdir().unwrap();
    symlink(loop_dir.path().join("b"), loop_dir.path().join("a")).unwrap();
    symlink(loop_dir.path().join("a"), loop_dir.path().join("b")).unwrap();
    let e = store
        .build(&opts(&loop_dir.path().join("a"), "x/app:2"), None, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("symbolic links"), "{}", e.message);

    let mut o = opts(ctx.path(), "x/app:2");
    o.platform = Some("linux".into());
    let e = store.build(&o, None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("os/arch"), "{}", e.message);
    let mut o = opts(ctx.path(), "x/app:2");
    o.level = Some(42);
    let e = store.build(&o, None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("level 42"), "{}", e.message);
    let mut o = opts(ctx.path(), "x/app:2");
    o.excludes = vec!["[unclosed".into()];
    let e = store.build(&o, None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("[unclosed"), "{}", e.message);

    let cancel = CancelToken::new();
    cancel.cancel();
    let mut o = opts(ctx.path(), "x/app:2");
    o.no_cache = true;
    let e = store.build(&o, None, Some(&cancel)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);

    assert_eq!(
        fs::read(store_dir.path().join("index.json")).unwrap(),
        index_before
    );
    assert_eq!(
        fs::read_dir(store_dir.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        blobs_before
    );
    assert_eq!(
        fs::read_dir(store_dir.path().join(".idpkit/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_directory_that_is_not_a_layout_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("precious.txt"), b"mine");
    let e = Store::open(dir.path()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(
        e.message.contains("not an OCI image layout"),
        "{}",
        e.message
    );
    let names: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(names, vec![dir.path().join("precious.txt")]);
}

#[test]
fn tag_remove_inspect_and_gc() {
    let ctx = sample_context();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let r = store
        .build(&opts(ctx.path(), "x/app:1"), None, None)
        .unwrap();
    let t = store.tag("x/app:1", "reg.io:5000/team/app:prod").unwrap();
    assert_eq!(t.digest, r.digest);
    assert_eq!(t.reference.as_deref(), Some("reg.io:5000/team/app:prod"));
    assert_eq!(store.inspect(&r.digest).unwrap().digest, r.digest);
    assert_eq!(store.images().unwrap().len(), 2);

    // Nothing is collected while a tag still points at the image, and the layer cache of
    // a live layer survives.
    assert_eq!(store.gc().unwrap().removed_blobs, 0);
    assert!(
        store
            .build(&opts(ctx.path(), "x/app:1"), None, None)
            .unwrap()
            .cached
    );
    assert_eq!(store.remove("x/app:1").unwrap(), vec!["docker.io/x/app:1"]);
    assert_eq!(store.gc().unwrap().removed_blobs, 0);
    let e = store.remove("x/app:1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("x/app:1"));
    store.remove("reg.io:5000/team/app:prod").unwrap();
    let report = store.gc().unwrap();
    assert_eq!(report.removed_blobs, 3, "manifest, config, layer");
    assert!(report.freed_bytes >= r.layer.size);
    assert!(store.images().unwrap().is_empty());
    // The layer cache no longer points at a collected blob: the next build is cold.
    assert!(
        !store
            .build(&opts(ctx.path(), "x/app:1"), None, None)
            .unwrap()
            .cached
    );
}

#[test]
fn export_and_import_round_trip_through_a_plain_layout() {
    let ctx = sample_context();
    let a_dir = tempfile::tempdir().unwrap();
    let a = Store::open(a_dir.path()).unwrap();
    let r = a.build(&opts(ctx.path(), "x/app:v1"), None, None).unwrap();
    let layout = tempfile::tempdir().unwrap();
    let out = layout.path().join("exported");
    let e = a.export("x/app:v1", &out, None).unwrap();
    assert_eq!(e.reference.as_deref(), Some("v1"));
    assert!(
        !out.join(".idpkit").exists(),
        "no idpkit bookkeeping in an exported layout"
    );

    let b_dir = tempfile::tempdir().unwrap();
    let b = Store::open(b_dir.path()).unwrap();
    let imported = b.import(&out, Some("v1"), None).unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(
        imported[0].reference.as_deref(),
        Some("localhost/exported:v1")
    );
    assert_eq!(imported[0].digest, r.digest);
    let named = b
        .import(&out, Some("v1"), Some("reg.io/team/app:v1"))
        .unwrap();
    assert_eq!(named[0].reference.as_deref(), Some("reg.io/team/app:v1"));

    let e = b
        .import(&layout.path().join("missing"), None, None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = b.import(layout.path(), None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(
        e.message.contains("not an OCI image layout"),
        "{}",
        e.message
    );

    // A corrupted blob is refused on import.
    let hex = r.layer.digest.strip_prefix("sha256:").unwrap();
    let blob = out.join("blobs/sha256").join(hex);
    fs::remove_file(&blob).unwrap();
    fs::write(&blob, b"tampered").unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let c = Store::open(c_dir.path()).unwrap();
    let e = c.import(&out, None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity);
    assert!(c.images().unwrap().is_empty());
}

#[test]
fn files_of_another_owner_are_stored_as_root_without_names() {
    // The context belongs to nobody:nogroup (root can chown); the layer must still say 0/0
    // and carry no user or group names, whoever owned the files.
    let ctx = tempfile::tempdir().unwrap();
    fs::create_dir_all(ctx.path().join("dir")).unwrap();
    fs::write(ctx.path().join("dir/file.txt"), b"owned by nobody\n").unwrap();
    std::os::unix::fs::symlink("file.txt", ctx.path().join("dir/link")).unwrap();
    for p in ["dir", "dir/file.txt"] {
        std::os::unix::fs::chown(ctx.path().join(p), Some(65534), Some(65534)).unwrap();
    }
    std::os::unix::fs::lchown(ctx.path().join("dir/link"), Some(65534), Some(65534)).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(ctx.path().join("dir/file.txt")).unwrap().uid(),
        65534
    );

    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let r = store
        .build(&opts(ctx.path(), "reg.local/owners:v1"), None, None)
        .unwrap();
    let hex = r.layer.digest.strip_prefix("sha256:").unwrap();
    let file = fs::File::open(store.root().join("blobs/sha256").join(hex)).unwrap();
    let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    let mut seen = 0;
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            (h.uid().unwrap(), h.gid().unwrap()),
            (0, 0),
            "uid/gid of {path}"
        );
        assert_eq!(h.username().unwrap().unwrap_or(""), "", "uname of {path}");
        assert_eq!(h.groupname().unwrap().unwrap_or(""), "", "gname of {path}");
        seen += 1;
    }
    assert_eq!(seen, 3, "dir, dir/file.txt and dir/link");
}

/// A base that is neither in the store nor reachable is NOT_FOUND either way: `localhost/…`
/// names an image of the store as often as a registry on this machine, and nothing listens
/// there in this test (the network detail stays in the message).
#[test]
fn a_missing_base_is_not_found_even_when_its_registry_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a"), b"a").unwrap();
    for from in [
        "localhost/never-built:1",
        "127.0.0.1:9/team/base:1",
        "never-built:1",
    ] {
        let mut o = opts(&ctx, "x/app:1");
        o.from = Some(from.to_string());
        o.pull.attempts = 1;
        let e = store.build(&o, None, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{from}: {}", e.message);
        assert!(e.message.contains(from), "{from}: {}", e.message);
    }
}
