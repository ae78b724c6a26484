//! The pre-push hook: git hands it the real ref updates on stdin, one line each
//! (`<local ref> <local oid> <remote ref> <remote oid>`, githooks(5)), so it sees what a
//! push does whatever command line, alias or config produced it. A zero new id is a
//! delete; a new commit that does not contain the old one is a non-fast-forward, decided
//! by ancestry in the local repository.

use super::policy::GuardPolicy;
use super::verdict::{Finding, Rule};
use crate::error::{Error, Result};

/// The most update lines read (a push of more refs than this is not one a person makes).
const MAX_LINES: usize = 100_000;

/// The findings for the ref updates of one push.
pub(crate) fn check_updates(
    updates: &str,
    repo: Option<&git2::Repository>,
    policy: &GuardPolicy,
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for (n, line) in updates.lines().enumerate() {
        if n >= MAX_LINES {
            return Err(Error::invalid(format!(
                "pre-push input has more than {MAX_LINES} lines"
            )));
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_local_ref, local, remote_ref, remote] = fields[..] else {
            return Err(Error::invalid(format!(
                "pre-push input line {}: expected `<local ref> <local oid> <remote ref> <remote oid>`",
                n + 1
            )));
        };
        let is_oid =
            |s: &str| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_oid(local) || !is_oid(remote) {
            return Err(Error::invalid(format!(
                "pre-push input line {}: the object ids are not hexadecimal SHA-1 or SHA-256 ids",
                n + 1
            )));
        }
        let zero = |s: &str| s.bytes().all(|b| b == b'0');
        let protected = policy.protects(remote_ref);
        if zero(local) {
            if protected {
                findings.push(Finding::block(
                    Rule::Delete,
                    Some(remote_ref),
                    format!("deleting the protected ref {remote_ref} is refused"),
                ));
            }
            continue;
        }
        if zero(remote) {
            if protected {
                findings.push(Finding::new(
                    policy.direct_push,
                    Rule::DirectPush,
                    Some(remote_ref),
                    format!("creating the protected ref {remote_ref} by a direct push"),
                ));
            }
            continue;
        }
        let fast_forward = match repo {
            Some(r) => is_fast_forward(r, local, remote),
            None => Err("no repository to decide ancestry in".into()),
        };
        let decision_msg = match fast_forward {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "{} is not a fast-forward of {remote_ref} (the remote's {} is not in its history)",
                short(local),
                short(remote)
            )),
            Err(why) => Some(format!(
                "cannot tell whether the push to {remote_ref} is a fast-forward ({why}); fetch first"
            )),
        };
        match (protected, decision_msg) {
            (true, Some(msg)) => findings.push(Finding::block(
                Rule::NonFastForward,
                Some(remote_ref),
                format!("{msg}; a rewrite of a protected ref is refused"),
            )),
            (true, None) => findings.push(Finding::new(
                policy.direct_push,
                Rule::DirectPush,
                Some(remote_ref),
                format!("a direct push to the protected ref {remote_ref}"),
            )),
            (false, Some(msg)) => findings.push(Finding::new(
                policy.force_unprotected,
                Rule::NonFastForward,
                Some(remote_ref),
                msg,
            )),
            (false, None) => {}
        }
    }
    Ok(findings)
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(12)]
}

fn is_fast_forward(
    repo: &git2::Repository,
    local: &str,
    remote: &str,
) -> std::result::Result<bool, String> {
    let parse = |s: &str| git2::Oid::from_str(s).map_err(|_| format!("{s:?} is not an object id"));
    let (new, old) = (parse(local)?, parse(remote)?);
    if new == old {
        return Ok(true);
    }
    if repo.find_commit(old).is_err() {
        return Err(format!(
            "the remote's commit {} is not in this repository",
            short(remote)
        ));
    }
    repo.graph_descendant_of(new, old)
        .map_err(|e| e.message().to_string())
}
