//! Git push guard operations: git_guard_check and git_guard_hook (docs/git-guard.md).

use super::{Operation, Uses};
use crate::call::Call;
use crate::error::{Error, Result};
use crate::gitguard::{self, GuardVerdict};
use crate::oci::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GitGuardCheckOptions {
    /// git's arguments, after `git` (`["push", "-f", "origin", "main"]`).
    pub args: Vec<String>,
    /// The directory git would run in. Default: the current directory.
    #[schemars(extend("x-path" = true))]
    pub dir: Option<PathBuf>,
    /// The sandbox config whose `[git_guard]` table is the policy. Default:
    /// `$IDPKIT_SANDBOX_CONFIG`, else `idpkit-sandbox.toml` at the repository's root, else
    /// the defaults (main, master and production protected).
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GitGuardHookOptions {
    /// The ref updates git gives a pre-push hook on stdin, one per line:
    /// `<local ref> <local oid> <remote ref> <remote oid>`.
    pub updates: String,
    /// The repository. Default: the current directory (`$GIT_DIR` wins, as in a hook).
    #[schemars(extend("x-path" = true))]
    pub dir: Option<PathBuf>,
    /// The sandbox config, as for git_guard_check.
    #[schemars(extend("x-path" = true))]
    pub config: Option<PathBuf>,
}

fn dir_or_cwd(dir: &Option<PathBuf>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d.clone()),
        None => std::env::current_dir()
            .map_err(|e| Error::io("read the current directory", std::path::Path::new("."), e)),
    }
}

fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

pub struct GitGuardCheck;
impl Operation for GitGuardCheck {
    const NAME: &'static str = "git_guard_check";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Decides whether a git command may run (allow, warn or \
        block) under the push guard's policy: forced pushes, deletes and mirrors of protected \
        branches in every spelling, aliases and config included.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["args"];
    type Options = GitGuardCheckOptions;
    type Output = GuardVerdict;
    fn run(_: Option<&Store>, o: &GitGuardCheckOptions, _: &Call) -> Result<GuardVerdict> {
        gitguard::check(
            &o.args,
            &dir_or_cwd(&o.dir)?,
            o.config.as_deref(),
            &process_env,
        )
    }
}

pub struct GitGuardHook;
impl Operation for GitGuardHook {
    const NAME: &'static str = "git_guard_hook";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Decides a push from the ref updates git gives a pre-push \
        hook: deleting or rewriting (non-fast-forward) a protected ref is blocked.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["updates"];
    type Options = GitGuardHookOptions;
    type Output = GuardVerdict;
    fn run(_: Option<&Store>, o: &GitGuardHookOptions, _: &Call) -> Result<GuardVerdict> {
        gitguard::check_hook(
            &o.updates,
            &dir_or_cwd(&o.dir)?,
            o.config.as_deref(),
            &process_env,
        )
    }
}
