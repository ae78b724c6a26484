//! The publish protocol and garbage collection, on a temporary root.

use super::entry::{get_or_fill, EntryRecord};
use super::gc::GcPolicy;
use super::*;
use crate::error::ErrorKind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn record(source: &str, digest: &str, bytes: u64) -> EntryRecord {
    let mut r = EntryRecord::new(
        source.into(),
        "http://x/a.tar.gz".into(),
        "r".into(),
        digest.into(),
    );
    r.bytes = bytes;
    r
}

fn fill(entry: &Path, source: &str, digest: &str, content: &str) -> (EntryRecord, bool) {
    get_or_fill(entry, digest, None, |dir| {
        std::fs::write(dir.join("file"), content).unwrap();
        Ok(record(source, digest, content.len() as u64))
    })
    .unwrap()
}

fn flux(cache: &Cache, name: &str, rev: &str, digest: &str) -> std::path::PathBuf {
    let rev = crate::gitops::revision::Revision::parse(rev).unwrap();
    cache
        .flux_entry(
            "ns",
            name,
            &rev,
            &crate::digest::Digest::parse(digest).unwrap(),
        )
        .unwrap()
}

#[test]
fn an_entry_is_filled_once_then_hit_and_another_digest_replaces_it() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let e = flux(
        &cache,
        "app",
        "main@sha1:0123456789abcdef0123456789abcdef01234567",
        D1,
    );
    assert!(e.ends_with("flux-artifact/ns/app/main-sha-0123456"));
    let (_, hit) = fill(&e, "GitRepository ns/app", D1, "one");
    assert!(!hit);
    let (_, hit) = fill(&e, "GitRepository ns/app", D1, "ignored");
    assert!(hit);
    assert_eq!(std::fs::read_to_string(e.join("file")).unwrap(), "one");
    // The same name asked for with another digest never hits the old tree.
    let (r, hit) = fill(&e, "GitRepository ns/app", D2, "two");
    assert!(!hit);
    assert_eq!(r.digest, D2);
    assert_eq!(std::fs::read_to_string(e.join("file")).unwrap(), "two");
    let names: Vec<String> = std::fs::read_dir(e.parent().unwrap())
        .unwrap()
        .map(|x| x.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with(".tmp-") && !n.starts_with(".trash-")),
        "{names:?}"
    );
}

#[test]
fn a_failed_fill_publishes_nothing_and_the_next_one_works() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let e = cache.artifact_entry(&crate::digest::Digest::parse(D1).unwrap());
    let err = get_or_fill(&e, D1, None, |dir| {
        std::fs::write(dir.join("half"), "x").unwrap();
        Err(crate::Error::new(ErrorKind::Integrity, "bad digest"))
    })
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);
    assert!(!e.exists());
    assert!(cache.list().unwrap().is_empty());
    let (_, hit) = fill(&e, "artifact", D1, "ok");
    assert!(!hit);
}

#[test]
fn a_writer_that_died_leaves_nothing_that_looks_complete() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let e = cache.artifact_entry(&crate::digest::Digest::parse(D1).unwrap());
    // What a kill -9 mid-extraction leaves: a temporary sibling, no record, no entry.
    let parent = e.parent().unwrap();
    std::fs::create_dir_all(parent).unwrap();
    let name = e.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = parent.join(format!(".tmp-{name}-abc123"));
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join("file"), "partial").unwrap();
    assert!(cache.list().unwrap().is_empty());
    let (_, hit) = fill(&e, "artifact", D1, "whole");
    assert!(!hit);
    assert_eq!(std::fs::read_to_string(e.join("file")).unwrap(), "whole");
    assert!(!tmp.exists(), "the dead writer's directory is cleaned up");
    // A record without its directory (killed between the two) is a miss too.
    std::fs::remove_dir_all(&e).unwrap();
    let (_, hit) = fill(&e, "artifact", D1, "again");
    assert!(!hit);
}

#[test]
fn concurrent_fills_of_one_entry_produce_once() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let e = Arc::new(cache.artifact_entry(&crate::digest::Digest::parse(D1).unwrap()));
    let produced = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (e, produced) = (e.clone(), produced.clone());
            std::thread::spawn(move || {
                get_or_fill(&e, D1, None, |dir| {
                    produced.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    std::fs::write(dir.join("file"), "x").unwrap();
                    Ok(record("artifact", D1, 1))
                })
                .unwrap()
                .1
            })
        })
        .collect();
    let hits = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|h| *h)
        .count();
    assert_eq!(produced.load(Ordering::SeqCst), 1);
    assert_eq!(hits, 7);
}

