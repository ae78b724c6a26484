//! Which credentials a git source of an Application gets, the way Argo CD's repo-server
//! picks them (util/db/repository_secrets.go): an explicit Secret the caller names first;
//! else a `repository` Secret whose `url` is the same repository after normalization; else
//! the `repo-creds` Secret whose `url` is the longest prefix of the normalized URL.
//!
//! Secrets are read into memory only and become a [`GitAuth`]; where they came from is
//! reported by name, never their content.

use crate::error::{Error, Result};
use crate::gitops::git::GitAuth;
use crate::gitops::git_cache::normalize_url;
use crate::kube::SecretData;

/// The label Argo CD selects its repository Secrets by.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// Credentials chosen for one source, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chosen {
    pub auth: GitAuth,
    /// Argo CD's `insecure: "true"`: neither the certificate nor the host key is checked.
    pub insecure: bool,
    /// `Secret ns/name (repository)`, for the result and messages; `None` for anonymous.
    pub from: Option<String>,
}

/// A Secret: `(namespace/name, data)`.
pub type NamedSecret = (String, SecretData);

/// The credentials for `repo_url` from `explicit` (a Secret the caller named), else from
/// Argo CD's `repository` then `repo-creds` Secrets.
pub fn choose(
    repo_url: &str,
    explicit: Option<&NamedSecret>,
    repositories: &[NamedSecret],
    repo_creds: &[NamedSecret],
) -> Result<Chosen> {
    if let Some((name, data)) = explicit {
        return from_secret(data, format!("Secret {name}"), true);
    }
    let wanted = normalize_url(repo_url);
    let is_git = |d: &SecretData| d.text("type").is_none_or(|t| t.trim() == "git");
    if let Some((name, data)) = repositories
        .iter()
        .find(|(_, d)| is_git(d) && d.text("url").is_some_and(|u| normalize_url(u) == wanted))
    {
        return from_secret(data, format!("Secret {name} (repository)"), false);
    }
    let best = repo_creds
        .iter()
        .filter(|(_, d)| is_git(d))
        .filter_map(|(n, d)| {
            let prefix = normalize_url(d.text("url")?);
            (!prefix.is_empty() && wanted.starts_with(&prefix)).then_some((prefix.len(), n, d))
        })
        .max_by_key(|(len, _, _)| *len);
    match best {
        Some((_, name, data)) => from_secret(data, format!("Secret {name} (repo-creds)"), false),
        None => Ok(Chosen::default()),
    }
}

/// The keys of a Secret as credentials: `sshPrivateKey`; else `username` + `password`
/// (a password alone is a token, as Argo CD sends it); else `bearerToken`; else, for an
/// explicit Secret, `token`. `insecure: "true"` is honoured for Argo CD's own Secrets.
fn from_secret(data: &SecretData, from: String, explicit: bool) -> Result<Chosen> {
    let text = |k: &str| data.text(k).filter(|v| !v.trim().is_empty());
    let auth = if let Some(key) = text("sshPrivateKey") {
        // PEM wants its last line ended; Secrets are often written without.
        GitAuth::SshKey {
            private_key_pem: format!("{key}\n"),
            passphrase: None,
        }
    } else if let Some(password) = text("password") {
        match text("username") {
            Some(u) => GitAuth::Basic {
                username: u.to_string(),
                password: password.to_string(),
            },
            None => GitAuth::Token(password.to_string()),
        }
    } else if let Some(t) = text("bearerToken") {
        GitAuth::Bearer(t.to_string())
    } else if let Some(t) = text("token").filter(|_| explicit) {
        GitAuth::Token(t.to_string())
    } else if explicit {
        let keys: Vec<&str> = data.keys().collect();
        return Err(Error::invalid(format!(
            "{from} has no credentials: it needs username and password, token, or \
             sshPrivateKey (its keys: {})",
            keys.join(", ")
        )));
    } else {
        GitAuth::None
    };
    let insecure = !explicit && text("insecure").is_some_and(|v| v.trim() == "true");
    Ok(Chosen {
        auth,
        insecure,
        from: Some(from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn secret(name: &str, pairs: &[(&str, &str)]) -> NamedSecret {
        let map: BTreeMap<String, Vec<u8>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        (format!("argocd/{name}"), SecretData::from(map))
    }

    const URL: &str = "https://Gitea.example:8443/giteaAdmin/Rig.git";

    #[test]
    fn an_exact_repository_beats_any_repo_creds_prefix() {
        let repos = [
            secret(
                "other",
                &[("url", "https://gitea.example:8443/giteaadmin/other")],
            ),
            secret(
                "rig",
                &[
                    ("url", "https://gitea.example:8443/giteaadmin/rig"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
        ];
        let creds = [secret(
            "all",
            &[("url", "https://gitea.example:8443/"), ("password", "t")],
        )];
        let c = choose(URL, None, &repos, &creds).unwrap();
        assert_eq!(c.from.as_deref(), Some("Secret argocd/rig (repository)"));
        assert_eq!(
            c.auth,
            GitAuth::Basic {
                username: "u".into(),
                password: "p".into()
            }
        );
    }

    #[test]
    fn the_longest_repo_creds_prefix_wins() {
        let creds = [
            secret(
                "host",
                &[("url", "https://gitea.example:8443"), ("password", "host")],
            ),
            secret(
                "org",
                &[
                    ("url", "https://gitea.example:8443/giteaAdmin"),
                    ("username", "u"),
                    ("password", "org"),
                    ("insecure", "true"),
                ],
            ),
            secret(
                "elsewhere",
                &[
                    ("url", "https://other.example/giteaadmin/rig/x"),
                    ("password", "x"),
                ],
            ),
        ];
        let c = choose(URL, None, &[], &creds).unwrap();
        assert_eq!(c.from.as_deref(), Some("Secret argocd/org (repo-creds)"));
        assert!(c.insecure);
    }

    #[test]
    fn ssh_keys_tokens_and_nothing() {
        let creds = [secret(
            "ssh",
            &[("url", "git@host:org"), ("sshPrivateKey", "-----BEGIN KEY")],
        )];
        let c = choose("git@HOST:org/repo.git", None, &[], &creds).unwrap();
        assert!(matches!(c.auth, GitAuth::SshKey { .. }));
        let c = choose("https://nowhere/r", None, &[], &creds).unwrap();
        assert_eq!(c, Chosen::default());
        let explicit = secret("mine", &[("token", "tok")]);
        let c = choose("https://nowhere/r", Some(&explicit), &[], &creds).unwrap();
        assert_eq!(c.auth, GitAuth::Token("tok".into()));
        assert!(!c.insecure);
    }

    #[test]
    fn an_explicit_secret_without_credentials_names_its_keys_not_its_values() {
        let explicit = secret("mine", &[("user", "hunter2")]);
        let e = choose("https://h/r", Some(&explicit), &[], &[]).unwrap_err();
        assert!(
            e.message.contains("argocd/mine") && e.message.contains("user"),
            "{e}"
        );
        assert!(!e.message.contains("hunter2"), "{e}");
    }

    #[test]
    fn helm_repository_secrets_are_not_git_credentials() {
        let repos = [secret(
            "helm",
            &[("url", "https://h/r"), ("type", "helm"), ("password", "p")],
        )];
        assert_eq!(
            choose("https://h/r", None, &repos, &[]).unwrap(),
            Chosen::default()
        );
    }
}
