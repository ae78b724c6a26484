//! Reading a project's files without trusting the repository: no symlink is followed (a
//! link could point outside the clone, at the runner's secrets), nothing but a regular file
//! is opened (a FIFO would block detection), and no file over [`MAX_FILE`] is read.
//! A file that exists but cannot be used becomes an [`Unparsable`], never an error.

use super::Unparsable;
use crate::fsx;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest manifest or lock file read: real ones are far smaller (a big Rails
/// Gemfile.lock is ~50 KiB, a big package-lock.json a few MiB at most).
pub(super) const MAX_FILE: u64 = 4 * 1024 * 1024;

/// What a directory entry is, from `symlink_metadata` (never following links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One directory the walk found, with its entries.
#[derive(Debug)]
pub(super) struct ProjectDir {
    /// Relative to the detection root with `/` separators, `.` for the root itself.
    pub(super) rel: String,
    pub(super) abs: PathBuf,
    /// Entry names (UTF-8 only: no manifest has another name) and what they are.
    pub(super) entries: BTreeMap<String, Kind>,
}

impl ProjectDir {
    /// Whether an entry named `name` exists, whatever it is: a manifest that is a symlink
    /// or a directory still says what the project is, even though it cannot be read.
    pub(super) fn has(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// `name` (relative to this directory) as a path relative to the detection root.
    pub(super) fn rel_file(&self, name: &str) -> String {
        if self.rel == "." {
            name.to_string()
        } else {
            format!("{}/{}", self.rel, name)
        }
    }

    /// The text of `name` (which may hold `/`), or `None` when it is missing or unusable;
    /// an unusable file is recorded in `unparsable` with the reason.
    pub(super) fn read(&self, name: &str, unparsable: &mut Vec<Unparsable>) -> Option<String> {
        match read_in_tree(&self.abs, name) {
            Ok(text) => text,
            Err(reason) => {
                unparsable.push(Unparsable {
                    file: self.rel_file(name),
                    reason,
                });
                None
            }
        }
    }
}

/// Reads `base/name` refusing links in every component of `name`: `Ok(None)` when the
/// file does not exist, `Err(reason)` when it exists but is not a readable text file.
fn read_in_tree(base: &Path, name: &str) -> Result<Option<String>, String> {
    let parts: Vec<&str> = name.split('/').collect();
    let mut path = base.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let last = i + 1 == parts.len();
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot be examined: {e}")),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(if last {
                "a symbolic link: not followed, it could point outside the repository".into()
            } else {
                format!("{part} is a symbolic link: not followed, it could point outside the repository")
            });
        }
        if !last {
            if !kind.is_dir() {
                return Ok(None);
            }
            continue;
        }
        if kind.is_dir() {
            return Err("a directory, not a file".into());
        }
        if !kind.is_file() {
            return Err("not a regular file".into());
        }
        if meta.len() > MAX_FILE {
            return Err(too_large(meta.len()));
        }
    }
    read_regular(&path).map(Some)
}

fn too_large(len: u64) -> String {
    format!("{len} bytes: larger than the {MAX_FILE} bytes (4 MiB) detection reads")
}

/// Opens without following a link swapped in since the check (O_NOFOLLOW) or blocking on
/// a FIFO (O_NONBLOCK), checks the opened inode again, and reads at most [`MAX_FILE`].
fn read_regular(path: &Path) -> Result<String, String> {
    let file = fsx::open_no_follow(path).map_err(|e| {
        if fsx::is_symlink_refusal(&e) {
            "a symbolic link: not followed, it could point outside the repository".to_string()
        } else {
            format!("cannot be read: {e}")
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(too_large(bytes.len() as u64));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    // Editors on Windows write a byte-order mark; JSON and TOML parsers reject it.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// The first line of a version file (`.ruby-version`, `.nvmrc`, `.python-version`) that
/// is not empty or a `#` comment, trimmed, with its 0-based index.
pub(super) fn first_value(text: &str) -> Option<(usize, &str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let v = line.split('#').next().unwrap_or("").trim();
        (!v.is_empty()).then_some((i, v))
    })
}

/// The 1-based line number of the 0-based line index `i`, as evidence carries it.
pub(super) fn line_no(i: usize) -> Option<u32> {
    u32::try_from(i + 1).ok()
}

/// The 1-based line holding byte offset `at` of `text` (parsers report offsets).
pub(super) fn line_of_offset(text: &str, at: usize) -> Option<u32> {
    let at = at.min(text.len());
    line_no(
        text.as_bytes()[..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tmp: &Path) -> ProjectDir {
        ProjectDir {
            rel: "app".into(),
            abs: tmp.to_path_buf(),
            entries: BTreeMap::new(),
        }
    }

    #[test]
    fn refuses_links_directories_and_invalid_utf8_but_not_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "token").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), tmp.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("config")).unwrap();
        std::fs::create_dir(tmp.path().join("Gemfile")).unwrap();
        std::fs::write(tmp.path().join("bad"), b"ok\n\xff\xfe").unwrap();
        std::fs::write(tmp.path().join("bom"), "\u{feff}{}").unwrap();
        let d = dir(tmp.path());
        let mut u = Vec::new();
        assert_eq!(d.read("missing", &mut u), None);
        assert_eq!(d.read("missing/deeper", &mut u), None);
        assert!(u.is_empty());
        assert_eq!(d.read("link", &mut u), None);
        assert_eq!(d.read("config/secret", &mut u), None);
        assert_eq!(d.read("Gemfile", &mut u), None);
        assert_eq!(d.read("bad", &mut u), None);
        assert_eq!(d.read("bom", &mut u).as_deref(), Some("{}"));
        let files: Vec<&str> = u.iter().map(|u| u.file.as_str()).collect();
        assert_eq!(
            files,
            ["app/link", "app/config/secret", "app/Gemfile", "app/bad"]
        );
        assert!(u[0].reason.contains("symbolic link"), "{u:?}");
        assert!(
            u[1].reason.starts_with("config is a symbolic link"),
            "{u:?}"
        );
        assert!(u[2].reason.contains("directory"), "{u:?}");
        assert!(u[3].reason.contains("offset 3"), "{u:?}");
    }

    #[test]
    fn refuses_files_over_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(tmp.path().join("package.json")).unwrap();
        f.set_len(MAX_FILE + 1).unwrap();
        let mut u = Vec::new();
        assert_eq!(dir(tmp.path()).read("package.json", &mut u), None);
        assert!(u[0].reason.contains("4 MiB"), "{u:?}");
    }

    #[test]
    fn offsets_map_to_lines() {
        assert_eq!(line_of_offset("a\nb\nc", 0), Some(1));
        assert_eq!(line_of_offset("a\nb\nc", 2), Some(2));
        assert_eq!(line_of_offset("a\nb\nc", 99), Some(3));
    }
}
