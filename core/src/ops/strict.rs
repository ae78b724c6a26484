//! The one strict options parser: a JSON document is checked against the options type's
//! JSON Schema before serde reads it, so a misspelt field is an error naming the field and
//! the allowed ones, at any depth and through `#[serde(flatten)]` (which defeats serde's own
//! `deny_unknown_fields`). A `"password"` put into options must never quietly mean anonymous
//! access.

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::any::TypeId;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Parses `text` as `T`, refusing unknown fields; `what` names the document in errors.
pub fn parse_options<T: DeserializeOwned + JsonSchema + 'static>(
    text: &str,
    what: &str,
) -> Result<T> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("{what}: not a JSON document: {e}")))?;
    parse_value(value, what)
}

/// [`parse_options`] of a document already parsed as JSON.
pub fn parse_value<T: DeserializeOwned + JsonSchema + 'static>(
    value: Value,
    what: &str,
) -> Result<T> {
    if !value.is_object() {
        return Err(Error::invalid(format!("{what}: expected a JSON object")));
    }
    check_fields::<T>(&value, what)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." || path.is_empty() {
            String::new()
        } else {
            format!(" field `{path}`")
        };
        Error::invalid(format!("{what}{at}: {}", e.into_inner()))
    })
}

/// Checks that every key of `value` is a field of `T` (recursively).
pub fn check_fields<T: JsonSchema + 'static>(value: &Value, what: &str) -> Result<()> {
    let schema = schema_of::<T>();
    check(value, &schema, &schema, what)
}

/// `T`'s JSON Schema, generated once per type: every call of every front end parses its
/// options through here, and generating a schema walks the whole type. A plain list (two
/// dozen options types): a hash table's interior pointers would make leak checkers such as
/// valgrind report the cache as possibly lost.
fn schema_of<T: JsonSchema + 'static>() -> Arc<Value> {
    static SCHEMAS: Mutex<Vec<(TypeId, Arc<Value>)>> = Mutex::new(Vec::new());
    let mut cache = SCHEMAS.lock().unwrap_or_else(|p| p.into_inner());
    let id = TypeId::of::<T>();
    if let Some((_, schema)) = cache.iter().find(|(t, _)| *t == id) {
        return schema.clone();
    }
    let schema = Arc::new(schemars::schema_for!(T).to_value());
    cache.push((id, schema.clone()));
    schema
}

/// The allowed keys of an object schema, each with its value schema, and the schema of
/// other keys (a map's values) when they are allowed.
struct Shape<'a> {
    fields: BTreeMap<&'a str, &'a Value>,
    others: Option<&'a Value>,
    /// No `properties` and no `additionalProperties: false`: a free JSON object.
    open: bool,
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut s = schema;
    // References are local (`#/$defs/Name`); a chain longer than the document is a cycle.
    for _ in 0..64 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            return s;
        };
        let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p)) else {
            return s;
        };
        s = target;
    }
    s
}

fn collect<'a>(schema: &'a Value, root: &'a Value, shape: &mut Shape<'a>, depth: usize) {
    let schema = resolve(schema, root);
    if depth > 32 {
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        shape.open = false;
        for (k, v) in props {
            shape.fields.insert(k.as_str(), v);
        }
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(false)) => shape.open = false,
        Some(Value::Bool(true)) => {}
        Some(other @ Value::Object(_)) => {
            shape.open = false;
            shape.others = Some(other);
        }
        _ => {}
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            for s in list {
                collect(s, root, shape, depth + 1);
            }
        }
    }
}

/// The JSON type names a schema allows, when it says (`None`: anything).
fn allowed_types(schema: &Value) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A type mismatch named by its field (serde loses the path inside `flatten`).
fn check_type(value: &Value, schema: &Value, path: &str) -> Result<()> {
    let Some(types) = allowed_types(schema) else {
        return Ok(());
    };
    let got = type_of(value);
    let fits = types
        .iter()
        .any(|t| *t == got || (*t == "number" && got == "integer"));
    let negative = matches!(value, Value::Number(n) if n.as_i64().is_some_and(|i| i < 0));
    let min = schema.get("minimum").and_then(Value::as_f64);
    if !fits {
        // The value itself is not echoed: a secret pasted into the wrong field stays out.
        return Err(Error::invalid(format!(
            "{path}: expected {}, got {got}",
            types.join(" or ")
        )));
    }
    if negative && min.is_some_and(|m| m >= 0.0) {
        return Err(Error::invalid(format!(
            "{path}: expected a number of 0 or more, got {value}"
        )));
    }
    Ok(())
}

fn check(value: &Value, schema: &Value, root: &Value, path: &str) -> Result<()> {
    check_type(value, resolve(schema, root), path)?;
    match value {
        Value::Object(map) => check_object(map, schema, root, path),
        Value::Array(items) => {
            let schema = resolve(schema, root);
            let item = schema.get("items").or_else(|| {
                // Option<Vec<T>>: the array branch of an anyOf.
                schema
                    .get("anyOf")
                    .and_then(Value::as_array)
                    .and_then(|l| l.iter().find_map(|s| resolve(s, root).get("items")))
            });
            if let Some(item) = item {
                for (i, v) in items.iter().enumerate() {
                    check(v, item, root, &format!("{path}[{i}]"))?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_object(map: &Map<String, Value>, schema: &Value, root: &Value, path: &str) -> Result<()> {
    let mut shape = Shape {
        fields: BTreeMap::new(),
        others: None,
        open: true,
    };
    collect(schema, root, &mut shape, 0);
    if shape.open {
        return Ok(());
    }
    for (key, v) in map {
        let child = format!("{path}.{key}");
        if let Some(s) = shape.fields.get(key.as_str()) {
            check(v, s, root, &child)?;
        } else if let Some(s) = shape.others {
            check(v, s, root, &child)?;
        } else {
            let names: Vec<String> = shape.fields.keys().map(|k| format!("`{k}`")).collect();
            let hint = if matches!(key.as_str(), "username" | "password" | "token" | "secret") {
                " (credentials are separate arguments of the call, never options)"
            } else {
                ""
            };
            return Err(Error::invalid(format!(
                "{path}: unknown field `{key}`{hint}; expected one of {}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}
