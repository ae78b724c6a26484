//! Decrypted secrets as text (dotenv or JSON), and the one way they reach a disk: a file the
//! user named, created 0600 through a temporary sibling and a rename.

use super::redact::{SecretString, SecretValue};
use super::sops::cipher::go_float;
use crate::error::{Error, Result};
use std::path::Path;

fn is_key(k: &str) -> bool {
    let mut b = k.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
}

/// One value quoted so that dotenv parsers read it back as it is: bare when it is plain,
/// single-quoted (literal) when it can be, else double-quoted with escapes.
fn quote(v: &str, out: &mut String) {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c);
    if v.chars().all(plain) {
        out.push_str(v);
    } else if !v.contains(['\'', '\n', '\r']) {
        out.push('\'');
        out.push_str(v);
        out.push('\'');
    } else {
        out.push('"');
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '$' => out.push_str("\\$"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

pub(crate) fn dotenv(v: &SecretValue) -> Result<SecretString> {
    let SecretValue::Map(m) = v else {
        return Err(Error::invalid("only a mapping can be written as dotenv"));
    };
    let mut out = String::new();
    for (k, v) in m {
        if !is_key(k) {
            return Err(Error::invalid(format!(
                "key {k:?} is not a dotenv variable name (letters, digits, '_', '.'); use the \
                 JSON format"
            )));
        }
        out.push_str(k);
        out.push('=');
        match v {
            SecretValue::Null => {}
            SecretValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            SecretValue::Int(i) => out.push_str(&i.to_string()),
            SecretValue::Float(f) => out.push_str(&go_float(*f)),
            SecretValue::String(s) => quote(s.expose(), &mut out),
            SecretValue::List(_) | SecretValue::Map(_) => {
                return Err(Error::invalid(format!(
                    "key {k:?} holds a nested value; dotenv holds only strings: use the JSON \
                     format"
                )))
            }
        }
        out.push('\n');
    }
    Ok(SecretString::new(out))
}

pub(crate) fn json(v: &SecretValue) -> SecretString {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    SecretString::new(s)
}

/// Writes `bytes` to `path`, readable by its owner only (0600): a temporary sibling, also
/// 0600 from its creation, renamed over `path`. A crash leaves no partial file at `path`.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.is_dir() {
        return Err(Error::invalid(format!(
            "{}: is a directory; name a file to write",
            path.display()
        )));
    }
    crate::fsx::write_atomic_private(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::parse_dotenv_with;

    #[test]
    fn dotenv_round_trips() {
        let vals = [
            "plain-1.2/x:y@z",
            "",
            "two words # not a comment",
            "it's \"quoted\"\nline2\t$HOME ${HOME} \\n",
            "$(rm -rf ~)",
        ];
        let m = SecretValue::Map(
            vals.iter()
                .enumerate()
                .map(|(i, v)| (format!("K{i}"), SecretValue::String((*v).into())))
                .collect(),
        );
        let text = dotenv(&m).unwrap();
        let back = parse_dotenv_with(text.expose(), "t", &|_| Some("EXPANDED".into())).unwrap();
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(back[i].1.expose(), *v);
        }
        let nested = SecretValue::Map(vec![("a".into(), SecretValue::List(vec![]))]);
        assert!(dotenv(&nested).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn private_file_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.env");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"A=1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "A=1\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
