//! The walk of a build context: parallel, sorted, `.dockerignore` applied, directories
//! whose listing is remembered not read again (decision 0006), bounded in depth.

use super::*;

/// How deep a context's directories may nest (Linux paths stop at 4096 bytes, so a deeper
/// tree cannot even be named in one path), and the walk threads' stack for that depth
/// (reserved address space: only the pages a walk touches are used).
pub(super) const MAX_DEPTH: usize = 4096;
pub(super) const WALK_STACK: usize = 64 << 20;

/// Walks the context: every entry to put in the layer, sorted by path bytes, directories
/// before their contents.
///
/// Directories are listed and their entries stat'ed on a small rayon pool of its own
/// (work stealing over subdirectories, then spliced back in sorted order, so the result is
/// the same for any thread count). An unchanged rebuild is nothing but this walk, so a
/// directory whose listing `listings` still holds is not read again: its entries are
/// stat'ed by path, one `statx` each. The pool is per walk, not rayon's global one, so a
/// forked child (Python's `os.fork`) never inherits a pool whose threads are gone.
pub(super) fn walk(
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

pub(super) struct Walker<'a> {
    pub(super) matcher: &'a IgnoreMatcher,
    pub(super) listings: &'a Listings<'a>,
    pub(super) sink: Option<&'a EventSink>,
    pub(super) cancel: Option<&'a CancelToken>,
}

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
