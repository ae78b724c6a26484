//! File-system helpers shared across capabilities (the store, the listing cache, login
//! files, certs.d, and the coming GitOps cache): atomic replacement through a temporary
//! sibling, create-if-absent, cross-process file locks, no-follow opens.

use crate::error::{Error, Result};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// A held file lock; released on drop.
pub(crate) struct LockGuard(#[allow(dead_code)] File);

/// Locks `path` (created when missing), shared or exclusive, blocking until granted.
pub(crate) fn lock_file(path: &Path, exclusive: bool) -> Result<LockGuard> {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open lock", path, e))?;
    let r = if exclusive { f.lock() } else { f.lock_shared() };
    r.map_err(|e| Error::io("lock", path, e))?;
    Ok(LockGuard(f))
}

/// Opens `path` for reading without following a symlink in its last component (ELOOP
/// instead) and without blocking on a FIFO or device swapped in (O_NONBLOCK, which changes
/// nothing for regular files). Callers check with `metadata()` that they got what they
/// expected (a regular file, the inode they walked).
pub(crate) fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Whether an open failed because the last component is a symlink.
pub(crate) fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Makes the entries of `dir` (a rename or link into it) durable: without it, a crash after
/// the rename can forget it even though the file's data was synced.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A complete, flushed temporary sibling of `path` holding `bytes`.
fn temp_sibling(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    temp_sibling_with(path, bytes, readable())
}

fn temp_sibling_with(
    path: &Path,
    bytes: &[u8],
    permissions: fs::Permissions,
) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(permissions)
        .tempfile_in(dir)
        .map_err(|e| Error::io("create temporary file in", dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_data())
        .map_err(|e| Error::io("write", path, e))?;
    Ok(tmp)
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    temp_sibling(path, bytes)?
        .persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    let dir = parent_dir(path);
    sync_dir(dir).map_err(|e| Error::io("sync", dir, e))?;
    Ok(())
}

/// [`write_atomic`] for a file only its owner may read (mode 0600 from its creation).
pub(crate) fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    temp_sibling_with(path, bytes, fs::Permissions::from_mode(0o600))?
        .persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    let dir = parent_dir(path);
    sync_dir(dir).map_err(|e| Error::io("sync", dir, e))
}

/// The directory `path` is in: `.` for a bare file name (whose parent is the empty path).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` unless the file exists, atomically: a hard link of a complete
/// temporary file either lands whole or fails because another process was first.
pub(crate) fn create_if_absent(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path, bytes)?;
    match fs::hard_link(tmp.path(), path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create", path, e)),
    }
}

/// Files in a layout are world-readable like every other tool's (tempfile defaults to 0600).
pub(crate) fn readable() -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(0o644)
}
