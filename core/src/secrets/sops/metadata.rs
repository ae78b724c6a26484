//! The `sops` metadata of a file (getsops/sops `stores/stores.go`, `stores/flatten.go`):
//! nested under a top-level `sops` key in YAML and JSON, flattened into `sops_…` keys in
//! dotenv (`sops_age__list_0__map_recipient`).

use super::tree::Node;
use crate::error::{Error, Result};
use regex_automata::meta::Regex;
use std::collections::BTreeMap;

/// One age recipient of the file and the data key wrapped for it (armored age).
pub(crate) struct AgeKey {
    pub recipient: String,
    pub enc: String,
}

/// Which values sops encrypted: the one rule of the file (`unencrypted_suffix` by default).
pub(crate) enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
}

impl Rule {
    /// sops' `shouldBeEncrypted` for a value at `path` (the keys from the top).
    pub(crate) fn encrypts(&self, path: &[String]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|p| p.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|p| p.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|p| r.is_match(p.as_str())),
            Rule::EncryptedRegex(r) => path.iter().any(|p| r.is_match(p.as_str())),
        }
    }
}

pub(crate) struct Metadata {
    pub age: Vec<AgeKey>,
    /// Key sources idpkit does not open (`pgp 1E2F…`, `kms arn:…`), for error messages.
    pub others: Vec<String>,
    pub lastmodified: String,
    pub mac: String,
    pub rule: Rule,
    pub mac_only_encrypted: bool,
}

/// Takes the metadata out of the top-level map `top` (what remains is the data).
/// `Ok(None)`: the file has no sops metadata.
pub(crate) fn extract(
    top: &mut Vec<(String, Node)>,
    flattened: bool,
    file: &str,
) -> Result<Option<Metadata>> {
    let meta = if flattened {
        let mut flat = Vec::new();
        top.retain(|(k, v)| match k.strip_prefix("sops_") {
            Some(rest) => {
                flat.push((rest.to_owned(), v.clone()));
                false
            }
            None => true,
        });
        if flat.is_empty() {
            return Ok(None);
        }
        unflatten(flat)
    } else {
        let Some(pos) = top.iter().position(|(k, _)| k == "sops") else {
            return Ok(None);
        };
        let (_, m) = top.remove(pos);
        if top.iter().any(|(k, _)| k == "sops") {
            return Err(bad(file, "more than one top-level sops key"));
        }
        match m {
            Node::Map(m) => m,
            _ => return Err(bad(file, "the sops key is not a mapping")),
        }
    };
    read(&meta, file).map(Some)
}

fn bad(file: &str, what: &str) -> Error {
    Error::invalid(format!("{file}: invalid sops metadata: {what}"))
}

fn get<'a>(m: &'a [(String, Node)], key: &str) -> Option<&'a Node> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A scalar as text, weakly typed like sops' mapstructure decoding.
fn text(n: Option<&Node>) -> String {
    match n {
        Some(Node::Str(s)) => s.clone(),
        Some(Node::Int(i)) => i.to_string(),
        Some(Node::Bool(b)) => b.to_string(),
        Some(Node::Float(f)) => super::cipher::go_float(*f),
        _ => String::new(),
    }
}

fn list(n: Option<&Node>) -> &[Node] {
    match n {
        Some(Node::List(l)) => l,
        _ => &[],
    }
}

const OTHER_SOURCES: [(&str, &str); 6] = [
    ("pgp", "fp"),
    ("kms", "arn"),
    ("gcp_kms", "resource_id"),
    ("azure_kv", "vault_url"),
    ("hc_vault", "vault_address"),
    ("hckms", "key_id"),
];

fn group(g: &[(String, Node)], age: &mut Vec<AgeKey>, others: &mut Vec<String>) {
    for k in list(get(g, "age")) {
        if let Node::Map(k) = k {
            age.push(AgeKey {
                recipient: text(get(k, "recipient")),
                enc: text(get(k, "enc")),
            });
        }
    }
    for (source, id) in OTHER_SOURCES {
        for k in list(get(g, source)) {
            if let Node::Map(k) = k {
                others.push(format!("{source} {}", text(get(k, id))));
            }
        }
    }
}

