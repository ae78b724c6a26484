//! Commands that rewrite or delete a protected branch in the local repository: `reset
//! --hard` on it, `branch -D`/`-M`/`-f`, `checkout -B`, `switch -C`, and `update-ref`
//! (`-d` of a protected ref blocks: it is how scripts delete refs behind git's back).

use super::opts::{self, flag, last_set, with_value, Given, Opt, Val};
use super::policy::GuardPolicy;
use super::repo::RepoView;
use super::verdict::{Finding, Rule};

const RESET_OPTS: &[Opt] = &[
    flag("quiet", Some('q')),
    flag("no-refresh", None),
    flag("mixed", None),
    flag("soft", None),
    flag("hard", None),
    flag("merge", None),
    flag("keep", None),
    with_value("recurse-submodules", None, Val::Optional),
    flag("patch", Some('p')),
    flag("intent-to-add", Some('N')),
    with_value("pathspec-from-file", None, Val::Required),
    flag("pathspec-file-nul", None),
];

const BRANCH_OPTS: &[Opt] = &[
    flag("verbose", Some('v')),
    flag("quiet", Some('q')),
    with_value("track", Some('t'), Val::Optional),
    with_value("set-upstream-to", Some('u'), Val::Required),
    flag("unset-upstream", None),
    with_value("color", None, Val::Optional),
    flag("remotes", Some('r')),
    with_value("contains", None, Val::Optional),
    with_value("no-contains", None, Val::Optional),
    with_value("abbrev", None, Val::Optional),
    flag("all", Some('a')),
    flag("delete", Some('d')),
    flag("D", Some('D')),
    flag("move", Some('m')),
    flag("M", Some('M')),
    flag("copy", Some('c')),
    flag("C", Some('C')),
    flag("list", Some('l')),
    flag("show-current", None),
    flag("create-reflog", None),
    flag("edit-description", None),
    flag("force", Some('f')),
    with_value("merged", None, Val::Optional),
    with_value("no-merged", None, Val::Optional),
    with_value("column", None, Val::Optional),
    with_value("sort", None, Val::Required),
    with_value("points-at", None, Val::Required),
    flag("ignore-case", Some('i')),
    flag("omit-empty", None),
    with_value("format", None, Val::Required),
    flag("recurse-submodules", None),
];

const SWITCH_OPTS: &[Opt] = &[
    with_value("create", Some('c'), Val::Required),
    with_value("force-create", Some('C'), Val::Required),
    with_value("orphan", None, Val::Required),
    flag("guess", None),
    flag("discard-changes", None),
    flag("force", Some('f')),
    flag("detach", Some('d')),
    flag("merge", Some('m')),
    with_value("conflict", None, Val::Required),
    flag("quiet", Some('q')),
    flag("progress", None),
    with_value("track", Some('t'), Val::Optional),
    flag("ignore-other-worktrees", None),
    with_value("recurse-submodules", None, Val::Optional),
    flag("overwrite-ignore", None),
];

const CHECKOUT_OPTS: &[Opt] = &[
    with_value("b", Some('b'), Val::Required),
    with_value("B", Some('B'), Val::Required),
    with_value("orphan", None, Val::Required),
    flag("guess", None),
    flag("force", Some('f')),
    flag("detach", None),
    flag("merge", Some('m')),
    with_value("conflict", None, Val::Required),
    flag("quiet", Some('q')),
    flag("progress", None),
    with_value("track", Some('t'), Val::Optional),
    flag("ignore-other-worktrees", None),
    with_value("recurse-submodules", None, Val::Optional),
    flag("overwrite-ignore", None),
    flag("ours", Some('2')),
    flag("theirs", Some('3')),
    flag("patch", Some('p')),
    flag("ignore-skip-worktree-bits", None),
    flag("overlay", None),
    with_value("pathspec-from-file", None, Val::Required),
    flag("pathspec-file-nul", None),
    flag("l", Some('l')),
];

const UPDATE_REF_OPTS: &[Opt] = &[
    with_value("m", Some('m'), Val::Required),
    flag("d", Some('d')),
    flag("deref", None),
    flag("stdin", None),
    flag("z", Some('z')),
    flag("create-reflog", None),
    flag("batch-updates", None),
];

fn branch_ref(name: &str) -> String {
    let name = name.strip_prefix("refs/heads/").unwrap_or(name);
    format!("refs/heads/{name}")
}

fn rewrite(policy: &GuardPolicy, rule: Rule, full: &str, message: String) -> Finding {
    Finding::new(policy.local_rewrite, rule, Some(full), message)
}

