//! Builds against contexts a hostile (or merely busy) user could hand idpkit: very deep
//! trees, a `.dockerignore` that is a link to `/dev/zero`, file names that are not UTF-8, and
//! a file swapped for a symlink to outside the context between the walk and the read.

use idpkit::{BuildOptions, ErrorKind, Event, EventSink, Store};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn build(
    store: &Store,
    ctx: &Path,
    threads: usize,
    sink: Option<&EventSink>,
) -> idpkit::Result<idpkit::BuildResult> {
    store.build(
        &BuildOptions {
            context: ctx.into(),
            tags: vec!["localhost/hostile:v1".into()],
            threads: Some(threads),
            no_cache: true,
            ..Default::default()
        },
        sink,
        None,
    )
}

fn layer_names(store: &Store) -> Vec<String> {
    let info = store.inspect("localhost/hostile:v1").unwrap();
    let v = serde_json::to_value(&info).unwrap();
    let digest = v["manifest"]["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let file = std::fs::File::open(store.blob_path(&digest).unwrap()).unwrap();
    let mut tar = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    tar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn two_thousand_nested_directories_build_with_any_thread_count() {
    let ctx = tempfile::tempdir().unwrap();
    let mut p = ctx.path().to_path_buf();
    for _ in 0..2000 {
        p.push("d");
    }
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("deep.txt"), b"deep").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let one = build(&store, ctx.path(), 1, None).unwrap();
    let four = build(&store, ctx.path(), 4, None).unwrap();
    assert_eq!(one.digest, four.digest);
    assert!(layer_names(&store)
        .iter()
        .any(|n| n.ends_with("d/d/deep.txt")));
}

#[test]
fn a_dockerignore_linked_to_dev_zero_is_refused_not_read() {
    let ctx = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", ctx.path().join(".dockerignore")).unwrap();
    std::fs::write(ctx.path().join("a"), b"a").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let e = build(&store, ctx.path(), 2, None).unwrap_err();
    // Reading it failed (kept out by the check before the read): IO, naming the file.
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);
    assert!(e.message.contains(".dockerignore"), "{}", e.message);
    assert!(e.message.contains("regular file"), "{}", e.message);
}

#[test]
fn a_non_utf8_name_is_fine_when_excluded_and_named_when_not() {
    let ctx = tempfile::tempdir().unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"tmp-\xff.log");
    std::fs::write(ctx.path().join(bad), b"x").unwrap();
    std::fs::write(ctx.path().join("keep.txt"), b"k").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let e = build(&store, ctx.path(), 2, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("not valid UTF-8"), "{}", e.message);

    std::fs::write(ctx.path().join(".dockerignore"), b"tmp-*\n").unwrap();
    build(&store, ctx.path(), 2, None).unwrap();
    let names = layer_names(&store);
    assert!(names.iter().any(|n| n.ends_with("keep.txt")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("tmp-")), "{names:?}");
}

#[test]
fn a_file_swapped_for_a_symlink_after_the_walk_is_not_read_through_it() {
    let ctx = tempfile::tempdir().unwrap();
    // `a.bin` passes the 8 MiB progress mark, so the callback runs after the walk and
    // before `zz.txt` is read; it swaps `zz.txt` for a link to a file outside the context.
    std::fs::write(ctx.path().join("a.bin"), vec![7u8; 9 << 20]).unwrap();
    std::fs::write(ctx.path().join("zz.txt"), b"inside").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"outside secret").unwrap();
    let swapped = Arc::new(Mutex::new(false));
    let (zz, s) = (ctx.path().join("zz.txt"), swapped.clone());
    let sink: EventSink = Arc::new(move |e: &Event| {
        if matches!(e, Event::LayerProgress { .. }) && !*s.lock().unwrap() {
            std::fs::remove_file(&zz).unwrap();
            std::os::unix::fs::symlink(&secret, &zz).unwrap();
            *s.lock().unwrap() = true;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let e = build(&store, ctx.path(), 1, Some(&sink)).unwrap_err();
    assert!(
        *swapped.lock().unwrap(),
        "the callback did not run mid-build"
    );
    assert_eq!(e.kind, ErrorKind::Conflict, "{}", e.message);
    assert!(
        e.message.contains("zz.txt") && e.message.contains("changed"),
        "{}",
        e.message
    );
    assert!(store.images().unwrap().is_empty());
}
