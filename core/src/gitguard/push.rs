//! `git push` (and `git send-pack`): which remote refs a push would touch, whether each is
//! forced or deleted, and what the policy says about it. Options are read as git reads
//! them (opts.rs); refs come from the command line, `remote.*.push`, `--all`, `--tags`,
//! `--mirror`, `remote.*.mirror` and `push.default`.

use super::opts::{self, flag, last_set, with_value, Opt, Val};
use super::policy::{Decision, GuardPolicy};
use super::repo::RepoView;
use super::verdict::{Finding, Rule};

const PUSH_OPTS: &[Opt] = &[
    flag("verbose", Some('v')),
    flag("quiet", Some('q')),
    with_value("repo", None, Val::Required),
    flag("all", None),
    flag("branches", None),
    flag("mirror", None),
    flag("delete", Some('d')),
    flag("tags", None),
    flag("dry-run", Some('n')),
    flag("porcelain", None),
    flag("force", Some('f')),
    with_value("force-with-lease", None, Val::Optional),
    flag("force-if-includes", None),
    with_value("recurse-submodules", None, Val::Required),
    flag("thin", None),
    with_value("receive-pack", None, Val::Required),
    with_value("exec", None, Val::Required),
    flag("set-upstream", Some('u')),
    flag("progress", None),
    flag("prune", None),
    flag("verify", None),
    flag("follow-tags", None),
    with_value("signed", None, Val::Optional),
    flag("atomic", None),
    with_value("push-option", Some('o'), Val::Required),
    flag("ipv4", Some('4')),
    flag("ipv6", Some('6')),
];

const SEND_PACK_OPTS: &[Opt] = &[
    flag("all", None),
    flag("mirror", None),
    flag("dry-run", None),
    flag("force", None),
    with_value("receive-pack", None, Val::Required),
    with_value("exec", None, Val::Required),
    flag("verbose", None),
    flag("quiet", None),
    flag("thin", None),
    flag("atomic", None),
    with_value("signed", None, Val::Optional),
    flag("stdin", None),
    flag("stateless-rpc", None),
    flag("helper-status", None),
    flag("progress", None),
    with_value("push-option", None, Val::Required),
    with_value("force-with-lease", None, Val::Optional),
    flag("force-if-includes", None),
];

/// How a push is forced.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Force {
    No,
    Plain,
    Lease,
}

/// One remote ref a push would write.
struct Target {
    /// A full ref name, or a pattern with `*`.
    dst: String,
    force: Force,
    delete: bool,
    /// Where it came from, for messages (`+main:main`, `--all`, `push.default=current`).
    origin: String,
}

/// The findings for `git push ARGS`.
pub(crate) fn check_push(args: &[String], view: &RepoView, policy: &GuardPolicy) -> Vec<Finding> {
    let (given, positional) = match opts::parse(args, PUSH_OPTS) {
        Ok(p) => p,
        Err(e) => return vec![opts::unparsable("push", e)],
    };
    if last_set(&given, "dry-run") {
        return Vec::new();
    }
    let force = if last_set(&given, "force-with-lease") || last_set(&given, "force-if-includes") {
        Force::Lease
    } else if last_set(&given, "force") {
        Force::Plain
    } else {
        Force::No
    };
    let current = view.current_branch();
    let repo_opt = given
        .iter()
        .rev()
        .find(|g| g.long == "repo" && !g.negated)
        .and_then(|g| g.value.clone());
    let remote = positional
        .first()
        .cloned()
        .or(repo_opt)
        .unwrap_or_else(|| default_remote(view, current.as_deref()));
    let refspecs = positional.get(1..).unwrap_or_default();
    let mirror = last_set(&given, "mirror") || view.get_bool(&format!("remote.{remote}.mirror"));
    let mut findings = Vec::new();
    let remote_shown = crate::gitops::git::redact_userinfo(&remote);
    if mirror {
        findings.push(Finding::block(
            Rule::Mirror,
            None,
            format!(
                "a mirror push (--mirror or remote.{remote_shown}.mirror) force-updates and deletes \
                 every ref of the remote; push the branches you mean instead"
            ),
        ));
        return findings;
    }
    let delete = last_set(&given, "delete");
    let mut targets = Vec::new();
    for spec in words_to_refspecs(refspecs) {
        targets.extend(refspec_target(&spec, force, delete, current.as_deref()));
    }
    if last_set(&given, "all") || last_set(&given, "branches") {
        targets.extend(view.local_branches().into_iter().map(|b| Target {
            dst: format!("refs/heads/{b}"),
            force,
            delete: false,
            origin: "--all".into(),
        }));
    }
    if last_set(&given, "tags") {
        targets.extend(view.ref_names("refs/tags/").into_iter().map(|t| Target {
            dst: format!("refs/tags/{t}"),
            force,
            delete: false,
            origin: "--tags".into(),
        }));
    }
    let explicit = !refspecs.is_empty()
        || last_set(&given, "all")
        || last_set(&given, "branches")
        || last_set(&given, "tags");
    if !explicit {
        let configured = view.get_all(&format!("remote.{remote}.push"));
        if !configured.is_empty() {
            for spec in configured {
                targets.extend(refspec_target(&spec, force, false, current.as_deref()));
            }
        } else {
            targets.extend(push_default(view, &remote, current.as_deref(), force));
        }
    }
    if last_set(&given, "prune") {
        if let Some(f) = prune_finding(&targets, view, policy) {
            findings.push(f);
        }
    }
    for t in &targets {
        findings.extend(judge(t, policy));
    }
    findings
}

