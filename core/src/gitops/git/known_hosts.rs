//! SSH host keys against known_hosts, in OpenSSH's format: a file, or the text of Argo CD's
//! `argocd-ssh-known-hosts-cm` (key `ssh_known_hosts`), which is the same format.
//!
//! Supported: comma-separated host patterns with `*`/`?` and `!` negation, `[host]:port`,
//! hashed names (`|1|salt|hmac-sha1`), `@revoked` (a listed key is refused). `@cert-authority`
//! lines are skipped: libssh2 does not hand host certificates to the check.

use crate::error::{Error, ErrorKind, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::path::PathBuf;

/// Where SSH host keys are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KnownHosts {
    /// `~/.ssh/known_hosts`, then `/etc/ssh/ssh_known_hosts`, as `ssh` reads them.
    #[default]
    User,
    /// A known_hosts file.
    File(#[schemars(extend("x-path" = true))] PathBuf),
    /// known_hosts text, e.g. the `ssh_known_hosts` key of Argo CD's
    /// `argocd-ssh-known-hosts-cm` ConfigMap.
    Text(String),
}

impl KnownHosts {
    /// Where the keys came from, for messages, and how to add one there.
    fn describe(&self) -> (String, String) {
        match self {
            KnownHosts::User => {
                let f = user_file();
                (
                    format!("{} (or /etc/ssh/ssh_known_hosts)", f.display()),
                    format!(">> {}", f.display()),
                )
            }
            KnownHosts::File(p) => (p.display().to_string(), format!(">> {}", p.display())),
            KnownHosts::Text(_) => (
                "the known_hosts text given (Argo CD: argocd-ssh-known-hosts-cm)".into(),
                "into the ssh_known_hosts key of the argocd-ssh-known-hosts-cm ConfigMap".into(),
            ),
        }
    }

    fn text(&self) -> Result<String> {
        match self {
            KnownHosts::Text(t) => Ok(t.clone()),
            KnownHosts::File(p) => {
                std::fs::read_to_string(p).map_err(|e| Error::io("read known_hosts", p, e))
            }
            KnownHosts::User => {
                let mut out = String::new();
                for p in [user_file(), PathBuf::from("/etc/ssh/ssh_known_hosts")] {
                    if let Ok(t) = std::fs::read_to_string(&p) {
                        out.push_str(&t);
                        out.push('\n');
                    }
                }
                Ok(out)
            }
        }
    }
}

fn user_file() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
        .join(".ssh/known_hosts")
}

#[derive(Debug, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

struct Line {
    marker: Marker,
    hosts: String,
    key_type: String,
    key: Vec<u8>,
}

fn parse(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            _ => Marker::None,
        };
        if marker != Marker::None {
            first = fields.next().unwrap_or_default();
        }
        let (Some(key_type), Some(key)) = (fields.next(), fields.next()) else {
            continue;
        };
        // A line that does not decode is skipped, as ssh skips it.
        let Ok(key) = base64::engine::general_purpose::STANDARD.decode(key) else {
            continue;
        };
        out.push(Line {
            marker,
            hosts: first.to_string(),
            key_type: key_type.to_string(),
            key,
        });
    }
    out
}

/// Whether the host field of a line names `name` (`host` or `[host]:port`).
fn matches(hosts: &str, name: &str) -> bool {
    if let Some(hashed) = hosts.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut hit = false;
    for pattern in hosts.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if glob(&pattern.to_ascii_lowercase(), &name.to_ascii_lowercase()) {
            if negated {
                return false;
            }
            hit = true;
        }
    }
    hit
}

