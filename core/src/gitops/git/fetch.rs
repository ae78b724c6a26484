//! Clone, update and ls-remote: connect once, resolve the revision from the advertisement,
//! fetch only that ref (shallow where possible), check out exactly its commit detached, then
//! remove escaping symlinks.

use super::http::{self, HttpContext};
use super::resolve::{self, Advertised, Plan};
use super::ssh::Callbacks;
use super::symlinks;
use super::url::{RepoUrl, Scheme};
use super::{GitCheckout, GitOptions, GitRevision, GitSource};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, SinkScope};
use crate::Call;
use git2::{AutotagOption, Direction, FetchOptions, Oid, Repository};
use std::path::Path;
use std::sync::Arc;

/// libgit2's "fetch the whole history of a shallow repository" depth.
const UNSHALLOW: i32 = i32::MAX;
const REFLOG: &str = "idpkit: fetch";

/// Clones `source` into `dest`, a directory that must not exist yet or be empty (the cache
/// passes a temporary sibling and renames it itself), and checks out the resolved commit.
/// On failure `dest` is removed again.
pub fn checkout(
    dest: &Path,
    source: &GitSource,
    options: &GitOptions,
    call: &Call,
) -> Result<GitCheckout> {
    crate::event::refuse_in_callback("a git checkout")?;
    crate::cancel::check(call.cancel())?;
    let url = RepoUrl::parse(&source.url)?;
    let created = prepare_dest(dest)?;
    let result = (|| {
        let mut init = git2::RepositoryInitOptions::new();
        // No hook samples or description from the system's template directory.
        init.external_template(false).no_reinit(true);
        let repo = Repository::init_opts(dest, &init).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("git init {}: {}", dest.display(), e.message()),
            )
        })?;
        repo.remote("origin", &url.git_url)
            .map_err(|e| Error::invalid(format!("git remote {}: {}", url.git_url, e.message())))?;
        sync(&repo, &url, source, options, call)
    })();
    if result.is_err() {
        let _ = if created {
            std::fs::remove_dir_all(dest)
        } else {
            empty_dir(dest)
        };
    }
    result
}

/// Moves the checkout at `existing` (made by [`checkout`]) to the revision `source` resolves
/// to now: fetch, then check out exactly that commit (files of other commits removed).
pub fn update(
    existing: &Path,
    source: &GitSource,
    options: &GitOptions,
    call: &Call,
) -> Result<GitCheckout> {
    crate::event::refuse_in_callback("a git update")?;
    crate::cancel::check(call.cancel())?;
    let url = RepoUrl::parse(&source.url)?;
    let repo = Repository::open(existing).map_err(|e| {
        Error::not_found(format!(
            "{} is not a git checkout ({}); make one with checkout",
            existing.display(),
            e.message()
        ))
    })?;
    if repo.is_bare() {
        return Err(Error::invalid(format!(
            "{} is a bare repository, not a checkout",
            existing.display()
        )));
    }
    let current = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().ok().map(String::from));
    if current.as_deref() != Some(url.git_url.as_str()) {
        if current.is_none() {
            repo.remote("origin", &url.git_url)
        } else {
            repo.remote_set_url("origin", &url.git_url)
                .and_then(|()| repo.find_remote("origin"))
        }
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("git remote in {}: {}", existing.display(), e.message()),
            )
        })?;
    }
    sync(&repo, &url, source, options, call)
}

