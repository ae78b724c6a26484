//! Directory listings remembered between builds of one context, so that an unchanged
//! rebuild stats each entry but no longer opens, reads and closes every directory (four of
//! the five syscalls it spent per directory; git's untracked cache does the same).
//!
//! A listing is reused only while its directory's device, inode, mtime and ctime are exactly
//! what they were when it was read: creating, removing or renaming an entry moves both
//! times, and ctime cannot be set back by a user (`touch -d` moves it to now). A listing is
//! remembered only when its directory was last changed [`RACY_WINDOW`] before the walk
//! began, because a change within the same timestamp tick as the read would leave both
//! times as they were (git's "racily clean" problem); the coarsest Linux filesystems tick
//! in whole seconds.
//!
//! Listings are raw (before `.dockerignore`), so every build of a context shares one file
//! whatever its options. The file is only an accelerator: unreadable, foreign or stale
//! content is ignored and replaced.

use crate::oci::store::write_atomic;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long before the walk a directory must have last changed for its listing to be kept.
pub(crate) const RACY_WINDOW: Duration = Duration::from_secs(2);
/// Bump when [`Saved`] changes shape, so old files are ignored instead of misread.
const FORMAT: u32 = 1;

/// The (seconds, nanoseconds) time before which a change counts as settled for a walk that
/// starts at `now`: a change at or after it may share a timestamp tick with the walk's stat.
pub(crate) fn settled_limit(now: SystemTime) -> (i64, i64) {
    let limit = now
        .checked_sub(RACY_WINDOW)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    (limit.as_secs() as i64, i64::from(limit.subsec_nanos()))
}

/// A file's or directory's modification and change times, (seconds, nanoseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Times {
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Times {
    pub(crate) fn of(meta: &fs::Metadata) -> Self {
        Self {
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Changed at or after `settled_limit` (see [`settled_limit`]): a later change in the
    /// same timestamp tick could leave these times as they are.
    pub(crate) fn is_racy(&self, settled_limit: (i64, i64)) -> bool {
        self.mtime >= settled_limit || self.ctime >= settled_limit
    }
}

/// What identifies one state of a directory's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DirState {
    dev: u64,
    ino: u64,
    times: Times,
}

impl DirState {
    pub(crate) fn of(meta: &fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            times: Times::of(meta),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Listing<'a> {
    state: DirState,
    /// Entry names, sorted by bytes.
    #[serde(borrow)]
    names: Vec<&'a str>,
}

/// The file's content: the context it belongs to and its directories by relative path.
/// Strings borrow from the file's bytes, so loading allocates one vector per directory.
#[derive(Serialize, Deserialize)]
struct Saved<'a> {
    format: u32,
    root: &'a str,
    #[serde(borrow)]
    listings: Vec<(&'a str, Listing<'a>)>,
}

/// The listings file of one context, as read before a walk.
pub(crate) struct ListingFile {
    path: PathBuf,
    root: String,
    bytes: Vec<u8>,
}

impl ListingFile {
    /// The file for `root` under `dir`; its content is left unread when `reuse` is false
    /// (the walk still records what it reads, for the next build).
    pub(crate) fn read(dir: &Path, root: &Path, reuse: bool) -> Self {
        let root = fs::canonicalize(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .to_string_lossy()
            .into_owned();
        let path = dir.join(hex::encode(&Sha256::digest(root.as_bytes())[..16]));
        let bytes = if reuse {
            fs::read(&path).unwrap_or_default()
        } else {
            Vec::new()
        };
        Self { path, root, bytes }
    }

    /// The listings to consult during a walk starting at `now`.
    pub(crate) fn listings(&self, now: SystemTime) -> Listings<'_> {
        let old = postcard::from_bytes::<Saved>(&self.bytes)
            .ok()
            .filter(|s| s.format == FORMAT && s.root == self.root)
            .map(|s| s.listings)
            .unwrap_or_default();
        Listings {
            file: self,
            old: old
                .into_iter()
                .map(|(k, v)| (k, (v, AtomicBool::new(false))))
                .collect(),
            fresh: Mutex::new(Vec::new()),
            dirty: AtomicBool::new(false),
            settled_before: settled_limit(now),
        }
    }
}

/// The listings of one context: those loaded from the last build, and those of this walk.
pub(crate) struct Listings<'a> {
    file: &'a ListingFile,
    /// Loaded listings, each flagged once this walk has reused it.
    old: HashMap<&'a str, (Listing<'a>, AtomicBool)>,
    /// Listings this walk read and may keep: relative path, state, names.
    fresh: Mutex<Vec<(String, DirState, Vec<String>)>>,
    /// Set when this walk read a directory itself, so the file needs rewriting.
    dirty: AtomicBool,
    settled_before: (i64, i64),
}

