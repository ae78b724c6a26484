//! `untar_gz`: a gzipped tar stream into a fresh directory, refusing what could escape it.

use super::writer::{make_parents, Chunk, Writers, CHUNK};
use crate::cancel::{self, CancelToken};
use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tar::EntryType;

/// Flux's default (fluxcd/pkg `tar.DefaultMaxUntarSize`): 100 MiB of file content.
pub const DEFAULT_MAX_UNTAR_SIZE: u64 = 100 << 20;
/// Entries per archive: a million tiny files is an attack on the inode table, not a repo.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
/// Path components per name (Linux allows 4096 bytes of path; far fewer levels are real).
const MAX_DEPTH: usize = 256;
/// What the stream may hold besides file content: a header block and padding per entry and
/// at most this much of PAX records and GNU long names in all (Go's archive/tar caps one
/// such header at 1 MiB).
const HEADER_ALLOWANCE: u64 = 1 << 20;
/// Skipped symlinks named in the report; the rest are counted.
const REPORTED_MAX: usize = 100;

/// The limits of one extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct UntarLimits {
    /// Bytes of file content extracted at most (0: no limit); default 100 MiB as Flux.
    pub max_untar_size: u64,
    /// Entries at most (0: no limit); default one million.
    pub max_entries: u64,
    /// Keep symlinks whose target stays inside the tree (relative, `..` only as a leading
    /// prefix that does not climb above the root); default skip every symlink.
    pub keep_inner_symlinks: bool,
}

impl Default for UntarLimits {
    fn default() -> Self {
        UntarLimits {
            max_untar_size: DEFAULT_MAX_UNTAR_SIZE,
            max_entries: DEFAULT_MAX_ENTRIES,
            keep_inner_symlinks: false,
        }
    }
}

/// What an extraction wrote and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UntarReport {
    pub files: u64,
    pub directories: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Symlinks kept (only with `keep_inner_symlinks`).
    pub symlinks: u64,
    /// Symlinks not created: `name -> target`, the first hundred.
    pub skipped_symlinks: Vec<String>,
    /// How many symlinks were skipped in all.
    pub skipped_symlink_count: u64,
}

/// Extracts the gzipped tar `reader` into `dest`, an existing empty directory. `what` names
/// the archive in errors (a URL or a file). On error, `dest` may hold part of the tree: the
/// caller owns it and removes it (it is never published).
pub fn untar_gz(
    reader: impl Read,
    dest: &Path,
    what: &str,
    limits: &UntarLimits,
    cancel: Option<&CancelToken>,
) -> Result<UntarReport> {
    // Every decision below is made from the names in the archive, so the directory must
    // hold nothing else (in particular no symlink a name could lead through).
    let mut listing = std::fs::read_dir(dest).map_err(|e| Error::io("read", dest, e))?;
    if listing.next().is_some() {
        return Err(Error::invalid(format!(
            "{} is not empty; an archive is only extracted into a fresh directory",
            dest.display()
        )));
    }
    let mut gz = flate2::read::MultiGzDecoder::new(reader);
    // Read the first bytes here so "not gzip" is told apart from a broken tar.
    let mut first = [0u8; 1];
    let n = gz.read(&mut first).map_err(|e| not_gzip(what, &e))?;
    let allowance = Rc::new(Cell::new(HEADER_ALLOWANCE));
    let stream = Bounded {
        inner: io::Cursor::new(first[..n].to_vec()).chain(gz),
        read: 0,
        cap: limits.max_untar_size,
        allowance: allowance.clone(),
    };
    let mut x = Extraction {
        dest,
        what,
        limits,
        report: UntarReport::default(),
        links: Vec::new(),
        writers: Writers::start(dest),
        dirs: HashSet::new(),
        files: HashSet::new(),
        link_names: HashSet::new(),
    };
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|e| x.broken(&e))?;
    let mut count = 0u64;
    for entry in entries {
        cancel::check(cancel)?;
        let mut entry = entry.map_err(|e| x.broken(&e))?;
        count += 1;
        if limits.max_entries > 0 && count > limits.max_entries {
            return Err(x.unsafe_(format!(
                "holds more than {} entries (the limit; raise max_entries if it is genuine)",
                limits.max_entries
            )));
        }
        // Each entry may bring a header block and up to a block of padding.
        allowance.set(allowance.get() + 1024);
        x.entry(&mut entry)?;
    }
    let mut rest = archive.into_inner();
    // Read the gzip trailer (and any further member): a CRC or length mismatch there is a
    // corrupt body even when the tar part ended cleanly.
    io::copy(&mut rest, &mut io::sink()).map_err(|e| x.broken(&e))?;
    x.writers.finish()?;
    x.create_links()?;
    Ok(x.report)
}

struct Extraction<'a> {
    dest: &'a Path,
    what: &'a str,
    limits: &'a UntarLimits,
    report: UntarReport,
    /// Symlinks to create once every file is written (so no file is written through one).
    links: Vec<(PathBuf, PathBuf)>,
    writers: Writers,
    /// Names that are directories (the destination starts empty and only this thread
    /// decides what is created in it, so the names are the truth; the writers may not have
    /// created them yet).
    dirs: HashSet<PathBuf>,
    /// Names written as files.
    files: HashSet<PathBuf>,
    /// Kept symlinks created so far (at the end): a later one may not lead through one.
    link_names: HashSet<PathBuf>,
}

