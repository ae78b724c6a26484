//! Git revisions as cache entries: `source fetch git` and each git source of an Argo CD
//! Application.
//!
//! An entry is a shallow checkout (with its `.git`, so `git log` works in it) of exactly one
//! commit, named by a hash of the normalized repository URL, the path the user asked for and
//! the commit: two URLs never share an entry, and a new commit is a new entry (entries are
//! immutable once published, so a reader never sees a tree change under it; depth 1 keeps a
//! fresh clone cheap). A branch or tag is resolved with one `ls-remote` first, so a hit costs
//! one round trip and no download; a full commit id is a hit without any network at all.

use super::cache::entry::{self, EntryRecord};
use super::git::{self, GitAuth, GitOptions, GitSource, KnownHosts};
use super::{CacheOptions, SourceFetched};
use crate::error::{Error, ErrorKind, Result};
use crate::trust::TrustOptions;
use crate::Call;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// A git repository's revision and how to reach it: what `source fetch git` and `sandbox
/// clone` share (flattened into their options: the same fields in both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct GitRemoteOptions {
    /// `https://…`, `ssh://[user@]host[:port]/path` or `user@host:path`, without a password
    /// (credentials are the call's: username and password, or a token).
    pub url: String,
    /// A branch, tag, full ref, commit id or `HEAD`; none is the repository's HEAD.
    pub revision: Option<String>,
    /// Commits of history to fetch; 0 is the whole history.
    pub depth: u32,
    /// An SSH private key file (OpenSSH or PEM, unencrypted), read into memory for an SSH
    /// URL.
    #[schemars(extend("x-path" = true))]
    pub ssh_key_file: Option<PathBuf>,
    /// known_hosts for SSH; default `~/.ssh/known_hosts`, then `/etc/ssh/ssh_known_hosts`.
    #[schemars(extend("x-path" = true))]
    pub known_hosts_file: Option<PathBuf>,
    #[serde(flatten)]
    pub trust: TrustOptions,
}

impl Default for GitRemoteOptions {
    fn default() -> Self {
        GitRemoteOptions {
            url: String::new(),
            revision: None,
            depth: 1,
            ssh_key_file: None,
            known_hosts_file: None,
            trust: TrustOptions::default(),
        }
    }
}

impl GitRemoteOptions {
    /// What to fetch, and how to reach the host with the call's credential (username and
    /// password, or a token) or the SSH key file read into memory.
    pub(crate) fn resolve(&self, call: &Call) -> Result<(GitSource, GitOptions)> {
        let options = git_options_from_call(
            call,
            self.ssh_key_file.as_deref(),
            self.known_hosts_file.as_deref(),
            &self.trust,
        )?;
        let source = GitSource {
            url: self.url.clone(),
            revision: self.revision.clone().filter(|r| !r.is_empty()),
            depth: self.depth,
        };
        Ok((source, options))
    }
}

/// `source fetch git URL [--rev REV]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct FetchGitOptions {
    #[serde(flatten)]
    pub remote: GitRemoteOptions,
    #[serde(flatten)]
    pub cache: CacheOptions,
}

/// Fetches a git revision into `{cache}/git/{hash}`.
pub fn fetch_git(o: &FetchGitOptions, call: &Call) -> Result<SourceFetched> {
    let (source, options) = o.remote.resolve(call)?;
    let cache = super::cache::Cache::open(o.cache.cache.as_deref())?;
    let dir = cache.root().join(super::cache::GIT_DIR);
    fetch_into_cache(&dir, &source, "", "git".into(), &options, call).map(|(f, _)| f)
}

/// How to reach a git host for an operation: the call's credential (username and password,
/// or a token) or an SSH key file read into memory, known_hosts, and trust.
fn git_options_from_call(
    call: &Call,
    ssh_key_file: Option<&Path>,
    known_hosts_file: Option<&Path>,
    trust: &TrustOptions,
) -> Result<GitOptions> {
    let mut auth = match call.credential() {
        None | Some(crate::registry::Credential::Anonymous) => GitAuth::None,
        Some(crate::registry::Credential::Basic {
            username, password, ..
        }) => GitAuth::Basic {
            username: username.clone(),
            password: password.clone(),
        },
        Some(crate::registry::Credential::Token { token, .. }) => GitAuth::Token(token.clone()),
    };
    if let Some(file) = ssh_key_file {
        if auth != GitAuth::None {
            return Err(Error::invalid(
                "give either an SSH key file or a username/password or token, not both",
            ));
        }
        let pem = std::fs::read_to_string(file).map_err(|e| Error::io("read SSH key", file, e))?;
        auth = GitAuth::SshKey {
            private_key_pem: pem,
            passphrase: None,
        };
    }
    Ok(GitOptions {
        auth,
        trust: trust.clone(),
        known_hosts: known_hosts_file
            .map(Path::to_path_buf)
            .map_or(KnownHosts::User, KnownHosts::File),
        insecure: false,
    })
}

