//! age identities and the data key (getsops/sops `age/keysource.go`).
//!
//! Identities come from every place sops reads them: `SOPS_AGE_KEY` (whitespace-separated),
//! the file `SOPS_AGE_KEY_FILE` names, and `$XDG_CONFIG_HOME/sops/age/keys.txt` (default
//! `~/.config/sops/age/keys.txt`), or only from the file the caller names. Only X25519
//! identities and recipients are supported; the others get a clear "not supported".

use super::metadata::{AgeKey, Metadata};
use crate::error::{Error, ErrorKind, Result};
use crate::secrets::redact::SecretString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// Where identities are read from.
#[derive(Default)]
pub(crate) struct KeySources {
    /// `SOPS_AGE_KEY`.
    pub env_key: Option<SecretString>,
    /// `SOPS_AGE_KEY_FILE`, or the caller's file.
    pub key_file: Option<PathBuf>,
    /// The default keys file (read when it exists).
    pub default_file: Option<PathBuf>,
}

impl KeySources {
    /// Only `file`.
    pub(crate) fn file(file: &Path) -> Self {
        KeySources {
            key_file: Some(file.to_owned()),
            ..Default::default()
        }
    }

    /// sops' places, read through `var` (the process environment in production).
    pub(crate) fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Self {
        let config = var("XDG_CONFIG_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".config")));
        KeySources {
            env_key: var("SOPS_AGE_KEY").map(SecretString::new),
            key_file: var("SOPS_AGE_KEY_FILE").map(PathBuf::from),
            default_file: config.map(|c| c.join("sops/age/keys.txt")),
        }
    }
}

pub(crate) struct Identity {
    key: age::x25519::Identity,
    /// Its public key, `age1…`.
    recipient: String,
    /// Where it came from (`SOPS_AGE_KEY`, a file path).
    source: String,
}

pub(crate) struct Identities {
    ids: Vec<Identity>,
    /// What was looked at, for the "no identity" message.
    looked: Vec<String>,
    /// Identities of kinds idpkit does not support (plugin, post-quantum), where found.
    unsupported: Vec<String>,
}

/// Loads every identity the sources hold. A malformed line is an error naming the source
/// and the line, never its text.
pub(crate) fn load(src: &KeySources) -> Result<Identities> {
    let mut out = Identities {
        ids: Vec::new(),
        looked: Vec::new(),
        unsupported: Vec::new(),
    };
    match &src.env_key {
        Some(k) => parse_into(&mut out, k.expose(), "SOPS_AGE_KEY", true)?,
        None => out.looked.push("SOPS_AGE_KEY (unset)".into()),
    }
    if let Some(f) = &src.key_file {
        let text = std::fs::read_to_string(f)
            .map(Zeroizing::new)
            .map_err(|e| Error::io("read age identities file", f, e))?;
        parse_into(&mut out, &text, &f.display().to_string(), false)?;
    }
    if let Some(f) = &src.default_file {
        match std::fs::read_to_string(f).map(Zeroizing::new) {
            Ok(text) => parse_into(&mut out, &text, &f.display().to_string(), false)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.looked.push(format!("{} (absent)", f.display()))
            }
            Err(e) => return Err(Error::io("read age identities file", f, e)),
        }
    }
    Ok(out)
}

fn parse_into(out: &mut Identities, text: &str, source: &str, words: bool) -> Result<()> {
    let before = out.ids.len() + out.unsupported.len();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let items: Vec<&str> = if words {
            line.split_whitespace().collect()
        } else {
            vec![line]
        };
        for item in items {
            let at = if words {
                source.to_owned()
            } else {
                format!("{source} line {}", n + 1)
            };
            if item.starts_with("AGE-PLUGIN-") || item.starts_with("AGE-SECRET-KEY-PQ-1") {
                out.unsupported.push(format!(
                    "{at}: a {} identity (not supported; only X25519 AGE-SECRET-KEY-1…)",
                    if item.starts_with("AGE-PLUGIN-") {
                        "plugin"
                    } else {
                        "post-quantum"
                    }
                ));
                continue;
            }
            let key = age::x25519::Identity::from_str(item).map_err(|_| {
                Error::invalid(format!(
                    "{at}: not an age identity (AGE-SECRET-KEY-1…); the text is not shown"
                ))
            })?;
            out.ids.push(Identity {
                recipient: key.to_public().to_string(),
                key,
                source: source.to_owned(),
            });
        }
    }
    if out.ids.len() + out.unsupported.len() == before {
        out.looked.push(format!("{source} (no identity in it)"));
    }
    Ok(())
}