fn read(m: &[(String, Node)], file: &str) -> Result<Metadata> {
    let mut age = Vec::new();
    let mut others = Vec::new();
    group(m, &mut age, &mut others);
    let groups = list(get(m, "key_groups"));
    if age.is_empty() && others.is_empty() {
        match groups {
            [] => return Err(bad(file, "no keys found in file")),
            [Node::Map(g)] => group(g, &mut age, &mut others),
            [_] => {
                return Err(bad(
                    file,
                    "key_groups holds something else than a key group",
                ))
            }
            _ => {
                return Err(Error::invalid(format!(
                    "{file}: the data key is split over {} key groups (Shamir's secret \
                     sharing); idpkit does not support key groups: decrypt it with sops, or \
                     re-encrypt it for age recipients in one group",
                    groups.len()
                )))
            }
        }
    }
    let mut rules = Vec::new();
    for key in [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ] {
        let v = text(get(m, key));
        if !v.is_empty() {
            rules.push((key, v));
        }
    }
    let regex =
        |r: &str| Regex::new(r).map_err(|_| bad(file, "its regular expression does not compile"));
    let rule = match rules.as_slice() {
        [] => Rule::UnencryptedSuffix("_unencrypted".into()),
        [(k, v)] => match *k {
            "unencrypted_suffix" => Rule::UnencryptedSuffix(v.clone()),
            "encrypted_suffix" => Rule::EncryptedSuffix(v.clone()),
            "unencrypted_regex" => Rule::UnencryptedRegex(regex(v)?),
            "encrypted_regex" => Rule::EncryptedRegex(regex(v)?),
            _ => {
                return Err(Error::invalid(format!(
                    "{file}: encrypted with {k}, which idpkit does not support (it needs the \
                     file's comments); decrypt it with sops"
                )))
            }
        },
        _ => {
            return Err(bad(
                file,
                "more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
                 unencrypted_regex, encrypted_comment_regex, unencrypted_comment_regex",
            ))
        }
    };
    let mac_only_encrypted = matches!(get(m, "mac_only_encrypted"), Some(Node::Bool(true)))
        || text(get(m, "mac_only_encrypted")) == "true";
    Ok(Metadata {
        age,
        others,
        lastmodified: text(get(m, "lastmodified")),
        mac: text(get(m, "mac")),
        rule,
        mac_only_encrypted,
    })
}

