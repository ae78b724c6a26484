//! Git sources: clone or update a working tree at exactly one resolved commit, with git2
//! (libgit2, vendored and pinned).
//!
//! - HTTPS goes through idpkit's own smart-HTTP transport on reqwest, built from the
//!   operation's `TrustStore`, so git trusts exactly what the registry client trusts
//!   (docs/decisions/0011). SSH host keys are checked against known_hosts (a file, or the
//!   text of Argo CD's `argocd-ssh-known-hosts-cm`) unless the source is insecure, which is
//!   audited with an `insecure_connection` event.
//! - Credentials live in memory only: never in the URL, `.git/config`, the reflog, a
//!   process's arguments or a file. A refused credential is not offered again.
//! - Shallow (depth 1 by default) wherever the transport allows it (not `file://`).
//! - After checkout, symlinks that are absolute or lead out of the tree are removed and
//!   reported.

mod fetch;
mod http;
mod known_hosts;
mod resolve;
mod ssh;
mod symlinks;
mod url;
pub(crate) use url::redact_userinfo;

/// Checks that `raw` is a git URL idpkit can fetch, without credentials in it (the error
/// says where they go instead, and does not repeat them).
pub fn check_url(raw: &str) -> crate::Result<()> {
    url::RepoUrl::parse(raw).map(|_| ())
}

pub use fetch::{attach_branch, checkout, ls_remote, update};
pub use known_hosts::KnownHosts;

use crate::trust::TrustOptions;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// How to authenticate to the git host. Never serialized; `Debug` shows no secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum GitAuth {
    #[default]
    None,
    /// HTTP Basic. An empty user name is sent as `x-access-token`, as Argo CD does for a
    /// repository Secret with a password and no username.
    Basic { username: String, password: String },
    /// A personal access token (GitHub, Gitea, GitLab), sent as HTTP Basic with user name
    /// `x-access-token` and the token as password, as Argo CD sends a password-only Secret.
    Token(String),
    /// `Authorization: Bearer` (Argo CD's `bearerToken`, Bitbucket Data Center).
    Bearer(String),
    /// An SSH private key (OpenSSH or PEM text), used from memory.
    SshKey {
        private_key_pem: String,
        passphrase: Option<String>,
    },
}

impl GitAuth {
    /// Every secret this holds, for the last redaction of an error leaving a front end.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = match self {
            GitAuth::None => vec![],
            GitAuth::Basic { password, .. } => vec![password.clone()],
            GitAuth::Token(t) | GitAuth::Bearer(t) => vec![t.clone()],
            GitAuth::SshKey {
                private_key_pem,
                passphrase,
            } => std::iter::once(private_key_pem.clone())
                .chain(passphrase.clone())
                .collect(),
        };
        out.retain(|s| !s.is_empty());
        out
    }
}

impl fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitAuth::None => f.write_str("None"),
            GitAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            GitAuth::Token(_) => f.write_str("Token(<redacted>)"),
            GitAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            GitAuth::SshKey { passphrase, .. } => f
                .debug_struct("SshKey")
                .field("private_key_pem", &"<redacted>")
                .field("passphrase", &passphrase.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// What to fetch. Serde: the same fields in every binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GitSource {
    /// `https://…`, `ssh://[user@]host[:port]/path`, `user@host:path` or `file://…`. No
    /// password in it: credentials go in the auth option.
    pub url: String,
    /// A branch, a tag (annotated or not), a full ref (`refs/…`), a full or abbreviated
    /// commit id, or `HEAD`; none means the repository's HEAD.
    pub revision: Option<String>,
    /// Commits of history to fetch; 0 is the whole history. Default 1. Ignored where the
    /// transport cannot fetch shallowly (`file://`), and for a commit no ref points at when
    /// the server cannot send it alone.
    pub depth: u32,
}

impl Default for GitSource {
    fn default() -> Self {
        GitSource {
            url: String::new(),
            revision: None,
            depth: 1,
        }
    }
}

/// How to reach the host: credentials, trust, host keys.
#[derive(Clone, Default)]
pub struct GitOptions {
    pub auth: GitAuth,
    /// HTTPS trust, as registry operations take it (CA files, certs.d, insecure hosts).
    pub trust: TrustOptions,
    /// Where SSH host keys are checked.
    pub known_hosts: KnownHosts,
    /// Argo CD's `insecure` repository flag: the HTTPS certificate or SSH host key of this
    /// source's host is not verified (audited with an `insecure_connection` event each time).
    pub insecure: bool,
}

impl fmt::Debug for GitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitOptions")
            .field("auth", &self.auth)
            .field("trust", &self.trust)
            .field(
                "known_hosts",
                &match &self.known_hosts {
                    KnownHosts::Text(t) => format!("Text({} lines)", t.lines().count()),
                    other => format!("{other:?}"),
                },
            )
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// What a checkout or update produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GitCheckout {
    /// The commit checked out (full hex id).
    pub commit: String,
    /// The ref the revision named, when it named one (`refs/heads/main`, `refs/tags/v1`);
    /// HEAD resolves to the branch it points at.
    pub resolved_ref: Option<String>,
    /// Symlinks removed because they were absolute or led out of the tree, relative to the
    /// checkout's root.
    pub removed_symlinks: Vec<PathBuf>,
    /// Whether the history is shallow (`.git/shallow` exists).
    pub shallow: bool,
}

/// What a revision resolves to on the server, without fetching (`ls_remote`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GitRevision {
    /// The commit, when the server's advertisement tells it (any branch, tag or HEAD, and a
    /// full commit id); `None` for an abbreviated id no ref points at.
    pub commit: Option<String>,
    pub resolved_ref: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_secret() {
        let auths = [
            GitAuth::Basic {
                username: "u".into(),
                password: "pw-secret".into(),
            },
            GitAuth::Token("tok-secret".into()),
            GitAuth::Bearer("bearer-secret".into()),
            GitAuth::SshKey {
                private_key_pem: "-----BEGIN OPENSSH PRIVATE KEY-----key-secret".into(),
                passphrase: Some("pass-secret".into()),
            },
        ];
        for auth in auths {
            let opts = GitOptions {
                auth: auth.clone(),
                known_hosts: KnownHosts::Text("host ssh-ed25519 AAAA".into()),
                ..Default::default()
            };
            let shown = format!("{auth:?} {opts:?} {opts:#?}");
            assert!(!shown.contains("secret"), "{shown}");
            assert!(!auth.secrets().is_empty());
        }
        assert!(GitAuth::None.secrets().is_empty());
    }

    #[test]
    fn a_source_is_shallow_by_default_and_strict_about_its_fields() {
        let s: GitSource = serde_json::from_str(r#"{"url": "https://h/r.git"}"#).unwrap();
        assert_eq!((s.depth, s.revision), (1, None));
        let e = serde_json::from_str::<GitSource>(r#"{"url": "u", "rev": "main"}"#).unwrap_err();
        assert!(e.to_string().contains("rev"), "{e}");
    }
}
