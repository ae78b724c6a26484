//! What the guard needs to know about the repository a git command runs in: its config
//! (files plus `-c`, `--config-env`, `GIT_CONFIG_COUNT` and `GIT_CONFIG_PARAMETERS`), its
//! current branch, its local branches and tags. Read with git2; nothing is written.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where and how git was asked to run (from its global options and environment).
#[derive(Debug, Clone, Default)]
pub(crate) struct Location {
    /// The directory after every `-C`.
    pub cwd: PathBuf,
    /// `--git-dir` or `$GIT_DIR`.
    pub git_dir: Option<PathBuf>,
    /// `--work-tree` or `$GIT_WORK_TREE`.
    pub work_tree: Option<PathBuf>,
}

/// The repository and config a command sees.
pub(crate) struct RepoView {
    repo: Option<git2::Repository>,
    /// Why no repository could be opened, when one was expected.
    open_error: Option<String>,
    files: Option<git2::Config>,
    /// Command-line and environment config, in the order git applies it (later wins).
    overrides: Vec<(String, Option<String>)>,
}

/// Config keys compare with their section and variable name case-folded and the subsection
/// (between the first and last dot) as written, as git does.
pub(crate) fn normalize_key(key: &str) -> String {
    match (key.find('.'), key.rfind('.')) {
        (Some(a), Some(b)) if a < b => format!(
            "{}{}{}",
            key[..a].to_ascii_lowercase(),
            &key[a..b],
            key[b..].to_ascii_lowercase()
        ),
        _ => key.to_ascii_lowercase(),
    }
}

impl RepoView {
    pub fn open(loc: &Location, env: &dyn Fn(&str) -> Option<String>) -> RepoView {
        let opened = match &loc.git_dir {
            Some(dir) => git2::Repository::open(dir).map(Some),
            None => match git2::Repository::discover(&loc.cwd) {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        };
        let (repo, open_error) = match opened {
            Ok(r) => (r, None),
            Err(e) => (None, Some(e.message().to_string())),
        };
        if let (Some(r), Some(wt)) = (&repo, &loc.work_tree) {
            let _ = r.set_workdir(wt, false);
        }
        let files = config_files(repo.as_ref(), env);
        RepoView {
            repo,
            open_error,
            files,
            overrides: Vec::new(),
        }
    }

    /// Adds config given on the command line (`-c key=value`; a bare `key` is true).
    pub fn add_override(&mut self, key: &str, value: Option<String>) {
        self.overrides.push((normalize_key(key), value));
    }

    /// Config from `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` and
    /// `GIT_CONFIG_PARAMETERS` (what git hands to its children for `-c`).
    pub fn add_env_overrides(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(params) = env("GIT_CONFIG_PARAMETERS") {
            for (k, v) in parse_config_parameters(&params)? {
                self.add_override(&k, v);
            }
        }
        if let Some(count) = env("GIT_CONFIG_COUNT") {
            let n: usize = count.trim().parse().map_err(|_| {
                Error::invalid(format!("GIT_CONFIG_COUNT is not a number: {count:?}"))
            })?;
            for i in 0..n.min(10_000) {
                let key = env(&format!("GIT_CONFIG_KEY_{i}")).ok_or_else(|| {
                    Error::invalid(format!(
                        "GIT_CONFIG_KEY_{i} is missing (GIT_CONFIG_COUNT={n})"
                    ))
                })?;
                let value = env(&format!("GIT_CONFIG_VALUE_{i}")).unwrap_or_default();
                self.add_override(&key, Some(value));
            }
        }
        Ok(())
    }

    pub fn repo(&self) -> Option<&git2::Repository> {
        self.repo.as_ref()
    }

    pub fn open_error(&self) -> Option<&str> {
        self.open_error.as_deref()
    }

    pub fn work_tree(&self) -> Option<PathBuf> {
        let r = self.repo.as_ref()?;
        Some(
            r.workdir()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| r.path().to_path_buf()),
        )
    }

    /// Every value of a (multi-valued) key: the files' then the overrides'.
    pub fn get_all(&self, key: &str) -> Vec<String> {
        let key = normalize_key(key);
        let mut out = Vec::new();
        if let Some(cfg) = &self.files {
            if let Ok(mut entries) = cfg.multivar(&key, None) {
                while let Some(Ok(e)) = entries.next() {
                    out.push(e.value().unwrap_or("").to_string());
                }
            }
        }
        for (k, v) in &self.overrides {
            if *k == key {
                out.push(v.clone().unwrap_or_else(|| "true".into()));
            }
        }
        out
    }

