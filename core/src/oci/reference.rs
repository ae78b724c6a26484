//! Image references with the distribution grammar (`[host[:port]/]path[:tag][@sha256:hex]`),
//! normalized the way Docker does: no host means `docker.io`, a single Docker Hub path
//! component gets `library/`, no tag and no digest means `latest`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    /// Registry host with optional port, e.g. `gitea.cnoe.localtest.me:8443`.
    pub registry: String,
    /// Repository path, e.g. `giteaadmin/app`.
    pub repository: String,
    /// Tag; `None` only when a digest is given.
    pub tag: Option<String>,
    /// `sha256:<hex>` when pinned.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalizes a reference; the error names the part that is wrong.
    pub fn parse(input: &str) -> Result<Reference> {
        let bad = |why: String| Error::invalid(format!("invalid image reference {input:?}: {why}"));
        if input.is_empty() {
            return Err(bad("it is empty".into()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                crate::digest::parse_sha256(d).map_err(|_| {
                    bad(format!(
                        "digest {d:?} must be sha256: followed by 64 lowercase hex digits"
                    ))
                })?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/', so `host:5000/app`
        // keeps its port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let (n, t) = rest.split_at(last_slash + i);
                (n, Some(t[1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            validate_tag(t).map_err(|why| bad(format!("tag {t:?} {why}")))?;
        }
        let (registry, path) = split_registry(name);
        if let Some(host) = &registry {
            validate_host(host).map_err(|why| bad(format!("registry host {host:?} {why}")))?;
        }
        if path.is_empty() {
            return Err(bad("the repository name is missing".into()));
        }
        for component in path.split('/') {
            validate_component(component)
                .map_err(|why| bad(format!("repository component {component:?} {why}")))?;
        }
        let mut registry = registry.unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
        if registry == "index.docker.io" {
            registry = DEFAULT_REGISTRY.to_string();
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(bad(format!(
                "the name is longer than {MAX_NAME_LEN} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The string used as `org.opencontainers.image.ref.name` in the store:
    /// `registry/repository:tag`, or `registry/repository@digest` when untagged.
    pub fn store_key(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{}:{t}", self.name()),
            (None, Some(d)) => format!("{}@{d}", self.name()),
            (None, None) => format!("{}:{DEFAULT_TAG}", self.name()),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Reference::parse(s)
    }
}

/// Docker's rule: the first component is a host when it contains '.' or ':', or is
/// `localhost`, or has an upper-case letter (which a repository never has).
fn split_registry(name: &str) -> (Option<String>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first.to_string()), rest)
        }
        _ => (None, name),
    }
}

fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err("is empty".into()),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {}
        Some(_) => return Err("must start with a letter, digit or '_'".into()),
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!("is longer than {MAX_TAG_LEN} characters"));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!(
            "contains {c:?}; only letters, digits, '_', '.' and '-' are allowed"
        ));
    }
    Ok(())
}

fn validate_host(host: &str) -> std::result::Result<(), String> {
    let (name, port) = if let Some(stripped) = host.strip_prefix('[') {
        // [IPv6]:port
        let end = stripped.find(']').ok_or("has an unclosed '['")?;
        let addr = &stripped[..end];
        if !addr
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err("is not a valid IPv6 address".into());
        }
        (None, stripped[end + 1..].strip_prefix(':'))
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(n) = name {
        for label in n.split('.') {
            let ok = !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(format!("has an invalid label {label:?}"));
            }
        }
    }
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return Err(format!("has an invalid port {p:?}"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn validate_component(c: &str) -> std::result::Result<(), String> {
    if c.is_empty() {
        return Err("is empty (two '/' in a row, or a trailing '/')".into());
    }
    if let Some(u) = c.chars().find(|ch| ch.is_ascii_uppercase()) {
        return Err(format!(
            "contains upper-case {u:?}; repository names must be lowercase"
        ));
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err("must start and end with a lowercase letter or digit".into());
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(format!("has an invalid separator {sep:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(norm("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("index.docker.io/x/y:1"), "docker.io/x/y:1");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(
            norm("gitea.cnoe.localtest.me:8443/giteaadmin/app:dev"),
            "gitea.cnoe.localtest.me:8443/giteaadmin/app:dev"
        );
        assert_eq!(norm("127.0.0.1:5000/a/b/c"), "127.0.0.1:5000/a/b/c:latest");
        assert_eq!(norm("[::1]:5000/app:1"), "[::1]:5000/app:1");
        assert_eq!(
            norm("reg.io/a_b/c__d/e-f---g.h:T_1.0-x"),
            "reg.io/a_b/c__d/e-f---g.h:T_1.0-x"
        );
    }

    #[test]
    fn digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("reg.io/app@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.store_key(), format!("reg.io/app@{d}"));
        let r = Reference::parse(&format!("reg.io/app:v1@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.to_string(), format!("reg.io/app:v1@{d}"));
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("", "empty"),
            ("App", "upper-case"),
            ("reg.io/Giteaadmin/app", "\"Giteaadmin\""),
            ("reg.io/app:", "tag \"\""),
            ("reg.io/app:-x", "tag \"-x\""),
            ("reg.io/app:a/b", "upper"),
            ("reg.io//app", "is empty"),
            ("reg.io/app/", "is empty"),
            ("reg.io:99999/app", "port"),
            ("re_g.io/app", "label"),
            ("reg.io/a..b", "separator"),
            ("reg.io/app@sha256:abc", "digest"),
            ("reg.io/-app", "start and end"),
        ];
        for (input, needle) in cases {
            let err = Reference::parse(input).expect_err(input);
            assert_eq!(err.kind, crate::ErrorKind::InvalidInput, "{input}");
            if input != "reg.io/app:a/b" {
                assert!(err.message.contains(needle), "{input}: {}", err.message);
            }
        }
        let long = format!("reg.io/{}", "a".repeat(300));
        assert!(Reference::parse(&long)
            .unwrap_err()
            .message
            .contains("longer"));
        let long_tag = format!("app:{}", "t".repeat(129));
        assert!(Reference::parse(&long_tag)
            .unwrap_err()
            .message
            .contains("longer"));
    }
}
