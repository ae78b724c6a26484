//! The layer's tar stream: reproducible headers (uid/gid 0, the build's epoch), PAX records
//! for long names, and file contents read exactly as walked (a file that grew or shrank
//! since the walk is an error, not a corrupt layer).

use super::*;

pub(super) struct TarState {
    pub(super) epoch: u64,
    /// (dev, inode) → first path stored, for hard links.
    pub(super) links: HashMap<(u64, u64), String>,
    pub(super) bytes: u64,
    pub(super) next_progress: u64,
    pub(super) files: u64,
    /// Files changed at or after this time are racy: their content's hash is recorded.
    pub(super) settled_limit: (i64, i64),
    pub(super) racy: Vec<RacyFile>,
}

pub(super) fn base_header(kind: tar::EntryType, mode: u32, epoch: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode & 0o7777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(epoch);
    h.set_size(0);
    h
}

pub(super) fn append_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    epoch: u64,
) -> Result<()> {
    let h = base_header(tar::EntryType::Directory, mode, epoch);
    append_named(tar, h, &format!("{name}/"), None, io::empty())
}

pub(super) fn append_entry<W: Write>(
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
pub(super) fn open_walked(path: &Path, walked: &Stat) -> Result<fs::File> {
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

/// Appends one entry, carrying a path or link target that does not fit the ustar header
/// in a PAX extended header first.
pub(super) fn append_named<W: Write, R: Read>(
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
pub(super) fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// A ustar-safe stand-in name (the real one is in the PAX record).
pub(super) fn truncate_name(name: &str) -> &str {
    &name[..floor_char(name, 99)]
}

pub(super) fn floor_char(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Reads exactly the size recorded in the header; a file that shrank while being read is
/// an error rather than a silently corrupt archive.
pub(super) struct ExactReader<'a, R> {
    pub(super) inner: R,
    pub(super) remaining: u64,
    pub(super) path: &'a Path,
    /// The hash of what was read, for a racy file.
    pub(super) hash: Option<Xxh3>,
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
