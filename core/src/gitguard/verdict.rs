//! The guard's answer: one decision, and each finding that led to it.

use super::policy::Decision;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which rule a finding comes from (stable names, for scripts and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `--force`, `-f` (also in `-uf`), a `+` refspec, or force in `remote.*.push`.
    ForcePush,
    /// `--force-with-lease` or `--force-if-includes`, in any form.
    ForceWithLease,
    /// `--mirror`, or `remote.*.mirror` set.
    Mirror,
    /// A push that deletes a ref: `--delete`, `-d`, `:ref`.
    Delete,
    /// `--prune` where it could delete a protected ref.
    Prune,
    /// A push that updates a protected ref without forcing.
    DirectPush,
    /// A ref update the hook saw that is not a fast-forward.
    NonFastForward,
    /// `reset --hard` on a protected branch.
    ResetHard,
    /// `branch -D`/`-M`/`-f`, `checkout -B`, `switch -C` on a protected branch.
    BranchRewrite,
    /// `update-ref` of a protected ref (`-d` blocks, setting it is a local rewrite).
    UpdateRef,
    /// `send-pack` of a protected ref.
    SendPack,
    /// A shell (`!`) alias that mentions a push.
    OpaqueAlias,
    /// An alias that expands in a loop.
    AliasLoop,
    /// An option the guard cannot parse safely (unknown before the subcommand, ambiguous
    /// abbreviation).
    UnknownOption,
    /// The repository could not be read where the decision needs it.
    Unreadable,
}

/// One reason for the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub decision: Decision,
    pub rule: Rule,
    /// The ref it is about (`refs/heads/main`), when it is about one.
    pub reference: Option<String>,
    /// What was found and what to do instead.
    pub message: String,
}

impl Finding {
    pub(crate) fn new(
        decision: Decision,
        rule: Rule,
        reference: Option<&str>,
        message: String,
    ) -> Finding {
        Finding {
            decision,
            rule,
            reference: reference.map(str::to_string),
            message,
        }
    }

    pub(crate) fn block(rule: Rule, reference: Option<&str>, message: String) -> Finding {
        Finding::new(Decision::Block, rule, reference, message)
    }
}

/// What `git-guard check` and the hook decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuardVerdict {
    /// The strongest finding's decision (`allow` when there is none).
    pub decision: Decision,
    /// The exit code `idpkit git-guard check` ends with: 0 allow, 1 block, 2 warn.
    pub exit_code: i32,
    /// The git subcommand after aliases (`push`), when there is one.
    pub command: Option<String>,
    /// Aliases expanded to reach it, in order.
    pub aliases: Vec<String>,
    /// Findings of warn or block level, in the order found.
    pub findings: Vec<Finding>,
    /// The sandbox config the policy came from (none: the defaults).
    #[schemars(extend("x-path" = true))]
    pub policy_file: Option<std::path::PathBuf>,
}

impl GuardVerdict {
    pub(crate) fn from_findings(
        command: Option<String>,
        aliases: Vec<String>,
        findings: Vec<Finding>,
        policy_file: Option<std::path::PathBuf>,
    ) -> GuardVerdict {
        let findings: Vec<Finding> = findings
            .into_iter()
            .filter(|f| f.decision != Decision::Allow)
            .collect();
        let decision = findings
            .iter()
            .map(|f| f.decision)
            .max()
            .unwrap_or(Decision::Allow);
        GuardVerdict {
            decision,
            exit_code: decision.exit_code(),
            command,
            aliases,
            findings,
            policy_file,
        }
    }

    /// The verdict for a check that could not be made (the error's text): a block, since a
    /// guard that fails open is no guard.
    pub fn refused(message: String) -> GuardVerdict {
        let finding = Finding::block(Rule::Unreadable, None, message);
        GuardVerdict::from_findings(None, Vec::new(), vec![finding], None)
    }

    /// The findings as lines for a terminal: `block: … (rule force-push)`.
    pub fn describe(&self) -> String {
        self.findings
            .iter()
            .map(|f| {
                let level = match f.decision {
                    Decision::Block => "blocked",
                    Decision::Warn => "warning",
                    Decision::Allow => "ok",
                };
                let rule = serde_json::to_value(f.rule)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                format!("idpkit git-guard: {level}: {} [{rule}]\n", f.message)
            })
            .collect()
    }
}
