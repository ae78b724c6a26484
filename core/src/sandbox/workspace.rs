//! Sandbox runs: each run is a fresh clone in its own directory, never a reused checkout.
//!
//! `{root}/{id}/run.json` records the run (repository, revision asked, commit, time) and
//! `{root}/{id}/src` is the checkout. A run is built in `{root}/.tmp-{id}-{pid}` and renamed
//! into place once its clone and record are complete, so a listing never shows a half-made
//! run; leftovers of a killed clone (their process gone) are removed by the next clone.

use crate::error::{Error, ErrorKind, Result};
use crate::gitops::git::{self, GitOptions, GitSource};
use crate::Call;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The record file of a run.
pub const RUN_FILE: &str = "run.json";
/// The checkout's directory inside a run.
pub const CHECKOUT_DIR: &str = "src";
const TMP_PREFIX: &str = ".tmp-";

/// One run. The same serde type in every front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SandboxRun {
    /// The run's id (`shop-20261204-133000-1a2b`): the directory's name, a Kubernetes label.
    pub id: String,
    /// The run's directory.
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The checkout (`{dir}/src`).
    #[schemars(extend("x-path" = true))]
    pub checkout: PathBuf,
    /// The repository, as given (never with a password: those are refused).
    pub url: String,
    /// The revision asked for; none: the repository's HEAD.
    pub revision: Option<String>,
    /// The commit checked out (full hex id).
    pub commit: String,
    /// The ref the revision named (`refs/heads/main`), when it named one.
    pub resolved_ref: Option<String>,
    /// The local branch the checkout is on (the branch cloned), else none (detached).
    pub branch: Option<String>,
    /// When the run was made (RFC 3339, UTC).
    #[schemars(extend("format" = "date-time"))]
    pub created: String,
}

/// The directory a run `id` lives in, after checking the id cannot leave `root`.
pub fn run_dir(root: &Path, id: &str) -> Result<PathBuf> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !ok {
        return Err(Error::invalid(format!(
            "{id:?} is not a sandbox run id; `idpkit sandbox ls` lists them"
        )));
    }
    Ok(root.join(id))
}

/// A name for the run from the repository's last path component.
fn slug(url: &str) -> String {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("")
        .trim_end_matches(".git");
    let s: String = last
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "run".into()
    } else {
        s
    }
}

