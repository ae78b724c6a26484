//! The git push guard (docs/git-guard.md): decides whether a git command may run in a
//! sandbox, from its arguments (`git-guard check`, the `git` wrapper) or from the ref
//! updates git hands a pre-push hook. Protected branches and the policy come from the
//! `[git_guard]` table of the sandbox config.
//!
//! It reads commands as git does (global options, aliases, parse-options abbreviations and
//! clusters, refspecs, push config) so that no spelling of a forced or destructive push
//! slips through; what it cannot read with certainty it refuses.

mod cmdline;
mod hook;
mod install;
mod local;
mod opts;
mod policy;
mod push;
mod repo;
mod verdict;

pub use install::{install_hook, install_wrapper, Installed};
pub use policy::{config_path, Decision, GuardPolicy, CONFIG_FILE, ENV_CONFIG};
pub use verdict::{Finding, GuardVerdict, Rule};

use crate::error::Result;
use std::path::Path;

/// Decides whether `git ARGS` (what follows `git`) may run in `dir`. `config` names the
/// sandbox config (else `$IDPKIT_SANDBOX_CONFIG`, else `idpkit-sandbox.toml` at the
/// repository's root, else the defaults); `env` is the environment git would see.
pub fn check(
    args: &[String],
    dir: &Path,
    config: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<GuardVerdict> {
    let cmd = cmdline::parse(args, dir, env)?;
    let (policy, policy_file) =
        policy::GuardPolicy::locate(config, env, cmd.view.work_tree().as_deref())?;
    let mut findings = cmd.findings;
    if let Some(name) = &cmd.name {
        let touches_refs = matches!(
            name.as_str(),
            "push" | "send-pack" | "reset" | "branch" | "update-ref" | "switch" | "checkout"
        );
        if touches_refs {
            if let Some(err) = cmd.view.open_error() {
                findings.push(Finding::block(
                    Rule::Unreadable,
                    None,
                    format!(
                        "cannot read the repository git would use ({err}); the guard refuses \
                         what it cannot check"
                    ),
                ));
            }
        }
        let view = &cmd.view;
        findings.extend(match name.as_str() {
            "push" => push::check_push(&cmd.args, view, &policy),
            "send-pack" => push::check_send_pack(&cmd.args, view, &policy),
            "reset" => local::check_reset(&cmd.args, view, &policy),
            "branch" => local::check_branch(&cmd.args, view, &policy),
            "switch" => local::check_switch(&cmd.args, &policy, false),
            "checkout" => local::check_switch(&cmd.args, &policy, true),
            "update-ref" => local::check_update_ref(&cmd.args, &policy),
            _ => Vec::new(),
        });
    }
    Ok(GuardVerdict::from_findings(
        cmd.name,
        cmd.aliases,
        findings,
        policy_file,
    ))
}

/// Decides a push from the ref updates git gives its pre-push hook (`updates`: the hook's
/// stdin). `dir` is where git runs the hook (the repository); `GIT_DIR` in `env` wins.
pub fn check_hook(
    updates: &str,
    dir: &Path,
    config: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<GuardVerdict> {
    let cmd = cmdline::parse(&[], dir, env)?;
    let (policy, policy_file) =
        policy::GuardPolicy::locate(config, env, cmd.view.work_tree().as_deref())?;
    let findings = hook::check_updates(updates, cmd.view.repo(), &policy)?;
    Ok(GuardVerdict::from_findings(
        Some("push".into()),
        Vec::new(),
        findings,
        policy_file,
    ))
}