/// The findings for `git send-pack ARGS`: like a push, but any protected ref is refused.
pub(crate) fn check_send_pack(
    args: &[String],
    view: &RepoView,
    policy: &GuardPolicy,
) -> Vec<Finding> {
    let (given, positional) = match opts::parse(args, SEND_PACK_OPTS) {
        Ok(p) => p,
        Err(e) => return vec![opts::unparsable("send-pack", e)],
    };
    if last_set(&given, "dry-run") {
        return Vec::new();
    }
    if last_set(&given, "all") || last_set(&given, "mirror") || last_set(&given, "stdin") {
        return vec![Finding::block(
            Rule::SendPack,
            None,
            "send-pack with --all, --mirror or --stdin can write any ref of the remote; use \
             git push with the branches you mean"
                .into(),
        )];
    }
    let force = if last_set(&given, "force") || last_set(&given, "force-with-lease") {
        Force::Plain
    } else {
        Force::No
    };
    let current = view.current_branch();
    let mut findings = Vec::new();
    for spec in positional.iter().skip(1) {
        for t in refspec_target(spec, force, false, current.as_deref()) {
            if reaches_protected(&t.dst, policy) {
                findings.push(Finding::block(
                    Rule::SendPack,
                    Some(&t.dst),
                    format!(
                        "send-pack writes the protected ref {} ({}) without the push checks; \
                         use git push",
                        t.dst, t.origin
                    ),
                ));
            }
        }
    }
    findings
}

/// `git push tag v1` names refs/tags/v1: join the `tag` keyword with its name.
fn words_to_refspecs(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "tag" {
            if let Some(name) = it.next() {
                out.push(format!("refs/tags/{name}"));
                continue;
            }
        }
        out.push(w.clone());
    }
    out
}

/// The remote `git push` without a repository argument uses.
fn default_remote(view: &RepoView, current: Option<&str>) -> String {
    if let Some(b) = current {
        if let Some(r) = view.get(&format!("branch.{b}.pushRemote")) {
            return r;
        }
    }
    if let Some(r) = view.get("remote.pushDefault") {
        return r;
    }
    if let Some(b) = current {
        if let Some(r) = view.get(&format!("branch.{b}.remote")) {
            return r;
        }
    }
    "origin".into()
}

/// What `push.default` pushes when neither the command line nor `remote.*.push` says.
fn push_default(view: &RepoView, remote: &str, current: Option<&str>, force: Force) -> Vec<Target> {
    let mode = view
        .get("push.default")
        .unwrap_or_else(|| "simple".into())
        .to_ascii_lowercase();
    let origin = format!("push.default={mode}");
    let target = |dst: String| Target {
        dst,
        force,
        delete: false,
        origin: origin.clone(),
    };
    match mode.as_str() {
        "nothing" => Vec::new(),
        "matching" => view
            .local_branches()
            .into_iter()
            .map(|b| target(format!("refs/heads/{b}")))
            .collect(),
        _ => {
            let Some(b) = current else {
                return Vec::new();
            };
            let mut out = vec![target(format!("refs/heads/{b}"))];
            // upstream (and simple, which refuses a differing name but is read the same
            // way here) pushes to the branch's upstream when it is on this remote
            if view.get(&format!("branch.{b}.remote")).as_deref() == Some(remote) {
                if let Some(merge) = view.get(&format!("branch.{b}.merge")) {
                    if merge != format!("refs/heads/{b}") {
                        out.push(target(merge));
                    }
                }
            }
            out
        }
    }
}