/// What `source`'s revision is on the server now, from its reference advertisement alone
/// (one request; nothing is written).
pub fn ls_remote(source: &GitSource, options: &GitOptions, call: &Call) -> Result<GitRevision> {
    crate::event::refuse_in_callback("a git ls-remote")?;
    crate::cancel::check(call.cancel())?;
    let url = RepoUrl::parse(&source.url)?;
    let session = Session::new(&url, options, call);
    let _http = http::Scope::enter(session.http.clone());
    let result = (|| {
        let mut remote = git2::Remote::create_detached(url.git_url.as_str())
            .map_err(|e| Error::invalid(format!("git url {}: {}", url.git_url, e.message())))?;
        let conn = remote
            .connect_auth(
                Direction::Fetch,
                Some(session.callbacks.for_libgit2()),
                None,
            )
            .map_err(|e| session.error(e, "connect to"))?;
        let heads = advertised(conn.list().map_err(|e| session.error(e, "list"))?);
        let plan = resolve::plan(&heads, source.revision.as_deref(), &url.git_url)?;
        Ok(match plan {
            Plan::Ref {
                remote,
                oid,
                resolved_ref,
                ..
            } => {
                let peeled = heads
                    .iter()
                    .find(|h| h.name == format!("{remote}^{{}}"))
                    .map_or(oid, |h| h.oid);
                GitRevision {
                    commit: Some(peeled.to_string()),
                    resolved_ref,
                }
            }
            Plan::Commit(oid) => GitRevision {
                commit: Some(oid.to_string()),
                resolved_ref: None,
            },
            Plan::Abbreviated(_) => GitRevision {
                commit: None,
                resolved_ref: None,
            },
        })
    })();
    drop(_http);
    result
}

/// The per-call state libgit2's transports and callbacks reach.
struct Session<'a> {
    url: &'a RepoUrl,
    call: &'a Call,
    http: Arc<HttpContext>,
    callbacks: Callbacks,
    scope: SinkScope,
}

impl<'a> Session<'a> {
    fn new(url: &'a RepoUrl, options: &GitOptions, call: &'a Call) -> Session<'a> {
        let scope = SinkScope::new(call.sink());
        let sink = scope.sink().cloned();
        let cancel = call.cancel().cloned();
        Session {
            url,
            call,
            http: Arc::new(HttpContext::new(
                url.clone(),
                options.trust.clone(),
                options.auth.clone(),
                options.insecure,
                sink.clone(),
                cancel.clone(),
            )),
            callbacks: Callbacks::new(
                url.clone(),
                options.auth.clone(),
                options.known_hosts.clone(),
                options.insecure,
                sink,
                cancel,
            ),
            scope,
        }
    }

    /// The error a failed libgit2 call stands for: cancellation, else what the transport or
    /// a callback recorded (with its kind), else libgit2's own message classified.
    fn error(&self, e: git2::Error, what: &str) -> Error {
        if self.call.cancel().is_some_and(|c| c.is_cancelled()) {
            return Error::cancelled();
        }
        if let Some(f) = self
            .http
            .take_failure()
            .or_else(|| self.callbacks.take_failure())
        {
            return f;
        }
        use git2::{ErrorClass as C, ErrorCode as E};
        let kind = match (e.code(), e.class()) {
            (E::Auth, _) => ErrorKind::Auth,
            (E::Certificate, _) | (_, C::Ssl) => ErrorKind::Untrusted,
            (E::NotFound, _) => ErrorKind::NotFound,
            (_, C::Net | C::Ssh | C::Http | C::Os) => ErrorKind::Network,
            (_, C::Odb | C::Index | C::Filesystem | C::Checkout) => ErrorKind::Io,
            _ => ErrorKind::Network,
        };
        Error::new(
            kind,
            format!("git {what} {}: {}", self.url.git_url, e.message()),
        )
    }

    fn fetch_options(&self, depth: i32) -> FetchOptions<'_> {
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(self.callbacks.for_libgit2())
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        if depth > 0 {
            fo.depth(depth);
        }
        fo
    }
}

