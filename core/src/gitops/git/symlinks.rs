//! After a checkout: symlinks that are absolute or lead out of the tree (or into `.git`) are
//! removed, so whoever reads the checkout (a manifest renderer, a tar of the entry) can never
//! be sent to `/etc/passwd` or to another cache entry.
//!
//! A target is resolved the way the kernel would, component by component, following the
//! tree's other symlinks (a lexical check is not enough: with `a -> .`, `b -> a/..` looks
//! harmless but leaves the tree). Links that loop or nest deeper than the kernel allows are
//! removed too; a dangling link that stays inside is kept.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// How many links one resolution may follow (Linux's MAXSYMLINKS).
const MAX_HOPS: usize = 40;

/// Removes every escaping symlink under `root` (not looking into `.git`) and returns their
/// paths relative to `root`, sorted.
pub(crate) fn remove_escaping(root: &Path) -> Result<Vec<PathBuf>> {
    let mut links = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !(e.depth() == 1 && e.file_name() == ".git"));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            Error::io(
                "read checkout",
                &path,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        if entry.path_is_symlink() {
            let rel = entry
                .path()
                .strip_prefix(root)
                .map_err(|_| Error::internal("walked outside the checkout"))?;
            links.push(rel.to_path_buf());
        }
    }
    // Decide every link against the tree as checked out, then remove: removing one first
    // would change what the others resolve to.
    let escaping: Vec<PathBuf> = links
        .into_iter()
        .filter(|rel| !stays_inside(root, rel))
        .collect();
    for rel in &escaping {
        let p = root.join(rel);
        std::fs::remove_file(&p).map_err(|e| Error::io("remove escaping symlink", &p, e))?;
    }
    let mut escaping = escaping;
    escaping.sort();
    Ok(escaping)
}

/// Whether the link at `rel` (relative to `root`) resolves inside `root` and outside `.git`.
fn stays_inside(root: &Path, rel: &Path) -> bool {
    let mut stack: Vec<OsString> = rel
        .parent()
        .map(|p| p.iter().map(OsString::from).collect())
        .unwrap_or_default();
    let Ok(target) = std::fs::read_link(root.join(rel)) else {
        return false;
    };
    let mut hops = 1;
    resolve(root, &mut stack, &target, &mut hops) && stack.first().is_none_or(|c| c != ".git")
}

/// Walks `target` from the directory `stack` (components below `root`), following links
/// inside the tree; false as soon as the path leaves the tree.
fn resolve(root: &Path, stack: &mut Vec<OsString>, target: &Path, hops: &mut usize) -> bool {
    for comp in target.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => return false,
            Component::CurDir => {}
            Component::ParentDir => {
                if stack.pop().is_none() {
                    return false;
                }
            }
            Component::Normal(name) => {
                stack.push(name.to_os_string());
                let here: PathBuf = root.join(stack.iter().collect::<PathBuf>());
                let Ok(meta) = std::fs::symlink_metadata(&here) else {
                    // Dangling from here on: what follows is resolved lexically.
                    continue;
                };
                if meta.file_type().is_symlink() {
                    *hops += 1;
                    if *hops > MAX_HOPS {
                        return false;
                    }
                    let Ok(next) = std::fs::read_link(&here) else {
                        return false;
                    };
                    stack.pop();
                    if !resolve(root, stack, &next, hops) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn escaping_links_go_and_inside_links_stay() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(r.join(".git")).unwrap();
        std::fs::write(r.join("sub/file"), "x").unwrap();
        symlink("/etc/passwd", r.join("abs")).unwrap();
        symlink("../../outside", r.join("sub/up")).unwrap();
        symlink("file", r.join("sub/ok")).unwrap();
        symlink("../sub/deeper", r.join("sub/ok-dir")).unwrap();
        symlink("missing/inside", r.join("dangling-inside")).unwrap();
        // Lexically inside, physically out: `here` is the root, `here/..` its parent.
        symlink(".", r.join("here")).unwrap();
        symlink("here/../x", r.join("sneaky")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        symlink(".git/config", r.join("into-git")).unwrap();
        symlink("/etc", r.join(".git/ignored-not-content")).unwrap();

        let removed = remove_escaping(r).unwrap();
        let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            ["abs", "into-git", "loop1", "loop2", "sneaky", "sub/up"]
        );
        for kept in [
            "sub/ok",
            "sub/ok-dir",
            "dangling-inside",
            "here",
            ".git/ignored-not-content",
        ] {
            assert!(
                r.join(kept).symlink_metadata().is_ok(),
                "{kept} was removed"
            );
        }
    }
}
