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

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    layer: LayerInfo,
    entries: u64,
    /// Files that were racily clean when the layer was built, with the hash of the content
    /// the layer holds; a hit holds only while their content still matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    racy: Vec<RacyFile>,
}

/// A file whose metadata alone cannot prove it unchanged (git's "racily clean" entry): it
/// changed within `RACY_WINDOW` of the walk, so a write in the same timestamp tick after the
/// walk's stat would leave its size and times as recorded.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct RacyFile {
    /// Relative to the context.
    path: String,
    /// XXH3-128 of the content: this detects accidental change, so it need not be
    /// cryptographic, and a sha256 pass made cold builds of just-written contexts 17% slower.
    xxh3: String,
}

fn content_hash(hasher: Xxh3) -> String {
    format!("{:032x}", hasher.digest128())
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(content_hash(h)),
            n => h.update(&buf[..n]),
        }
    }
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

/// The layer digest a layer-cache file points at, if it is one (`gc` keeps those whose
/// blob is still there).
pub(crate) fn cached_layer_digest(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<CacheEntry>(bytes)
        .ok()
        .map(|c| c.layer.digest)
}

/// The cache entry at `path`, if its blob is intact and its racy files (if any) still
/// hold what the layer holds.
fn read_cache(store: &Store, path: &Path, context: &Path) -> Option<CacheEntry> {
    let hit: CacheEntry = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    let blob = store.blob_path(&hit.layer.digest).ok()?;
    // A blob of the wrong size means the store was tampered with; rebuild instead.
    if fs::metadata(blob).ok()?.len() != hit.layer.size {
        return None;
    }
    let unchanged = |f: &RacyFile| hash_file(&context.join(&f.path)).is_ok_and(|h| h == f.xxh3);
    hit.racy.iter().all(unchanged).then_some(hit)
}

