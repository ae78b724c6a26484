//! What the guard protects and how hard: the `[git_guard]` table of the sandbox config
//! (`idpkit-sandbox.toml`), with the defaults of the claude-sandbox decisions.

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The sandbox config's file name, looked up at the root of the repository's work tree.
pub const CONFIG_FILE: &str = "idpkit-sandbox.toml";
/// Environment variable naming the sandbox config file (wins over the repository's own).
pub const ENV_CONFIG: &str = "IDPKIT_SANDBOX_CONFIG";

/// What the guard answers, as the exit code `git-guard check` ends with.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Let it run (exit 0).
    #[default]
    Allow,
    /// Let it run, saying why it is risky (exit 2).
    Warn,
    /// Refuse it (exit 1).
    Block,
}

impl Decision {
    /// The exit code of `idpkit git-guard check`: 0 allow, 1 block, 2 warn.
    pub fn exit_code(self) -> i32 {
        match self {
            Decision::Allow => 0,
            Decision::Block => 1,
            Decision::Warn => 2,
        }
    }
}

/// The guard's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GuardPolicy {
    /// Protected branches: names (`main`), globs (`release/*`; `*` matches across `/`), or
    /// full ref patterns (`refs/tags/v*`) to protect other refs than branches.
    pub protected: Vec<String>,
    /// A push that updates a protected branch without forcing it (fast-forward).
    pub direct_push: Decision,
    /// A forced push (`--force`, `+refspec`, `--force-with-lease`) of a branch that is not
    /// protected.
    pub force_unprotected: Decision,
    /// Local rewrites of a protected branch: `reset --hard` on it, `branch -D`/`-M`/`-f`,
    /// `checkout -B`, `switch -C`, `update-ref` setting it.
    pub local_rewrite: Decision,
}

impl Default for GuardPolicy {
    fn default() -> Self {
        GuardPolicy {
            protected: vec!["main".into(), "master".into(), "production".into()],
            direct_push: Decision::Warn,
            force_unprotected: Decision::Allow,
            local_rewrite: Decision::Warn,
        }
    }
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    git_guard: Option<GuardPolicy>,
}

impl GuardPolicy {
    /// Whether the full ref name (`refs/heads/main`) is protected.
    pub fn protects(&self, full_ref: &str) -> bool {
        self.protected.iter().any(|p| {
            if p.starts_with("refs/") {
                glob_match(p, full_ref)
            } else {
                full_ref
                    .strip_prefix("refs/heads/")
                    .is_some_and(|b| glob_match(p, b))
            }
        })
    }

    /// Whether a destination pattern with `*` (a wildcard refspec's right side) can name a
    /// protected ref: protected names are tried against it as if they were pushed.
    pub fn pattern_reaches_protected(&self, dst_pattern: &str) -> bool {
        self.protected.iter().any(|p| {
            let full = if p.starts_with("refs/") {
                p.clone()
            } else {
                format!("refs/heads/{p}")
            };
            // A protected glob reaches a wildcard destination when some name fits both;
            // with `*` on both sides that is nearly always, so treat it as reached.
            full.contains('*') || glob_match(dst_pattern, &full)
        })
    }

    /// The policy in the `[git_guard]` table of a sandbox config file.
    pub fn from_file(path: &Path) -> Result<GuardPolicy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("read the sandbox config", path, e))?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            Error::invalid(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        Ok(file.git_guard.unwrap_or_default())
    }

    /// The policy in force: `explicit`, else `$IDPKIT_SANDBOX_CONFIG`, else
    /// `idpkit-sandbox.toml` at the root of `work_tree`, else the defaults. Returns the file
    /// it came from.
    pub fn locate(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        work_tree: Option<&Path>,
    ) -> Result<(GuardPolicy, Option<PathBuf>)> {
        match config_path(explicit, env, work_tree) {
            Some(p) => Ok((GuardPolicy::from_file(&p)?, Some(p))),
            None => Ok((GuardPolicy::default(), None)),
        }
    }
}

/// The sandbox config file in force: `explicit`, else `$IDPKIT_SANDBOX_CONFIG`, else
/// `idpkit-sandbox.toml` in `dir` when there is one; `None`: the defaults apply. The push
/// guard and the sandbox plan find the file the same way.
pub fn config_path(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    dir: Option<&Path>,
) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| env(ENV_CONFIG).filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| dir.map(|d| d.join(CONFIG_FILE)).filter(|p| p.is_file()))
}

/// `*` matches any run of characters, `/` included; everything else matches itself.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_globs_and_full_refs() {
        let p = GuardPolicy {
            protected: vec!["main".into(), "release/*".into(), "refs/tags/v*".into()],
            ..GuardPolicy::default()
        };
        assert!(p.protects("refs/heads/main"));
        assert!(!p.protects("refs/heads/main2"));
        assert!(!p.protects("refs/tags/main"));
        assert!(p.protects("refs/heads/release/1.2"));
        assert!(p.protects("refs/tags/v1.0"));
        assert!(!p.protects("refs/heads/v1.0"));
        assert!(p.pattern_reaches_protected("refs/heads/*"));
        assert!(p.pattern_reaches_protected("refs/heads/ma*"));
        let plain = GuardPolicy::default();
        assert!(!plain.pattern_reaches_protected("refs/heads/feature/*"));
        assert!(plain.pattern_reaches_protected("refs/heads/ma*"));
    }

    #[test]
    fn glob() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*", "x/y"));
        assert!(!glob_match("a*c", "abbb"));
        assert!(glob_match("**", ""));
    }

    #[test]
    fn a_config_file_sets_the_policy_and_names_itself_in_errors() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(CONFIG_FILE);
        std::fs::write(
            &f,
            "[git_guard]\nprotected = [\"trunk\"]\ndirect_push = \"block\"\n",
        )
        .unwrap();
        let (p, from) = GuardPolicy::locate(None, &|_| None, Some(d.path())).unwrap();
        assert_eq!(p.protected, vec!["trunk"]);
        assert_eq!(p.direct_push, Decision::Block);
        assert_eq!(p.local_rewrite, Decision::Warn);
        assert_eq!(from.as_deref(), Some(f.as_path()));
        std::fs::write(&f, "[git_guard]\nprotect = [\"trunk\"]\n").unwrap();
        let e = GuardPolicy::locate(None, &|_| None, Some(d.path())).unwrap_err();
        assert!(
            e.message.contains(CONFIG_FILE) && e.message.contains("protect"),
            "{}",
            e.message
        );
    }
}
