//! Turns a build context into one reproducible layer: walk (sorted, `.dockerignore`
//! applied), fingerprint, tar, compress and hash in one streaming pass.
//!
//! Reproducibility rules: entries sorted by path bytes; uid/gid 0 and no user/group names;
//! every mtime set to the build's epoch; permission bits kept; symlinks stored as symlinks
//! with their target untouched; hard links within the context stored once; names longer
//! than ustar allows carried in PAX records.

use crate::cancel::{self, CancelToken};
use crate::error::{Error, Result};
use crate::event::{emit, Event, EventSink};
use crate::oci::compress::LayerWriter;
use crate::oci::ignore::IgnoreMatcher;
use crate::oci::listing::{self, DirState, ListingFile, Listings, Times};
use crate::oci::store::Store;
use crate::oci::writeback::WritebackFile;
use crate::oci::{BuildOptions, LayerInfo};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use xxhash_rust::xxh3::Xxh3;

/// Bump when the layer format changes, so old cache entries stop matching.
mod cache;
mod tarball;
mod walk;

pub(crate) use cache::cached_layer_digest;
use cache::*;
pub(crate) use tarball::layer_io_error;
use tarball::*;
use walk::*;

const FORMAT_VERSION: &str = "idpkit-layer-v1";
const PROGRESS_EVERY: u64 = 8 << 20;

#[derive(Debug)]
enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
}

/// One walked context entry.
#[derive(Debug)]
struct Entry {
    /// Slash-separated path relative to the context root.
    rel: String,
    abs: PathBuf,
    kind: Kind,
    meta: Stat,
}

/// The part of an entry's metadata the layer and its fingerprint depend on: a third the
/// size of `fs::Metadata`, which matters when the walk moves tens of thousands of entries.
#[derive(Debug)]
struct Stat {
    mode: u32,
    len: u64,
    times: Times,
    ino: u64,
    dev: u64,
    nlink: u64,
}

impl From<&fs::Metadata> for Stat {
    fn from(m: &fs::Metadata) -> Self {
        Stat {
            mode: m.mode(),
            len: m.len(),
            times: Times::of(m),
            ino: m.ino(),
            dev: m.dev(),
            nlink: m.nlink(),
        }
    }
}

/// A finished layer and how it came to be.
pub(crate) struct BuiltLayer {
    pub info: LayerInfo,
    pub cached: bool,
    pub entries: u64,
}

/// Checks the context directory and gives the error a user can act on.
pub(crate) fn check_context(context: &Path) -> Result<()> {
    let meta = fs::metadata(context).map_err(|e| Error::io("build context", context, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "build context {} is a file, not a directory; pass the directory to build from",
            context.display()
        )));
    }
    fs::read_dir(context).map_err(|e| Error::io("build context", context, e))?;
    Ok(())
}

/// Builds (or reuses from the layer cache) the layer for `opts.context`.
pub(crate) fn build_layer(
    store: &Store,
    opts: &BuildOptions,
    epoch: i64,
    sink: Option<&EventSink>,
    cancel: Option<&CancelToken>,
) -> Result<BuiltLayer> {
    let context = opts.context.as_path();
    check_context(context)?;
    let prefix = normalize_prefix(&opts.prefix)?;
    let matcher = IgnoreMatcher::for_context(context, &opts.excludes)?;
    let threads = opts
        .threads
        .unwrap_or_else(crate::config::default_threads)
        .max(1);
    let walk_start = SystemTime::now();
    let settled_limit = listing::settled_limit(walk_start);
    let listing_file = ListingFile::read(&store.listings_dir(), context, !opts.no_cache);
    let listings = listing_file.listings(walk_start);
    let entries = walk(context, &matcher, &listings, threads, sink, cancel)?;
    listings.save();
    let fingerprint = fingerprint(&entries, opts, &prefix, epoch);
    let cache_path = store.cache_dir().join(&fingerprint);

    if !opts.no_cache {
        if let Some(hit) = read_cache(store, &cache_path, context) {
            // Once nothing in the context is racy any more, its metadata alone proves the
            // recorded files unchanged from now on: stop re-hashing them on every hit.
            if !hit.racy.is_empty() && !entries.iter().any(|e| e.meta.times.is_racy(settled_limit))
            {
                write_cache(
                    &cache_path,
                    &CacheEntry {
                        racy: Vec::new(),
                        ..hit.clone()
                    },
                );
            }
            emit(
                sink,
                Event::LayerCached {
                    digest: hit.layer.digest.clone(),
                },
            );
            return Ok(BuiltLayer {
                info: hit.layer,
                cached: true,
                entries: hit.entries,
            });
        }
    }

    let tmp = store.temp_file()?;
    let writer = LayerWriter::new(
        WritebackFile::new(tmp),
        opts.compression,
        opts.level,
        threads,
    )?;
    let mut tar = tar::Builder::new(writer);
    let mut state = TarState {
        epoch: epoch.max(0) as u64,
        links: HashMap::new(),
        bytes: 0,
        next_progress: PROGRESS_EVERY,
        files: 0,
        settled_limit,
        racy: Vec::new(),
    };
    let mut count = 0u64;
    let appended = (|| {
        for dir in prefix_dirs(&prefix) {
            append_dir(&mut tar, &dir, 0o755, state.epoch)?;
            count += 1;
        }
        for entry in &entries {
            cancel::check(cancel)?;
            let name = join_prefix(&prefix, &entry.rel);
            append_entry(&mut tar, &mut state, entry, &name, sink)?;
            count += 1;
        }
        Ok(())
    })();
    if let Err(e) = appended {
        // Let the compression threads finish and drop the temporary blob before returning,
        // so a failed or cancelled build has left nothing behind once `build` returns.
        if let Ok(w) = tar.into_inner() {
            let _ = w.finish();
        }
        return Err(e);
    }
    let writer = tar
        .into_inner()
        .map_err(|e| layer_io_error("the end of the archive", e))?;
    let out = writer.finish()?;
    cancel::check(cancel)?;
    let info = LayerInfo {
        digest: out.digest.clone(),
        diff_id: out.diff_id,
        size: out.size,
        media_type: opts.compression.media_type().to_string(),
    };
    store.commit_blob(out.out.into_inner(), &info.digest)?;
    write_cache(
        &cache_path,
        &CacheEntry {
            layer: info.clone(),
            entries: count,
            racy: state.racy,
        },
    );
    emit(
        sink,
        Event::LayerDone {
            digest: info.digest.clone(),
            diff_id: info.diff_id.clone(),
            size: info.size,
        },
    );
    Ok(BuiltLayer {
        info,
        cached: false,
        entries: count,
    })
}