/// Records a cache entry. The cache is an optimization: failing to record it must not
/// fail the build.
fn write_cache(path: &Path, entry: &CacheEntry) {
    if let Ok(bytes) = serde_json::to_vec(entry) {
        let _ = crate::oci::store::write_atomic(path, &bytes);
    }
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

/// Walks the context: every entry to put in the layer, sorted by path bytes, directories
/// before their contents.
///
/// Directories are listed and their entries stat'ed on a small rayon pool of its own
/// (work stealing over subdirectories, then spliced back in sorted order, so the result is
/// the same for any thread count). An unchanged rebuild is nothing but this walk, so a
/// directory whose listing `listings` still holds is not read again: its entries are
/// stat'ed by path, one `statx` each. The pool is per walk, not rayon's global one, so a
/// forked child (Python's `os.fork`) never inherits a pool whose threads are gone.
fn walk(
    root: &Path,
    matcher: &IgnoreMatcher,
    listings: &Listings,
    threads: usize,
    sink: Option<&EventSink>,
    cancel: Option<&CancelToken>,
) -> Result<Vec<Entry>> {
    let walker = Walker {
        matcher,
        listings,
        sink,
        cancel,
    };
    let state = DirState::of(&fs::metadata(root).map_err(|e| Error::io("build context", root, e))?);
    // The walk recurses per directory level, always on the pool's threads (even with one
    // thread: the caller's stack may be small, a Python or Go thread's), whose stacks are
    // sized for MAX_DEPTH levels; deeper contexts get a clear error, never a stack overflow.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .stack_size(WALK_STACK)
        .thread_name(|i| format!("idpkit-walk-{i}"))
        .build()
        .map_err(|e| Error::internal(format!("walk threads: {e}")))?;
    pool.install(|| walker.dir(root, "", state))
}

/// How deep a context's directories may nest (Linux paths stop at 4096 bytes, so a deeper
/// tree cannot even be named in one path), and the walk threads' stack for that depth
/// (reserved address space: only the pages a walk touches are used).
const MAX_DEPTH: usize = 4096;
const WALK_STACK: usize = 64 << 20;

struct Walker<'a> {
    matcher: &'a IgnoreMatcher,
    listings: &'a Listings<'a>,
    sink: Option<&'a EventSink>,
    cancel: Option<&'a CancelToken>,
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

impl Walker<'_> {
    fn dir(&self, dir: &Path, rel_dir: &str, state: DirState) -> Result<Vec<Entry>> {
        if rel_dir.bytes().filter(|&b| b == b'/').count() >= MAX_DEPTH {
            return Err(Error::invalid(format!(
                "{}: directories nested more than {MAX_DEPTH} levels deep; exclude them in .dockerignore",
                dir.display()
            )));
        }
        let listed = self.list(dir, rel_dir, state)?;
        let subtrees: Vec<Vec<Entry>> = listed
            .par_iter()
            .filter_map(|l| match l {
                Listed::Descend(_, abs, rel, state) => Some(self.dir(abs, rel, *state)),
                Listed::Entry(_) => None,
            })
            .collect::<Result<_>>()?;
        let mut subtrees = subtrees.into_iter();
        let mut out = Vec::with_capacity(listed.len());
        for l in listed {
            match l {
                Listed::Entry(e) => out.push(e),
                Listed::Descend(own, ..) => {
                    out.extend(own);
                    out.extend(subtrees.next().unwrap_or_default());
                }
            }
        }
        Ok(out)
    }

    /// One directory's entries, sorted by name bytes, with their metadata.
    fn list(&self, dir: &Path, rel_dir: &str, state: DirState) -> Result<Vec<Listed>> {
        cancel::check(self.cancel)?;
        if let Some(names) = self.listings.reuse(rel_dir, &state) {
            let names = names.iter().map(|n| ((*n).into(), None)).collect();
            match self.entries(dir, rel_dir, names) {
                // Only a directory changed within one timestamp tick of its last listing
                // could lose an entry unseen; read it afresh rather than fail.
                Err(e) if e.kind == crate::error::ErrorKind::NotFound => {}
                done => return done,
            }
        }
        let names = self.read(dir, rel_dir, state)?;
        self.entries(dir, rel_dir, names)
    }

    /// Reads a directory's names and records them for the next build.
    fn read(&self, dir: &Path, rel_dir: &str, state: DirState) -> Result<Names> {
        let mut items = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))? {
            let item = item.map_err(|e| Error::io("read directory", dir, e))?;
            items.push((item.file_name(), Some(item)));
        }
        items.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        self.listings.record(rel_dir, state, || {
            items
                .iter()
                .map(|(name, _)| name.to_str().map(str::to_string))
                .collect()
        });
        Ok(items)
    }

    fn entries(&self, dir: &Path, rel_dir: &str, names: Names) -> Result<Vec<Listed>> {
        let mut out = Vec::with_capacity(names.len());
        for (name, item) in names {
            let abs = dir.join(&name);
            let name = match name.into_string() {
                Ok(n) => n,
                Err(raw) => {
                    // Excludes first: a pattern such as `*` or `tmp/` matches the name with
                    // its invalid bytes as U+FFFD, as the message below suggests.
                    let lossy = raw.to_string_lossy();
                    let rel = if rel_dir.is_empty() {
                        lossy.to_string()
                    } else {
                        format!("{rel_dir}/{lossy}")
                    };
                    let is_dir = fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir());
                    if self.matcher.is_excluded(&rel)
                        && (!is_dir || self.matcher.can_skip_dir(&rel))
                    {
                        continue;
                    }
                    return Err(Error::invalid(format!(
                        "{}: the file name is not valid UTF-8; rename it or exclude it in .dockerignore",
                        abs.display()
                    )));
                }
            };
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            // A just-read entry is stat'ed relative to the open directory (statx on its
            // fd); a remembered one by path. Symlinks are not followed either way.
            let meta = match item {
                Some(item) => item.metadata(),
                None => fs::symlink_metadata(&abs),
            }
            .map_err(|e| Error::io("stat", &abs, e))?;
            let ft = meta.file_type();
            let excluded = self.matcher.is_excluded(&rel);
            if ft.is_dir() {
                if excluded && self.matcher.can_skip_dir(&rel) {
                    continue;
                }
                let state = DirState::of(&meta);
                // An excluded directory is still walked when exceptions may re-include a
                // child, but its own entry is left out (Docker's behaviour).
                let own = (!excluded).then(|| Entry {
                    rel: rel.clone(),
                    abs: abs.clone(),
                    kind: Kind::Dir,
                    meta: Stat::from(&meta),
                });
                out.push(Listed::Descend(own, abs, rel, state));
                continue;
            }
            if excluded {
                continue;
            }
            let kind = if ft.is_file() {
                Kind::File
            } else if ft.is_symlink() {
                let target = fs::read_link(&abs).map_err(|e| Error::io("read symlink", &abs, e))?;
                Kind::Symlink(target)
            } else {
                let what = if ft.is_socket() {
                    "socket"
                } else if ft.is_fifo() {
                    "named pipe"
                } else {
                    "device"
                };
                emit(
                    self.sink,
                    Event::Warning {
                        message: format!(
                            "skipped {}: a {what} cannot go into a layer",
                            abs.display()
                        ),
                    },
                );
                continue;
            };
            out.push(Listed::Entry(Entry {
                rel,
                abs,
                kind,
                meta: Stat::from(&meta),
            }));
        }
        Ok(out)
    }
}

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