impl Extraction<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            // `git archive` writes the commit id as a global PAX header: metadata, no file.
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let rel = self.relative(&raw, &name)?;
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                let Some(rel) = rel else {
                    return Err(self.unsafe_(format!("names the root {name:?} as a file")));
                };
                let mode = entry.header().mode().unwrap_or(0o644);
                self.file(&rel, &name, mode, entry)
            }
            EntryType::Directory => {
                if let Some(rel) = rel {
                    let mode = entry.header().mode().unwrap_or(0o755);
                    self.directory(&rel, mode)?;
                }
                Ok(())
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                self.symlink(rel, &name, &target);
                Ok(())
            }
            EntryType::Link => Err(self.unsafe_(format!(
                "holds a hard link {name:?}; hard links are refused (they can point outside \
                 the tree)"
            ))),
            EntryType::Char | EntryType::Block => {
                Err(self.unsafe_(format!("holds a device {name:?}; devices are refused")))
            }
            EntryType::Fifo => {
                Err(self.unsafe_(format!("holds a FIFO {name:?}; FIFOs are refused")))
            }
            other => Err(self.unsafe_(format!(
                "holds {name:?} of tar type {:?}, which is not a file or a directory",
                other.as_byte() as char
            ))),
        }
    }

    /// The entry's name as a path under the root (`None` for the root itself), refusing
    /// absolute names, `..`, backslashes, NULs and absurd depth.
    fn relative(&self, raw: &[u8], name: &str) -> Result<Option<PathBuf>> {
        use std::os::unix::ffi::OsStrExt;
        if raw.first() == Some(&b'/') {
            return Err(self.unsafe_(format!("holds an absolute name {name:?}")));
        }
        if raw.contains(&b'\\') || raw.contains(&0) {
            return Err(self.unsafe_(format!("holds a name with a backslash or NUL {name:?}")));
        }
        let mut rel = PathBuf::new();
        let mut depth = 0;
        for part in raw.split(|b| *b == b'/') {
            match part {
                b"" | b"." => continue,
                b".." => {
                    return Err(self.unsafe_(format!(
                        "holds a name that climbs out with \"..\": {name:?}"
                    )))
                }
                p => {
                    depth += 1;
                    rel.push(std::ffi::OsStr::from_bytes(p));
                }
            }
        }
        if depth > MAX_DEPTH {
            return Err(self.unsafe_(format!(
                "holds a name {depth} directories deep (the limit is {MAX_DEPTH})"
            )));
        }
        Ok((depth > 0).then_some(rel))
    }

    fn file<R: Read>(
        &mut self,
        rel: &Path,
        name: &str,
        mode: u32,
        entry: &mut tar::Entry<R>,
    ) -> Result<()> {
        let size = entry.header().size().unwrap_or(0);
        let max = self.limits.max_untar_size;
        if max > 0 && self.report.bytes.saturating_add(size) > max {
            return Err(self.unsafe_(format!(
                "is bigger than the untar limit of {max} bytes at {name:?} (raise \
                 max_untar_size if the artifact is genuinely that large)"
            )));
        }
        if let Some(parent) = rel.parent() {
            self.parents(parent)?;
        }
        if self.dirs.contains(rel) {
            return Err(self.unsafe_(format!("uses {rel:?} both as a directory and as a file")));
        }
        self.files.insert(rel.to_path_buf());
        let mode = file_mode(mode);
        // Whole buffers (the last one partly) until the entry's size: a small file is one
        // message, a large one a run of them on the same writer.
        let mut written = 0u64;
        let mut first = true;
        loop {
            let want = (size - written).min(CHUNK as u64) as usize;
            let mut buf = self.writers.buffer();
            let n = self.fill(entry, &mut buf[..want])?;
            written += n as u64;
            if n < want {
                return Err(self.truncated());
            }
            let end = written == size;
            let data = Chunk { buf, len: n };
            if first {
                self.writers.file(rel, mode, data, end)?;
                first = false;
            } else {
                self.writers.data(data, end)?;
            }
            if end {
                break;
            }
        }
        self.report.files += 1;
        self.report.bytes += written;
        Ok(())
    }

    /// Reads until `buf` is full or the entry ends; how much was read.
    fn fill<R: Read>(&self, entry: &mut tar::Entry<R>, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match entry.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.broken(&e)),
            }
        }
        Ok(n)
    }

    fn directory(&mut self, rel: &Path, mode: u32) -> Result<()> {
        self.parents(rel)?;
        self.writers.dir(rel, dir_mode(mode))
    }

    /// Records every directory of `rel` as one (a writer creates those missing when it
    /// first needs them); a name used as a file is a conflict.
    fn parents(&mut self, rel: &Path) -> Result<()> {
        if self.dirs.contains(rel) {
            return Ok(());
        }
        let mut sub = PathBuf::new();
        for c in rel.components() {
            sub.push(c);
            if self.dirs.contains(&sub) {
                continue;
            }
            if self.files.contains(&sub) || self.link_names.contains(&sub) {
                return Err(self.unsafe_(format!("uses {sub:?} both as a file and as a directory")));
            }
            self.report.directories += 1;
            self.dirs.insert(sub.clone());
        }
        Ok(())
    }

    fn symlink(&mut self, rel: Option<PathBuf>, name: &str, target: &[u8]) {
        let shown = String::from_utf8_lossy(target);
        if let Some(rel) =
            rel.filter(|r| self.limits.keep_inner_symlinks && stays_inside(r, target))
        {
            use std::os::unix::ffi::OsStrExt;
            let t = PathBuf::from(std::ffi::OsStr::from_bytes(target));
            self.links.push((rel, t));
            return;
        }
        self.report.skipped_symlink_count += 1;
        if self.report.skipped_symlinks.len() < REPORTED_MAX {
            self.report
                .skipped_symlinks
                .push(format!("{name} -> {shown}"));
        }
    }

    /// The kept symlinks, last: no file was written through one, and one whose place is
    /// taken by a file or directory is skipped rather than replacing it.
    fn create_links(&mut self) -> Result<()> {
        for (rel, target) in std::mem::take(&mut self.links) {
            if let Some(parent) = rel.parent() {
                self.parents(parent)?;
            }
            let path = self.dest.join(&rel);
            make_parents(self.dest, &path).map_err(|e| self.io(&path, e))?;
            match std::os::unix::fs::symlink(&target, &path) {
                Ok(()) => {
                    self.report.symlinks += 1;
                    self.link_names.insert(rel);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.report.skipped_symlink_count += 1;
                    if self.report.skipped_symlinks.len() < REPORTED_MAX {
                        self.report.skipped_symlinks.push(format!(
                            "{} -> {} (its name is taken)",
                            rel.display(),
                            target.display()
                        ));
                    }
                }
                Err(e) => return Err(self.io(&path, e)),
            }
        }
        Ok(())
    }

    fn unsafe_(&self, what: String) -> Error {
        Error::new(
            ErrorKind::UnsafeArchive,
            format!("archive {} {what}; nothing was published", self.what),
        )
    }

    fn truncated(&self) -> Error {
        Error::new(
            ErrorKind::UnsafeArchive,
            format!(
                "archive {} ends early (truncated); nothing was published, fetch it again",
                self.what
            ),
        )
    }

    /// A read error of the stream: truncated, corrupt gzip, a broken tar header, or the
    /// decompressed stream over its cap.
    fn broken(&self, e: &io::Error) -> Error {
        if let Some(limit) = e.get_ref().and_then(|i| i.downcast_ref::<OverCap>()) {
            return self.unsafe_(format!(
                "decompresses to more than {} bytes (the untar limit plus headers); a \
                 decompression bomb or an artifact over max_untar_size",
                limit.0
            ));
        }
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return self.truncated();
        }
        self.unsafe_(format!("is not a valid gzipped tar: {e}"))
    }

    fn io(&self, path: &Path, e: io::Error) -> Error {
        Error::io("extract to", path, e)
    }
}