/// `git reset --hard` while a protected branch is checked out.
pub(crate) fn check_reset(args: &[String], view: &RepoView, policy: &GuardPolicy) -> Vec<Finding> {
    let given = match opts::parse(args, RESET_OPTS) {
        Ok((g, _)) => g,
        Err(e) => return vec![opts::unparsable("reset", e)],
    };
    // the last mode flag wins, as in git
    let mode = given
        .iter()
        .rev()
        .find(|g| ["mixed", "soft", "hard", "merge", "keep"].contains(&g.long));
    if mode.map(|g| g.long) != Some("hard") {
        return Vec::new();
    }
    match view.current_branch() {
        Some(b) if policy.protects(&branch_ref(&b)) => vec![rewrite(
            policy,
            Rule::ResetHard,
            &branch_ref(&b),
            format!("reset --hard moves the protected branch {b} and discards local changes"),
        )],
        _ => Vec::new(),
    }
}

/// `git branch` deleting, renaming, copying over or force-moving a protected branch.
pub(crate) fn check_branch(args: &[String], view: &RepoView, policy: &GuardPolicy) -> Vec<Finding> {
    let (given, names) = match opts::parse(args, BRANCH_OPTS) {
        Ok(p) => p,
        Err(e) => return vec![opts::unparsable("branch", e)],
    };
    let set = |l: &str| given.iter().any(|g: &Given| g.long == l && !g.negated);
    let force = set("force") || set("D") || set("M") || set("C");
    let delete = set("delete") || set("D");
    let rename = set("move") || set("M");
    let copy = set("copy") || set("C");
    let remote = set("remotes");
    if remote && delete {
        // `branch -dr origin/main` deletes a remote-tracking ref: local only, harmless
        return Vec::new();
    }
    let mut affected: Vec<String> = Vec::new();
    let verb;
    if delete {
        verb = "deleting";
        affected = names.clone();
    } else if rename || copy {
        verb = if rename { "renaming" } else { "copying onto" };
        match names.as_slice() {
            [new] => {
                if rename {
                    affected.extend(view.current_branch());
                }
                affected.push(new.clone());
            }
            [old, new, ..] => {
                if rename {
                    affected.push(old.clone());
                }
                affected.push(new.clone());
            }
            [] => {}
        }
    } else if force {
        // `branch -f NAME [START]` resets NAME
        verb = "force-moving";
        affected.extend(names.first().cloned());
    } else {
        return Vec::new();
    }
    affected
        .into_iter()
        .map(|n| branch_ref(&n))
        .filter(|r| policy.protects(r))
        .map(|r| {
            rewrite(
                policy,
                Rule::BranchRewrite,
                &r,
                format!(
                    "{verb} the protected branch {}",
                    r.trim_start_matches("refs/heads/")
                ),
            )
        })
        .collect()
}

/// `git switch -C NAME` / `git checkout -B NAME`: reset a branch to another start point.
pub(crate) fn check_switch(args: &[String], policy: &GuardPolicy, checkout: bool) -> Vec<Finding> {
    let (cmd, spec, forced) = if checkout {
        ("checkout", CHECKOUT_OPTS, "B")
    } else {
        ("switch", SWITCH_OPTS, "force-create")
    };
    let given = match opts::parse(args, spec) {
        Ok((g, _)) => g,
        Err(e) => return vec![opts::unparsable(cmd, e)],
    };
    given
        .iter()
        .filter(|g| g.long == forced && !g.negated)
        .filter_map(|g| g.value.as_deref())
        .map(branch_ref)
        .filter(|r| policy.protects(r))
        .map(|r| {
            rewrite(
                policy,
                Rule::BranchRewrite,
                &r,
                format!(
                    "{cmd} {} resets the protected branch {}",
                    if checkout { "-B" } else { "-C" },
                    r.trim_start_matches("refs/heads/")
                ),
            )
        })
        .collect()
}

/// `git update-ref`: `-d` of a protected ref blocks, setting one is a local rewrite, and
/// `--stdin` (whose commands the guard cannot see) blocks.
pub(crate) fn check_update_ref(args: &[String], policy: &GuardPolicy) -> Vec<Finding> {
    let (given, refs) = match opts::parse(args, UPDATE_REF_OPTS) {
        Ok(p) => p,
        Err(e) => return vec![opts::unparsable("update-ref", e)],
    };
    if last_set(&given, "stdin") {
        return vec![Finding::block(
            Rule::UpdateRef,
            None,
            "update-ref --stdin can delete or move any ref, protected ones included, out of the \
             guard's sight; run update-ref with the ref on the command line"
                .into(),
        )];
    }
    let Some(name) = refs.first() else {
        return Vec::new();
    };
    // update-ref takes full names; a short one is checked as the branch it could mean
    let candidates = if name.starts_with("refs/") {
        vec![name.clone()]
    } else {
        vec![format!("refs/{name}"), format!("refs/heads/{name}")]
    };
    let Some(full) = candidates.into_iter().find(|r| policy.protects(r)) else {
        return Vec::new();
    };
    if last_set(&given, "d") {
        vec![Finding::block(
            Rule::UpdateRef,
            Some(&full),
            format!("update-ref -d deletes the protected ref {full}; refused"),
        )]
    } else {
        vec![Finding::new(
            policy.local_rewrite,
            Rule::UpdateRef,
            Some(&full),
            format!("update-ref moves the protected ref {full}"),
        )]
    }
}