struct TarState {
    epoch: u64,
    /// (dev, inode) → first path stored, for hard links.
    links: HashMap<(u64, u64), String>,
    bytes: u64,
    next_progress: u64,
    files: u64,
    /// Files changed at or after this time are racy: their content's hash is recorded.
    settled_limit: (i64, i64),
    racy: Vec<RacyFile>,
}

fn base_header(kind: tar::EntryType, mode: u32, epoch: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode & 0o7777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(epoch);
    h.set_size(0);
    h
}

fn append_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    epoch: u64,
) -> Result<()> {
    let h = base_header(tar::EntryType::Directory, mode, epoch);
    append_named(tar, h, &format!("{name}/"), None, io::empty())
}

fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    st: &mut TarState,
    e: &Entry,
    name: &str,
    sink: Option<&EventSink>,
) -> Result<()> {
    let mode = e.meta.mode;
    match &e.kind {
        Kind::Dir => append_dir(tar, name, mode, st.epoch),
        Kind::Symlink(target) => {
            let h = base_header(tar::EntryType::Symlink, mode, st.epoch);
            let target = target.to_str().ok_or_else(|| {
                Error::invalid(format!(
                    "{}: symlink target is not valid UTF-8",
                    e.abs.display()
                ))
            })?;
            append_named(tar, h, name, Some(target), io::empty())
        }
        Kind::File => {
            if e.meta.nlink > 1 {
                let key = (e.meta.dev, e.meta.ino);
                if let Some(first) = st.links.get(&key) {
                    let h = base_header(tar::EntryType::Link, mode, st.epoch);
                    let first = first.clone();
                    return append_named(tar, h, name, Some(&first), io::empty());
                }
                st.links.insert(key, name.to_string());
            }
            let size = e.meta.len;
            let mut h = base_header(tar::EntryType::Regular, mode, st.epoch);
            h.set_size(size);
            let file = open_walked(&e.abs, &e.meta)?;
            let mut reader = ExactReader {
                inner: file.take(size),
                remaining: size,
                path: &e.abs,
                hash: e.meta.times.is_racy(st.settled_limit).then(Xxh3::new),
            };
            append_named(tar, h, name, None, &mut reader)
                .map_err(|err| err.context(e.abs.display()))?;
            if let Some(hash) = reader.hash {
                st.racy.push(RacyFile {
                    path: e.rel.clone(),
                    xxh3: content_hash(hash),
                });
            }
            st.bytes += size;
            st.files += 1;
            if st.bytes >= st.next_progress {
                st.next_progress = st.bytes + PROGRESS_EVERY;
                emit(
                    sink,
                    Event::LayerProgress {
                        files: st.files,
                        bytes: st.bytes,
                    },
                );
            }
            Ok(())
        }
    }
}

