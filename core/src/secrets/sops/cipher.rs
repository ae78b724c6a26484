//! SOPS' value cipher (getsops/sops `aes/cipher.go`): AES-256-GCM with a 32-byte nonce,
//! each value written as `ENC[AES256_GCM,data:B64,iv:B64,tag:B64,type:T]`, the additional
//! data being the value's key path joined by `:` with a trailing `:`.

use crate::secrets::redact::{SecretString, SecretValue};
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// AES-256-GCM with SOPS' 32-byte nonce.
pub(crate) type Cipher = AesGcm<Aes256, U32>;

pub(crate) fn cipher(data_key: &[u8; 32]) -> Cipher {
    Cipher::new(GenericArray::from_slice(data_key))
}

/// Why a value did not decrypt. The text never holds the value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// Not in SOPS' `ENC[...]` format (or bad base64 in it).
    Format(&'static str),
    /// The tag did not verify: the value, its path or the data key differs.
    Auth,
    /// Decrypted, but the text is not a value of its declared type.
    Type(String),
}

struct Parts<'a> {
    data: &'a str,
    iv: &'a str,
    tag: &'a str,
    ty: &'a str,
}

/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`, as sops' regex reads it
/// (greedy groups: the last `,iv:`, `,tag:`, `,type:` win).
fn split(s: &str) -> Option<Parts<'_>> {
    let body = s.strip_prefix("ENC[AES256_GCM,data:")?;
    let end = body.rfind(']')?;
    let body = &body[..end];
    let t = body.rfind(",type:")?;
    let (rest, ty) = (&body[..t], &body[t + 6..]);
    let g = rest.rfind(",tag:")?;
    let (rest, tag) = (&rest[..g], &rest[g + 5..]);
    let v = rest.rfind(",iv:")?;
    let (data, iv) = (&rest[..v], &rest[v + 4..]);
    if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() {
        return None;
    }
    Some(Parts { data, iv, tag, ty })
}

/// The plaintext bytes and declared type of one encrypted value.
pub(crate) fn open(
    cipher: &Cipher,
    value: &str,
    aad: &[u8],
) -> Result<(Vec<u8>, String), ValueError> {
    let p = split(value).ok_or(ValueError::Format(
        "not in sops' ENC[AES256_GCM,...] format",
    ))?;
    let b64 = |s: &str| {
        STANDARD
            .decode(s)
            .map_err(|_| ValueError::Format("bad base64"))
    };
    let mut data = b64(p.data)?;
    let iv = b64(p.iv)?;
    let tag = b64(p.tag)?;
    if iv.len() != 32 {
        return Err(ValueError::Format("the iv is not 32 bytes"));
    }
    if tag.len() != 16 {
        return Err(ValueError::Format("the tag is not 16 bytes"));
    }
    data.extend_from_slice(&tag);
    let plain = cipher
        .decrypt(GenericArray::from_slice(&iv), Payload { msg: &data, aad })
        .map_err(|_| ValueError::Auth)?;
    Ok((plain, p.ty.to_owned()))
}

/// A decrypted leaf: the value and the bytes sops' MAC hashes for it (`sops.ToBytes`).
pub(crate) struct Leaf {
    pub value: SecretValue,
    pub mac_bytes: Vec<u8>,
    /// An encrypted comment (sops writes a comment inside a list as an item of type
    /// `comment`): hashed like a value, left out of the result.
    pub comment: bool,
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest text that reads back, no exponent.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{f}")
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

pub(crate) fn bool_bytes(b: bool) -> Vec<u8> {
    if b { "True" } else { "False" }.into()
}

/// Types a decrypted plaintext as `aes/cipher.go` does (`str int float bool bytes time
/// comment`). A `time` stays its RFC 3339 text; `bytes` that are not UTF-8 become base64
/// (what sops' JSON output shows).
pub(crate) fn typed(plain: Vec<u8>, ty: &str) -> Result<Leaf, ValueError> {
    let text = || {
        String::from_utf8(plain.clone()).map_err(|_| ValueError::Type(format!("{ty} is not UTF-8")))
    };
    let bad = || ValueError::Type(format!("the decrypted text is not a valid {ty}"));
    Ok(match ty {
        "str" | "time" | "comment" => {
            let s = text()?;
            Leaf {
                mac_bytes: plain,
                value: SecretValue::String(SecretString::new(s)),
                comment: ty == "comment",
            }
        }
        "int" => {
            let s = text()?;
            let i: i64 = s.parse().map_err(|_| bad())?;
            Leaf {
                mac_bytes: i.to_string().into_bytes(),
                value: SecretValue::Int(i),
                comment: false,
            }
        }
        "float" => {
            let s = text()?;
            let f = parse_go_float(&s).ok_or_else(bad)?;
            Leaf {
                mac_bytes: go_float(f).into_bytes(),
                value: SecretValue::Float(f),
                comment: false,
            }
        }
        "bool" => {
            let s = text()?;
            let b = go_bool(&s).ok_or_else(bad)?;
            Leaf {
                mac_bytes: bool_bytes(b),
                value: SecretValue::Bool(b),
                comment: false,
            }
        }
        "bytes" => {
            let s = match std::str::from_utf8(&plain) {
                Ok(s) => s.to_owned(),
                Err(_) => STANDARD.encode(&plain),
            };
            Leaf {
                mac_bytes: plain,
                value: SecretValue::String(SecretString::new(s)),
                comment: false,
            }
        }
        other => return Err(ValueError::Type(format!("unknown value type {other:?}"))),
    })
}

