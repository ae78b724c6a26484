//! `idpkit sandbox …`: what a sandbox run needs from the platform. For now its secrets
//! (`sandbox secrets push`, the same command as `secrets push`); later issues add more.

use crate::output::Output;
use crate::secrets_cmds::{self, PushArgs};
use clap::Subcommand;
use idpkit::Result;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// A sandbox's secrets.
    #[command(subcommand)]
    Secrets(SandboxSecretsCommand),
}

#[derive(Subcommand)]
pub enum SandboxSecretsCommand {
    /// Create or update a Kubernetes Secret from secrets tiers (same as `idpkit secrets
    /// push`).
    #[command(after_help = secrets_cmds::PUSH_HELP)]
    Push(PushArgs),
}

pub fn run(c: SandboxCommand, out: &Output) -> Result<()> {
    match c {
        SandboxCommand::Secrets(SandboxSecretsCommand::Push(a)) => secrets_cmds::push(a, out),
    }
}
