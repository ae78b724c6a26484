//! A SOPS file as sops' stores read it (getsops/sops `stores/{dotenv,yaml,json}`): an ordered
//! tree of maps, lists and scalars. Encrypted scalars are `ENC[...]` strings; comments are
//! dropped (sops leaves them out of the MAC, and the result has no place for them).

use crate::error::{Error, Result};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A node of the encrypted tree. No `Debug`: a value under an `_unencrypted` key is plain.
#[derive(Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// The store a file is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Dotenv,
    Yaml,
    Json,
}

/// Reads `text` with the store's rules into its top-level map.
pub(crate) fn parse(store: Store, text: &str, file: &str) -> Result<Vec<(String, Node)>> {
    let root = match store {
        Store::Dotenv => return dotenv(text, file),
        Store::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let node = Node::deserialize(&mut de)
                .and_then(|n| de.end().map(|_| n))
                .map_err(|e| {
                    Error::invalid(format!(
                        "{file}: not valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ))
                })?;
            node
        }
        Store::Yaml => {
            let mut docs: Vec<Node> = serde_saphyr::from_multiple(text).map_err(|e| {
                Error::invalid(format!(
                    "{file}: not valid YAML{}",
                    position(&e.to_string())
                ))
            })?;
            if docs.len() > 1 {
                return Err(Error::invalid(format!(
                    "{file}: holds {} YAML documents; idpkit decrypts SOPS files of one document",
                    docs.len()
                )));
            }
            docs.pop().unwrap_or(Node::Null)
        }
    };
    match root {
        Node::Map(m) => Ok(m),
        Node::Null => Ok(Vec::new()),
        _ => Err(Error::invalid(format!(
            "{file}: the document is not a mapping; SOPS files hold a mapping at the top"
        ))),
    }
}

/// ` at line L column C` from a parser message, never its quoted text.
fn position(message: &str) -> String {
    let re = regex_automata::meta::Regex::new(r"line \d+,? column \d+").ok();
    re.and_then(|re| {
        re.find(message)
            .map(|m| format!(" at {}", &message[m.range()]))
    })
    .unwrap_or_default()
}

/// sops' dotenv store: lines split on `\n`, empty lines skipped, `#` lines are comments,
/// every other line `KEY=VALUE` (split at the first `=`) with `\n` escapes in the value.
fn dotenv(text: &str, file: &str) -> Result<Vec<(String, Node)>> {
    let mut out = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(eq) = line.find('=') else {
            return Err(Error::invalid(format!(
                "{file} line {}: not KEY=VALUE, as sops writes dotenv files \
                 (the line's text is not shown: it may hold a secret)",
                n + 1
            )));
        };
        out.push((
            line[..eq].to_owned(),
            Node::Str(line[eq + 1..].replace("\\n", "\n")),
        ));
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        // Like sops' JSON store: an integer past int64 becomes a float.
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = seq.next_element()? {
            v.push(n);
        }
        Ok(Node::List(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let Node::Str(k) = k else {
                return Err(serde::de::Error::custom(
                    "a key that is not a string (sops supports only string keys)",
                ));
            };
            v.push((k, map.next_value()?));
        }
        Ok(Node::Map(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(m: &[(String, Node)]) -> Vec<&str> {
        m.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn order_and_types() {
        let y = parse(
            Store::Yaml,
            "# c\nz: 1\na: [true, 1.5, x, null]\nm: {k: v}\nq: \"1\"\n",
            "f",
        )
        .unwrap();
        assert_eq!(keys(&y), ["z", "a", "m", "q"]);
        assert!(y[0].1 == Node::Int(1));
        assert!(
            y[1].1
                == Node::List(vec![
                    Node::Bool(true),
                    Node::Float(1.5),
                    Node::Str("x".into()),
                    Node::Null
                ])
        );
        assert!(y[3].1 == Node::Str("1".into()));
        let j = parse(
            Store::Json,
            r#"{"z":1,"a":{"c":2,"b":3},"big":18446744073709551615}"#,
            "f",
        )
        .unwrap();
        assert_eq!(keys(&j), ["z", "a", "big"]);
        assert!(matches!(j[2].1, Node::Float(_)));
        let d = parse(Store::Dotenv, "#c\nA=x=y\n\nB=a\\nb\n", "f").unwrap();
        assert_eq!(keys(&d), ["A", "B"]);
        assert!(d[0].1 == Node::Str("x=y".into()) && d[1].1 == Node::Str("a\nb".into()));
    }

    #[test]
    fn errors_do_not_echo() {
        let e = parse(Store::Dotenv, "A=1\nhunter2\n", "f.env")
            .err()
            .unwrap();
        assert!(e.message.starts_with("f.env line 2:") && !e.message.contains("hunter2"));
        let e = parse(Store::Json, "{\"a\": hunter2}", "f.json")
            .err()
            .unwrap();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        let e = parse(Store::Yaml, "a: [hunter2\n", "f.yaml").err().unwrap();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        let e = parse(Store::Yaml, "- a\n", "f.yaml").err().unwrap();
        assert!(e.message.contains("not a mapping"), "{}", e.message);
    }
}
