//! File contents written on a thread of their own: the extracting thread inflates and parses
//! while this one makes the system calls that put bytes in the page cache (on a small VM the
//! writes cost more than the inflate). Messages keep the archive's order, so a later entry of
//! one name still wins, and the queue is bounded so memory stays small.

use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Messages in flight at most (each at most a 64 KiB chunk, below the allocator's mmap threshold so chunks reuse heap pages instead of faulting in fresh ones).
const QUEUE: usize = 256;

enum Msg {
    /// Create (or truncate) the file with these permission bits.
    Open(PathBuf, u32),
    Data(Vec<u8>),
    Close,
}

pub(super) struct Writer {
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Writer {
    pub(super) fn start() -> Writer {
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("idpkit-untar-writer".into())
            .spawn(move || write_all(rx))
            .ok();
        Writer {
            tx: Some(tx),
            thread,
        }
    }

    pub(super) fn open(&mut self, path: PathBuf, mode: u32) -> Result<()> {
        self.send(Msg::Open(path, mode))
    }

    pub(super) fn data(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.send(Msg::Data(bytes))
    }

    pub(super) fn close(&mut self) -> Result<()> {
        self.send(Msg::Close)
    }

    fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok());
        if sent {
            return Ok(());
        }
        // The thread stopped: its error says why.
        self.finish()?;
        Err(Error::internal("the untar writer stopped without an error"))
    }

    /// Waits until every queued write is done; the first write error, if any. Always called
    /// before the caller may remove the directory, so no write lands after it.
    pub(super) fn finish(&mut self) -> Result<()> {
        self.tx = None;
        match self.thread.take() {
            None => Ok(()),
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(Error::internal("the untar writer panicked"))),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn write_all(rx: Receiver<Msg>) -> Result<()> {
    let mut current: Option<(fs::File, PathBuf, u32)> = None;
    for msg in rx {
        match msg {
            Msg::Open(path, mode) => {
                // O_NOFOLLOW: never write through a symlink (none exists yet, but say so in
                // code); truncate: a later entry of the same name wins, as with tar.
                let f = fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(mode)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(|e| Error::io("extract to", &path, e))?;
                current = Some((f, path, mode));
            }
            Msg::Data(bytes) => {
                if let Some((f, path, _)) = current.as_mut() {
                    f.write_all(&bytes)
                        .map_err(|e| Error::io("write", path, e))?;
                }
            }
            Msg::Close => {
                if let Some((f, path, mode)) = current.take() {
                    // The umask may have cut bits the archive set; permission bits are what
                    // it meant.
                    f.set_permissions(fs::Permissions::from_mode(mode))
                        .map_err(|e| Error::io("extract to", &path, e))?;
                }
            }
        }
    }
    Ok(())
}
