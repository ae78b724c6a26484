//! Decrypting the tree and computing its MAC as sops' `Tree.Decrypt` does: values in file
//! order, each one's additional data its key path (`a:b:`; a list item has its list's path),
//! the MAC a SHA-512 over every value's bytes (`sops.ToBytes`), nulls and comments left out.

use super::cipher::{self, Cipher, ValueError};
use super::metadata::Rule;
use super::tree::Node;
use crate::error::{Error, ErrorKind, Result};
use crate::secrets::redact::{SecretString, SecretValue};
use sha2::{Digest, Sha512};

/// sha256("sops"): the MAC's first bytes when only encrypted values are hashed.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

pub(crate) struct Walk<'a> {
    cipher: Cipher,
    rule: &'a Rule,
    mac_only_encrypted: bool,
    mac: Sha512,
    file: &'a str,
    path: Vec<String>,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(
        key: &[u8; 32],
        rule: &'a Rule,
        mac_only_encrypted: bool,
        file: &'a str,
    ) -> Self {
        let mut mac = Sha512::new();
        if mac_only_encrypted {
            mac.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Walk {
            cipher: cipher::cipher(key),
            rule,
            mac_only_encrypted,
            mac,
            file,
            path: Vec::new(),
        }
    }

    /// The top-level map, decrypted.
    pub(crate) fn map(&mut self, m: Vec<(String, Node)>) -> Result<Vec<(String, SecretValue)>> {
        let mut out = Vec::with_capacity(m.len());
        for (k, v) in m {
            self.path.push(k);
            let v = self.value(v)?;
            let k = self.path.pop().unwrap_or_default();
            out.push((k, v));
        }
        Ok(out)
    }

    fn value(&mut self, n: Node) -> Result<SecretValue> {
        match n {
            Node::Map(m) => self.map(m).map(SecretValue::Map),
            Node::List(l) => {
                let mut out = Vec::with_capacity(l.len());
                for v in l {
                    match v {
                        Node::Map(_) | Node::List(_) | Node::Null => out.push(self.value(v)?),
                        leaf => out.extend(self.leaf(leaf)?),
                    }
                }
                Ok(SecretValue::List(out))
            }
            Node::Null => Ok(SecretValue::Null),
            leaf => Ok(self.leaf(leaf)?.unwrap_or(SecretValue::Null)),
        }
    }

    fn where_(&self) -> String {
        format!("{}: the value at {}", self.file, self.path.join(":"))
    }

    /// A scalar, decrypted when the file's rule says it is encrypted; `None` for an
    /// encrypted comment (a list item of type `comment`).
    fn leaf(&mut self, n: Node) -> Result<Option<SecretValue>> {
        let encrypted = self.rule.encrypts(&self.path);
        let (value, bytes, comment) = if encrypted {
            let Node::Str(s) = n else {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "{} is not encrypted, though the file's rule says it is: the file \
                         was edited after sops wrote it; restore it or re-encrypt it",
                        self.where_()
                    ),
                ));
            };
            if s.is_empty() {
                // sops writes an empty value as it is.
                (
                    SecretValue::String(SecretString::default()),
                    Vec::new(),
                    false,
                )
            } else {
                let mut aad = self.path.join(":");
                aad.push(':');
                let leaf = cipher::open(&self.cipher, &s, aad.as_bytes())
                    .and_then(|(plain, ty)| cipher::typed(plain, &ty))
                    .map_err(|e| self.value_error(e))?;
                (leaf.value, leaf.mac_bytes, leaf.comment)
            }
        } else {
            let (v, b) = plain(n);
            (v, b, false)
        };
        // Comments are not hashed.
        if (!self.mac_only_encrypted || encrypted) && !comment {
            self.mac.update(&bytes);
        }
        Ok((!comment).then_some(value))
    }

    fn value_error(&self, e: ValueError) -> Error {
        let w = self.where_();
        match e {
            ValueError::Format(why) => Error::new(
                ErrorKind::Integrity,
                format!("{w} is {why}: the file was edited after sops wrote it"),
            ),
            ValueError::Auth => Error::new(
                ErrorKind::Integrity,
                format!(
                    "{w} fails authentication: it was changed, or moved from another key or \
                     file, after sops encrypted it; restore the file (from git) or re-encrypt it"
                ),
            ),
            ValueError::Type(why) => {
                Error::new(ErrorKind::Integrity, format!("{w} does not decode: {why}"))
            }
        }
    }

    /// The MAC of the values walked, as sops prints it (upper-case hex).
    pub(crate) fn mac(self) -> String {
        hex::encode_upper(self.mac.finalize())
    }

    /// Checks the file's MAC (encrypted with the data key, the additional data being the
    /// `lastmodified` text).
    pub(crate) fn verify(self, file_mac: &str, lastmodified: &str) -> Result<()> {
        let file = self.file.to_owned();
        let c = self.cipher.clone();
        let computed = self.mac();
        if file_mac.is_empty() {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("{file}: has no MAC; a file sops wrote always has one"),
            ));
        }
        let stored = cipher::open(&c, file_mac, lastmodified.as_bytes())
            .ok()
            .and_then(|(b, _)| String::from_utf8(b).ok());
        match stored {
            None => Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{file}: its MAC does not decrypt: the MAC or lastmodified was changed \
                     after sops wrote the file; restore it (from git) or re-encrypt it"
                ),
            )),
            Some(m) if m != computed => Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{file}: MAC mismatch: the values were changed, added, removed or \
                     reordered after sops wrote the file; restore it (from git) or \
                     re-encrypt it"
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

/// An unencrypted value and its MAC bytes (`sops.ToBytes`).
fn plain(n: Node) -> (SecretValue, Vec<u8>) {
    match n {
        Node::Bool(b) => (SecretValue::Bool(b), cipher::bool_bytes(b)),
        Node::Int(i) => (SecretValue::Int(i), i.to_string().into_bytes()),
        Node::Float(f) => (SecretValue::Float(f), cipher::go_float(f).into_bytes()),
        Node::Str(s) => {
            let b = s.as_bytes().to_vec();
            (SecretValue::String(SecretString::new(s)), b)
        }
        Node::Null | Node::List(_) | Node::Map(_) => (SecretValue::Null, Vec::new()),
    }
}
