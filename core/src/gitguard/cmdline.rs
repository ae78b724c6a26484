//! git's own command line before the subcommand: global options (`-C`, `-c`, `--git-dir`,
//! `--work-tree`, `--config-env`, ...) and alias expansion, as git.c handles them.

use super::repo::{Location, RepoView};
use super::verdict::{Finding, Rule};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The most aliases git expands before it reports a loop; deeper chains are refused too.
const MAX_ALIAS_DEPTH: usize = 16;

/// A command after global options and aliases.
pub(crate) struct Command {
    /// The subcommand (`push`), None for `git` alone or `git --version`.
    pub name: Option<String>,
    pub args: Vec<String>,
    pub view: RepoView,
    /// Findings of the expansion itself (an opaque shell alias, an alias loop).
    pub findings: Vec<Finding>,
    /// The aliases expanded, in order, for the report.
    pub aliases: Vec<String>,
}

/// Global options that take a value, in their spelling without `=`.
const GLOBAL_WITH_VALUE: &[&str] = &[
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--super-prefix",
    "--attr-source",
    "--config-env",
    "--exec-path",
    "--list-cmds",
    "--shallow-file",
];

/// Global options without a value.
const GLOBAL_FLAGS: &[&str] = &[
    "-p",
    "--paginate",
    "-P",
    "--no-pager",
    "--no-replace-objects",
    "--bare",
    "--literal-pathspecs",
    "--glob-pathspecs",
    "--noglob-pathspecs",
    "--icase-pathspecs",
    "--no-optional-locks",
    "--html-path",
    "--man-path",
    "--info-path",
    "--version",
    "-v",
    "--help",
    "-h",
    "--no-advice",
    "--no-lazy-fetch",
];

/// git's built-in commands: an alias of one of these names is ignored by git (git.c:
/// "aliases that hide existing Git commands are ignored"), so it must be by the guard too.
const BUILTINS: &[&str] = &[
    "add",
    "am",
    "annotate",
    "apply",
    "archive",
    "bisect",
    "blame",
    "branch",
    "bundle",
    "cat-file",
    "check-attr",
    "check-ignore",
    "check-mailmap",
    "check-ref-format",
    "checkout",
    "checkout-index",
    "cherry",
    "cherry-pick",
    "clean",
    "clone",
    "column",
    "commit",
    "commit-graph",
    "commit-tree",
    "config",
    "count-objects",
    "credential",
    "describe",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "difftool",
    "fast-export",
    "fast-import",
    "fetch",
    "fetch-pack",
    "for-each-ref",
    "format-patch",
    "fsck",
    "gc",
    "grep",
    "hash-object",
    "help",
    "index-pack",
    "init",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "maintenance",
    "merge",
    "merge-base",
    "mktag",
    "mktree",
    "mv",
    "notes",
    "pack-objects",
    "prune",
    "pull",
    "push",
    "range-diff",
    "read-tree",
    "rebase",
    "receive-pack",
    "reflog",
    "remote",
    "repack",
    "replace",
    "rerere",
    "reset",
    "restore",
    "rev-list",
    "rev-parse",
    "revert",
    "rm",
    "send-pack",
    "shortlog",
    "show",
    "show-ref",
    "sparse-checkout",
    "stash",
    "status",
    "stripspace",
    "submodule",
    "switch",
    "symbolic-ref",
    "tag",
    "update-index",
    "update-ref",
    "upload-pack",
    "var",
    "verify-commit",
    "verify-pack",
    "verify-tag",
    "version",
    "whatchanged",
    "worktree",
    "write-tree",
];