fn sync(
    repo: &Repository,
    url: &RepoUrl,
    source: &GitSource,
    options: &GitOptions,
    call: &Call,
) -> Result<GitCheckout> {
    let session = Session::new(url, options, call);
    let _http = http::Scope::enter(session.http.clone());
    let mut remote = repo
        .find_remote("origin")
        .map_err(|e| Error::internal(format!("origin remote: {}", e.message())))?;
    let mut conn = remote
        .connect_auth(
            Direction::Fetch,
            Some(session.callbacks.for_libgit2()),
            None,
        )
        .map_err(|e| session.error(e, "connect to"))?;
    let heads = advertised(conn.list().map_err(|e| session.error(e, "list"))?);
    let plan = resolve::plan(&heads, source.revision.as_deref(), &url.git_url)?;
    let depth = depth_for(url, source.depth, repo.is_shallow());
    let fetch = |remote: &mut git2::Remote<'_>, specs: &[String], depth: i32| -> Result<()> {
        remote
            .fetch(specs, Some(&mut session.fetch_options(depth)), Some(REFLOG))
            .map_err(|e| session.error(e, "fetch from"))
    };
    let everything = [
        "+refs/heads/*:refs/remotes/origin/*".to_string(),
        "+refs/tags/*:refs/tags/*".to_string(),
    ];
    let full = if repo.is_shallow() { UNSHALLOW } else { 0 };
    let (oid, resolved_ref) = match plan {
        Plan::Ref {
            remote: name,
            local,
            oid,
            resolved_ref,
        } => {
            if peels_to_commit(repo, oid).is_some() {
                // Already here (an update to a commit fetched before): only the ref moves.
                repo.reference(&local, oid, true, REFLOG).map_err(|e| {
                    Error::new(ErrorKind::Io, format!("update {local}: {}", e.message()))
                })?;
            } else {
                fetch(conn.remote(), &[format!("+{name}:{local}")], depth)?;
            }
            let commit = repo
                .find_reference(&local)
                .and_then(|r| r.peel_to_commit())
                .map_err(|e| {
                    Error::not_found(format!(
                        "{name} of {} is not a commit after the fetch: {}",
                        url.git_url,
                        e.message()
                    ))
                })?;
            (commit.id(), resolved_ref)
        }
        Plan::Commit(oid) => {
            if peels_to_commit(repo, oid).is_none() {
                // By id where the server allows it (uploadpack.allowReachableSHA1InWant),
                // else the whole history of every branch and tag, as Argo CD does.
                let by_id = fetch(conn.remote(), &[oid.to_string()], depth);
                match by_id {
                    Err(e) if !recoverable(&e) => return Err(e),
                    Ok(()) if peels_to_commit(repo, oid).is_some() => {}
                    _ => fetch(conn.remote(), &everything, full)?,
                }
            }
            let id = peels_to_commit(repo, oid).ok_or_else(|| {
                Error::not_found(format!(
                    "commit {oid} is not in {} (no branch or tag reaches it)",
                    url.git_url
                ))
            })?;
            (id, None)
        }
        Plan::Abbreviated(prefix) => {
            let lookup = |repo: &Repository| {
                repo.revparse_single(&prefix)
                    .ok()
                    .and_then(|o| o.peel_to_commit().ok())
                    .map(|c| c.id())
            };
            let id = match lookup(repo) {
                Some(id) => id,
                None => {
                    fetch(conn.remote(), &everything, full)?;
                    lookup(repo).ok_or_else(|| {
                        Error::not_found(format!(
                            "no commit of {} starts with {prefix} (or more than one does: give more digits)",
                            url.git_url
                        ))
                    })?
                }
            };
            (id, None)
        }
    };
    drop(conn);
    crate::cancel::check(call.cancel())?;
    check_out(repo, oid)?;
    let root = repo
        .workdir()
        .ok_or_else(|| Error::internal("checkout has no working directory"))?;
    let removed_symlinks = symlinks::remove_escaping(root)?;
    for link in &removed_symlinks {
        emit(
            session.scope.sink(),
            Event::Warning {
                message: format!(
                    "removed symlink {} of {} at {oid}: it is absolute or leads out of the checkout",
                    link.display(),
                    url.git_url
                ),
            },
        );
    }
    Ok(GitCheckout {
        commit: oid.to_string(),
        resolved_ref,
        removed_symlinks,
        shallow: repo.is_shallow(),
    })
}

