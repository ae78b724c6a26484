//! What a repository URL names: the transport, the host a key or a certificate is checked
//! for, and a form safe for messages. A password in the URL is refused before anything
//! touches the disk: libgit2 would write the URL into `.git/config` and `FETCH_HEAD`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Https,
    Http,
    Ssh,
    /// `file://` or a local path: libgit2's local transport, which cannot fetch shallowly.
    Local,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoUrl {
    pub(crate) scheme: Scheme,
    /// Host name (IPv6 without brackets); empty for a local repository.
    pub(crate) host: String,
    /// The port the URL names, if any.
    pub(crate) port: Option<u16>,
    /// The SSH user (`git@…`), `None` when the URL names none.
    pub(crate) user: Option<String>,
    /// What libgit2 is given and what `.git/config` records: the URL as the user wrote it,
    /// minus any user name of an HTTP(S) URL (the auth option decides who we are).
    pub(crate) git_url: String,
}

impl RepoUrl {
    pub(crate) fn parse(raw: &str) -> Result<RepoUrl> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Error::invalid("the git source has no url"));
        }
        if raw.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::invalid(format!(
                "git url {:?} holds spaces or control characters",
                redact_userinfo(raw)
            )));
        }
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return parse_http(raw);
        }
        if lower.starts_with("ssh://") || lower.starts_with("git+ssh://") {
            return parse_ssh_url(raw);
        }
        if lower.starts_with("file://") || raw.starts_with('/') || raw.starts_with('.') {
            return Ok(RepoUrl {
                scheme: Scheme::Local,
                host: String::new(),
                port: None,
                user: None,
                git_url: raw.to_string(),
            });
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(Error::invalid(format!(
                "git url {:?}: scheme {scheme:?} is not supported; use https://, ssh:// (or user@host:path) or file://",
                redact_userinfo(raw)
            )));
        }
        parse_scp(raw)
    }

    /// `host` or `[host]:port` for messages and known_hosts (the form OpenSSH writes).
    pub(crate) fn host_port(&self) -> String {
        let bracketed = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.scheme, self.port) {
            (Scheme::Ssh, None | Some(22)) => bracketed,
            (Scheme::Ssh, Some(p)) => format!("[{}]:{p}", self.host),
            (Scheme::Https, p) => format!("{bracketed}:{}", p.unwrap_or(443)),
            (Scheme::Http, p) => format!("{bracketed}:{}", p.unwrap_or(80)),
            (Scheme::Local, _) => String::new(),
        }
    }

    /// Whether the host is this machine (plain HTTP with credentials is refused elsewhere).
    pub(crate) fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

