//! Secret-holding types whose `Debug` never shows a value: [`SecretString`] for one value and
//! [`SecretValue`] for a decrypted YAML or JSON document (its keys show, its scalars do not).
//! The text is zeroed when dropped.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use zeroize::Zeroize;

/// A secret string: `Debug` and `Display` print `<redacted>`; [`SecretString::expose`] is the
/// one way to read it. Serialized (by the `secrets_decrypt` operation's result, which the
/// caller asked for) as the plain string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        SecretString(value)
    }
    /// The value itself: print it only where the user asked for the decrypted text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl JsonSchema for SecretString {
    fn schema_name() -> Cow<'static, str> {
        "SecretString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({"type": "string", "description": "A decrypted secret value."})
    }
}

/// A decrypted YAML or JSON document: the JSON data model with keys in file order.
/// `Debug` shows the structure and the keys, never a scalar.
#[derive(Clone, PartialEq)]
pub enum SecretValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(SecretString),
    List(Vec<SecretValue>),
    /// Keys in the file's order.
    Map(Vec<(String, SecretValue)>),
}

impl SecretValue {
    /// As a `serde_json::Value` (maps in serde_json's key order, numbers as JSON numbers; a
    /// float that JSON cannot hold, NaN or infinity, becomes its text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            SecretValue::Null => J::Null,
            SecretValue::Bool(b) => J::Bool(*b),
            SecretValue::Int(i) => J::from(*i),
            SecretValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(super::sops::cipher::go_float(*f))),
            SecretValue::String(s) => J::String(s.expose().to_owned()),
            SecretValue::List(l) => J::Array(l.iter().map(|v| v.to_json()).collect()),
            SecretValue::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// The value at `key` of a map.
    pub fn get(&self, key: &str) -> Option<&SecretValue> {
        match self {
            SecretValue::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValue::Null => f.write_str("null"),
            SecretValue::List(l) => f.debug_list().entries(l).finish(),
            SecretValue::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            _ => f.write_str("<redacted>"),
        }
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretValue::Null => s.serialize_unit(),
            SecretValue::Bool(b) => s.serialize_bool(*b),
            SecretValue::Int(i) => s.serialize_i64(*i),
            SecretValue::Float(x) if x.is_finite() => s.serialize_f64(*x),
            SecretValue::Float(x) => s.serialize_str(&super::sops::cipher::go_float(*x)),
            SecretValue::String(v) => v.serialize(s),
            SecretValue::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            SecretValue::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl JsonSchema for SecretValue {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "SecretValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A decrypted document: any JSON value, object keys in file order."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = SecretString::from("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        let v = SecretValue::Map(vec![
            ("db".into(), SecretValue::String("hunter2".into())),
            ("port".into(), SecretValue::Int(5432)),
            ("l".into(), SecretValue::List(vec![SecretValue::Bool(true)])),
        ]);
        let d = format!("{v:?} {v:#?}");
        assert!(
            !d.contains("hunter2") && !d.contains("5432") && !d.contains("true"),
            "{d}"
        );
        assert!(d.contains("\"db\""), "keys show: {d}");
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"db":"hunter2","port":5432,"l":[true]}"#
        );
    }
}