/// sops' `unflattenTreeBranch`: `a__list_0__map_b` → `{a: [{b: …}]}`.
fn unflatten(flat: Vec<(String, Node)>) -> Vec<(String, Node)> {
    enum T {
        Leaf(Node),
        Map(BTreeMap<String, T>),
        List(BTreeMap<usize, T>),
    }
    enum Tok {
        Key(String),
        Index(usize),
    }
    fn tokens(path: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut rest = path;
        let mut kind_list = false;
        loop {
            let m = rest.find("__map_");
            let l = rest.find("__list_");
            let next = match (m, l) {
                (Some(a), Some(b)) => Some(if a < b { (a, false) } else { (b, true) }),
                (Some(a), None) => Some((a, false)),
                (None, Some(b)) => Some((b, true)),
                (None, None) => None,
            };
            let end = next.map_or(rest.len(), |(p, _)| p);
            let part = &rest[..end];
            out.push(if kind_list {
                Tok::Index(part.parse().unwrap_or(0))
            } else {
                Tok::Key(part.to_owned())
            });
            match next {
                None => return out,
                Some((p, is_list)) => {
                    rest = &rest[p + if is_list { 7 } else { 6 }..];
                    kind_list = is_list;
                }
            }
        }
    }
    fn place(root: &mut BTreeMap<String, T>, toks: &[Tok], value: Node) {
        let Some((Tok::Key(first), rest)) = toks.split_first() else {
            return;
        };
        let mut slot = root
            .entry(first.clone())
            .or_insert_with(|| T::Map(BTreeMap::new()));
        for t in rest {
            slot = match (t, slot) {
                (Tok::Key(k), s) => {
                    if !matches!(s, T::Map(_)) {
                        *s = T::Map(BTreeMap::new());
                    }
                    let T::Map(m) = s else { unreachable!() };
                    m.entry(k.clone())
                        .or_insert_with(|| T::Map(BTreeMap::new()))
                }
                (Tok::Index(i), s) => {
                    if !matches!(s, T::List(_)) {
                        *s = T::List(BTreeMap::new());
                    }
                    let T::List(l) = s else { unreachable!() };
                    l.entry(*i).or_insert_with(|| T::Map(BTreeMap::new()))
                }
            };
        }
        *slot = T::Leaf(value);
    }
    fn node(t: T) -> Node {
        match t {
            T::Leaf(n) => n,
            T::Map(m) => Node::Map(m.into_iter().map(|(k, v)| (k, node(v))).collect()),
            T::List(l) => Node::List(l.into_values().map(node).collect()),
        }
    }
    let mut root = BTreeMap::new();
    for (k, v) in flat {
        place(&mut root, &tokens(&k), v);
    }
    root.into_iter().map(|(k, v)| (k, node(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_dotenv_metadata() {
        let mut top = vec![
            ("A".to_owned(), Node::Str("x".into())),
            ("sops_age__list_0__map_enc".into(), Node::Str("E0".into())),
            (
                "sops_age__list_0__map_recipient".into(),
                Node::Str("age1a".into()),
            ),
            (
                "sops_age__list_1__map_recipient".into(),
                Node::Str("age1b".into()),
            ),
            (
                "sops_lastmodified".into(),
                Node::Str("2026-01-01T00:00:00Z".into()),
            ),
            ("sops_mac".into(), Node::Str("ENC[…]".into())),
            ("sops_mac_only_encrypted".into(), Node::Str("true".into())),
            ("sops_encrypted_regex".into(), Node::Str("^pass".into())),
        ];
        let m = extract(&mut top, true, "f").unwrap().unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(m.age.len(), 2);
        assert_eq!(
            (m.age[0].recipient.as_str(), m.age[0].enc.as_str()),
            ("age1a", "E0")
        );
        assert!(m.mac_only_encrypted);
        assert!(m.rule.encrypts(&["password".into()]) && !m.rule.encrypts(&["user".into()]));
    }

    #[test]
    fn rules_and_groups() {
        let age = Node::List(vec![Node::Map(vec![
            ("recipient".into(), Node::Str("age1a".into())),
            ("enc".into(), Node::Str("E".into())),
        ])]);
        let meta = |extra: Vec<(String, Node)>| {
            let mut m = vec![("age".to_owned(), age.clone())];
            m.extend(extra);
            let mut top = vec![("sops".to_owned(), Node::Map(m))];
            extract(&mut top, false, "f")
        };
        let m = meta(vec![]).unwrap().unwrap();
        assert!(!m.rule.encrypts(&["a".into(), "b_unencrypted".into()]));
        let e = meta(vec![(
            "encrypted_comment_regex".into(),
            Node::Str("x".into()),
        )]);
        assert!(e.err().unwrap().message.contains("does not support"));
        let two = Node::List(vec![Node::Map(vec![]), Node::Map(vec![])]);
        let mut top = vec![(
            "sops".to_owned(),
            Node::Map(vec![("key_groups".into(), two)]),
        )];
        let e = extract(&mut top, false, "f").err().unwrap();
        assert!(e.message.contains("key groups"), "{}", e.message);
        let mut top = vec![("a".to_owned(), Node::Null)];
        assert!(extract(&mut top, false, "f").unwrap().is_none());
    }
}
