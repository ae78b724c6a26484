//! Flux artifact revisions, in every form source-controller has produced, and the entry
//! directory name derived from them.
//!
//! | form | example | pointer | hash |
//! | --- | --- | --- | --- |
//! | named | `main@sha1:<40hex>`, `refs/heads/main@sha1:…`, `v1.0.0@sha1:…`, `latest@sha256:<64hex>` | before the **last** `@` | after it |
//! | bare | `sha1:<hex>`, `sha256:<hex>` (Bucket, OCIRepository by digest) | none | all |
//! | legacy (Flux < 2.0) | `main/<40hex>`, `feature/x/<40hex>` | before the last `/` | after it |
//! | other | `6.1.0` (a HelmChart's chart version) | all | none: the artifact's digest names the entry |
//!
//! The pointer may itself hold `/` and `@` (`refs/heads/feat@2`), which is why named forms
//! split at the last `@` (splitting at the first is a known fault of hand-written readers).

use crate::digest::Digest;
use crate::error::{Error, Result};

/// A parsed revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The branch, tag or other name the revision was taken from, as given.
    pub pointer: Option<String>,
    /// `sha1`, `sha256`, `sha384` or `sha512`, when the revision holds a hash.
    pub algorithm: Option<String>,
    /// The hash in lower-case hex.
    pub hash: Option<String>,
}

const ALGORITHMS: [(&str, usize); 4] = [
    ("sha1", 40),
    ("sha256", 64),
    ("sha384", 96),
    ("sha512", 128),
];

/// Longest pointer kept in a directory name (names are at most 255 bytes).
const POINTER_MAX: usize = 200;

impl Revision {
    pub fn parse(revision: &str) -> Result<Revision> {
        let revision = revision.trim();
        if revision.is_empty() {
            return Err(Error::invalid("the artifact's revision is empty"));
        }
        if let Some((pointer, hash)) = revision.rsplit_once('@') {
            if let Some((algorithm, hex)) = algorithm_hash(hash) {
                if pointer.is_empty() {
                    return Err(Error::invalid(format!(
                        "revision {revision:?} has an empty name before '@'"
                    )));
                }
                return Ok(Revision {
                    pointer: Some(pointer.to_string()),
                    algorithm: Some(algorithm),
                    hash: Some(hex),
                });
            }
            if hash.contains(':') {
                return Err(Error::invalid(format!(
                    "revision {revision:?}: {hash:?} is not ALGORITHM:HEX with a known \
                     algorithm (sha1, sha256, sha384, sha512) and its length of hex"
                )));
            }
        }
        if let Some((algorithm, hex)) = algorithm_hash(revision) {
            return Ok(Revision {
                pointer: None,
                algorithm: Some(algorithm),
                hash: Some(hex),
            });
        }
        if let Some((pointer, hex)) = revision.rsplit_once('/') {
            if !pointer.is_empty() && hex.len() == 40 && is_hex(hex) {
                return Ok(Revision {
                    pointer: Some(pointer.to_string()),
                    algorithm: Some("sha1".into()),
                    hash: Some(hex.to_ascii_lowercase()),
                });
            }
        }
        Ok(Revision {
            pointer: Some(revision.to_string()),
            algorithm: None,
            hash: None,
        })
    }

    /// The entry's directory name: `{pointer}-sha-{7 hex}`, or `sha-{7 hex}` without a
    /// pointer. `refs/heads/` and `refs/tags/` are dropped from the pointer and every other
    /// character outside `[A-Za-z0-9._-]` becomes `_`. Without a hash in the revision, the
    /// artifact's digest gives the 7 hex (a chart version names no commit).
    pub fn entry_name(&self, artifact: &Digest) -> String {
        let hex = self.hash.as_deref().unwrap_or(&artifact.hex);
        let short = &hex[..hex.len().min(7)];
        match self.pointer.as_deref() {
            Some(p) => format!("{}-sha-{short}", sanitize(p)),
            None => format!("sha-{short}"),
        }
    }
}