fn parse_http(raw: &str) -> Result<RepoUrl> {
    let mut url = reqwest::Url::parse(raw).map_err(|e| {
        Error::invalid(format!(
            "git url {:?} is not a valid URL: {e}",
            redact_userinfo(raw)
        ))
    })?;
    if url.password().is_some() {
        return Err(Error::invalid(format!(
            "git url {:?} holds a password; pass credentials in the auth option (or an Argo CD repository \
             Secret), never in the URL, which git records in .git/config",
            redact_userinfo(raw)
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Error::invalid(format!("git url {raw:?} names no host")))?
        .trim_matches(['[', ']'])
        .to_string();
    let _ = url.set_username("");
    let scheme = if url.scheme() == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    Ok(RepoUrl {
        scheme,
        host,
        port: url.port(),
        user: None,
        git_url: url.to_string(),
    })
}

fn parse_ssh_url(raw: &str) -> Result<RepoUrl> {
    let normalized = raw.strip_prefix("git+").unwrap_or(raw);
    let url = reqwest::Url::parse(normalized).map_err(|e| {
        Error::invalid(format!(
            "git url {:?} is not a valid URL: {e}",
            redact_userinfo(raw)
        ))
    })?;
    if url.password().is_some() {
        return Err(Error::invalid(format!(
            "git url {:?} holds a password; SSH sources authenticate with a key (the auth option's \
             private key, or sshPrivateKey in an Argo CD repository Secret)",
            redact_userinfo(raw)
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Error::invalid(format!("git url {raw:?} names no host")))?
        .trim_matches(['[', ']'])
        .to_string();
    let user = (!url.username().is_empty()).then(|| url.username().to_string());
    Ok(RepoUrl {
        scheme: Scheme::Ssh,
        host,
        port: url.port(),
        user,
        git_url: normalized.to_string(),
    })
}

/// `[user@]host:path`, as scp and git write it (no port in this form).
fn parse_scp(raw: &str) -> Result<RepoUrl> {
    // `user:password@host:path` is no form git knows, but it says what it means: refuse it.
    if let Some(at) = raw.find('@') {
        let before = &raw[..at];
        if before.contains(':') && !before.contains('/') {
            return Err(Error::invalid(format!(
                "git url {:?} holds a password; SSH sources authenticate with a key",
                redact_userinfo(raw)
            )));
        }
    }
    let colon = raw.find(':');
    let slash = raw.find('/');
    let Some(colon) = colon.filter(|c| slash.is_none_or(|s| *c < s)) else {
        return Err(Error::invalid(format!(
            "git url {raw:?} is neither a URL (https://, ssh://, file://) nor user@host:path"
        )));
    };
    let (who, _path) = raw.split_at(colon);
    let (user, host) = match who.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, who),
    };
    let host = host.trim_matches(['[', ']']).to_string();
    if host.is_empty() {
        return Err(Error::invalid(format!("git url {raw:?} names no host")));
    }
    Ok(RepoUrl {
        scheme: Scheme::Ssh,
        host,
        port: None,
        user,
        git_url: raw.to_string(),
    })
}

/// `raw` with any `user:password@` replaced, for messages about a URL that was refused.
pub(crate) fn redact_userinfo(raw: &str) -> String {
    let (prefix, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{prefix}<redacted>@{}", &rest[at + 1..]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn every_form_names_its_host_and_port() {
        let u = RepoUrl::parse("https://git.example.com/org/repo.git").unwrap();
        assert_eq!(
            (u.scheme, u.host_port().as_str()),
            (Scheme::Https, "git.example.com:443")
        );
        let u = RepoUrl::parse("ssh://root@127.0.0.1:38422/srv/fixture.git").unwrap();
        assert_eq!(u.host_port(), "[127.0.0.1]:38422");
        assert_eq!(u.user.as_deref(), Some("root"));
        let u = RepoUrl::parse("git@github.com:org/repo.git").unwrap();
        assert_eq!(
            (u.scheme, u.host_port().as_str()),
            (Scheme::Ssh, "github.com")
        );
        assert_eq!(u.user.as_deref(), Some("git"));
        let u = RepoUrl::parse("ssh://[::1]:2222/r.git").unwrap();
        assert_eq!(u.host_port(), "[::1]:2222");
        assert_eq!(
            RepoUrl::parse("file:///tmp/r.git").unwrap().scheme,
            Scheme::Local
        );
        assert_eq!(RepoUrl::parse("/tmp/r.git").unwrap().scheme, Scheme::Local);
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_echoing_it() {
        for raw in [
            "https://user:s3cret@git.example.com/r.git",
            "ssh://git:s3cret@host/r.git",
            "git:s3cret@host:r.git",
        ] {
            let e = RepoUrl::parse(raw).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{raw}");
            assert!(!e.message.contains("s3cret"), "{}", e.message);
        }
    }

    #[test]
    fn a_user_name_in_an_https_url_is_dropped() {
        let u = RepoUrl::parse("https://org@dev.example.com/r.git").unwrap();
        assert_eq!(u.git_url, "https://dev.example.com/r.git");
    }

    #[test]
    fn unknown_schemes_and_garbage_are_invalid_input() {
        for raw in ["ftp://h/r", "", "no-colon-here", "https://h/a b"] {
            assert_eq!(
                RepoUrl::parse(raw).unwrap_err().kind,
                ErrorKind::InvalidInput,
                "{raw}"
            );
        }
    }
}