/// Opens a file the walk saw, making sure it is still that file: the last component is not
/// followed if it became a symlink (O_NOFOLLOW), a FIFO swapped in cannot block the open
/// (O_NONBLOCK), and the opened file must be the walked inode (which also catches a parent
/// directory swapped for a symlink to somewhere outside the context).
fn open_walked(path: &Path, walked: &Stat) -> Result<fs::File> {
    let changed = || {
        Error::new(
            crate::error::ErrorKind::Conflict,
            format!(
                "{}: changed while the build read it (it is now another file or a symlink); \
                 build again once the context has stopped changing",
                path.display()
            ),
        )
    };
    let file = crate::fsx::open_no_follow(path).map_err(|err| {
        if crate::fsx::is_symlink_refusal(&err) {
            changed()
        } else {
            Error::io("read", path, err)
        }
    })?;
    let now = file
        .metadata()
        .map_err(|err| Error::io("read", path, err))?;
    if !now.is_file() || now.ino() != walked.ino || now.dev() != walked.dev {
        return Err(changed());
    }
    Ok(file)
}

/// Reads exactly the size recorded in the header; a file that shrank while being read is
/// an error rather than a silently corrupt archive.
struct ExactReader<'a, R> {
    inner: R,
    remaining: u64,
    path: &'a Path,
    /// The hash of what was read, for a racy file.
    hash: Option<Xxh3>,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(io::Error::other(format!(
                "{} changed size while it was being read; retry the build",
                self.path.display()
            )));
        }
        self.remaining -= n as u64;
        if let Some(h) = &mut self.hash {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Appends one entry, carrying a path or link target that does not fit the ustar header
/// in a PAX extended header first.
fn append_named<W: Write, R: Read>(
    tar: &mut tar::Builder<W>,
    mut h: tar::Header,
    name: &str,
    link: Option<&str>,
    data: R,
) -> Result<()> {
    let mut pax: Vec<(&str, &str)> = Vec::new();
    if h.set_path(name).is_err() {
        pax.push(("path", name));
        h.set_path(truncate_name(name))
            .map_err(|e| Error::internal(format!("tar name {name}: {e}")))?;
    }
    if let Some(target) = link {
        if target.len() > 100 || h.set_link_name_literal(target).is_err() {
            pax.push(("linkpath", target));
            h.set_link_name_literal(&target.as_bytes()[..floor_char(target, 100)])
                .map_err(|e| Error::internal(format!("tar link {name}: {e}")))?;
        }
    }
    let io_err = |e: io::Error| layer_io_error(name, e);
    if !pax.is_empty() {
        let mut records = Vec::new();
        for (k, v) in &pax {
            records.extend_from_slice(&pax_record(k, v));
        }
        let mut ph = tar::Header::new_ustar();
        ph.set_entry_type(tar::EntryType::XHeader);
        ph.set_mode(0o644);
        ph.set_mtime(0);
        ph.set_size(records.len() as u64);
        ph.set_path(format!(
            "PaxHeaders/{}",
            truncate_name(name).rsplit('/').next().unwrap_or("x")
        ))
        .map_err(|e| Error::internal(format!("tar pax header for {name}: {e}")))?;
        ph.set_cksum();
        tar.append(&ph, records.as_slice()).map_err(io_err)?;
    }
    h.set_cksum();
    tar.append(&h, data).map_err(io_err)
}

/// An I/O failure while a layer entry streams from its file into the store: a full disk is
/// the store's problem, anything else is about the file being read.
pub(crate) fn layer_io_error(name: &str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::StorageFull {
        return Error::new(
            crate::ErrorKind::Io,
            format!(
                "no space left on device while writing the layer into the store (at {name}); \
                 free disk space and retry"
            ),
        );
    }
    Error::new(
        crate::ErrorKind::Io,
        format!("writing layer entry {name}: {e}"),
    )
}

/// One PAX record: `"<len> <key>=<value>\n"` where len counts the whole record.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// A ustar-safe stand-in name (the real one is in the PAX record).
fn truncate_name(name: &str) -> &str {
    &name[..floor_char(name, 99)]
}

fn floor_char(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
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
