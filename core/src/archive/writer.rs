//! The file system side of an extraction, on threads of their own: the extracting thread
//! only inflates, parses and decides (every name is checked there, before anything is sent),
//! while writer threads make the system calls — directories, files, contents, permission
//! bits. On a small VM those calls cost as much as the inflate, and the kernel's inode
//! allocation can cost far more (an ext4 without a journal scans past every inode freed in
//! the last minutes), so they are spread over several threads.
//!
//! Ordering: every message about one name goes to the same thread (chosen by a hash of the
//! name) and a thread keeps the archive's order, so a later entry of one name still wins.
//! Across names nothing needs ordering: a thread that meets a missing parent directory
//! creates it (another thread creating it at the same moment is fine), and a directory
//! entry met after its implicit creation only sets its permission bits. File contents travel
//! in pooled buffers handed back by the writers (no allocation, zeroing or page fault per
//! chunk), and the queues are bounded so memory stays small.

use crate::error::{Error, Result};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Largest piece of file content sent at once (one buffer).
/// (64 KiB: below the allocator's mmap threshold, and the buffers in circulation stay in the
/// cache; 128 and 256 KiB measured no better.)
pub(super) const CHUNK: usize = 64 << 10;
/// Messages in flight per writer at most.
const QUEUE: usize = 32;
/// Writer threads at most (beyond this the kernel's own locks are the limit).
const MAX_WRITERS: usize = 4;

/// A buffer of file content: `buf[..len]` is the data.
pub(super) struct Chunk {
    pub buf: Vec<u8>,
    pub len: usize,
}

enum Msg {
    /// Create (or truncate) the file with these permission bits and write `data`; `end`:
    /// the file is complete.
    File {
        path: PathBuf,
        mode: u32,
        data: Chunk,
        end: bool,
    },
    /// More of the file last opened on this thread.
    Data { data: Chunk, end: bool },
    /// A directory entry: create it, or set the bits of the one already made.
    Dir { path: PathBuf, mode: u32 },
}

/// What every writer shares.
struct Shared {
    dest: PathBuf,
    /// The process umask when it could be read: bits it does not cut need no chmod.
    umask: Option<u32>,
    /// Set on the first error and when the extraction is abandoned: queued work is dropped.
    stop: AtomicBool,
    /// Buffers handed back, last in first out: the next one used is still in the cache.
    pool: Mutex<Vec<Vec<u8>>>,
}

pub(super) struct Writers {
    txs: Vec<SyncSender<Msg>>,
    threads: Vec<JoinHandle<Result<()>>>,
    shared: Arc<Shared>,
    /// The thread of the file being sent.
    current: usize,
}