/// The remote refs one refspec writes.
fn refspec_target(
    spec: &str,
    force: Force,
    delete_all: bool,
    current: Option<&str>,
) -> Vec<Target> {
    let (plus, body) = match spec.strip_prefix('+') {
        Some(b) => (true, b),
        None => (false, spec),
    };
    let force = if plus && force == Force::No {
        Force::Plain
    } else {
        force
    };
    // `:dst` deletes; `src` and `src:` write the ref of the same name
    let (dst, delete) = match body.split_once(':') {
        Some(("", dst)) => (dst, true),
        Some((src, "")) => (src, false),
        Some((_, dst)) => (dst, false),
        None => (body, false),
    };
    let delete = delete || delete_all;
    let resolve_head = |name: &str| -> Option<String> {
        if name == "HEAD" || name == "@" {
            current.map(|b| format!("refs/heads/{b}"))
        } else {
            Some(name.to_string())
        }
    };
    let Some(dst) = resolve_head(dst) else {
        // a detached HEAD pushed without a destination: git refuses it
        return Vec::new();
    };
    expand(&dst)
        .into_iter()
        .map(|dst| Target {
            dst,
            force,
            delete,
            origin: spec.to_string(),
        })
        .collect()
}

/// The full refs a destination can mean. A full name (`refs/...`) or a pattern is itself;
/// a short one is every ref git's DWIM could make of it on the remote (`main` is
/// refs/heads/main or refs/tags/main, `heads/main` is refs/heads/main), so a protected one
/// is never missed.
fn expand(dst: &str) -> Vec<String> {
    if dst.starts_with("refs/") {
        return vec![dst.to_string()];
    }
    vec![
        format!("refs/{dst}"),
        format!("refs/heads/{dst}"),
        format!("refs/tags/{dst}"),
        format!("refs/remotes/{dst}"),
    ]
}

fn reaches_protected(dst: &str, policy: &GuardPolicy) -> bool {
    if dst.contains('*') {
        policy.pattern_reaches_protected(dst)
    } else {
        policy.protects(dst)
    }
}

/// The policy's word on one target.
fn judge(t: &Target, policy: &GuardPolicy) -> Option<Finding> {
    let protected = reaches_protected(&t.dst, policy);
    let what = if t.dst.contains('*') {
        format!("refs matching {}", t.dst)
    } else {
        t.dst.clone()
    };
    let (decision, rule, message) = match (protected, t.delete, t.force) {
        (true, true, _) => (
            Decision::Block,
            Rule::Delete,
            format!(
                "deleting the protected ref {what} ({}) is refused",
                t.origin
            ),
        ),
        (true, false, Force::Plain) => (
            Decision::Block,
            Rule::ForcePush,
            format!(
                "a forced push to the protected ref {what} ({}) is refused; push a branch and \
                 open a pull request",
                t.origin
            ),
        ),
        (true, false, Force::Lease) => (
            Decision::Block,
            Rule::ForceWithLease,
            format!(
                "--force-with-lease/--force-if-includes still rewrites the protected ref {what} \
                 ({}); refused",
                t.origin
            ),
        ),
        (true, false, Force::No) => (
            policy.direct_push,
            Rule::DirectPush,
            format!(
                "a direct push to the protected ref {what} ({}); prefer a branch and a pull \
                 request",
                t.origin
            ),
        ),
        (false, _, Force::Plain | Force::Lease) => (
            policy.force_unprotected,
            if t.force == Force::Lease {
                Rule::ForceWithLease
            } else {
                Rule::ForcePush
            },
            format!("a forced push to {what} ({})", t.origin),
        ),
        (false, _, Force::No) => return None,
    };
    Some(Finding::new(decision, rule, Some(&t.dst), message))
}

/// `--prune` deletes remote refs under a pushed pattern that have no local counterpart:
/// refused when such a pattern reaches a protected ref this repository does not hold.
fn prune_finding(targets: &[Target], view: &RepoView, policy: &GuardPolicy) -> Option<Finding> {
    let local = view.local_branches();
    let reaches = targets.iter().any(|t| {
        (t.dst.contains('*') && policy.pattern_reaches_protected(&t.dst)) || t.origin == "--all"
    });
    if !reaches {
        return None;
    }
    let missing: Vec<&String> = policy
        .protected
        .iter()
        .filter(|p| p.contains('*') || p.starts_with("refs/") || !local.contains(p))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(Finding::block(
        Rule::Prune,
        None,
        format!(
            "--prune would delete remote refs this repository lacks, and that can include \
             protected ones ({}); push without --prune",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}