/// Go's `strconv.ParseFloat(s, 64)` for the texts sops writes (and `Inf`/`NaN`).
fn parse_go_float(s: &str) -> Option<f64> {
    match s
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .as_str()
    {
        "inf" | "infinity" | "nan" => {}
        _ if s.contains(['i', 'I', 'n', 'N']) => return None,
        _ => {}
    }
    s.replace('_', "").parse().ok()
}

#[cfg(test)]
pub(crate) mod seal {
    //! sops' `Encrypt`, for unit tests that need values sops no longer writes (`bytes`).
    use super::*;

    pub(crate) fn seal(key: &[u8; 32], plain: &[u8], aad: &str, ty: &str, iv: [u8; 32]) -> String {
        let out = cipher(key)
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        let (data, tag) = out.split_at(out.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{ty}]",
            STANDARD.encode(data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        let key = [7u8; 32];
        let c = cipher(&key);
        for (plain, ty, mac) in [
            ("hello", "str", "hello"),
            ("42", "int", "42"),
            ("3.14", "float", "3.14"),
            ("1e+10", "float", "10000000000"),
            ("True", "bool", "True"),
            ("false", "bool", "False"),
            ("2024-01-02T00:00:00Z", "time", "2024-01-02T00:00:00Z"),
            ("raw", "bytes", "raw"),
        ] {
            let enc = seal::seal(&key, plain.as_bytes(), "a:b:", ty, [1; 32]);
            let (bytes, t) = open(&c, &enc, b"a:b:").unwrap();
            let leaf = typed(bytes, &t).unwrap();
            assert_eq!(String::from_utf8(leaf.mac_bytes).unwrap(), mac, "{ty}");
            // Another path is another value: the additional data binds the key path.
            assert_eq!(open(&c, &enc, b"a:c:").unwrap_err(), ValueError::Auth);
        }
        let enc = seal::seal(&key, b"zzz", "k:", "int", [2; 32]);
        let (b, t) = open(&c, &enc, b"k:").unwrap();
        assert!(matches!(typed(b, &t), Err(ValueError::Type(m)) if !m.contains("zzz")));
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(1e21), "1000000000000000000000");
    }

    #[test]
    fn format_errors() {
        let c = cipher(&[0; 32]);
        assert!(matches!(open(&c, "plain", b""), Err(ValueError::Format(_))));
        assert!(matches!(
            open(&c, "ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]", b""),
            Err(ValueError::Format(_))
        ));
    }
}