#[test]
fn a_waiting_fill_can_be_cancelled() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let e = cache.artifact_entry(&crate::digest::Digest::parse(D1).unwrap());
    std::fs::create_dir_all(e.parent().unwrap()).unwrap();
    let _held = entry::lock_entry(&e, None).unwrap();
    let c = crate::CancelToken::new();
    let c2 = c.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        c2.cancel();
    });
    let err = get_or_fill(&e, D1, Some(&c), |_| unreachable!()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
}

#[test]
fn gc_keeps_the_newest_per_source_and_never_touches_what_is_not_an_entry() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let sha = |c: char| c.to_string().repeat(40);
    let mut entries = Vec::new();
    for (i, c) in ['a', 'b', 'c'].into_iter().enumerate() {
        let d = format!("sha256:{}", c.to_string().repeat(64));
        let e = flux(&cache, "app", &format!("main@sha1:{}", sha(c)), &d);
        let mut r = record("GitRepository ns/app", &d, 10);
        r.created -= 100 - i as u64; // a, then b, then c: c is the newest
        get_or_fill(&e, &d, None, |dir| {
            std::fs::write(dir.join("f"), "0123456789").unwrap();
            Ok(r)
        })
        .unwrap();
        entries.push(e);
    }
    let other = flux(&cache, "other", &format!("main@sha1:{}", sha('d')), D1);
    fill(&other, "GitRepository ns/other", D1, "x");
    // Things that are not entries: a .ssh directory, a user's file, a directory without a
    // record, a symlink to a directory outside with a forged record beside it.
    let ns = root.path().join("flux-artifact/ns");
    std::fs::create_dir_all(root.path().join(".ssh")).unwrap();
    std::fs::write(root.path().join(".ssh/id_ed25519"), "key").unwrap();
    std::fs::write(ns.join("app/notes.txt"), "mine").unwrap();
    std::fs::create_dir_all(ns.join("app/unrecorded")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious"), "p").unwrap();
    std::os::unix::fs::symlink(outside.path(), ns.join("app/linked")).unwrap();
    std::fs::write(
        ns.join("app/linked.json"),
        serde_json::to_vec(&record("GitRepository ns/app", D2, 1)).unwrap(),
    )
    .unwrap();

    let listed = cache.list().unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    let dry = cache
        .gc(&GcPolicy {
            keep: 1,
            dry_run: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert!(entries[0].exists(), "a dry run removes nothing");

    let r = cache
        .gc(&GcPolicy {
            keep: 1,
            ..Default::default()
        })
        .unwrap();
    let removed: Vec<_> = r.removed.iter().map(|e| e.path.clone()).collect();
    assert_eq!(removed.len(), 2);
    assert!(removed.contains(&entries[0]) && removed.contains(&entries[1]));
    assert!(entries[2].exists() && other.exists());
    assert_eq!(r.freed_bytes, 20);
    assert!(root.path().join(".ssh/id_ed25519").exists());
    assert!(ns.join("app/notes.txt").exists() && ns.join("app/unrecorded").exists());
    assert!(outside.path().join("precious").exists());
}

#[test]
fn gc_by_size_drops_the_least_recently_used_and_keeps_one_in_use() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let a = cache.artifact_entry(&crate::digest::Digest::parse(D1).unwrap());
    let b = cache.artifact_entry(&crate::digest::Digest::parse(D2).unwrap());
    fill(&a, "artifact", D1, "aaaa");
    fill(&b, "artifact", D2, "bbbb");
    // a was used long ago
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .append(true)
        .open(entry::sibling(&a, ".json"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let r = cache
        .gc(&GcPolicy {
            max_bytes: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.removed[0].path, a);
    // b is being filled (its lock is held): an age rule selects it but it stays.
    let _held = entry::lock_entry(&b, None).unwrap();
    let r = cache
        .gc(&GcPolicy {
            max_bytes: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((r.removed.len(), r.in_use), (0, 1));
    assert!(b.exists());
}

#[test]
fn gc_without_a_rule_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let e = cache.gc(&GcPolicy::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
}

#[test]
fn names_from_outside_never_become_paths_that_leave() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(root.path())).unwrap();
    let rev = crate::gitops::revision::Revision::parse("main").unwrap();
    let d = crate::digest::Digest::parse(D1).unwrap();
    for (ns, name) in [
        ("..", "x"),
        ("ns", "../x"),
        ("ns/a", "x"),
        ("", "x"),
        ("NS", "x"),
    ] {
        assert!(cache.flux_entry(ns, name, &rev, &d).is_err(), "{ns}/{name}");
    }
}