/// A failed fetch by id is worth retrying with everything unless it was about who we are,
/// whom we talk to, or the caller stopping us.
fn recoverable(e: &Error) -> bool {
    !matches!(
        e.kind,
        ErrorKind::Auth | ErrorKind::Untrusted | ErrorKind::Cancelled | ErrorKind::Policy
    )
}

fn depth_for(url: &RepoUrl, depth: u32, shallow_now: bool) -> i32 {
    if url.scheme == Scheme::Local {
        // libgit2's local transport cannot fetch shallowly; it copies objects directly.
        return 0;
    }
    match depth {
        0 if shallow_now => UNSHALLOW,
        0 => 0,
        d => d.min(UNSHALLOW as u32 - 1) as i32,
    }
}

fn peels_to_commit(repo: &Repository, oid: Oid) -> Option<Oid> {
    let obj = repo.find_object(oid, None).ok()?;
    let commit = obj.peel_to_commit().ok()?;
    // A shallow fetch brings the whole tree of its commit; an object alone is not enough.
    commit.tree().ok()?;
    Some(commit.id())
}

fn advertised(list: &[git2::RemoteHead<'_>]) -> Vec<Advertised> {
    list.iter()
        .map(|h| Advertised {
            name: h.name().to_string(),
            oid: h.oid(),
            symref: h.symref_target().map(String::from),
        })
        .collect()
}

/// Exactly `oid`'s tree in the working directory (other files removed), HEAD detached at it.
fn check_out(repo: &Repository, oid: Oid) -> Result<()> {
    let io = |what: &str, e: git2::Error| {
        Error::new(
            ErrorKind::Io,
            format!(
                "{what} {oid} in {}: {}",
                repo.workdir().unwrap_or(repo.path()).display(),
                e.message()
            ),
        )
    };
    let commit = repo.find_commit(oid).map_err(|e| io("find", e))?;
    let mut co = git2::build::CheckoutBuilder::new();
    co.force().remove_untracked(true).remove_ignored(true);
    repo.checkout_tree(commit.as_object(), Some(&mut co))
        .map_err(|e| io("check out", e))?;
    repo.set_head_detached(oid)
        .map_err(|e| io("detach HEAD at", e))
}

/// Creates `dest` (true) or accepts it when it is an empty directory (false).
fn prepare_dest(dest: &Path) -> Result<bool> {
    match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "{} already exists and is not empty; checkout clones into a new directory (use update for an existing checkout)",
                        dest.display()
                    ),
                ));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dest).map_err(|e| Error::io("create", dest, e))?;
            Ok(true)
        }
        Err(e) => Err(Error::io("read", dest, e)),
    }
}

fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.symlink_metadata()?.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Puts the checkout at `dir` (made by [`checkout`], detached at `commit`) on a local
/// `branch` at that commit, tracking `origin/{branch}`, as `git clone` leaves a clone: work
/// committed there is on a branch, and `git push` knows where it goes.
pub fn attach_branch(dir: &Path, branch: &str, commit: &str) -> Result<()> {
    let fail = |what: &str, e: git2::Error| {
        Error::new(
            ErrorKind::Io,
            format!("{what} in {}: {}", dir.display(), e.message()),
        )
    };
    let repo = Repository::open(dir).map_err(|e| fail("open the checkout", e))?;
    let oid = Oid::from_str(commit).map_err(|e| fail("read the commit id", e))?;
    let target = repo
        .find_commit(oid)
        .map_err(|e| fail("find the commit", e))?;
    repo.reference(&format!("refs/remotes/origin/{branch}"), oid, true, REFLOG)
        .map_err(|e| fail("record origin's branch", e))?;
    let mut local = repo
        .branch(branch, &target, true)
        .map_err(|e| fail("create the branch", e))?;
    local
        .set_upstream(Some(&format!("origin/{branch}")))
        .map_err(|e| fail("set the branch's upstream", e))?;
    repo.set_head(&format!("refs/heads/{branch}"))
        .map_err(|e| fail("check out the branch", e))
}