impl Listings<'_> {
    /// The names in `rel_dir` as the last build read them, if the directory is unchanged.
    pub(crate) fn reuse(&self, rel_dir: &str, state: &DirState) -> Option<&[&str]> {
        let (listing, used) = self.old.get(rel_dir)?;
        if listing.state != *state {
            return None;
        }
        used.store(true, Ordering::Relaxed);
        Some(&listing.names)
    }

    /// Records that this walk read `rel_dir` itself, and keeps its `names` (asked for only
    /// then; `None` when they cannot be kept) if the directory had settled before the walk.
    pub(crate) fn record(
        &self,
        rel_dir: &str,
        state: DirState,
        names: impl FnOnce() -> Option<Vec<String>>,
    ) {
        self.dirty.store(true, Ordering::Relaxed);
        if state.times.is_racy(self.settled_before) {
            return;
        }
        if let Some(names) = names() {
            let mut fresh = self.fresh.lock().unwrap_or_else(|e| e.into_inner());
            fresh.push((rel_dir.to_string(), state, names));
        }
    }

    /// Writes the listings of this walk (reused and fresh) for the next build, when they
    /// differ from what was loaded. Failing to write costs only speed, so it is not an error.
    pub(crate) fn save(self) {
        let unused = self
            .old
            .values()
            .any(|(_, used)| !used.load(Ordering::Relaxed));
        if !self.dirty.into_inner() && !unused {
            return;
        }
        let fresh = self.fresh.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut listings: Vec<(&str, Listing)> = self
            .old
            .into_iter()
            .filter(|(_, (_, used))| used.load(Ordering::Relaxed))
            .map(|(k, (listing, _))| (k, listing))
            .collect();
        listings.extend(fresh.iter().map(|(rel, state, names)| {
            let names = names.iter().map(String::as_str).collect();
            (
                rel.as_str(),
                Listing {
                    state: *state,
                    names,
                },
            )
        }));
        let saved = Saved {
            format: FORMAT,
            root: &self.file.root,
            listings,
        };
        if let Ok(bytes) = postcard::to_stdvec(&saved) {
            let _ = fs::create_dir_all(self.file.path.parent().unwrap_or(Path::new(".")));
            let _ = write_atomic(&self.file.path, &bytes);
        }
    }
}

/// Drops the listing files of contexts that no longer exist, and files that are not ours.
pub(crate) fn prune(dir: &Path) {
    let Ok(files) = fs::read_dir(dir) else {
        return;
    };
    for file in files.flatten() {
        let keep = fs::read(file.path()).ok().is_some_and(|bytes| {
            postcard::from_bytes::<Saved>(&bytes)
                .is_ok_and(|s| s.format == FORMAT && Path::new(s.root).is_dir())
        });
        if !keep {
            let _ = fs::remove_file(file.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &Path) -> DirState {
        DirState::of(&fs::metadata(dir).unwrap())
    }

    /// A walk "later": every directory made by the test counts as settled.
    fn later() -> SystemTime {
        SystemTime::now() + RACY_WINDOW * 3
    }

    /// What a walk at `walk_time` that reads `ctx` (holding `names`) leaves for the next.
    fn remember(cache: &Path, ctx: &Path, walk_time: SystemTime, names: &[&str]) -> PathBuf {
        let file = ListingFile::read(cache, ctx, true);
        let walk = file.listings(walk_time);
        walk.record("", state(ctx), || {
            Some(names.iter().map(|n| n.to_string()).collect())
        });
        walk.save();
        file.path
    }

    /// The names a later walk reuses for `ctx`.
    fn reused(cache: &Path, ctx: &Path, reuse: bool) -> Option<Vec<String>> {
        let file = ListingFile::read(cache, ctx, reuse);
        let listings = file.listings(later());
        let found = listings.reuse("", &state(ctx))?;
        Some(found.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn a_settled_listing_is_reused_until_the_directory_changes() {
        let cache = tempfile::tempdir().unwrap();
        let ctx = tempfile::tempdir().unwrap();
        fs::write(ctx.path().join("a"), "a").unwrap();
        assert_eq!(reused(cache.path(), ctx.path(), true), None);
        remember(cache.path(), ctx.path(), later(), &["a"]);
        assert_eq!(
            reused(cache.path(), ctx.path(), true),
            Some(vec!["a".to_string()])
        );

        // A new entry moves the directory's times: the old listing no longer applies.
        fs::write(ctx.path().join("b"), "b").unwrap();
        assert_eq!(reused(cache.path(), ctx.path(), true), None);
    }

    #[test]
    fn a_directory_changed_just_before_the_walk_is_not_remembered() {
        let cache = tempfile::tempdir().unwrap();
        let ctx = tempfile::tempdir().unwrap();
        remember(cache.path(), ctx.path(), SystemTime::now(), &[]);
        assert_eq!(reused(cache.path(), ctx.path(), true), None);
    }

    #[test]
    fn no_reuse_ignores_what_was_saved_and_garbage_is_ignored() {
        let cache = tempfile::tempdir().unwrap();
        let ctx = tempfile::tempdir().unwrap();
        let file = remember(cache.path(), ctx.path(), later(), &[]);
        assert_eq!(reused(cache.path(), ctx.path(), true), Some(vec![]));
        assert_eq!(reused(cache.path(), ctx.path(), false), None);

        fs::write(&file, b"\xff\xff\xff not postcard").unwrap();
        assert_eq!(reused(cache.path(), ctx.path(), true), None);
    }

    #[test]
    fn prune_keeps_only_files_of_contexts_that_still_exist() {
        let cache = tempfile::tempdir().unwrap();
        let kept = tempfile::tempdir().unwrap();
        let gone = tempfile::tempdir().unwrap();
        remember(cache.path(), kept.path(), later(), &[]);
        let gone_file = remember(cache.path(), gone.path(), later(), &[]);
        fs::write(cache.path().join("stray"), b"not ours").unwrap();
        drop(gone);
        prune(cache.path());
        let left: Vec<_> = fs::read_dir(cache.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1);
        assert_ne!(left[0].path(), gone_file);
        assert_eq!(reused(cache.path(), kept.path(), true), Some(vec![]));
    }
}