/// Whether `rev` is a full commit id (nothing to resolve on the server).
pub(crate) fn is_full_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The entry of `source` under `dir` (named by URL, `path` and commit), filled by a shallow
/// checkout when missing. Returns it and the commit it holds.
pub(crate) fn fetch_into_cache(
    dir: &Path,
    source: &GitSource,
    path: &str,
    label: String,
    options: &GitOptions,
    call: &Call,
) -> Result<(SourceFetched, String)> {
    let asked = source.revision.as_deref().unwrap_or("HEAD");
    // What the revision is now, unless it is a commit already.
    let (commit, resolved_ref) = if is_full_commit(asked) {
        (Some(asked.to_ascii_lowercase()), None)
    } else {
        let r = git::ls_remote(source, options, call)?;
        (r.commit, r.resolved_ref)
    };
    // An abbreviated id no ref advertises is keyed as given: it names one commit too.
    let key = match &commit {
        Some(c) => format!("sha1:{c}"),
        None => format!("rev:{}", asked.to_ascii_lowercase()),
    };
    let normalized = normalize_url(&source.url);
    let entry = dir.join(entry_name(&normalized, path, &key));
    let (record, hit) = entry::get_or_fill(&entry, &key, call.cancel(), |tmp| {
        let out = git::checkout(tmp, source, options, call)?;
        if let Some(c) = &commit {
            if &out.commit != c {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "{} {asked} moved from {c} to {} while it was fetched; fetch again",
                        source.url, out.commit
                    ),
                ));
            }
        }
        let (files, bytes) = count_files(tmp)?;
        // Flux's forms: `refs/heads/main@sha1:…` for a named revision, `sha1:…` for a commit.
        let pointer = out
            .resolved_ref
            .clone()
            .or(resolved_ref.clone())
            .or_else(|| {
                (!out.commit.starts_with(&asked.to_ascii_lowercase())).then(|| asked.to_string())
            });
        let revision = match pointer {
            Some(p) => format!("{p}@sha1:{}", out.commit),
            None => format!("sha1:{}", out.commit),
        };
        let mut r = EntryRecord::new(label, source.url.clone(), revision, key.clone());
        r.files = files;
        r.bytes = bytes;
        r.skipped_symlinks = out
            .removed_symlinks
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Ok(r)
    })?;
    let commit = record
        .revision
        .rsplit_once("sha1:")
        .map(|(_, c)| c.to_string())
        .unwrap_or_default();
    Ok((SourceFetched::new(entry, record, hit), commit))
}

/// The entry's directory name: 32 hex of SHA-256 over the normalized URL, the path and the
/// commit key, so no two sources collide however their names look.
fn entry_name(normalized_url: &str, path: &str, key: &str) -> String {
    let mut h = Sha256::new();
    for part in [normalized_url, path, key] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Argo CD's `NormalizeGitURL` (util/git/git.go): lower-cased and trimmed; an SSH URL
/// (`user@host:path` or `ssh://user@…`) rewritten to `user@host/path`; `.git` dropped; the
/// `ssh://` scheme dropped. Two URLs Argo CD treats as one repository normalize equally
/// (`https://Host/Org/Repo.git` and `https://host/org/repo`).
pub fn normalize_url(url: &str) -> String {
    let mut u = url.trim().to_ascii_lowercase();
    if is_ssh_url(&u) && !u.starts_with("ssh://") {
        // `git@host:org/repo`: the first colon separates the path, not a port.
        u = format!("ssh://{}", u.replacen(':', "/", 1));
    }
    if let Some(s) = u.strip_suffix(".git") {
        u = s.to_string();
    }
    let u = match reqwest::Url::parse(&u) {
        Ok(parsed) => parsed.to_string(),
        Err(_) => u,
    };
    u.strip_prefix("ssh://").map(str::to_string).unwrap_or(u)
}

/// Argo CD's `IsSSHURL`: `^(ssh://)?([^/:]*?)@[^@]+$`.
fn is_ssh_url(u: &str) -> bool {
    let rest = u.strip_prefix("ssh://").unwrap_or(u);
    match rest.split_once('@') {
        Some((user, host_path)) => {
            !user.contains(['/', ':']) && !host_path.is_empty() && !host_path.contains('@')
        }
        None => false,
    }
}

/// Files and bytes of a checkout, `.git` left out.
fn count_files(root: &Path) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io("read directory", &dir, e))?;
        for e in rd.flatten() {
            if dir == root && e.file_name() == ".git" {
                continue;
            }
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                files += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    Ok((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_argo_cd_treats_as_one_normalize_equally() {
        let same = [
            "https://Gitea.cnoe.localtest.me:8443/giteaAdmin/Repo.git",
            " https://gitea.cnoe.localtest.me:8443/giteaadmin/repo ",
        ];
        assert_eq!(normalize_url(same[0]), normalize_url(same[1]));
        assert_eq!(
            normalize_url(same[0]),
            "https://gitea.cnoe.localtest.me:8443/giteaadmin/repo"
        );
        assert_eq!(
            normalize_url("git@github.com:Org/Repo.git"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_url("ssh://git@github.com/org/repo.git"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_url("ssh://git@host:2222/org/repo"),
            "git@host:2222/org/repo"
        );
        // Another host, scheme or path is another repository.
        assert_ne!(
            normalize_url("https://a.example/org/repo"),
            normalize_url("https://b.example/org/repo")
        );
        assert_ne!(
            normalize_url("https://a.example/org/repo"),
            normalize_url("http://a.example/org/repo")
        );
    }

    #[test]
    fn entry_names_differ_by_url_path_and_commit() {
        let c = "sha1:0123456789abcdef0123456789abcdef01234567";
        let a = entry_name("https://h/a", "", c);
        assert_eq!(a.len(), 32);
        assert_ne!(a, entry_name("https://h/b", "", c));
        assert_ne!(a, entry_name("https://h/a", "apps", c));
        assert_ne!(a, entry_name("https://h/a", "", "sha1:1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(entry_name("ab", "c", c), entry_name("a", "bc", c));
    }

    #[test]
    fn full_commits_need_no_resolution() {
        assert!(is_full_commit("0123456789abcdef0123456789ABCDEF01234567"));
        assert!(!is_full_commit("0123456"));
        assert!(!is_full_commit("main"));
    }
}