/// The kind of an age recipient string, when idpkit cannot use it.
fn unsupported_recipient(r: &str) -> Option<&'static str> {
    if r.starts_with("ssh-") {
        Some("an SSH key (age-ssh)")
    } else if r.starts_with("age1pq1") {
        Some("a post-quantum hybrid key")
    } else if r
        .strip_prefix("age1")
        .is_some_and(|data| data.contains('1'))
    {
        // A plugin recipient is age1<name>1<data>; an X25519 one is age1<data>, in bech32's
        // alphabet, which has no '1'.
        Some("an age plugin's key")
    } else if !r.starts_with("age1") {
        Some("not an age public key")
    } else {
        None
    }
}

/// The stanza types of an armored age header (`X25519`, `scrypt`, `ssh-ed25519`, …).
fn stanza_types(enc: &str) -> Option<Vec<String>> {
    let mut bytes = Vec::new();
    age::armor::ArmoredReader::new(enc.as_bytes())
        .read_to_end(&mut bytes)
        .ok()?;
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        if line.starts_with(b"---") {
            break;
        }
        if let Some(rest) = line.strip_prefix(b"-> ") {
            let t = rest.split(|&b| b == b' ').next().unwrap_or_default();
            out.push(String::from_utf8_lossy(t).into_owned());
        }
    }
    Some(out)
}

/// Unwraps the file's data key with the first identity that opens one of its age keys.
pub(crate) fn data_key(
    meta: &Metadata,
    ids: &Identities,
    file: &str,
) -> Result<Zeroizing<[u8; 32]>> {
    let mut unsupported = Vec::new();
    for k in &meta.age {
        if let Some(why) = unsupported_recipient(&k.recipient) {
            unsupported.push(format!("{} is {why}", k.recipient));
            continue;
        }
        match stanza_types(&k.enc) {
            None => {
                return Err(Error::invalid(format!(
                    "{file}: the data key wrapped for {} is not armored age",
                    k.recipient
                )))
            }
            Some(types) if !types.iter().any(|t| t == "X25519") => {
                let what = if types.iter().any(|t| t == "scrypt") {
                    "a passphrase (scrypt)".to_owned()
                } else if types.iter().any(|t| t.starts_with("ssh-")) {
                    "an SSH key".to_owned()
                } else {
                    format!("{} stanzas", types.join(", "))
                };
                unsupported.push(format!(
                    "the key for {} is wrapped with {what}",
                    k.recipient
                ));
                continue;
            }
            Some(_) => {}
        }
        if let Some(key) = unwrap(k, ids, file)? {
            return Ok(key);
        }
    }
    Err(no_key(meta, ids, &unsupported, file))
}

fn unwrap(k: &AgeKey, ids: &Identities, file: &str) -> Result<Option<Zeroizing<[u8; 32]>>> {
    if ids.ids.is_empty() {
        return Ok(None);
    }
    let reader = age::armor::ArmoredReader::new(k.enc.as_bytes());
    let dec = age::Decryptor::new(reader).map_err(|e| {
        Error::invalid(format!(
            "{file}: the data key wrapped for {} is not a valid age file: {e}",
            k.recipient
        ))
    })?;
    let identities = ids.ids.iter().map(|i| &i.key as &dyn age::Identity);
    let mut r = match dec.decrypt(identities) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{file}: the data key wrapped for {} does not decrypt: {e}",
                    k.recipient
                ),
            ))
        }
    };
    let mut key = Zeroizing::new(Vec::new());
    r.read_to_end(&mut key).map_err(|_| {
        Error::new(
            ErrorKind::Integrity,
            format!(
                "{file}: the data key wrapped for {} is corrupt",
                k.recipient
            ),
        )
    })?;
    let arr: [u8; 32] = key.as_slice().try_into().map_err(|_| {
        Error::new(
            ErrorKind::Integrity,
            format!("{file}: the data key is {} bytes, not 32", key.len()),
        )
    })?;
    Ok(Some(Zeroizing::new(arr)))
}

