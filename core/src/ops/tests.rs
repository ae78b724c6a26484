use super::*;
use crate::registry::RegistryOptions;

fn err<T: std::fmt::Debug>(r: Result<T>) -> Error {
    r.expect_err("expected an error")
}

#[test]
fn unknown_fields_are_named_with_the_allowed_ones_through_flatten() {
    let e = err(parse_options::<PushOptions>(
        r#"{"source":"a","job":2}"#,
        "options",
    ));
    assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
    assert!(e.message.contains("unknown field `job`"), "{}", e.message);
    // Fields of the flattened RegistryOptions and TrustOptions are allowed and listed.
    assert!(
        e.message.contains("`jobs`") && e.message.contains("`ca_files`"),
        "{}",
        e.message
    );
    let ok: PushOptions = parse_options(
        r#"{"source":"a","jobs":3,"ca_files":["/x.pem"]}"#,
        "options",
    )
    .unwrap();
    assert_eq!(ok.registry.jobs, 3);
    assert_eq!(
        ok.registry.trust.ca_files,
        vec![std::path::PathBuf::from("/x.pem")]
    );
}

#[test]
fn a_secret_in_options_is_refused_with_a_hint() {
    for key in ["password", "token", "username"] {
        let text = format!(r#"{{"reference":"r/a:1","{key}":"s3cret"}}"#);
        let e = err(parse_options::<RemoteRef>(&text, "options"));
        assert!(e.message.contains("separate arguments"), "{}", e.message);
        assert!(!e.message.contains("s3cret"), "{}", e.message);
    }
}

#[test]
fn nested_objects_are_checked_and_maps_take_any_key() {
    let e = err(parse_options::<LoginFromClusterOptions>(
        r#"{"host":"h","cluster":{"kubeconfig":"/k","contxt":"c"}}"#,
        "options",
    ));
    assert!(
        e.message
            .contains("options.cluster: unknown field `contxt`"),
        "{}",
        e.message
    );
    let b: crate::BuildOptions = parse_options(
        r#"{"context":"/c","env":{"ANY_NAME":"1"},"labels":{"a.b/c":"d"},"pull":{"insecure_hosts":["h"]}}"#,
        "options",
    )
    .unwrap();
    assert_eq!(b.env["ANY_NAME"], "1");
    assert_eq!(b.pull.trust.insecure_hosts, vec!["h".to_string()]);
    let e = err(parse_options::<crate::BuildOptions>(
        r#"{"pull":{"jobz":1}}"#,
        "options",
    ));
    assert!(
        e.message.contains("options.pull: unknown field `jobz`"),
        "{}",
        e.message
    );
}

#[test]
fn wrong_types_name_the_field() {
    let e = err(parse_options::<PushOptions>(
        r#"{"jobs":"many"}"#,
        "options",
    ));
    assert_eq!(e.message, "options.jobs: expected integer, got string");
    let e = err(parse_options::<PushOptions>(
        r#"{"platform":["s3cret"]}"#,
        "options",
    ));
    assert!(
        e.message
            .starts_with("options.platform: expected string or null, got array"),
        "{}",
        e.message
    );
    let e = err(parse_options::<PushOptions>(
        r#"{"attempts":-1}"#,
        "options",
    ));
    assert!(
        e.message
            .contains("options.attempts: expected a number of 0 or more"),
        "{}",
        e.message
    );
    let e = err(parse_options::<PushOptions>("[1]", "options"));
    assert!(
        e.message.contains("expected a JSON object"),
        "{}",
        e.message
    );
    let e = err(parse_options::<PushOptions>("{", "options"));
    assert!(e.message.contains("not a JSON document"), "{}", e.message);
}

#[test]
fn invoke_dispatches_by_name_and_checks_the_store() {
    let e = err(invoke("pusj", None, None, &Call::new()));
    assert!(e.message.contains("unknown operation \"pusj\"") && e.message.contains("push"));
    let e = err(invoke("images", None, None, &Call::new()));
    assert!(e.message.contains("works on a store"), "{}", e.message);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        invoke("images", Some(&store), None, &Call::new()).unwrap(),
        "[]"
    );
    assert_eq!(
        invoke("gc", Some(&store), Some("{}"), &Call::new()).unwrap(),
        r#"{"removed_blobs":0,"freed_bytes":0}"#
    );
    let e = err(invoke(
        "gc",
        Some(&store),
        Some(r#"{"dry_run":true}"#),
        &Call::new(),
    ));
    assert!(
        e.message.contains("unknown field `dry_run`"),
        "{}",
        e.message
    );
}

#[test]
fn an_error_never_carries_the_calls_secret() {
    let cred = crate::registry::Credential::basic("u", "hunter2-secret", "test");
    let call = Call::new().with_credential(Some(cred));
    let e = call.redact(Error::invalid("server said hunter2-secret"));
    assert_eq!(e.message, "server said <redacted>");
    assert!(!format!("{call:?}").contains("hunter2"));
}

#[test]
fn login_without_a_password_is_refused_before_the_network() {
    let e = err(invoke(
        "login",
        None,
        Some(r#"{"host":"127.0.0.1:9"}"#),
        &Call::new(),
    ));
    assert!(
        e.message.contains("username and a password"),
        "{}",
        e.message
    );
}

/// Every field of RegistryOptions is part of every registry operation's options in the
/// contract, so every front end (whose types are generated from it) can set it.
#[test]
fn the_contract_lists_every_registry_option_for_every_registry_operation() {
    let c = contract();
    let defaults = serde_json::to_value(RegistryOptions::default()).unwrap();
    let fields: Vec<&String> = defaults.as_object().unwrap().keys().collect();
    assert!(fields.len() >= 16, "{fields:?}");
    for name in [
        "push",
        "pull",
        "list_tags",
        "catalog",
        "copy",
        "delete",
        "login",
        "login_from_cluster",
    ] {
        let op = c["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap();
        for f in &fields {
            assert!(op["defaults"].get(f.as_str()).is_some(), "{name} lacks {f}");
        }
    }
    assert_eq!(c["operations"].as_array().unwrap().len(), OPERATIONS.len());
    assert_eq!(c["error_kinds"][0]["code"], "INVALID_INPUT");
}

/// `contract/idpkit.json` is what the front ends' generators read: it must be current.
/// Regenerate with `cargo run -p idpkit --example contract > contract/idpkit.json`.
#[test]
fn the_checked_in_contract_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract/idpkit.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let now = serde_json::to_string_pretty(&contract()).unwrap() + "\n";
    assert!(
        on_disk == now,
        "contract/idpkit.json is stale; run `cargo run -p idpkit --example contract > contract/idpkit.json`"
    );
}

#[test]
fn resolve_options_shows_what_the_core_would_run_with() {
    let out = invoke(
        "resolve_options",
        None,
        Some(r#"{"operation":"push","options":{"source":"a/b:1","breaker_threshold":0}}"#),
        &Call::new(),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["source"], "a/b:1");
    assert_eq!(v["breaker_threshold"], 0);
    assert_eq!(v["jobs"], RegistryOptions::default().jobs);
    let e = err(invoke(
        "resolve_options",
        None,
        Some(r#"{"operation":"push","options":{"chunk":1}}"#),
        &Call::new(),
    ));
    assert!(e.message.contains("unknown field `chunk`"), "{}", e.message);
}

/// `docs/operations.md` is generated from the contract: it must be current.
#[test]
fn the_operations_reference_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == markdown(),
        "docs/operations.md is stale; run `cargo run -p idpkit --example contract -- --markdown > docs/operations.md`"
    );
    for op in OPERATIONS {
        assert!(
            on_disk.contains(&format!("## `{}`", op.name)),
            "{}",
            op.name
        );
    }
}

#[test]
fn a_credential_an_operation_would_ignore_is_refused() {
    let cred = || Some(crate::registry::Credential::basic("u", "p", "test"));
    let e = err(invoke(
        "logout",
        None,
        Some(r#"{"host":"h"}"#),
        &Call::new().with_credential(cred()),
    ));
    assert!(
        e.message.contains("operation logout takes no credentials"),
        "{}",
        e.message
    );
    let e = err(invoke(
        "push",
        None,
        Some(r#"{"source":"a"}"#),
        &Call::new().with_source_credential(cred()),
    ));
    assert!(
        e.message.contains("takes no source credentials"),
        "{}",
        e.message
    );
}

#[test]
fn positional_fields_are_fields_of_the_options() {
    let c = contract();
    for op in c["operations"].as_array().unwrap() {
        let name = op["options"]["$ref"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let props = &c["$defs"][name]["properties"];
        for p in op["positional"].as_array().unwrap() {
            assert!(
                props.get(p.as_str().unwrap()).is_some(),
                "{}: {p}",
                op["name"]
            );
        }
        assert!(op["uses"]["cancel"].is_boolean());
    }
}

/// Fields holding paths say so (`x-path`), so each front end can take its path type there.
#[test]
fn path_fields_are_marked_in_the_contract() {
    let c = contract();
    let defs = &c["$defs"];
    for (def, field) in [
        ("BuildOptions", "context"),
        ("PushOptions", "ca_files"),
        ("PushOptions", "certs_d"),
        ("ImportOptions", "layout"),
        ("TrustAddOptions", "ca_file"),
        ("ClusterOptions", "kubeconfig"),
        ("ExtractResult", "path"),
        ("SecretsDecryptOptions", "path"),
        ("SecretsDecryptOptions", "age_key_file"),
        ("SecretsPushOptions", "files"),
        ("SecretsPushOptions", "age_key_file"),
    ] {
        assert_eq!(
            defs[def]["properties"][field]["x-path"], true,
            "{def}.{field}"
        );
    }
    assert!(defs["PushOptions"]["properties"]["source"]
        .get("x-path")
        .is_none());
}

/// Fields holding decrypted values say so (`x-secret`), so front ends keep them out of
/// their printed forms (Python's repr).
#[test]
fn secret_fields_are_marked_in_the_contract() {
    let c = contract();
    let defs = &c["$defs"];
    for (def, field) in [
        ("SecretsDecrypted", "values"),
        ("SecretsParsed", "values"),
        ("SecretsParseOptions", "text"),
    ] {
        assert_eq!(
            defs[def]["properties"][field]["x-secret"], true,
            "{def}.{field}"
        );
    }
    assert!(defs["SecretsPushed"]["properties"]["keys"]
        .get("x-secret")
        .is_none());
}

/// `secrets_parse` reads dotenv by dotenv's rules: nothing is run, order is kept, and neither
/// its options' `Debug` nor an error shows the text.
#[test]
fn secrets_parse_keeps_command_substitutions_as_text() {
    let opts = r#"{"text":"B=2\nCMD=$(rm -rf ~)\nA=\"${B} x\"\n"}"#;
    let out = invoke("secrets_parse", None, Some(opts), &Call::new()).unwrap();
    assert_eq!(out, r#"{"values":{"B":"2","CMD":"$(rm -rf ~)","A":"2 x"}}"#);
    let parsed: SecretsParseOptions = parse_options(opts, "options").unwrap();
    assert_eq!(parsed.origin, "dotenv");
    assert!(!format!("{parsed:?}").contains("rm -rf"));
    let e = err(invoke(
        "secrets_parse",
        None,
        Some(r#"{"text":"A=1\nB=\"hunter2","origin":".env.local"}"#),
        &Call::new(),
    ));
    assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
    assert!(e.message.starts_with(".env.local line 2:"), "{}", e.message);
    assert!(!e.message.contains("hunter2"), "{}", e.message);
}

#[test]
fn secrets_push_checks_its_options_before_the_cluster() {
    let e = err(invoke(
        "secrets_push",
        None,
        Some(r#"{"namespace":"Bad_NS","name":"s","files":["/x"]}"#),
        &Call::new(),
    ));
    assert!(e.message.contains("namespace \"Bad_NS\""), "{}", e.message);
    let e = err(invoke(
        "secrets_push",
        None,
        Some(r#"{"namespace":"ns","name":"s"}"#),
        &Call::new(),
    ));
    assert!(e.message.contains("no secrets file"), "{}", e.message);
    let e = err(invoke(
        "secrets_push",
        None,
        Some(
            r#"{"namespace":"ns","name":"s","files":["/x"],"labels":{"app.kubernetes.io/managed-by":"helm"}}"#,
        ),
        &Call::new(),
    ));
    assert!(e.message.contains("idpkit's own"), "{}", e.message);
}
