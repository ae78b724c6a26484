//! Key conversion between Node's camelCase and the core's snake_case, done generically over
//! `serde_json::Value` so a field added to a core type reaches JavaScript without a change here.

use serde_json::{Map, Number, Value};

/// Values under these keys are data, not idpkit structs: OCI documents (`manifest`, `config`)
/// and user-chosen maps (`env`, `labels`, `annotations`). Their keys are never renamed.
const OPAQUE: &[&str] = &["manifest", "config", "env", "labels", "annotations"];

/// `sourceDateEpoch` → `source_date_epoch`.
pub fn camel_to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `source_date_epoch` → `sourceDateEpoch`; anything that is not a snake_case identifier is
/// returned unchanged.
pub fn snake_to_camel(key: &str) -> String {
    if !is_snake(key) {
        return key.to_string();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn is_snake(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A core result (or event) as JavaScript sees it: struct keys camelCase, data maps and OCI
/// documents untouched.
pub fn to_js(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if OPAQUE.contains(&k.as_str()) {
                        v
                    } else {
                        to_js(v)
                    };
                    (snake_to_camel(&k), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(to_js).collect()),
        other => other,
    }
}

/// A JavaScript option value as the core expects it. JavaScript has one number type, so a
/// whole number above 2^32 arrives as a float; integers are made integers again so that
/// `sourceDateEpoch: 5e9` deserializes into an `i64`.
pub fn from_js(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::Number(whole(n)),
        Value::Array(items) => Value::Array(items.into_iter().map(from_js).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, from_js(v))).collect())
        }
        other => other,
    }
}

fn whole(n: Number) -> Number {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= MAX_SAFE => {
            if f >= 0.0 {
                Number::from(f as u64)
            } else {
                Number::from(f as i64)
            }
        }
        _ => n,
    }
}

/// Rewrites serde's "unknown field `no_cach`, expected one of `context`, ..." so that it names
/// the fields the way the caller wrote them (`noCach`, `sourceDateEpoch`).
pub fn camel_message(message: &str) -> String {
    if !(message.starts_with("unknown field") || message.starts_with("missing field")) {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        // Odd parts are inside backticks.
        if i % 2 == 1 {
            out.push_str(&snake_to_camel(part));
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_field_names() {
        for (camel, snake) in [
            ("noCache", "no_cache"),
            ("sourceDateEpoch", "source_date_epoch"),
            ("tags", "tags"),
            ("diffId", "diff_id"),
        ] {
            assert_eq!(camel_to_snake(camel), snake);
            assert_eq!(snake_to_camel(snake), camel);
        }
        assert_eq!(snake_to_camel("MediaType"), "MediaType");
        assert_eq!(
            snake_to_camel("org.opencontainers.x_y"),
            "org.opencontainers.x_y"
        );
    }

    #[test]
    fn leaves_data_maps_alone() {
        let v = json!({
            "config_digest": "sha256:1",
            "layer": {"diff_id": "sha256:2", "media_type": "m"},
            "labels": {"my_label": "x"},
            "config": {"config": {"Env": ["A_B=1"]}, "rootfs": {"diff_ids": []}},
        });
        assert_eq!(
            to_js(v),
            json!({
                "configDigest": "sha256:1",
                "layer": {"diffId": "sha256:2", "mediaType": "m"},
                "labels": {"my_label": "x"},
                "config": {"config": {"Env": ["A_B=1"]}, "rootfs": {"diff_ids": []}},
            })
        );
    }

    #[test]
    fn makes_whole_floats_integers() {
        let v = from_js(json!([5e9, 1.5, -3.0]));
        assert_eq!(v, json!([5_000_000_000u64, 1.5, -3]));
        assert!(v[0].is_u64());
    }

    #[test]
    fn names_unknown_fields_in_camel_case() {
        assert_eq!(
            camel_message("unknown field `no_cach`, expected one of `context`, `no_cache`"),
            "unknown field `noCach`, expected one of `context`, `noCache`"
        );
        assert_eq!(
            camel_message("unknown variant `my_algo`, expected `gzip` or `zstd`"),
            "unknown variant `my_algo`, expected `gzip` or `zstd`"
        );
    }
}