fn new_id(url: &str) -> Result<String> {
    use ring::rand::SecureRandom as _;
    let mut r = [0u8; 3];
    ring::rand::SystemRandom::new()
        .fill(&mut r)
        .map_err(|_| Error::internal("the system's random source failed"))?;
    let now = crate::oci::image::rfc3339(unix_now());
    // 2026-12-04T13:30:00Z → 20261204-133000
    let stamp: String = now
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect();
    Ok(format!(
        "{}-{stamp}-{:02x}{:02x}{:02x}",
        slug(url),
        r[0],
        r[1],
        r[2]
    ))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Removes `.tmp-*-{pid}` directories whose process is gone (a killed clone).
fn sweep_leftovers(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(TMP_PREFIX) else {
            continue;
        };
        let pid = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Clones `source` into a new run under `root`.
pub fn clone(
    root: &Path,
    source: &GitSource,
    options: &GitOptions,
    call: &Call,
) -> Result<SandboxRun> {
    std::fs::create_dir_all(root)
        .map_err(|e| Error::io("create the sandbox runs directory", root, e))?;
    sweep_leftovers(root);
    let id = new_id(&source.url)?;
    let dir = run_dir(root, &id)?;
    let tmp = root.join(format!("{TMP_PREFIX}{id}-{}", std::process::id()));
    let result = (|| {
        std::fs::create_dir(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let checkout = git::checkout(&tmp.join(CHECKOUT_DIR), source, options, call)?;
        let branch = checkout
            .resolved_ref
            .as_deref()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string);
        if let Some(b) = &branch {
            git::attach_branch(&tmp.join(CHECKOUT_DIR), b, &checkout.commit)?;
        }
        let run = SandboxRun {
            id: id.clone(),
            dir: dir.clone(),
            checkout: dir.join(CHECKOUT_DIR),
            url: source.url.clone(),
            revision: source.revision.clone(),
            commit: checkout.commit,
            resolved_ref: checkout.resolved_ref,
            branch,
            created: crate::oci::image::rfc3339(unix_now()),
        };
        let json = serde_json::to_vec_pretty(&run)
            .map_err(|e| Error::internal(format!("the run record: {e}")))?;
        crate::fsx::write_atomic(&tmp.join(RUN_FILE), &json)?;
        std::fs::rename(&tmp, &dir).map_err(|e| Error::io("publish the run", &dir, e))?;
        Ok(run)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The run in `dir`, from its record.
pub fn read_run(dir: &Path) -> Result<SandboxRun> {
    let file = dir.join(RUN_FILE);
    let text = std::fs::read(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!(
                "{} is not a sandbox run (no {RUN_FILE}); `idpkit sandbox ls` lists them",
                dir.display()
            ))
        } else {
            Error::io("read", &file, e)
        }
    })?;
    let mut run: SandboxRun = serde_json::from_slice(&text).map_err(|e| {
        Error::invalid(format!(
            "{}: not a sandbox run record ({e}); remove the run with `idpkit sandbox rm`",
            file.display()
        ))
    })?;
    // The record says where the run was made; where it is now is what counts.
    run.dir = dir.to_path_buf();
    run.checkout = dir.join(CHECKOUT_DIR);
    Ok(run)
}

/// The runs under `root`, oldest first; directories without a readable record are skipped.
pub fn list(root: &Path) -> Result<Vec<SandboxRun>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("list sandbox runs in", root, e)),
    };
    let mut runs: Vec<SandboxRun> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| read_run(&e.path()).ok())
        .collect();
    runs.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    Ok(runs)
}

/// Removes run `id`: first renamed out of the listing, then deleted.
pub fn remove(root: &Path, id: &str) -> Result<SandboxRun> {
    let dir = run_dir(root, id)?;
    let run = read_run(&dir)?;
    let doomed = root.join(format!("{TMP_PREFIX}rm-{id}-{}", std::process::id()));
    std::fs::rename(&dir, &doomed).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(
            ErrorKind::NotFound,
            format!("sandbox run {id} is gone (removed meanwhile?)"),
        ),
        _ => Error::io("remove", &dir, e),
    })?;
    std::fs::remove_dir_all(&doomed).map_err(|e| Error::io("remove", &doomed, e))?;
    Ok(run)
}

/// The run whose checkout is `dir` (or which is `dir`), if it is one.
pub fn run_of(dir: &Path) -> Option<SandboxRun> {
    let run_dir = if dir.join(RUN_FILE).is_file() {
        dir.to_path_buf()
    } else {
        dir.parent()?.to_path_buf()
    };
    let run = read_run(&run_dir).ok()?;
    Some(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_leave_the_root() {
        for bad in ["", "..", "../x", "a/b", ".tmp-x", "a\0b"] {
            assert!(run_dir(Path::new("/r"), bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            run_dir(Path::new("/r"), "shop-20261204-133000-0a0b0c").unwrap(),
            Path::new("/r/shop-20261204-133000-0a0b0c")
        );
    }

    #[test]
    fn slugs_are_label_safe() {
        assert_eq!(slug("https://h/org/My_Shop.git"), "my-shop");
        assert_eq!(slug("git@h:org/app"), "app");
        assert_eq!(slug("https://h/"), "h");
        assert_eq!(slug("///"), "run");
        let id = new_id("https://h/org/shop.git").unwrap();
        assert!(id.starts_with("shop-2") && id.len() < 63, "{id}");
    }
}