/// `/app/` → `app`; `/` → ``. Rejects `..` so nothing lands outside the image root.
fn normalize_prefix(prefix: &str) -> Result<String> {
    let mut parts = Vec::new();
    for part in prefix.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::invalid(format!(
                    "prefix {prefix:?}: '..' is not allowed; give an absolute path like /app"
                )))
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

fn prefix_dirs(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(part);
        out.push(acc.clone());
    }
    out
}

fn join_prefix(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// A sorted directory's entry before its subdirectories have been walked.
enum Listed {
    Entry(Entry),
    /// A directory to walk; its own entry (absent when it is excluded but may hold
    /// re-included children) comes first.
    Descend(Option<Entry>, PathBuf, String, DirState),
}

/// A directory's names, sorted by bytes, each with its `DirEntry` when just read.
type Names = Vec<(std::ffi::OsString, Option<fs::DirEntry>)>;

/// A digest of everything that decides the layer's bytes, without reading file contents:
/// paths, kinds, sizes, modes, times, inodes and the layer options.
fn fingerprint(entries: &[Entry], opts: &BuildOptions, prefix: &str, epoch: i64) -> String {
    let mut h = Sha256::new();
    let level = opts
        .level
        .map_or(String::from("default"), |l| l.to_string());
    h.update(format!(
        "{FORMAT_VERSION}\0{prefix}\0{:?}\0{level}\0{epoch}\0",
        opts.compression
    ));
    // Fixed-width fields after a NUL-terminated path: unambiguous, and no formatting per
    // entry (this runs for every entry of every rebuild).
    for e in entries {
        let m = &e.meta;
        h.update(e.rel.as_bytes());
        h.update([
            0,
            match e.kind {
                Kind::Dir => b'd',
                Kind::File => b'f',
                Kind::Symlink(_) => b'l',
            },
        ]);
        for field in [
            u64::from(m.mode),
            m.len,
            m.times.mtime.0 as u64,
            m.times.mtime.1 as u64,
            m.times.ctime.0 as u64,
            m.times.ctime.1 as u64,
            m.ino,
            m.dev,
            m.nlink,
        ] {
            h.update(field.to_le_bytes());
        }
        if let Kind::Symlink(t) = &e.kind {
            h.update(t.as_os_str().as_encoded_bytes());
            h.update([0]);
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("path", "a");
        assert_eq!(r, b"9 path=a\n");
        let long = "x".repeat(200);
        let r = String::from_utf8(pax_record("path", &long)).unwrap();
        let (len, _) = r.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), r.len());
    }

    #[test]
    fn prefixes() {
        assert_eq!(normalize_prefix("/").unwrap(), "");
        assert_eq!(normalize_prefix("/app/").unwrap(), "app");
        assert_eq!(normalize_prefix("/srv//app/./x").unwrap(), "srv/app/x");
        assert!(normalize_prefix("/../etc").is_err());
        assert_eq!(prefix_dirs("srv/app"), vec!["srv", "srv/app"]);
    }
}
