//! `source ls` and `source gc`: the entries of a cache root, and their removal by policy.
//!
//! Both walk only the layout (`flux-artifact/*/*/`, `argocd-repo/*/*/`, `artifact/`, `git/`),
//! never follow a symlink and never descend into an entry. An entry is a directory with an
//! idpkit record beside it; anything else under the root (a `.ssh`, a user's file) is not
//! an entry and is never removed. An entry whose lock is held is in use and is kept.

use super::entry::{self, read_record, sibling, EntryRecord};
use super::{Cache, ARGO_DIR, ARTIFACT_DIR, FLUX_DIR, GIT_DIR};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One entry, as `source ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceListing {
    #[schemars(extend("x-path" = true))]
    pub path: PathBuf,
    pub source: String,
    pub url: String,
    pub revision: String,
    pub digest: String,
    /// Bytes in the entry.
    pub bytes: u64,
    /// Seconds since it was published.
    pub age_secs: u64,
    /// Seconds since it was last fetched (a hit or the fill).
    pub last_used_secs: u64,
}

/// What `source gc` removes: an entry goes when any rule says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct GcPolicy {
    /// Keep the newest N entries of each source (0: no such rule).
    pub keep: u32,
    /// Remove entries not used for this many seconds (0: no such rule).
    pub max_age_secs: u64,
    /// Remove the least recently used entries until the cache holds at most this many bytes
    /// (0: no such rule).
    pub max_bytes: u64,
    /// Say what would go, remove nothing.
    pub dry_run: bool,
}

/// What `source gc` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GcResult {
    pub removed: Vec<SourceListing>,
    /// Bytes of the removed entries.
    pub freed_bytes: u64,
    /// Entries kept.
    pub kept: u64,
    /// Entries a rule selected but that were in use (being filled or updated), kept.
    pub in_use: u64,
    /// Temporary directories of writers that died, removed.
    pub leftovers_removed: u64,
}

impl Cache {
    /// Every entry, newest first.
    pub fn list(&self) -> Result<Vec<SourceListing>> {
        let now = SystemTime::now();
        let mut out: Vec<SourceListing> = self
            .entry_dirs()
            .into_iter()
            .filter_map(|p| read_record(&p).map(|r| listing(&p, &r, now)))
            .collect();
        out.sort_by(|a, b| a.age_secs.cmp(&b.age_secs).then(a.path.cmp(&b.path)));
        Ok(out)
    }

    /// Removes entries by `policy` (and writers' leftovers); see the module comment for
    /// what is never removed.
    pub fn gc(&self, policy: &GcPolicy) -> Result<GcResult> {
        if policy.keep == 0 && policy.max_age_secs == 0 && policy.max_bytes == 0 {
            return Err(Error::invalid(
                "source gc needs a rule: keep (newest N per source), max_age_secs or max_bytes",
            ));
        }
        let mut result = GcResult::default();
        if !policy.dry_run {
            result.leftovers_removed = self.remove_leftovers();
        }
        let all = self.list()?;
        let doomed = select(&all, policy);
        for (i, e) in all.iter().enumerate() {
            if !doomed[i] {
                result.kept += 1;
                continue;
            }
            if policy.dry_run {
                result.freed_bytes += e.bytes;
                result.removed.push(e.clone());
                continue;
            }
            match remove_entry(&e.path)? {
                true => {
                    result.freed_bytes += e.bytes;
                    result.removed.push(e.clone());
                }
                false => {
                    result.in_use += 1;
                    result.kept += 1;
                }
            }
        }
        Ok(result)
    }

    /// The directories that may be entries, at the layout's depths only.
    fn entry_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (kind, depth) in [
            (FLUX_DIR, 3),
            (ARGO_DIR, 3),
            (ARTIFACT_DIR, 1),
            (GIT_DIR, 1),
        ] {
            let mut level = vec![self.root.join(kind)];
            for _ in 0..depth {
                level = level.iter().flat_map(|d| real_subdirs(d)).collect();
            }
            out.extend(level);
        }
        out
    }

    /// `.tmp-*` and `.trash-*` directories whose entry's lock is free: their writer died.
    fn remove_leftovers(&self) -> u64 {
        let mut n = 0;
        let parents: Vec<PathBuf> = self
            .entry_dirs()
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .chain(self.leftover_parents())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for parent in parents {
            for dir in real_subdirs_all(&parent) {
                let name = dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let Some(entry_name) = leftover_of(&name) else {
                    continue;
                };
                let entry = parent.join(entry_name);
                if let Ok(Some(_lock)) = entry::try_lock_entry(&entry) {
                    if fs::remove_dir_all(&dir).is_ok() {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// Directories that may hold leftovers but no entry yet (a first fill that died).
    fn leftover_parents(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (kind, depth) in [
            (FLUX_DIR, 2),
            (ARGO_DIR, 2),
            (ARTIFACT_DIR, 0),
            (GIT_DIR, 0),
        ] {
            let mut level = vec![self.root.join(kind)];
            for _ in 0..depth {
                level = level.iter().flat_map(|d| real_subdirs(d)).collect();
            }
            out.extend(level);
        }
        out
    }
}

/// `.tmp-{entry}-{random}` or `.trash-{entry}-{random}` → `{entry}`.
fn leftover_of(name: &str) -> Option<&str> {
    let rest = name
        .strip_prefix(".tmp-")
        .or_else(|| name.strip_prefix(".trash-"))?;
    rest.rsplit_once('-')
        .map(|(e, _)| e)
        .filter(|e| !e.is_empty())
}

/// Which entries the policy removes (parallel to `all`, which is newest first).
fn select(all: &[SourceListing], policy: &GcPolicy) -> Vec<bool> {
    let mut doomed = vec![false; all.len()];
    if policy.keep > 0 {
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for (i, e) in all.iter().enumerate() {
            let n = seen.entry(e.source.as_str()).or_default();
            *n += 1;
            doomed[i] |= *n > policy.keep;
        }
    }
    if policy.max_age_secs > 0 {
        for (i, e) in all.iter().enumerate() {
            doomed[i] |= e.last_used_secs > policy.max_age_secs;
        }
    }
    if policy.max_bytes > 0 {
        let mut total: u64 = all
            .iter()
            .zip(&doomed)
            .filter(|(_, d)| !**d)
            .map(|(e, _)| e.bytes)
            .sum();
        let mut by_use: Vec<usize> = (0..all.len()).filter(|i| !doomed[*i]).collect();
        by_use.sort_by(|a, b| all[*b].last_used_secs.cmp(&all[*a].last_used_secs));
        for i in by_use {
            if total <= policy.max_bytes {
                break;
            }
            doomed[i] = true;
            total -= all[i].bytes;
        }
    }
    doomed
}

/// Removes an entry unless its lock is held; true when removed. The directory is renamed
/// away before it is deleted, so a reader never sees half of it under the entry's name.
fn remove_entry(path: &Path) -> Result<bool> {
    let Some(_lock) = entry::try_lock_entry(path)? else {
        return Ok(false);
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let trash = tempfile::Builder::new()
        .prefix(&format!(".trash-{name}-"))
        .tempdir_in(parent)
        .map_err(|e| Error::io("create temporary directory in", parent, e))?;
    fs::rename(path, trash.path().join("old")).map_err(|e| Error::io("remove", path, e))?;
    let record = sibling(path, ".json");
    fs::remove_file(&record).map_err(|e| Error::io("remove", &record, e))?;
    drop(trash); // deletes the tree (std's remove_dir_all never follows symlinks)
    Ok(true)
}

fn listing(path: &Path, r: &EntryRecord, now: SystemTime) -> SourceListing {
    let used = fs::metadata(sibling(path, ".json"))
        .and_then(|m| m.modified())
        .unwrap_or(now);
    let created = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(r.created);
    SourceListing {
        path: path.to_path_buf(),
        source: r.source.clone(),
        url: r.url.clone(),
        revision: r.revision.clone(),
        digest: r.digest.clone(),
        bytes: r.bytes,
        age_secs: now
            .duration_since(created)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        last_used_secs: now.duration_since(used).map(|d| d.as_secs()).unwrap_or(0),
    }
}

/// Real subdirectories (not symlinks) whose names do not start with a dot.
fn real_subdirs(dir: &Path) -> Vec<PathBuf> {
    real_subdirs_all(dir)
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .starts_with('.')
        })
        .collect()
}

fn real_subdirs_all(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}
