//! `idpkit git-guard …`: the push guard as a check, a pre-push hook, and the `git` wrapper
//! it installs. Exit codes here are the guard's (0 allow, 1 block, 2 warn), and any error
//! blocks: a guard that fails open is no guard.

use crate::output::Output;
use clap::{Args, Subcommand};
use idpkit::gitguard::{self, Decision, GuardVerdict};
use idpkit::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum GuardCommand {
    /// Decide whether `git ARGS…` may run: exit 0 allow, 1 block, 2 warn, the reasons on
    /// stderr (--json: the verdict on stdout). Any error exits 1.
    #[command(after_help = "Examples:
  idpkit git-guard check -- push --force origin main     # exit 1: blocked
  idpkit git-guard check -- push origin main             # exit 2: direct push to a protected branch
  idpkit git-guard check --json -- -c alias.p='push -f' p origin main

Protected branches and levels: the [git_guard] table of idpkit-sandbox.toml (--config, else
$IDPKIT_SANDBOX_CONFIG, else the repository's own), default main, master, production.")]
    Check(CheckArgs),
    /// Run as git's pre-push hook: read the ref updates on stdin and refuse deleting or
    /// rewriting a protected ref (exit 1); warnings are printed and the push goes on.
    #[command(
        after_help = "Installed by `idpkit git-guard install --hook`; git calls it as
  .git/hooks/pre-push REMOTE URL  (ref updates on stdin)"
    )]
    Hook(HookArgs),
    /// Check `git ARGS…` and, unless blocked, run the real git with them (what the installed
    /// wrapper calls). Blocked: exit 1 and git does not run.
    #[command(after_help = "Example (what `install --wrapper` writes):
  exec idpkit git-guard exec --git /usr/bin/git -- \"$@\"")]
    Exec(ExecArgs),
    /// Install the guard: a pre-push hook in this repository (--hook) and/or a `git`
    /// wrapper script in a directory to put first on PATH (--wrapper DIR).
    #[command(after_help = "Examples:
  idpkit git-guard install --hook
  idpkit git-guard install --wrapper ~/.local/idpkit-guard/bin && export PATH=~/.local/idpkit-guard/bin:$PATH
  idpkit git-guard install --hook --wrapper /sandbox/bin --config /etc/idpkit-sandbox.toml

--config pins the policy file in the scripts, so an agent editing the repository's own
idpkit-sandbox.toml does not change what is protected.")]
    Install(InstallArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// The sandbox config (its [git_guard] table is the policy).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The directory git would run in (default: the current one).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// git's arguments, after `--`.
    #[arg(last = true, allow_hyphen_values = true)]
    git_args: Vec<String>,
}

#[derive(Args)]
pub struct HookArgs {
    /// The sandbox config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The remote's name, as git passes it (informational).
    remote: Option<String>,
    /// The remote's URL, as git passes it (informational; never printed).
    url: Option<String>,
}

#[derive(Args)]
pub struct ExecArgs {
    /// The real git to run once allowed.
    #[arg(long, value_name = "PATH")]
    git: PathBuf,
    /// The sandbox config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// git's arguments, after `--`.
    #[arg(last = true, allow_hyphen_values = true)]
    git_args: Vec<String>,
}

#[derive(Args)]
pub struct InstallArgs {
    /// Install the pre-push hook in the repository at (or above) the current directory.
    #[arg(long)]
    hook: bool,
    /// Write a `git` wrapper script into DIR.
    #[arg(long, value_name = "DIR")]
    wrapper: Option<PathBuf>,
    /// The real git the wrapper runs (default: the first git on PATH outside DIR).
    #[arg(long, value_name = "PATH")]
    git: Option<PathBuf>,
    /// Pin this sandbox config in the hook and the wrapper.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Replace a hook or wrapper idpkit did not write.
    #[arg(long)]
    force: bool,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn cwd() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| Error::io("read the current directory", Path::new("."), e))
}

pub fn run(c: GuardCommand, out: &Output, json: bool) -> Result<()> {
    match c {
        GuardCommand::Check(a) => {
            let dir = match a.dir {
                Some(d) => d,
                None => cwd()?,
            };
            let v = decide(|| gitguard::check(&a.git_args, &dir, a.config.as_deref(), &env));
            report(&v, out, json);
            std::process::exit(v.exit_code);
        }
        GuardCommand::Hook(a) => {
            let _ = (a.remote, a.url);
            let v = decide(|| {
                let mut updates = String::new();
                std::io::stdin()
                    .take(64 << 20)
                    .read_to_string(&mut updates)
                    .map_err(|e| {
                        Error::new(idpkit::ErrorKind::Io, format!("reading stdin: {e}"))
                    })?;
                gitguard::check_hook(&updates, &cwd()?, a.config.as_deref(), &env)
            });
            report(&v, out, json);
            // git aborts the push on any nonzero exit; a warning lets it go on
            std::process::exit(if v.decision == Decision::Block { 1 } else { 0 });
        }
        GuardCommand::Exec(a) => {
            let v = decide(|| gitguard::check(&a.git_args, &cwd()?, a.config.as_deref(), &env));
            report(&v, out, false);
            if v.decision == Decision::Block {
                std::process::exit(1);
            }
            use std::os::unix::process::CommandExt;
            let e = std::process::Command::new(&a.git).args(&a.git_args).exec();
            Err(Error::io("run", &a.git, e))
        }
        GuardCommand::Install(a) => install(a, out),
    }
}

/// The verdict, or a block that carries the error: the guard fails closed.
fn decide(f: impl FnOnce() -> Result<GuardVerdict>) -> GuardVerdict {
    f().unwrap_or_else(|e| {
        GuardVerdict::refused(format!(
            "{} [{}]; the guard refuses what it cannot check",
            e.message, e.kind
        ))
    })
}

fn report(v: &GuardVerdict, out: &Output, json: bool) {
    if json {
        out.result(v, String::new);
    } else {
        eprint!("{}", v.describe());
    }
}

fn install(a: InstallArgs, out: &Output) -> Result<()> {
    if !a.hook && a.wrapper.is_none() {
        return Err(Error::invalid(
            "say what to install: --hook (this repository's pre-push hook), --wrapper DIR, or both",
        ));
    }
    let program = std::env::current_exe()
        .map_err(|e| Error::io("find the idpkit executable", Path::new("idpkit"), e))?;
    let mut installed = Vec::new();
    if a.hook {
        installed.push(gitguard::install_hook(
            &cwd()?,
            &program,
            a.config.as_deref(),
            a.force,
        )?);
    }
    if let Some(dir) = &a.wrapper {
        installed.push(gitguard::install_wrapper(
            dir,
            &program,
            a.git.as_deref(),
            a.config.as_deref(),
            None,
            a.force,
        )?);
    }
    out.result(&installed, || {
        installed
            .iter()
            .map(|i| match &i.real_git {
                Some(g) => format!("{} (runs {})", i.path.display(), g.display()),
                None => i.path.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
