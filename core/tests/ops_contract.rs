//! The call contract against the rig: operations run by name with JSON options and a `Call`
//! (what every front end does), a registry token as the call's credential, and `build`
//! pulling its base with the trust and credentials it was given. Fails when the rig is down.

mod common;

use idpkit::ops::invoke;
use idpkit::registry::Credential;
use idpkit::{Call, ErrorKind, Store};
use serde_json::{json, Value};

fn run(op: &str, store: Option<&Store>, options: Value, call: &Call) -> idpkit::Result<Value> {
    let out = invoke(op, store, Some(&options.to_string()), call)?;
    Ok(serde_json::from_str(&out).unwrap())
}

fn token(t: &str) -> Call {
    Call::new()
        .with_credential(Credential::from_arguments(None, None, Some(t.into()), "test").unwrap())
}

#[test]
fn push_and_pull_with_a_registry_token_by_name() {
    let rig = common::rig(&["GITEA_REGISTRY"]);
    let gitea = &rig["GITEA_REGISTRY"];
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("a")).unwrap();
    let built = common::build_one_file(
        &store,
        tmp.path(),
        "localhost/tok:1",
        b"pushed with a token\n",
    );
    let dest = format!(
        "{gitea}/{}/ops-token-{}:1",
        rig["GITEA_USER"].to_lowercase(),
        std::process::id()
    );
    let trust = json!({"ca_files": [rig["GITEA_CA"]], "no_platform_roots": true});

    let call = token(&rig["GITEA_REGISTRY_TOKEN"]);
    let mut opts = json!({"source": "localhost/tok:1", "destination": dest});
    opts.as_object_mut()
        .unwrap()
        .extend(trust.as_object().unwrap().clone());
    let pushed = run("push", Some(&store), opts, &call).unwrap();
    assert_eq!(pushed["digest"], built.digest.as_str());
    assert_eq!(pushed["blobs_uploaded"], 2);

    let other = Store::open(tmp.path().join("b")).unwrap();
    let mut opts = json!({"reference": dest});
    opts.as_object_mut()
        .unwrap()
        .extend(trust.as_object().unwrap().clone());
    let pulled = run("pull", Some(&other), opts.clone(), &call).unwrap();
    assert_eq!(pulled["digest"], built.digest.as_str());

    // A wrong token is refused as AUTH, and the token never shows in the message.
    let e = run(
        "pull",
        Some(&other),
        opts,
        &token("not-a-valid-registry-token-0123"),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert!(
        !e.message.contains("not-a-valid-registry-token-0123"),
        "{}",
        e.message
    );
}

#[test]
fn build_pulls_its_base_with_the_trust_and_credentials_it_was_given() {
    let rig = common::rig(&["REGISTRY_TLS"]);
    let tls = &rig["REGISTRY_TLS"];
    let tmp = tempfile::tempdir().unwrap();
    let basic = Call::new().with_credential(Some(Credential::basic(
        &rig["REGISTRY_USER"],
        &rig["REGISTRY_PASSWORD"],
        "test",
    )));
    let base_store = Store::open(tmp.path().join("base")).unwrap();
    let base = common::build_one_file(&base_store, tmp.path(), "localhost/base:1", b"the base\n");
    let remote = format!("{tls}/ops/base-{}:1", std::process::id());
    run(
        "push",
        Some(&base_store),
        json!({"source": "localhost/base:1", "destination": remote, "ca_files": [rig["CA"]]}),
        &basic,
    )
    .unwrap();

    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("app"), b"on top\n").unwrap();
    let store = Store::open(tmp.path().join("app")).unwrap();
    let build = |pull: Value| {
        run(
            "build",
            Some(&store),
            json!({"context": ctx, "from": remote, "tags": ["localhost/app:1"], "pull": pull}),
            &basic,
        )
    };
    // Without the rig's CA the base's registry is not trusted: the error says so.
    let e = build(json!({"no_platform_roots": true, "certs_d": []})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted, "{}", e.message);
    assert!(e.message.contains("base image"), "{}", e.message);

    let r =
        build(json!({"no_platform_roots": true, "certs_d": [], "ca_files": [rig["CA"]]})).unwrap();
    let inspect = run(
        "inspect",
        Some(&store),
        json!({"reference": "localhost/app:1"}),
        &Call::new(),
    )
    .unwrap();
    let layers: Vec<&str> = inspect["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        layers,
        vec![
            base.layer.digest.as_str(),
            r["layer"]["digest"].as_str().unwrap()
        ]
    );
}

#[test]
fn trust_check_of_a_plain_http_registry_on_loopback_does_not_advise_insecure() {
    let rig = common::rig(&["REGISTRY_PLAIN"]);
    let report = run(
        "trust_check",
        None,
        json!({"host": rig["REGISTRY_PLAIN"]}),
        &Call::new(),
    )
    .unwrap();
    assert_eq!(report["verdict"], "not_tls", "{report}");
    let message = report["message"].as_str().unwrap();
    assert!(
        !message.contains("--insecure") && message.contains("loopback"),
        "{message}"
    );
}