impl Writers {
    pub(super) fn start(dest: &Path) -> Writers {
        let n = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, MAX_WRITERS);
        let shared = Arc::new(Shared {
            dest: dest.to_path_buf(),
            umask: current_umask(),
            stop: AtomicBool::new(false),
            pool: Mutex::new(Vec::new()),
        });
        let mut txs = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = sync_channel(QUEUE);
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("idpkit-untar-{i}"))
                .spawn(move || {
                    let r = write_all(rx, &shared);
                    if r.is_err() {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                    r
                });
            // A thread that could not start: its sender is dropped with its receiver, and
            // the first send to it reports the failure.
            if let Ok(t) = spawned {
                txs.push(tx);
                threads.push(t);
            }
        }
        Writers {
            txs,
            threads,
            shared,
            current: 0,
        }
    }

    /// An empty buffer of `CHUNK` bytes, reused when a writer has handed one back.
    pub(super) fn buffer(&self) -> Vec<u8> {
        let reused = self.shared.pool.lock().ok().and_then(|mut p| p.pop());
        reused.unwrap_or_else(|| vec![0u8; CHUNK])
    }

    /// The first (maybe only) chunk of the file `rel`; `end`: the file is complete.
    pub(super) fn file(&mut self, rel: &Path, mode: u32, data: Chunk, end: bool) -> Result<()> {
        self.current = self.pick(rel);
        let path = self.shared.dest.join(rel);
        self.send(
            self.current,
            Msg::File {
                path,
                mode,
                data,
                end,
            },
        )
    }

    pub(super) fn data(&mut self, data: Chunk, end: bool) -> Result<()> {
        self.send(self.current, Msg::Data { data, end })
    }

    pub(super) fn dir(&mut self, rel: &Path, mode: u32) -> Result<()> {
        let i = self.pick(rel);
        let path = self.shared.dest.join(rel);
        self.send(i, Msg::Dir { path, mode })
    }

    fn pick(&self, rel: &Path) -> usize {
        use std::os::unix::ffi::OsStrExt;
        // FNV-1a: stable, cheap, and only spreads load (no adversary gains from a collision).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in rel.as_os_str().as_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.txs.len().max(1) as u64) as usize
    }

    fn send(&mut self, i: usize, msg: Msg) -> Result<()> {
        // A writer that failed stops the extraction at the next entry, not at the end.
        let stopped = self.shared.stop.load(Ordering::Relaxed);
        let sent = !stopped && self.txs.get(i).is_some_and(|tx| tx.send(msg).is_ok());
        if sent {
            return Ok(());
        }
        // A thread stopped: its error says why.
        self.finish()?;
        Err(Error::internal(
            "an untar writer stopped (or could not start) without an error",
        ))
    }

    /// Waits until every queued write is done; the first write error, if any. Always called
    /// before the caller may remove the directory, so no write lands after it.
    pub(super) fn finish(&mut self) -> Result<()> {
        self.txs.clear();
        let mut first = Ok(());
        for t in self.threads.drain(..) {
            let r = t
                .join()
                .unwrap_or_else(|_| Err(Error::internal("an untar writer panicked")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        // Abandoned (an error or a cancel on the extracting side): queued work is dropped,
        // and the threads are joined so nothing is written once the caller cleans up.
        if !self.threads.is_empty() {
            self.shared.stop.store(true, Ordering::Relaxed);
        }
        let _ = self.finish();
    }
}

fn write_all(rx: Receiver<Msg>, sh: &Shared) -> Result<()> {
    let mut current: Option<Open> = None;
    for msg in rx {
        if sh.stop.load(Ordering::Relaxed) {
            continue;
        }
        let data = match msg {
            Msg::File {
                path,
                mode,
                data,
                end,
            } => {
                let (f, created) =
                    open_file(sh, &path, mode).map_err(|e| Error::io("extract to", &path, e))?;
                current = Some(Open {
                    file: f,
                    path,
                    mode,
                    created,
                });
                write_chunk(sh, &mut current, data, end)?
            }
            Msg::Data { data, end } => write_chunk(sh, &mut current, data, end)?,
            Msg::Dir { path, mode } => {
                make_dir(sh, &path, mode).map_err(|e| Error::io("extract to", &path, e))?;
                None
            }
        };
        if let (Some(buf), Ok(mut pool)) = (data, sh.pool.lock()) {
            pool.push(buf);
        }
    }
    Ok(())
}

/// The file being written on one thread.
struct Open {
    file: fs::File,
    path: PathBuf,
    mode: u32,
    /// Made by this entry (its bits set at creation, less the umask), not an earlier one's.
    created: bool,
}

/// Writes `data` to the current file and closes it at `end`; gives the buffer back.
fn write_chunk(
    sh: &Shared,
    current: &mut Option<Open>,
    data: Chunk,
    end: bool,
) -> Result<Option<Vec<u8>>> {
    if let Some(o) = current.as_mut() {
        o.file
            .write_all(&data.buf[..data.len])
            .map_err(|e| Error::io("write", &o.path, e))?;
    }
    if end {
        if let Some(o) = current.take() {
            // The umask may have cut bits the archive set, and an earlier entry of the name
            // set its own: permission bits are what this entry meant.
            if !o.created || needs_chmod(sh, o.mode) {
                o.file
                    .set_permissions(fs::Permissions::from_mode(o.mode))
                    .map_err(|e| Error::io("extract to", &o.path, e))?;
            }
        }
    }
    Ok(Some(data.buf))
}

/// Opens `path` for writing: created with `mode` (O_EXCL, one system call for a new file, its
/// bits set at creation), or, when an earlier entry of that name made it, truncated (a later
/// entry wins, as with tar); whether it was created. O_NOFOLLOW: never through a symlink (none
/// exists before the end, but say so in code). A missing parent is created first.
fn open_file(sh: &Shared, path: &Path, mode: u32) -> io::Result<(fs::File, bool)> {
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    let created = match create() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_parents(&sh.dest, path)?;
            create()
        }
        r => r,
    };
    match created {
        Ok(f) => Ok((f, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map(|f| (f, false)),
        Err(e) => Err(e),
    }
}

/// A directory entry: created with its bits, or, made earlier (implicitly, or by an earlier
/// entry of that name), given its bits.
fn make_dir(sh: &Shared, path: &Path, mode: u32) -> io::Result<()> {
    let create = || fs::DirBuilder::new().mode(mode).create(path);
    let created = match create() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_parents(&sh.dest, path)?;
            create()
        }
        r => r,
    };
    match created {
        Ok(()) if !needs_chmod(sh, mode) => Ok(()),
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            real_dir(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
        }
        Err(e) => Err(e),
    }
}

/// Creates the missing directories between `dest` (which exists) and `path`'s parent. One
/// that exists must be a real directory (another writer may just have made it).
pub(super) fn make_parents(dest: &Path, path: &Path) -> io::Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    if dir == dest || !dir.starts_with(dest) {
        return Ok(());
    }
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => real_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_parents(dest, dir)?;
            match fs::create_dir(dir) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => real_dir(dir),
                r => r,
            }
        }
        Err(e) => Err(e),
    }
}

fn real_dir(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a directory",
        ))
    }
}

fn needs_chmod(sh: &Shared, mode: u32) -> bool {
    sh.umask.is_none_or(|u| mode & u != 0)
}

/// The process umask, read without changing it (`umask(2)` can only be read by setting it,
/// which races with other threads): the `Umask:` line of /proc/self/status (Linux 4.7+).
fn current_umask() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}