fn algorithm_hash(s: &str) -> Option<(String, String)> {
    let (algorithm, hex) = s.split_once(':')?;
    let algorithm = algorithm.to_ascii_lowercase();
    let (_, len) = ALGORITHMS.iter().find(|(a, _)| *a == algorithm)?;
    // A short sha1 (Flux has written abbreviated commits in some versions) is accepted.
    let ok_len = hex.len() == *len || (algorithm == "sha1" && (7..40).contains(&hex.len()));
    (ok_len && is_hex(hex)).then(|| (algorithm, hex.to_ascii_lowercase()))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `refs/heads/` and `refs/tags/` dropped; every byte outside `[A-Za-z0-9._-]` becomes `_`;
/// cut to a length a file name can hold.
pub fn sanitize(pointer: &str) -> String {
    let p = pointer
        .strip_prefix("refs/heads/")
        .or_else(|| pointer.strip_prefix("refs/tags/"))
        .unwrap_or(pointer);
    let mut out: String = p
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(POINTER_MAX);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA256: &str = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

    fn digest() -> Digest {
        Digest::parse(&format!("sha256:{SHA256}")).unwrap()
    }

    fn name(rev: &str) -> String {
        Revision::parse(rev).unwrap().entry_name(&digest())
    }

    #[test]
    fn every_form_flux_has_produced() {
        assert_eq!(name(&format!("main@sha1:{SHA1}")), "main-sha-0123456");
        assert_eq!(
            name(&format!("refs/heads/main@sha1:{SHA1}")),
            "main-sha-0123456"
        );
        assert_eq!(
            name(&format!("refs/tags/v1.0.0@sha1:{SHA1}")),
            "v1.0.0-sha-0123456"
        );
        assert_eq!(name(&format!("v1.0.0@sha1:{SHA1}")), "v1.0.0-sha-0123456");
        assert_eq!(name(&format!("sha1:{SHA1}")), "sha-0123456");
        assert_eq!(
            name(&format!("latest@sha256:{SHA256}")),
            "latest-sha-ab01234"
        );
        assert_eq!(name(&format!("sha256:{SHA256}")), "sha-ab01234");
        assert_eq!(name(&format!("main/{SHA1}")), "main-sha-0123456");
        assert_eq!(name(&format!("feature/x/{SHA1}")), "feature_x-sha-0123456");
    }

    #[test]
    fn the_split_is_at_the_last_at_sign() {
        let r = Revision::parse(&format!("refs/heads/feat@2/x@sha1:{SHA1}")).unwrap();
        assert_eq!(r.pointer.as_deref(), Some("refs/heads/feat@2/x"));
        assert_eq!(r.hash.as_deref(), Some(SHA1));
        assert_eq!(r.entry_name(&digest()), "feat_2_x-sha-0123456");
    }

    #[test]
    fn a_chart_version_takes_the_digest() {
        assert_eq!(name("6.1.0"), "6.1.0-sha-ab01234");
        assert_eq!(name("6.1.0+abc"), "6.1.0_abc-sha-ab01234");
    }

    #[test]
    fn names_never_leave_their_directory() {
        for rev in ["../../etc", "/etc/passwd", "..", "a/../../b", "x\0y"] {
            let n = name(rev);
            assert!(
                !n.contains('/') && n != ".." && n != ".",
                "{rev:?} -> {n:?}"
            );
        }
        let long = format!("{}@sha1:{SHA1}", "b".repeat(400));
        assert!(name(&long).len() < 255);
    }

    #[test]
    fn malformed_hashes_are_refused_with_the_revision() {
        let e = Revision::parse("main@sha1:zz").unwrap_err();
        assert!(e.message.contains("main@sha1:zz"), "{e}");
        let e = Revision::parse("main@md5:0123").unwrap_err();
        assert!(e.message.contains("known algorithm"), "{e}");
        assert!(Revision::parse(&format!("@sha1:{SHA1}")).is_err());
        assert!(Revision::parse("  ").is_err());
    }
}
