//! `secrets_push` against the rig's real kube-apiserver: tiers made by the real sops for keys
//! from the real age-keygen (and a plain dotenv tier) become one Secret by server-side apply;
//! the test reads it back with its own client. A later tier wins, a key removed from the
//! files leaves the Secret, a nested document is refused naming the key, a Secret another
//! field manager set is a CONFLICT until forced, and no value appears in an error or in
//! `Debug`. Fails (never skips) when the rig or its tools are missing.

mod common;

use base64::Engine as _;
use idpkit::kube::{KubeClient, KubeOptions};
use idpkit::secrets::{self, SecretsPushOptions};
use idpkit::{Call, ErrorKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const NS: &str = "idpkit-secrets-push-test";
/// Every value the tests write: none may appear in an error message or a `Debug` output.
const VALUES: &[&str] = &[
    "plain-only-7c2e",
    "from-plain-1f3a",
    "from-sops-9d4b",
    "sops-only-e5a1",
    "nested-secret-4b1c",
    "theirs-0a9b",
    "ours-5f6d",
];

struct Kit {
    rig: HashMap<String, String>,
    dir: tempfile::TempDir,
    key_file: PathBuf,
    recipient: String,
    kube: KubeClient,
}

/// The rig (its sops, its API server reachable), a fresh age identity, and the test's own
/// client of the API server with the test namespace applied.
fn kit() -> Kit {
    let rig = common::rig(&[]);
    let url = rig
        .get("KUBE_URL")
        .expect("rig.env has no IDPKIT_RIG_KUBE_URL");
    let up = url
        .trim_start_matches("https://")
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok());
    assert!(
        up,
        "the rig's kube-apiserver is not reachable at {url}; start the rig with tests/rig/up"
    );
    let sops = rig.get("SOPS").expect("rig.env has no IDPKIT_RIG_SOPS");
    assert!(
        Path::new(sops).is_file(),
        "the rig's sops ({sops}) is missing; run tests/rig/up"
    );
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.txt");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&key_file)
        .output()
        .expect("age-keygen is not installed (the rig's setup installs it)");
    assert!(out.status.success(), "age-keygen: {out:?}");
    let recipient = std::fs::read_to_string(&key_file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let kube = KubeClient::connect(&cluster(&rig), None).unwrap();
    kube.apply(
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        "idpkit-tests",
    )
    .unwrap();
    Kit {
        rig,
        dir,
        key_file,
        recipient,
        kube,
    }
}

fn cluster(rig: &HashMap<String, String>) -> KubeOptions {
    KubeOptions {
        kubeconfig: Some(rig["KUBECONFIG"].clone().into()),
        context: None,
    }
}

/// A Secret name of this run: tests in other runs or other processes never meet.
impl Kit {
    fn plain(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `name` holding `plain`, encrypted by the rig's sops for this kit's identity.
    fn sops(&self, name: &str, plain: &str) -> PathBuf {
        let t = if name.ends_with(".yaml") {
            "yaml"
        } else {
            "dotenv"
        };
        let sops = Path::new(&self.rig["SOPS"]);
        common::sops_encrypt(
            sops,
            self.dir.path(),
            (name, plain),
            &self.recipient,
            t,
            &[],
        )
    }

    fn opts(&self, name: &str, files: &[&Path]) -> SecretsPushOptions {
        SecretsPushOptions {
            namespace: NS.into(),
            name: name.into(),
            files: files.iter().map(|f| f.to_path_buf()).collect(),
            age_key_file: Some(self.key_file.clone()),
            cluster: cluster(&self.rig),
            ..Default::default()
        }
    }

    /// The Secret as the API server has it (data decoded to text).
    fn read(&self, name: &str) -> Option<HashMap<String, String>> {
        let d = self.kube.secret(NS, name).unwrap()?;
        Some(
            d.iter()
                .map(|(k, v)| (k.to_owned(), String::from_utf8(v.to_vec()).unwrap()))
                .collect(),
        )
    }

    /// The whole object (metadata, type), through the dynamic API.
    fn object(&self, name: &str) -> Value {
        self.kube
            .custom_object("", &["v1"], "secrets", NS, name)
            .unwrap()
            .1
    }
}

fn assert_no_value(what: &str, text: &str) {
    for v in VALUES {
        assert!(!text.contains(v), "{what} shows the value {v}: {text}");
    }
}

#[test]
fn tiers_become_one_secret_and_a_removed_key_leaves_it() {
    let kit = kit();
    let name = common::unique("tiers");
    let plain = kit.plain(
        ".env.claude-sandbox",
        "SHARED=from-plain-1f3a\nPLAIN_ONLY=plain-only-7c2e\nCMD=$(rm -rf ~)\n",
    );
    let sops = kit.sops(
        ".env.sops",
        "SHARED=from-sops-9d4b\nSOPS_ONLY=sops-only-e5a1\n",
    );
    let opts = kit.opts(&name, &[&plain, &sops]);
    assert_no_value("the options' Debug", &format!("{opts:?}"));

    let r = secrets::push(&opts, &Call::new()).unwrap();
    assert_no_value("the result's Debug", &format!("{r:?}"));
    assert!(r.created, "{r:?}");
    assert_eq!(r.keys, ["CMD", "PLAIN_ONLY", "SHARED", "SOPS_ONLY"]);
    assert_eq!((r.namespace.as_str(), r.name.as_str()), (NS, name.as_str()));
    let got = kit.read(&name).expect("the Secret exists");
    let want: HashMap<String, String> = [
        ("CMD", "$(rm -rf ~)"),
        ("PLAIN_ONLY", "plain-only-7c2e"),
        ("SHARED", "from-sops-9d4b"),
        ("SOPS_ONLY", "sops-only-e5a1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    assert_eq!(got, want, "the later tier wins; $(…) is text");
    let obj = kit.object(&name);
    assert_eq!(obj["type"], "Opaque");
    assert_eq!(
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "idpkit"
    );
    assert_eq!(
        obj["metadata"]["resourceVersion"],
        r.resource_version.as_str()
    );
    let managers: Vec<(&str, &str)> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap(),
                m["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(managers, [("idpkit", "Apply")]);

    // A key removed from the plain tier leaves the Secret on the next push.
    std::fs::write(&plain, "SHARED=from-plain-1f3a\nCMD=$(rm -rf ~)\n").unwrap();
    let again = secrets::push(&opts, &Call::new()).unwrap();
    assert!(!again.created, "{again:?}");
    assert_eq!(again.keys, ["CMD", "SHARED", "SOPS_ONLY"]);
    assert_ne!(again.resource_version, r.resource_version);
    let got = kit.read(&name).unwrap();
    assert!(!got.contains_key("PLAIN_ONLY"), "{:?}", got.keys());
    assert_eq!(got["SHARED"], "from-sops-9d4b");

    // Through the contract's entry point, as every binding calls it.
    let json = serde_json::to_string(&opts).unwrap();
    let out = idpkit::ops::invoke("secrets_push", None, Some(&json), &Call::new()).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["created"], false);
    assert_eq!(v["keys"], json!(["CMD", "SHARED", "SOPS_ONLY"]));
    assert_no_value("the result JSON", &out);
}

#[test]
fn a_nested_document_or_a_plain_yaml_is_refused_naming_the_file_and_key() {
    let kit = kit();
    let name = common::unique("nested");
    let yaml = kit.sops(
        "secrets.sops.yaml",
        "TOP: from-sops-9d4b\ndatabase:\n  password: nested-secret-4b1c\n",
    );
    let e = secrets::push(&kit.opts(&name, &[&yaml]), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(
        e.message.contains("secrets.sops.yaml")
            && e.message.contains("key \"database\" holds a map"),
        "{}",
        e.message
    );
    assert_no_value("the error", &format!("{} {e:?}", e.message));
    assert!(kit.read(&name).is_none(), "nothing was written");

    let plain_yaml = kit.plain("plain.yaml", "TOKEN: from-plain-1f3a\n");
    let e = secrets::push(&kit.opts(&name, &[&plain_yaml]), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(
        e.message.contains("plain.yaml: not encrypted"),
        "{}",
        e.message
    );
    assert_no_value("the error", &e.message);

    // A flat SOPS YAML is a tier like any: numbers and booleans become their text.
    let flat = kit.sops(
        "flat.sops.yaml",
        "TOKEN: from-sops-9d4b\nPORT: 5432\nDEBUG: false\n",
    );
    let r = secrets::push(&kit.opts(&name, &[&flat]), &Call::new()).unwrap();
    assert_eq!(r.keys, ["DEBUG", "PORT", "TOKEN"]);
    let got = kit.read(&name).unwrap();
    assert_eq!(
        (got["PORT"].as_str(), got["DEBUG"].as_str()),
        ("5432", "false")
    );
}

#[test]
fn a_secret_another_manager_set_is_a_conflict_until_forced() {
    let kit = kit();
    let name = common::unique("conflict");
    let theirs = base64::engine::general_purpose::STANDARD.encode("theirs-0a9b");
    kit.kube
        .apply(
            &json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": NS},
                "type": "Opaque",
                "data": {"TOKEN": theirs},
            }),
            "someone-else",
        )
        .unwrap();
    let ours = kit.sops(".env.sops", "TOKEN=ours-5f6d\n");
    let mut opts = kit.opts(&name, &[&ours]);
    let e = secrets::push(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{}", e.message);
    assert!(
        e.message.contains("someone-else") && e.message.contains("--force"),
        "the message names the other manager and the way out: {}",
        e.message
    );
    assert_no_value("the conflict", &format!("{} {e:?}", e.message));
    assert_eq!(
        kit.read(&name).unwrap()["TOKEN"],
        "theirs-0a9b",
        "left alone"
    );

    opts.force = true;
    let r = secrets::push(&opts, &Call::new()).unwrap();
    assert!(!r.created);
    assert_eq!(kit.read(&name).unwrap()["TOKEN"], "ours-5f6d");
}

#[test]
fn errors_never_show_a_value() {
    let kit = kit();
    let tier = kit.sops(".env.sops", "TOKEN=sops-only-e5a1\n");
    // The namespace does not exist.
    let mut opts = kit.opts("s", &[&tier]);
    opts.namespace = common::unique("no-such-ns");
    let e = secrets::push(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert_no_value("the error", &format!("{} {e:?}", e.message));
    // Another identity cannot open the tier.
    let other = kit.dir.path().join("other.txt");
    assert!(Command::new("age-keygen")
        .arg("-o")
        .arg(&other)
        .status()
        .unwrap()
        .success());
    let mut opts = kit.opts(&common::unique("auth"), &[&tier]);
    opts.age_key_file = Some(other);
    let e = secrets::push(&opts, &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
    assert_no_value("the error", &format!("{} {e:?}", e.message));
    // A key a Secret cannot hold.
    let bad = kit.sops("bad.sops.yaml", "\"a/b\": from-sops-9d4b\n");
    let e = secrets::push(&kit.opts(&common::unique("key"), &[&bad]), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);
    assert!(e.message.contains("\"a/b\""), "{}", e.message);
    assert_no_value("the error", &e.message);
}