fn no_key(meta: &Metadata, ids: &Identities, unsupported: &[String], file: &str) -> Error {
    let recipients: Vec<&str> = meta.age.iter().map(|k| k.recipient.as_str()).collect();
    let mut msg = format!("{file}: no age identity opens it. ");
    if recipients.is_empty() {
        msg.push_str("It has no age recipients");
    } else {
        msg.push_str(&format!(
            "It is encrypted for the age recipient(s) {}: it opens with the identity \
             (AGE-SECRET-KEY-1…) whose public key is one of these",
            recipients.join(", ")
        ));
    }
    if !meta.others.is_empty() {
        msg.push_str(&format!(
            "; its other key sources ({}) are not supported by idpkit",
            meta.others.join(", ")
        ));
    }
    msg.push_str(". ");
    if !unsupported.is_empty() {
        msg.push_str(&format!("Not supported: {}. ", unsupported.join("; ")));
    }
    if ids.ids.is_empty() {
        msg.push_str(&format!(
            "No age identity was found (looked at {}); set SOPS_AGE_KEY or SOPS_AGE_KEY_FILE, \
             or put the identity in the default keys file",
            ids.looked.join(", ")
        ));
    } else {
        let have: Vec<String> = ids
            .ids
            .iter()
            .map(|i| format!("{} (from {})", i.recipient, i.source))
            .collect();
        msg.push_str(&format!(
            "The identities found are for {}; add the right identity, or have someone who \
             can open the file add your recipient (sops updatekeys, or sops -r -i --add-age \
             YOUR_RECIPIENT FILE)",
            have.join(", ")
        ));
    }
    for u in &ids.unsupported {
        msg.push_str(&format!("; skipped {u}"));
    }
    let only_unsupported = !unsupported.is_empty() && unsupported.len() == meta.age.len();
    let kind = if only_unsupported || (meta.age.is_empty() && !meta.others.is_empty()) {
        ErrorKind::InvalidInput
    } else {
        ErrorKind::Auth
    };
    Error::new(kind, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_env() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/me".to_owned()),
            "SOPS_AGE_KEY_FILE" => Some("/k.txt".to_owned()),
            _ => None,
        };
        let s = KeySources::from_env(&env);
        assert_eq!(
            s.default_file.unwrap(),
            Path::new("/home/me/.config/sops/age/keys.txt")
        );
        assert_eq!(s.key_file.unwrap(), Path::new("/k.txt"));
        let env = |k: &str| (k == "XDG_CONFIG_HOME").then(|| "/xdg".to_owned());
        let s = KeySources::from_env(&env);
        assert_eq!(s.default_file.unwrap(), Path::new("/xdg/sops/age/keys.txt"));
    }

    #[test]
    fn identities_parse_and_errors_hide_text() {
        let id = age::x25519::Identity::generate();
        let secret = age::secrecy::ExposeSecret::expose_secret(&id.to_string()).to_owned();
        let src = KeySources {
            env_key: Some(SecretString::new(format!("{secret}  {secret}\n# c\n"))),
            ..Default::default()
        };
        let ids = load(&src).unwrap();
        assert_eq!(ids.ids.len(), 2);
        assert_eq!(ids.ids[0].recipient, id.to_public().to_string());
        let bad = KeySources {
            env_key: Some(SecretString::new("AGE-SECRET-KEY-1HUNTER2".into())),
            ..Default::default()
        };
        let e = load(&bad).err().unwrap();
        assert!(
            !e.message.contains("HUNTER2") && e.message.contains("SOPS_AGE_KEY"),
            "{}",
            e.message
        );
        let pq = KeySources {
            env_key: Some(SecretString::new("AGE-PLUGIN-YUBIKEY-1XYZ".into())),
            ..Default::default()
        };
        assert_eq!(load(&pq).unwrap().unsupported.len(), 1);
    }

    #[test]
    fn recipient_kinds() {
        assert!(unsupported_recipient("ssh-ed25519 AAAA").is_some());
        assert!(unsupported_recipient("age1pq1abc").is_some());
        assert!(unsupported_recipient("age1yubikey1qabc").is_some());
        assert!(unsupported_recipient(
            "age1kmjzhrn5022xhwcya2fkh7qwgg7ghzugpfnyg7fqm0uve6vjvprs7jtenr"
        )
        .is_none());
    }
}
