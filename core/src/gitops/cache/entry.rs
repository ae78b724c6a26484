//! One entry's life: looked up, filled once under a lock, published by a rename.
//!
//! Publication order, so that a crash (kill -9) at any point leaves nothing that looks
//! complete: the content is written into `.tmp-{name}-*`; an older entry of the same name
//! is renamed away to `.trash-{name}-*`; the record `{name}.json` is replaced atomically;
//! the directory is renamed into place. A hit needs the directory *and* a record naming the
//! digest asked for, so a record without its directory, or a directory whose record names
//! another digest, is a miss and gets fetched again.

use crate::cancel::{self, CancelToken};
use crate::error::{Error, ErrorKind, Result};
use crate::fsx;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Marks a record as idpkit's: garbage collection removes only what has one.
pub(crate) const FORMAT: &str = "idpkit-source-entry/1";

/// What an entry holds, stored beside it as `{name}.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EntryRecord {
    pub format: String,
    /// What it came from: `GitRepository flux-system/podinfo`, `artifact`, `git`, ….
    pub source: String,
    /// The URL it was downloaded or cloned from (never with credentials).
    pub url: String,
    /// The revision (Flux's `status.artifact.revision`, a commit, …).
    pub revision: String,
    /// The digest of what was downloaded (`sha256:…`), or the commit for git.
    pub digest: String,
    /// Bytes downloaded.
    pub size: u64,
    /// Files and bytes in the entry.
    pub files: u64,
    pub bytes: u64,
    /// When it was published (seconds since the Unix epoch).
    pub created: u64,
    /// Symlinks not created (`name -> target`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_symlinks: Vec<String>,
}

impl EntryRecord {
    pub(crate) fn new(source: String, url: String, revision: String, digest: String) -> Self {
        EntryRecord {
            format: FORMAT.into(),
            source,
            url,
            revision,
            digest,
            size: 0,
            files: 0,
            bytes: 0,
            created: unix_now(),
            skipped_symlinks: Vec::new(),
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `{entry}.json`, `{entry}.lock`: siblings named after the entry.
pub(crate) fn sibling(entry: &Path, suffix: &str) -> PathBuf {
    let mut name = entry.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    entry.with_file_name(name)
}

/// The record of `entry`, when it is a published idpkit entry.
pub(crate) fn read_record(entry: &Path) -> Option<EntryRecord> {
    let bytes = fs::read(sibling(entry, ".json")).ok()?;
    let r: EntryRecord = serde_json::from_slice(&bytes).ok()?;
    let is_dir = fs::symlink_metadata(entry).is_ok_and(|m| m.is_dir());
    (r.format == FORMAT && is_dir).then_some(r)
}

/// The entry when it is published for `digest`; its last use is recorded (the record's
/// modification time), which `source ls` shows and `source gc` ages by.
pub(crate) fn hit(entry: &Path, digest: &str) -> Option<EntryRecord> {
    let r = read_record(entry).filter(|r| r.digest == digest)?;
    if let Ok(f) = File::options().append(true).open(sibling(entry, ".json")) {
        let _ = f.set_modified(SystemTime::now());
    }
    Some(r)
}

/// Returns the entry for `digest`, filling it with `produce` (which writes into the fresh
/// directory it is given and returns the record) when it is missing. Concurrent callers,
/// threads or processes, fill it once: the others wait for the entry's lock and then hit.
/// The bool says whether it was a hit.
pub(crate) fn get_or_fill(
    entry: &Path,
    digest: &str,
    cancel: Option<&CancelToken>,
    produce: impl FnOnce(&Path) -> Result<EntryRecord>,
) -> Result<(EntryRecord, bool)> {
    if let Some(r) = hit(entry, digest) {
        return Ok((r, true));
    }
    let parent = entry
        .parent()
        .ok_or_else(|| Error::internal(format!("cache entry {} has no parent", entry.display())))?;
    fs::create_dir_all(parent).map_err(|e| Error::io("create cache directory", parent, e))?;
    let _lock = lock_entry(entry, cancel)?;
    if let Some(r) = hit(entry, digest) {
        return Ok((r, true));
    }
    let name = entry_name(entry);
    remove_leftovers(parent, &name);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{name}-"))
        .tempdir_in(parent)
        .map_err(|e| Error::io("create temporary directory in", parent, e))?;
    let record = produce(tmp.path())?;
    cancel::check(cancel)?;
    publish(entry, tmp, &record)?;
    Ok((record, false))
}

fn entry_name(entry: &Path) -> String {
    entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn publish(entry: &Path, tmp: tempfile::TempDir, record: &EntryRecord) -> Result<()> {
    let parent = entry.parent().unwrap_or(Path::new("."));
    let name = entry_name(entry);
    // An entry of the same name for another digest (the artifact was re-packaged) is moved
    // away first: from here until the rename below, the name is a miss, never the old tree
    // under the new record.
    let trash = if fs::symlink_metadata(entry).is_ok() {
        let t = tempfile::Builder::new()
            .prefix(&format!(".trash-{name}-"))
            .tempdir_in(parent)
            .map_err(|e| Error::io("create temporary directory in", parent, e))?
            .keep();
        let dest = t.join("old");
        fs::rename(entry, &dest).map_err(|e| Error::io("move aside", entry, e))?;
        Some(t)
    } else {
        None
    };
    let json = serde_json::to_vec_pretty(record)
        .map_err(|e| Error::internal(format!("entry record: {e}")))?;
    fsx::write_atomic(&sibling(entry, ".json"), &json)?;
    let dir = tmp.keep();
    // Entries are read by other tools as the user: world-readable like a checkout.
    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
    fs::rename(&dir, entry).map_err(|e| Error::io("publish cache entry", entry, e))?;
    let _ = fsx::sync_dir(parent);
    if let Some(t) = trash {
        let _ = fs::remove_dir_all(t);
    }
    Ok(())
}

/// Temporary and trash directories of `name` left by a writer that died (we hold the lock,
/// so no live writer owns them).
fn remove_leftovers(parent: &Path, name: &str) {
    let tmp = format!(".tmp-{name}-");
    let trash = format!(".trash-{name}-");
    let Ok(rd) = fs::read_dir(parent) else { return };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && (n.starts_with(&tmp) || n.starts_with(&trash)) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The entry's writer lock (`{entry}.lock`, an advisory lock that dies with its process),
/// waited for while checking `cancel`. Lock files are never deleted (not even by `gc`):
/// deleting one while a writer waits on it would let two writers in.
pub(crate) fn lock_entry(entry: &Path, cancel: Option<&CancelToken>) -> Result<File> {
    let mut wait = Duration::from_millis(5);
    loop {
        if let Some(f) = try_lock_entry(entry)? {
            return Ok(f);
        }
        cancel::check(cancel)?;
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(100));
    }
}

/// The entry's lock when it is free now, `None` when another writer holds it.
pub(crate) fn try_lock_entry(entry: &Path) -> Result<Option<File>> {
    let path = sibling(entry, ".lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open lock", &path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(lock_error(&path, e)),
    }
}

fn lock_error(path: &Path, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("lock {}: {e}", path.display()))
}
