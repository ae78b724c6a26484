//! `idpkit secrets …`: secrets files (SOPS-encrypted dotenv, YAML, JSON) decrypted natively,
//! and pushed to a Kubernetes Secret.

use crate::output::Output;
use clap::{Args, Subcommand, ValueEnum};
use idpkit::ops::SecretsDecrypted;
use idpkit::secrets::{self, DecryptOptions, FileFormat, SecretString};
use idpkit::{Error, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Decrypt a SOPS file (age recipients) and print its values to stdout, or write them to
    /// the file --output names (created 0600). Every value and the file's MAC are verified:
    /// a changed file is an integrity error (exit 6). No sops binary is needed.
    #[command(after_help = "Examples:
  idpkit secrets decrypt .env.sops
  idpkit secrets decrypt secrets.sops.yaml --format json
  SOPS_AGE_KEY_FILE=~/keys.txt idpkit secrets decrypt .env.sops --output .env.local

Age identities: --age-key-file, else SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and
$XDG_CONFIG_HOME/sops/age/keys.txt (~/.config/sops/age/keys.txt), as sops reads them.")]
    Decrypt(DecryptArgs),
    /// Create or update a Kubernetes Secret from secrets tiers: plain dotenv and SOPS files,
    /// later files overriding earlier keys, written by server-side apply as field manager
    /// `idpkit` (a key gone from the files leaves the Secret). Prints the key names, never
    /// the values.
    #[command(after_help = PUSH_HELP)]
    Push(PushArgs),
}

/// `secrets push` and `sandbox secrets push` share their help's examples.
pub const PUSH_HELP: &str = "Examples:
  idpkit secrets push team-a/app-env .env.claude-sandbox .env.sops
  idpkit sandbox secrets push sandbox/run-42 .env.sops secrets.sops.yaml --context kind-localdev
  idpkit secrets push team-a/app-env .env.sops --age-key-file ~/keys.txt --force --json

The Secret (type Opaque, label app.kubernetes.io/managed-by=idpkit) holds exactly the keys of
the files. A Secret whose keys another field manager (kubectl, a controller) set is a conflict
(exit 10); --force takes them over. Age identities as for `secrets decrypt`.";

#[derive(Args)]
pub struct PushArgs {
    /// NAMESPACE/NAME of the Secret (the namespace must exist).
    secret: String,
    /// The secrets tiers, in order (a later file's key wins): SOPS dotenv, YAML or JSON
    /// files, or a plain dotenv file such as .env.claude-sandbox.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The age identities file (instead of SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and the default).
    #[arg(long, value_name = "FILE")]
    age_key_file: Option<PathBuf>,
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context).
    #[arg(long)]
    context: Option<String>,
    /// Take over keys another field manager set instead of failing with a conflict.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Dotenv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InFormat {
    Auto,
    Dotenv,
    Yaml,
    Json,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// The SOPS file.
    file: PathBuf,
    /// Output format (default: dotenv for a dotenv file, json for YAML and JSON).
    #[arg(long, value_enum)]
    format: Option<OutFormat>,
    /// Write to this file (created 0600 through a temporary sibling and a rename) instead of
    /// stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The file's format (default: by its name, then its content).
    #[arg(long, value_enum, default_value = "auto")]
    input_type: InFormat,
    /// The age identities file (instead of SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and the default).
    #[arg(long, value_name = "FILE")]
    age_key_file: Option<PathBuf>,
    /// Read a file without sops metadata as a plain secrets file (dotenv by dotenv's rules)
    /// instead of refusing it.
    #[arg(long)]
    plain: bool,
}

pub fn run(c: SecretsCommand, out: &Output, json: bool) -> Result<()> {
    match c {
        SecretsCommand::Decrypt(a) => decrypt(a, out, json),
        SecretsCommand::Push(a) => push(a, out),
    }
}

pub fn push(a: PushArgs, out: &Output) -> Result<()> {
    let (namespace, name) = a.secret.split_once('/').ok_or_else(|| {
        Error::invalid(format!(
            "{:?} is not NAMESPACE/NAME (e.g. team-a/app-env)",
            a.secret
        ))
    })?;
    let opts = secrets::SecretsPushOptions {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        files: a.files,
        age_key_file: a.age_key_file,
        cluster: idpkit::kube::KubeOptions {
            kubeconfig: a.kubeconfig,
            context: a.context,
        },
        labels: Default::default(),
        force: a.force,
    };
    let r = secrets::push(
        &opts,
        &idpkit::Call::new().with_cancel(Some(crate::interrupt::token())),
    )?;
    out.result(&r, || {
        format!(
            "{} Secret {}/{} ({} keys: {}) resourceVersion {}",
            if r.created { "created" } else { "updated" },
            r.namespace,
            r.name,
            r.keys.len(),
            r.keys.join(", "),
            r.resource_version
        )
    });
    Ok(())
}

fn decrypt(a: DecryptArgs, out: &Output, json: bool) -> Result<()> {
    let opts = DecryptOptions {
        input_type: match a.input_type {
            InFormat::Auto => FileFormat::Auto,
            InFormat::Dotenv => FileFormat::Dotenv,
            InFormat::Yaml => FileFormat::Yaml,
            InFormat::Json => FileFormat::Json,
        },
        age_key_file: a.age_key_file,
        allow_plaintext: a.plain,
    };
    let d = secrets::decrypt_file_detailed(&a.file, &opts)?;
    let format = a.format.unwrap_or(match d.format {
        FileFormat::Dotenv => OutFormat::Dotenv,
        _ => OutFormat::Json,
    });
    let text: SecretString = if json && a.output.is_none() {
        let r = SecretsDecrypted {
            format: d.format,
            encrypted: d.encrypted,
            values: d.secrets.to_value(),
        };
        let mut s = serde_json::to_string(&r)
            .map_err(|e| Error::internal(format!("serializing the result: {e}")))?;
        s.push('\n');
        SecretString::new(s)
    } else {
        match format {
            OutFormat::Dotenv => d
                .secrets
                .to_dotenv()
                .map_err(|e| e.context(format!("{}: cannot print as dotenv", a.file.display())))?,
            OutFormat::Json => d.secrets.to_json(),
        }
    };
    match a.output {
        Some(path) => {
            secrets::write_private(&path, text.expose().as_bytes())?;
            out.result(
                &serde_json::json!({"written": path, "mode": "0600"}),
                String::new,
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.expose().as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::new(idpkit::ErrorKind::Io, format!("writing stdout: {e}")))?;
        }
    }
    Ok(())
}
