//! File-system helpers shared across capabilities.

use std::fs::File;
use std::io;
use std::path::Path;

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
