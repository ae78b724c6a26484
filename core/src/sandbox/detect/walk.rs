//! Finding the directories that may hold projects: breadth-first from the root, shallow
//! and bounded, because the repository is untrusted input. Links are never followed (a
//! linked directory could lead outside the clone or loop), and the directories every
//! ecosystem fills with other people's code (`node_modules`, `vendor`, virtualenvs, build
//! output) are skipped: a package.json in node_modules is a dependency, not a project.

use super::files::{Kind, ProjectDir};
use super::Unparsable;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

/// How deep below the root projects are looked for (`a/b/c` is depth 3): monorepos put
/// projects at `apps/web` or `services/api/v2`, rarely deeper.
pub(super) const MAX_DEPTH: usize = 3;
/// At most this many directories are listed, however the tree is shaped.
pub(super) const MAX_DIRS: usize = 2000;
/// At most this many entries of one directory are looked at.
pub(super) const MAX_ENTRIES: usize = 10_000;
/// At most this many entries in all: the listings are kept in memory, and 2000 directories
/// of 10,000 entries each would be millions of names.
pub(super) const MAX_TOTAL_ENTRIES: usize = 200_000;

/// Directories never descended into: dependencies, virtualenvs, caches and build output.
const SKIP: &[&str] = &[
    ".git",
    "node_modules",
    "vendor",
    ".venv",
    "venv",
    "tmp",
    "dist",
    "build",
    "target",
];

/// The directories under `root` (the root included, first), each with its entries; limits
/// that were hit are reported as unparsable entries so the user knows what was not seen.
pub(super) fn walk(root: &Path, unparsable: &mut Vec<Unparsable>) -> Vec<ProjectDir> {
    let mut out = Vec::new();
    let mut queue = VecDeque::from([(String::from("."), 0usize)]);
    let mut budget = MAX_TOTAL_ENTRIES;
    while let Some((rel, depth)) = queue.pop_front() {
        let limit = if out.len() == MAX_DIRS {
            format!("{MAX_DIRS} directories")
        } else if budget == 0 {
            format!("{MAX_TOTAL_ENTRIES} directory entries in all")
        } else {
            String::new()
        };
        if !limit.is_empty() {
            unparsable.push(Unparsable {
                file: rel,
                reason: format!(
                    "not examined, nor anything after it: detection lists at most {limit}"
                ),
            });
            break;
        }
        let abs = if rel == "." {
            root.to_path_buf()
        } else {
            root.join(&rel)
        };
        let entries = list(&abs, &rel, &mut budget, unparsable);
        if depth < MAX_DEPTH {
            for (name, kind) in &entries {
                if *kind == Kind::Dir && !name.starts_with('.') && !SKIP.contains(&name.as_str()) {
                    let child = if rel == "." {
                        name.clone()
                    } else {
                        format!("{rel}/{name}")
                    };
                    queue.push_back((child, depth + 1));
                }
            }
        }
        out.push(ProjectDir { rel, abs, entries });
    }
    out
}

/// The entries of one directory by name (sorted, so the walk is deterministic), each
/// typed without following links (`DirEntry::file_type` is an lstat).
fn list(
    abs: &Path,
    rel: &str,
    budget: &mut usize,
    unparsable: &mut Vec<Unparsable>,
) -> BTreeMap<String, Kind> {
    let mut entries = BTreeMap::new();
    let iter = match std::fs::read_dir(abs) {
        Ok(iter) => iter,
        Err(e) => {
            unparsable.push(Unparsable {
                file: rel.to_string(),
                reason: format!("directory cannot be listed: {e}"),
            });
            return entries;
        }
    };
    for (n, entry) in iter.enumerate() {
        let limit = if n == MAX_ENTRIES {
            format!("{MAX_ENTRIES} entries of a directory")
        } else if *budget == 0 {
            format!("{MAX_TOTAL_ENTRIES} directory entries in all")
        } else {
            String::new()
        };
        if !limit.is_empty() {
            unparsable.push(Unparsable {
                file: rel.to_string(),
                reason: format!("only partly examined: detection lists at most {limit}"),
            });
            break;
        }
        *budget -= 1;
        let Ok(entry) = entry else { continue };
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => Kind::Symlink,
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(t) if t.is_file() => Kind::File,
            _ => Kind::Other,
        };
        entries.insert(name, kind);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn rels(root: &Path) -> (Vec<String>, Vec<Unparsable>) {
        let mut u = Vec::new();
        let dirs = walk(root, &mut u);
        (dirs.into_iter().map(|d| d.rel).collect(), u)
    }

    #[test]
    fn breadth_first_shallow_skipping_dependencies_hidden_dirs_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for d in [
            "api/config",
            "a/b/c/d",
            "node_modules/pg",
            "web/node_modules/x",
            ".github/workflows",
            "vendor/bundle",
            "worker",
        ] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        std::os::unix::fs::symlink("/", r.join("rootlink")).unwrap();
        let (dirs, u) = rels(r);
        assert_eq!(
            dirs,
            [
                ".",
                "a",
                "api",
                "web",
                "worker",
                "a/b",
                "api/config",
                "a/b/c"
            ]
        );
        assert!(u.is_empty());
    }

    #[test]
    fn stops_after_the_directory_limit() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..MAX_DIRS + 5 {
            fs::create_dir(tmp.path().join(format!("d{i:05}"))).unwrap();
        }
        let (dirs, u) = rels(tmp.path());
        assert_eq!(dirs.len(), MAX_DIRS);
        assert_eq!(u.len(), 1);
        assert!(u[0].reason.contains("at most 2000 directories"), "{u:?}");
    }

    #[test]
    fn lists_a_bounded_part_of_a_huge_directory() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..MAX_ENTRIES + 1 {
            fs::write(tmp.path().join(format!("f{i}")), "").unwrap();
        }
        let mut u = Vec::new();
        let dirs = walk(tmp.path(), &mut u);
        assert_eq!(dirs[0].entries.len(), MAX_ENTRIES);
        assert_eq!(u.len(), 1);
        assert!(u[0].reason.contains("at most 10000 entries"), "{u:?}");
    }
}
