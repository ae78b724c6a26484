//! `docs/operations.md`: the reference of every operation, generated from [`super::contract`]
//! so it cannot drift from what the core accepts (a core test checks the checked-in file).

use serde_json::Value;
use std::fmt::Write;

/// A short type name for a property schema (`string`, `integer`, `string[]`, `path`,
/// `RegistryOptions`).
fn type_name(s: &Value) -> String {
    let name = schema_type_name(s);
    if s.get("x-path") == Some(&Value::Bool(true)) {
        // Fields holding file-system paths (`x-path`): strings on the wire, paths to users.
        return name.replacen("string", "path", 1);
    }
    name
}

fn schema_type_name(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    match s.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!("{}[]", s.get("items").map(type_name).unwrap_or_default())
        }
        Some(Value::String(t)) if t == "object" => match s.get("additionalProperties") {
            Some(v @ Value::Object(_)) => format!("map of {}", type_name(v)),
            _ => "object".into(),
        },
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => {
            let non_null: Vec<&Value> = ts.iter().filter(|t| *t != "null").collect();
            let inner = match non_null.as_slice() {
                [t] if *t == "array" => {
                    format!("{}[]", s.get("items").map(type_name).unwrap_or_default())
                }
                [t] => t.as_str().unwrap_or_default().to_string(),
                _ => "any".into(),
            };
            format!("{inner}?")
        }
        _ => match s.get("anyOf").and_then(Value::as_array) {
            Some(l) => {
                l.iter()
                    .filter(|v| v.get("type") != Some(&Value::String("null".into())))
                    .map(type_name)
                    .collect::<Vec<_>>()
                    .join(" | ")
                    + "?"
            }
            None => "any".into(),
        },
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn fields(out: &mut String, def: &Value) {
    let Some(props) = def.get("properties").and_then(Value::as_object) else {
        let _ = writeln!(out, "No options.\n");
        return;
    };
    let _ = writeln!(
        out,
        "| field | type | default | meaning |\n| --- | --- | --- | --- |"
    );
    for (name, p) in props {
        let default = p.get("default").map_or(String::new(), |d| {
            // A nested struct's whole default is noise here: name its own table instead.
            if d.is_object() && p.get("$ref").is_some() {
                "see below".into()
            } else {
                format!("`{d}`")
            }
        });
        let doc = p.get("description").and_then(Value::as_str).unwrap_or("");
        let _ = writeln!(
            out,
            "| `{name}` | {} | {default} | {} |",
            type_name(p),
            one_line(doc)
        );
    }
    out.push('\n');
}

/// The Markdown reference.
pub fn markdown() -> String {
    let c = super::contract();
    let defs = &c["$defs"];
    let mut out = String::from(
        "# Operations\n\n\
         Generated from the call contract (`contract/idpkit.json`) by\n\
         `cargo run -p idpkit --example contract -- --markdown`; do not edit.\n\n\
         Every operation takes its options as one object (JSON in C and Go, a dict in Python, an\n\
         object with camelCase keys in Node, flags on the command line) plus a call: events,\n\
         cancel, and credentials, which are never options. Unknown fields are refused, naming\n\
         the field. Names: `list_tags` is `idpkit_list_tags` in C, `ListTags` in Go, `list_tags`\n\
         in Python, `listTags` in Node.\n\n",
    );
    let mut nested = std::collections::BTreeSet::new();
    for op in c["operations"].as_array().into_iter().flatten() {
        let name = op["name"].as_str().unwrap_or_default();
        let store = if op["needs_store"] == true {
            " (on a store)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "## `{name}`{store}\n\n{}\n",
            op["summary"].as_str().unwrap_or("")
        );
        let opts_name = type_name(&op["options"]);
        let _ = writeln!(
            out,
            "Options: `{opts_name}`. Result: `{}`.\n",
            type_name(&op["output"])
        );
        let uses: Vec<&str> = [
            ("events", "progress events"),
            ("cancel", "cancel"),
            ("credential", "credentials"),
            ("source_credential", "source credentials"),
        ]
        .iter()
        .filter(|(k, _)| op["uses"][*k] == true)
        .map(|(_, v)| *v)
        .collect();
        let positional: Vec<String> = op["positional"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(|p| format!("`{p}`")))
            .collect();
        let or_none = |v: Vec<String>, none: &str| {
            if v.is_empty() {
                none.to_string()
            } else {
                v.join(", ")
            }
        };
        let _ = writeln!(
            out,
            "Call: {}. Positional: {}.\n",
            or_none(uses.iter().map(|s| s.to_string()).collect(), "nothing"),
            or_none(positional, "none")
        );
        if let Some(def) = defs.get(&opts_name) {
            fields(&mut out, def);
            for p in def["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, p)| p)
            {
                if let Some(r) = p.get("$ref").and_then(Value::as_str) {
                    let n = r.rsplit('/').next().unwrap_or(r);
                    if defs[n].get("properties").is_some() {
                        nested.insert(n.to_string());
                    }
                }
            }
        }
    }
    for n in nested {
        let _ = writeln!(out, "## `{n}`\n");
        fields(&mut out, &defs[&n]);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