    /// The value git uses for a single-valued key: the last one.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_all(key).pop()
    }

    /// A boolean key by git's rules (`true/yes/on/1`, and a key without a value).
    pub fn get_bool(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "on" | "1"
            )
        })
    }

    /// The branch HEAD points at (also when it has no commit yet); None when detached.
    pub fn current_branch(&self) -> Option<String> {
        let r = self.repo.as_ref()?;
        let head = r.find_reference("HEAD").ok()?;
        head.symbolic_target()
            .ok()
            .flatten()
            .and_then(|t| t.strip_prefix("refs/heads/"))
            .map(str::to_string)
    }

    /// Local branch names.
    pub fn local_branches(&self) -> Vec<String> {
        self.ref_names("refs/heads/")
    }

    /// Full names of the refs under `prefix` (`refs/tags/`).
    pub fn ref_names(&self, prefix: &str) -> Vec<String> {
        let Some(r) = &self.repo else {
            return Vec::new();
        };
        let Ok(refs) = r.references_glob(&format!("{prefix}*")) else {
            return Vec::new();
        };
        refs.flatten()
            .filter_map(|rf| {
                rf.name()
                    .ok()
                    .map(|n| n.strip_prefix(prefix).unwrap_or(n).to_string())
            })
            .collect()
    }
}

/// The config files git would read, in its order (system, global, local, worktree), with
/// `GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_SYSTEM` and `GIT_CONFIG_GLOBAL` honoured: a command
/// run with another global file sees that file's aliases, so the guard must too.
fn config_files(
    repo: Option<&git2::Repository>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<git2::Config> {
    use git2::ConfigLevel;
    let mut cfg = git2::Config::new().ok()?;
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    let nosystem = set("GIT_CONFIG_NOSYSTEM").is_some_and(|v| v != "0" && v != "false");
    if !nosystem {
        let system = match set("GIT_CONFIG_SYSTEM") {
            Some(p) => Some(PathBuf::from(p)),
            None => git2::Config::find_system().ok(),
        };
        if let Some(p) = system.filter(|p| p.is_file()) {
            let _ = cfg.add_file(&p, ConfigLevel::System, false);
        }
    }
    match set("GIT_CONFIG_GLOBAL") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_file() {
                let _ = cfg.add_file(&p, ConfigLevel::Global, false);
            }
        }
        None => {
            for p in [git2::Config::find_xdg(), git2::Config::find_global()]
                .into_iter()
                .flatten()
                .filter(|p| p.is_file())
            {
                let level = if p.ends_with("config") && !p.ends_with(".gitconfig") {
                    ConfigLevel::XDG
                } else {
                    ConfigLevel::Global
                };
                let _ = cfg.add_file(&p, level, false);
            }
        }
    }
    if let Some(r) = repo {
        let local = r.commondir().join("config");
        if local.is_file() {
            let _ = cfg.add_file(&local, ConfigLevel::Local, false);
        }
        let worktree = r.path().join("config.worktree");
        if worktree.is_file() {
            let _ = cfg.add_file(&worktree, ConfigLevel::Worktree, false);
        }
    }
    Some(cfg)
}

/// `GIT_CONFIG_PARAMETERS`: `'key'='value'` or `'key'` items separated by spaces, each
/// single-quoted with `'\''` for a quote, as git's sq_quote writes them.
fn parse_config_parameters(s: &str) -> Result<Vec<(String, Option<String>)>> {
    let bad = || Error::invalid("GIT_CONFIG_PARAMETERS is malformed (git would refuse it too)");
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    let quoted = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Result<String> {
        let mut v = String::new();
        loop {
            if chars.next() != Some('\'') {
                return Err(bad());
            }
            for c in chars.by_ref() {
                if c == '\'' {
                    break;
                }
                v.push(c);
            }
            // `'\''` continues the same word with a literal quote
            if chars.peek() == Some(&'\\') {
                chars.next();
                match chars.next() {
                    Some(c) => v.push(c),
                    None => return Err(bad()),
                }
                continue;
            }
            return Ok(v);
        }
    };
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let first = quoted(&mut chars)?;
        if chars.peek() == Some(&'=') {
            chars.next();
            let value = quoted(&mut chars)?;
            out.push((first, Some(value)));
        } else if let Some((k, v)) = first.split_once('=') {
            // the old form: 'key=value' in one word
            out.push((k.to_string(), Some(v.to_string())));
        } else {
            out.push((first, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parameters_in_both_forms() {
        let p =
            parse_config_parameters(r"'alias.p'='push -f' 'remote.origin.mirror' 'a.b=c'").unwrap();
        assert_eq!(
            p,
            vec![
                ("alias.p".into(), Some("push -f".into())),
                ("remote.origin.mirror".into(), None),
                ("a.b".into(), Some("c".into())),
            ]
        );
        let p = parse_config_parameters(r"'alias.x'='!git push '\''--force'\'''").unwrap();
        assert_eq!(p[0].1.as_deref(), Some("!git push '--force'"));
        assert!(parse_config_parameters("alias.p=x").is_err());
    }

    #[test]
    fn keys_fold_section_and_name_not_subsection() {
        assert_eq!(normalize_key("Remote.Origin.PUSH"), "remote.Origin.push");
        assert_eq!(normalize_key("ALIAS.P"), "alias.p");
        assert_eq!(normalize_key("Core"), "core");
    }
}