/// Parses `argv` (what follows `git`) as git does, opening the repository it would use.
pub(crate) fn parse(
    argv: &[String],
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command> {
    let mut loc = Location {
        cwd: cwd.to_path_buf(),
        git_dir: env("GIT_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
        work_tree: env("GIT_WORK_TREE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    };
    let mut overrides: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a, None),
        };
        let value = |i: &mut usize| -> Result<String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            *i += 1;
            argv.get(*i).cloned().ok_or_else(|| {
                Error::invalid(format!(
                    "git option {name} needs a value (git would refuse it too)"
                ))
            })
        };
        match name {
            "-C" => {
                let d = value(&mut i)?;
                if !d.is_empty() {
                    loc.cwd = loc.cwd.join(d);
                }
            }
            "-c" => {
                let kv = value(&mut i)?;
                match kv.split_once('=') {
                    Some((k, v)) => overrides.push((k.to_string(), Some(v.to_string()))),
                    None => overrides.push((kv, None)),
                }
            }
            "--config-env" => {
                let kv = value(&mut i)?;
                let (k, var) = kv.split_once('=').ok_or_else(|| {
                    Error::invalid(format!("--config-env={kv}: expected NAME=ENVVAR"))
                })?;
                overrides.push((k.to_string(), Some(env(var).unwrap_or_default())));
            }
            "--git-dir" => loc.git_dir = Some(PathBuf::from(value(&mut i)?)),
            "--work-tree" => loc.work_tree = Some(PathBuf::from(value(&mut i)?)),
            // `--exec-path` alone prints the path; with a value it takes one
            "--exec-path" if inline.is_none() => {}
            n if GLOBAL_WITH_VALUE.contains(&n) => {
                value(&mut i)?;
            }
            n if GLOBAL_FLAGS.contains(&n) => {}
            // An option this guard does not know may take a value it would then read as
            // the subcommand; git itself refuses unknown options, so refusing costs nothing.
            n => {
                let finding = Finding::block(
                    Rule::UnknownOption,
                    None,
                    format!("unknown git option {n:?} before the subcommand; the guard cannot tell what it runs"),
                );
                return Ok(Command {
                    name: None,
                    args: Vec::new(),
                    view: RepoView::open(&loc, env),
                    findings: vec![finding],
                    aliases: Vec::new(),
                });
            }
        }
        i += 1;
    }
    if let Some(d) = &loc.git_dir {
        loc.git_dir = Some(loc.cwd.join(d));
    }
    if let Some(d) = &loc.work_tree {
        loc.work_tree = Some(loc.cwd.join(d));
    }
    let mut view = RepoView::open(&loc, env);
    view.add_env_overrides(env)?;
    for (k, v) in overrides {
        view.add_override(&k, v);
    }
    let mut rest: Vec<String> = argv[i..].to_vec();
    let mut findings = Vec::new();
    let mut aliases = Vec::new();
    let mut name = if rest.is_empty() {
        None
    } else {
        Some(rest.remove(0))
    };
    while let Some(cmd) = name.clone() {
        if BUILTINS.contains(&cmd.as_str()) {
            break;
        }
        let Some(alias) = view.get(&format!("alias.{cmd}")) else {
            break;
        };
        if aliases.contains(&cmd) || aliases.len() >= MAX_ALIAS_DEPTH {
            findings.push(Finding::block(
                Rule::AliasLoop,
                None,
                format!(
                    "alias {cmd:?} expands in a loop or more than {MAX_ALIAS_DEPTH} levels deep \
                     ({}); git refuses it too",
                    aliases.join(" -> ")
                ),
            ));
            name = None;
            break;
        }
        aliases.push(cmd.clone());
        if let Some(shell) = alias.strip_prefix('!') {
            if mentions_push(shell) {
                findings.push(Finding::block(
                    Rule::OpaqueAlias,
                    None,
                    format!(
                        "alias {cmd:?} runs a shell command that mentions a push; the guard \
                         cannot see what it pushes, so it is refused (run the git commands \
                         it holds directly)"
                    ),
                ));
            }
            name = None;
            break;
        }
        let mut words = split_cmdline(&alias).map_err(|e| {
            Error::invalid(format!(
                "alias.{cmd} = {alias:?}: {e} (git would refuse it too)"
            ))
        })?;
        if words.is_empty() {
            return Err(Error::invalid(format!("alias.{cmd} is empty")));
        }
        let head = words.remove(0);
        words.extend(rest);
        rest = words;
        name = Some(head);
    }
    Ok(Command {
        name,
        args: rest,
        view,
        findings,
        aliases,
    })
}

/// Whether a shell alias could push: it names push, send-pack, a ref deletion, or runs
/// something the guard cannot follow through a variable.
fn mentions_push(shell: &str) -> bool {
    ["push", "send-pack", "update-ref", "receive-pack"]
        .iter()
        .any(|w| shell.contains(w))
}

/// git's split_cmdline: words split on whitespace, with single and double quotes and
/// backslash escapes (outside single quotes).
fn split_cmdline(s: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                cur.push(chars.next().ok_or("ends with a backslash")?);
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unclosed quote");
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_git() {
        assert_eq!(
            split_cmdline(r#"push -f "a b" 'c d' e\ f"#).unwrap(),
            vec!["push", "-f", "a b", "c d", "e f"]
        );
        assert!(split_cmdline("push 'x").is_err());
    }
}
