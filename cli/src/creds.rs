//! Credential flags of the registry commands: a user with a password read from standard
//! input, a bearer token read from standard input, or a credentials file. A secret never
//! goes on the command line (where `ps` and shell history would show it), and no message
//! here ever repeats what was read.

use clap::Args;
use idpkit::registry::Credential;
use idpkit::{Error, ErrorKind, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Credentials for the registry a command talks to (the destination of `copy`).
#[derive(Args, Debug, Clone, Default)]
pub struct Creds {
    /// User name; its password is read from standard input with --password-stdin.
    #[arg(long, value_name = "USER", help_heading = "Credentials")]
    username: Option<String>,
    /// Read the password of --username from one line of standard input.
    #[arg(long, requires = "username", help_heading = "Credentials")]
    password_stdin: bool,
    /// Read a registry bearer token from one line of standard input.
    #[arg(long, conflicts_with_all = ["username", "password_stdin"], help_heading = "Credentials")]
    token_stdin: bool,
    /// Read the credentials from FILE: one line `USER:PASSWORD`, or `token:TOKEN` for a
    /// bearer token.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["username", "password_stdin", "token_stdin"],
        help_heading = "Credentials"
    )]
    creds_file: Option<PathBuf>,
}

/// Credentials for the source registry of `copy` (default: its stored login).
#[derive(Args, Debug, Clone, Default)]
pub struct SourceCreds {
    /// User name at the source registry; its password comes from --source-password-stdin.
    #[arg(long, value_name = "USER", help_heading = "Source credentials")]
    source_username: Option<String>,
    /// Read the password of --source-username from one line of standard input.
    #[arg(
        long,
        requires = "source_username",
        help_heading = "Source credentials"
    )]
    source_password_stdin: bool,
    /// Read a bearer token for the source registry from one line of standard input.
    #[arg(
        long,
        conflicts_with_all = ["source_username", "source_password_stdin"],
        help_heading = "Source credentials"
    )]
    source_token_stdin: bool,
    /// Read the source registry's credentials from FILE (`USER:PASSWORD` or `token:TOKEN`).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["source_username", "source_password_stdin", "source_token_stdin"],
        help_heading = "Source credentials"
    )]
    source_creds_file: Option<PathBuf>,
}

/// One set of credential flags, with the names a message gives them.
struct Spec<'a> {
    username: Option<&'a String>,
    password_stdin: bool,
    token_stdin: bool,
    file: Option<&'a PathBuf>,
    /// `""` or `"source-"`.
    prefix: &'static str,
}

impl Creds {
    fn spec(&self) -> Spec<'_> {
        Spec {
            username: self.username.as_ref(),
            password_stdin: self.password_stdin,
            token_stdin: self.token_stdin,
            file: self.creds_file.as_ref(),
            prefix: "",
        }
    }

    /// Whether any credential flag was given.
    pub fn given(&self) -> bool {
        self.spec().stdin_flag().is_some() || self.username.is_some() || self.creds_file.is_some()
    }

    /// The credential these flags name (None: look it up as usual), reading standard input
    /// when a `*-stdin` flag asks for it.
    pub fn credential(&self) -> Result<Option<Credential>> {
        self.spec().credential()
    }
}

impl SourceCreds {
    fn spec(&self) -> Spec<'_> {
        Spec {
            username: self.source_username.as_ref(),
            password_stdin: self.source_password_stdin,
            token_stdin: self.source_token_stdin,
            file: self.source_creds_file.as_ref(),
            prefix: "source-",
        }
    }
}

/// The destination's and the source's credentials of `copy`; standard input can be read
/// only once, so at most one of them comes from it.
pub fn pair(
    dest: &Creds,
    source: &SourceCreds,
) -> Result<(Option<Credential>, Option<Credential>)> {
    let (d, s) = (dest.spec(), source.spec());
    if let (Some(a), Some(b)) = (d.stdin_flag(), s.stdin_flag()) {
        return Err(Error::invalid(format!(
            "{a} and {b} both read standard input, which holds one secret; \
             give one of them in a file instead (--creds-file or --source-creds-file)"
        )));
    }
    Ok((d.credential()?, s.credential()?))
}

impl Spec<'_> {
    fn stdin_flag(&self) -> Option<String> {
        if self.password_stdin {
            Some(format!("--{}password-stdin", self.prefix))
        } else if self.token_stdin {
            Some(format!("--{}token-stdin", self.prefix))
        } else {
            None
        }
    }

    fn credential(&self) -> Result<Option<Credential>> {
        let p = self.prefix;
        if let Some(file) = self.file {
            return read_creds_file(file, &format!("--{p}creds-file")).map(Some);
        }
        if self.token_stdin {
            let flag = format!("--{p}token-stdin");
            let token = read_stdin_line(&flag)?;
            return Credential::from_arguments(None, None, Some(token), &flag);
        }
        match self.username {
            None => Ok(None),
            Some(user) if user.is_empty() => Err(Error::invalid(format!(
                "--{p}username: the user name is empty"
            ))),
            Some(_) if !self.password_stdin => Err(Error::invalid(format!(
                "--{p}username needs its password from standard input: add \
                 --{p}password-stdin (or put USER:PASSWORD in --{p}creds-file); \
                 a password never goes on the command line"
            ))),
            Some(user) => {
                let flag = format!("--{p}password-stdin");
                let password = read_stdin_line(&flag)?;
                Credential::from_arguments(Some(user.clone()), Some(password), None, &flag)
            }
        }
    }
}

/// One line of standard input, without its line ending; empty input is an error naming
/// the flag that asked for it.
pub fn read_stdin_line(flag: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("{flag}: cannot read standard input: {e}"),
        )
    })?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        return Err(Error::invalid(format!(
            "{flag}: standard input is empty; pipe the secret in, e.g. `cat secret | idpkit ... {flag}`"
        )));
    }
    Ok(line)
}

/// A credentials file: its first non-empty line is `USER:PASSWORD` or `token:TOKEN`.
/// Messages name the flag and the file, never what the file holds.
fn read_creds_file(path: &Path, flag: &str) -> Result<Credential> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::InvalidInput
        };
        Error::new(
            kind,
            format!("{flag} {}: cannot read it: {e}", path.display()),
        )
    })?;
    let bad = || {
        Error::invalid(format!(
            "{flag} {}: expected one line `USER:PASSWORD` or `token:TOKEN`",
            path.display()
        ))
    };
    let line = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| !l.trim().is_empty())
        .ok_or_else(bad)?;
    let source = format!("{flag} {}", path.display());
    match line.split_once(':') {
        Some(("token", token)) if !token.is_empty() => Ok(Credential::Token {
            token: token.to_string(),
            source,
        }),
        Some((user, password)) if !user.is_empty() && !password.is_empty() && user != "token" => {
            Ok(Credential::basic(user, password, &source))
        }
        _ => Err(bad()),
    }
}