fn not_gzip(what: &str, e: &io::Error) -> Error {
    Error::new(
        ErrorKind::UnsafeArchive,
        format!("archive {what} is not gzip-compressed ({e}); nothing was published"),
    )
}

/// Permission bits only (no setuid, setgid or sticky), and the owner can always read.
fn file_mode(mode: u32) -> u32 {
    (mode & 0o777) | 0o600
}

/// Permission bits only, and the owner can always list, enter and clean up.
fn dir_mode(mode: u32) -> u32 {
    (mode & 0o777) | 0o700
}

/// Whether a symlink at `link` (relative to the root) pointing at `target` stays inside:
/// relative, `..` only as a leading run that does not climb above the root. Forbidding `..`
/// after a name keeps a chain of kept links inside too (`a/b/..` could climb out through
/// `b` being a link itself).
fn stays_inside(link: &Path, target: &[u8]) -> bool {
    if target.is_empty() || target[0] == b'/' || target.contains(&0) {
        return false;
    }
    let depth = link.components().count().saturating_sub(1);
    let mut ups = 0;
    let mut named = false;
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." if named => return false,
            b".." => ups += 1,
            _ => named = true,
        }
    }
    ups <= depth
}

/// The stream was cut at its cap.
#[derive(Debug)]
struct OverCap(u64);
impl std::fmt::Display for OverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "over the limit of {} bytes", self.0)
    }
}
impl std::error::Error for OverCap {}

/// The decompressed stream, cut at the file-content limit plus what the entries so far may
/// add in headers: a PAX record or long name of gigabytes ends here, not in memory.
struct Bounded<R> {
    inner: R,
    read: u64,
    cap: u64,
    allowance: Rc<Cell<u64>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.cap > 0 {
            let limit = self.cap.saturating_add(self.allowance.get());
            if self.read > limit {
                return Err(io::Error::other(OverCap(limit)));
            }
        }
        Ok(n)
    }
}