/// `|1|base64(salt)|base64(hmac_sha1(salt, name))`, as `ssh-keygen -H` writes.
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// `*` and `?` wildcards, as in ssh's host patterns.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// OpenSSH's fingerprint form, `SHA256:<base64 without padding>`.
pub(crate) fn fingerprint(key: &[u8]) -> String {
    let digest = sha2::Sha256::digest(key);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// Checks the key `host_port` (`host` or `[host]:port`) presented. `Ok` when a listed key
/// of that type is exactly it; else `UNTRUSTED` naming the host, its fingerprint, what
/// was wrong and what to do.
pub(crate) fn check(known: &KnownHosts, host_port: &str, key_type: &str, key: &[u8]) -> Result<()> {
    let lines = parse(&known.text()?);
    let (source, add) = known.describe();
    let fp = fingerprint(key);
    let for_host: Vec<&Line> = lines
        .iter()
        .filter(|l| l.marker != Marker::CertAuthority && matches(&l.hosts, host_port))
        .collect();
    let untrusted = |what: String| Error::new(ErrorKind::Untrusted, what);
    if for_host
        .iter()
        .any(|l| l.marker == Marker::Revoked && l.key == key)
    {
        return Err(untrusted(format!(
            "SSH host key of {host_port} ({key_type} {fp}) is marked @revoked in {source}; refused"
        )));
    }
    let same_type: Vec<&&Line> = for_host
        .iter()
        .filter(|l| l.marker == Marker::None && l.key_type == key_type)
        .collect();
    if same_type.iter().any(|l| l.key == key) {
        return Ok(());
    }
    if !same_type.is_empty() {
        return Err(untrusted(format!(
            "SSH host key of {host_port} CHANGED: it presented {key_type} {fp}, which is not the {key_type} key \
             listed for it in {source}; someone may be intercepting the connection, or the host was \
             reinstalled. Check the new fingerprint with the host's owner, then replace the line in {source}"
        )));
    }
    let keyscan = keyscan(host_port);
    let other_types: Vec<&str> = for_host
        .iter()
        .filter(|l| l.marker == Marker::None)
        .map(|l| l.key_type.as_str())
        .collect();
    if !other_types.is_empty() {
        return Err(untrusted(format!(
            "SSH host key of {host_port} ({key_type} {fp}) is not listed in {source}, which has only {} \
             keys for it; after checking the fingerprint, add its {key_type} key ({keyscan} {add}), \
             or mark the source insecure",
            other_types.join(", ")
        )));
    }
    Err(untrusted(format!(
        "SSH host key of {host_port} ({key_type} {fp}) is unknown: {source} lists no key for that host; \
         after checking the fingerprint, add it ({keyscan} {add}), or mark the source insecure"
    )))
}

/// The `ssh-keyscan` command for `host` / `[host]:port`.
fn keyscan(host_port: &str) -> String {
    match host_port.strip_prefix('[').and_then(|r| r.split_once("]:")) {
        Some((h, p)) => format!("ssh-keyscan -p {p} {h}"),
        None => format!("ssh-keyscan {host_port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"\0\0\0\x0bssh-ed25519\0\0\0\x20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OTHER: &[u8] = b"\0\0\0\x0bssh-ed25519\0\0\0\x20bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn b64(k: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(k)
    }

    fn text(lines: &[String]) -> KnownHosts {
        KnownHosts::Text(lines.join("\n"))
    }

    #[test]
    fn a_listed_key_is_trusted_for_its_host_and_port_only() {
        let k = text(&[format!("[127.0.0.1]:2222 ssh-ed25519 {}", b64(KEY))]);
        check(&k, "[127.0.0.1]:2222", "ssh-ed25519", KEY).unwrap();
        let e = check(&k, "[127.0.0.1]:2223", "ssh-ed25519", KEY).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
        assert!(
            e.message.contains("unknown") && e.message.contains("ssh-keyscan -p 2223 127.0.0.1"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_changed_key_says_so() {
        let k = text(&[format!(
            "gitlab.example.com,10.0.0.1 ssh-ed25519 {}",
            b64(KEY)
        )]);
        let e = check(&k, "gitlab.example.com", "ssh-ed25519", OTHER).unwrap_err();
        assert!(
            e.message.contains("CHANGED") && e.message.contains(&fingerprint(OTHER)),
            "{}",
            e.message
        );
    }

    #[test]
    fn patterns_negation_hashes_and_revocation() {
        let k = text(&[format!(
            "*.example.com,!bad.example.com ssh-ed25519 {}",
            b64(KEY)
        )]);
        check(&k, "git.example.com", "ssh-ed25519", KEY).unwrap();
        assert!(check(&k, "bad.example.com", "ssh-ed25519", KEY).is_err());

        // `ssh-keygen -H` form: HMAC-SHA1 of the name keyed with the salt.
        let salt = b"0123456789abcdefghij";
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
        let tag = ring::hmac::sign(&key, b"[h.example]:2200");
        let hashed = format!("|1|{}|{}", b64(salt), b64(tag.as_ref()));
        let k = text(&[format!("{hashed} ssh-ed25519 {}", b64(KEY))]);
        check(&k, "[h.example]:2200", "ssh-ed25519", KEY).unwrap();
        assert!(check(&k, "h.example", "ssh-ed25519", KEY).is_err());

        let k = text(&[
            format!("h ssh-ed25519 {}", b64(KEY)),
            format!("@revoked * ssh-ed25519 {}", b64(KEY)),
        ]);
        assert!(check(&k, "h", "ssh-ed25519", KEY)
            .unwrap_err()
            .message
            .contains("@revoked"));
    }
}
