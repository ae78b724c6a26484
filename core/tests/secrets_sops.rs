//! SOPS files encrypted by the real `sops` (built by the rig) for keys from the real
//! `age-keygen`, decrypted natively by idpkit and compared with `sops -d`. Fails (never
//! skips) when the rig or its tools are missing.

mod common;

use idpkit::secrets::{self, DecryptOptions, FileFormat, SecretValue, Secrets};
use idpkit::ErrorKind;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Kit {
    sops: PathBuf,
    dir: tempfile::TempDir,
    key_file: PathBuf,
    recipient: String,
}

fn kit() -> Kit {
    let env = common::rig(&[]);
    let sops = PathBuf::from(env.get("SOPS").expect("rig.env has no IDPKIT_RIG_SOPS"));
    assert!(
        sops.is_file(),
        "the rig's sops ({}) is missing; run tests/rig/up",
        sops.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (key_file, recipient) = keygen(dir.path(), "me");
    Kit {
        sops,
        dir,
        key_file,
        recipient,
    }
}

/// A new identity from the real `age-keygen`: its file and its recipient.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{name}.keys.txt"));
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen is not installed (the rig's setup installs it)");
    assert!(out.status.success(), "age-keygen: {out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    (file, recipient)
}

impl Kit {
    fn sops(&self) -> Command {
        let mut c = Command::new(&self.sops);
        c.current_dir(self.dir.path())
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("XDG_CONFIG_HOME", self.dir.path().join("no-config"));
        c
    }

    /// `name` holding `plain`, encrypted by sops for `recipient` with `extra` flags.
    fn encrypt(&self, name: &str, plain: &str, recipient: &str, extra: &[&str]) -> PathBuf {
        let t = input_type(name);
        common::sops_encrypt(
            &self.sops,
            self.dir.path(),
            (name, plain),
            recipient,
            t,
            extra,
        )
    }

    /// `sops -d --output-type json` of `file`.
    fn sops_json(&self, file: &Path) -> Value {
        let t = input_type(&file.file_name().unwrap().to_string_lossy());
        let out = self
            .sops()
            .env("SOPS_AGE_KEY_FILE", &self.key_file)
            .args(["decrypt", "--input-type", t, "--output-type", "json"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn opts(&self) -> DecryptOptions {
        DecryptOptions {
            age_key_file: Some(self.key_file.clone()),
            ..Default::default()
        }
    }
}

fn input_type(name: &str) -> &'static str {
    if name.ends_with(".json") {
        "json"
    } else if name.ends_with(".yaml") {
        "yaml"
    } else {
        "dotenv"
    }
}

/// Numbers compared as f64 (sops prints 1e10 as an integer, idpkit keeps it a float).
fn norm(v: Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(norm).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, norm(v))).collect()),
        v => v,
    }
}

fn keys(v: &SecretValue) -> Vec<String> {
    match v {
        SecretValue::Map(m) => m.iter().map(|(k, _)| k.clone()).collect(),
        _ => panic!("not a map"),
    }
}

const DOTENV: &str = "# the database\nDB_PASSWORD=hunter2-dotenv\nQUOTED=\"kept as written\"\n\
CMD=$(touch PWNED)\nEMPTY=\nMULTI=line1\\nline2\nURL=postgres://u:p@h:5432/db?x=1&y=2\n\
UNICODE=pässwörd ✓\nPLAIN_unencrypted=visible\n";

#[test]
fn dotenv_decrypts_like_sops_and_nothing_runs() {
    let k = kit();
    let f = k.encrypt(".env.sops", DOTENV, &k.recipient, &[]);
    let s = secrets::decrypt_file(&f, &k.opts()).unwrap();
    let Secrets::Dotenv(vars) = &s else {
        panic!("a dotenv file gives dotenv secrets")
    };
    let want = [
        ("DB_PASSWORD", "hunter2-dotenv"),
        ("QUOTED", "\"kept as written\""),
        ("CMD", "$(touch PWNED)"),
        ("EMPTY", ""),
        ("MULTI", "line1\nline2"),
        ("URL", "postgres://u:p@h:5432/db?x=1&y=2"),
        ("UNICODE", "pässwörd ✓"),
        ("PLAIN_unencrypted", "visible"),
    ];
    let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
    assert_eq!(got, want);
    assert_eq!(s.to_value().to_json(), k.sops_json(&f));
    assert!(!k.dir.path().join("PWNED").exists());
    assert!(!std::env::current_dir().unwrap().join("PWNED").exists());
    // The dotenv rendering reads back to the same values with dotenv's rules.
    let text = s.to_dotenv().unwrap();
    let back = secrets::parse_dotenv_with(text.expose(), "out", &|_| None).unwrap();
    assert_eq!(&back, vars);
    let debug = format!("{s:?} {s:#?}");
    for (_, v) in want.iter().filter(|(_, v)| v.len() > 3) {
        assert!(!debug.contains(v), "Debug shows a value: {debug}");
    }
}

const YAML: &str = r#"# top comment
database:
  user: admin   # inline comment
  password: hunter2-yaml
  port: 5432
  ratio: 0.75
  big: 1e10
  enabled: true
  off: false
  nothing: null
  since: 2024-01-02
  empty: ""
  quoted_number: "42"
  cert: |
    -----BEGIN CERTIFICATE-----
    MIIB
    -----END CERTIFICATE-----
servers:
  - name: a
    tags: [x, 2, 3.5, false]
  # a comment in a list
  - name: b
    nested:
      deeper:
        - [1, [2, "three"]]
plain_unencrypted: 7
"#;

#[test]
fn yaml_nested_every_type_like_sops() {
    let k = kit();
    let f = k.encrypt("app.sops.yaml", YAML, &k.recipient, &[]);
    let s = secrets::decrypt_file(&f, &k.opts()).unwrap();
    let Secrets::Document(doc) = &s else { panic!() };
    assert_eq!(keys(doc), ["database", "servers", "plain_unencrypted"]);
    assert_eq!(
        keys(doc.get("database").unwrap()),
        [
            "user",
            "password",
            "port",
            "ratio",
            "big",
            "enabled",
            "off",
            "nothing",
            "since",
            "empty",
            "quoted_number",
            "cert"
        ]
    );
    let j = doc.to_json();
    assert_eq!(norm(j.clone()), norm(k.sops_json(&f)));
    assert_eq!(j["database"]["port"], 5432);
    assert_eq!(j["database"]["enabled"], true);
    assert_eq!(j["database"]["since"], "2024-01-02T00:00:00Z");
    assert_eq!(j["database"]["quoted_number"], "42");
    assert_eq!(j["servers"][1]["nested"]["deeper"][0][1][1], "three");
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("5432"),
        "{debug}"
    );
}

#[test]
fn json_nested_like_sops() {
    let k = kit();
    let plain = r#"{"z_first": "hunter2-json", "n": -12, "f": 1.5, "t": true, "nul": null,
        "list": [1, "two", {"three": [3.25, false]}], "obj": {"b": {"c": "deep"}, "a": ""}}"#;
    let f = k.encrypt("app.sops.json", plain, &k.recipient, &[]);
    let s = secrets::decrypt_file(&f, &k.opts()).unwrap();
    let Secrets::Document(doc) = &s else { panic!() };
    assert_eq!(keys(doc), ["z_first", "n", "f", "t", "nul", "list", "obj"]);
    assert_eq!(norm(doc.to_json()), norm(k.sops_json(&f)));
    let out = s.to_json();
    assert!(
        out.expose().find("\"z_first\"") < out.expose().find("\"n\""),
        "file order"
    );
}

#[test]
fn rules_regex_and_mac_only_encrypted() {
    let k = kit();
    let plain = "password: hunter2\nuser: admin\nnested:\n  pass_b: 1\n  other: 2\n";
    // mac_only_encrypted is a creation rule of .sops.yaml (no flag).
    std::fs::write(
        k.dir.path().join(".sops.yaml"),
        "creation_rules:\n  - mac_only_encrypted: true\n",
    )
    .unwrap();
    let f = k.encrypt(
        "rules.yaml",
        plain,
        &k.recipient,
        &["--encrypted-regex", "^pass"],
    );
    assert!(std::fs::read_to_string(&f)
        .unwrap()
        .contains("mac_only_encrypted: true"));
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("user: admin"), "user stays plain");
    let s = secrets::decrypt_file(&f, &k.opts()).unwrap();
    assert_eq!(norm(s.to_value().to_json()), norm(k.sops_json(&f)));
    // With the MAC over encrypted values only, a plain value may change ...
    std::fs::write(&f, text.replace("user: admin", "user: root")).unwrap();
    secrets::decrypt_file(&f, &k.opts()).unwrap();
}

fn assert_integrity(f: &Path, k: &Kit, secret: &str, what: &str) {
    let e = secrets::decrypt_file(f, &k.opts()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{what}: {e}");
    assert!(
        !e.message.contains(secret),
        "{what}: the error shows a value: {e}"
    );
    assert!(
        e.message.contains(&f.display().to_string()),
        "{what}: names the file: {e}"
    );
}

#[test]
fn tampering_is_an_integrity_error() {
    let k = kit();
    let f = k.encrypt(
        "t.env",
        "A=hunter2-a\nB=hunter2-b\nC=third\n",
        &k.recipient,
        &[],
    );
    let text = std::fs::read_to_string(&f).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key}=")))
            .unwrap()
            .to_owned()
    };
    // A value moved to another key: the additional data (the key path) no longer matches.
    let (a, b) = (line("A"), line("B"));
    let swapped = text
        .replace(&a, "@@A")
        .replace(&b, &a.replacen("A=", "B=", 1))
        .replace("@@A", &b.replacen("B=", "A=", 1));
    std::fs::write(&f, &swapped).unwrap();
    assert_integrity(&f, &k, "hunter2", "swapped values");
    assert!(secrets::decrypt_file(&f, &k.opts())
        .unwrap_err()
        .message
        .contains("the value at A"));
    // One byte of a value's ciphertext changed.
    let data = a.find("data:").unwrap() + 5;
    let flip = if &a[data..data + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flip}{}", &a[..data], &a[data + 1..]);
    std::fs::write(&f, text.replace(&a, &tampered)).unwrap();
    assert_integrity(&f, &k, "hunter2", "changed ciphertext");
    // A value removed: every value still authenticates, the MAC does not.
    std::fs::write(&f, text.replace(&format!("{}\n", line("C")), "")).unwrap();
    assert_integrity(&f, &k, "hunter2", "removed value");
    // The MAC itself changed.
    let mac = line("sops_mac");
    let d = mac.find("data:").unwrap() + 5;
    let flip = if &mac[d..d + 1] == "A" { "B" } else { "A" };
    let bad_mac = format!("{}{flip}{}", &mac[..d], &mac[d + 1..]);
    std::fs::write(&f, text.replace(&mac, &bad_mac)).unwrap();
    assert_integrity(&f, &k, "hunter2", "changed MAC");
    // lastmodified changed: the MAC's additional data.
    let lm = line("sops_lastmodified");
    std::fs::write(
        &f,
        text.replace(&lm, "sops_lastmodified=2001-01-01T00:00:00Z"),
    )
    .unwrap();
    assert_integrity(&f, &k, "hunter2", "changed lastmodified");
    // And the untouched file still decrypts.
    std::fs::write(&f, &text).unwrap();
    secrets::decrypt_file(&f, &k.opts()).unwrap();
}

#[test]
fn yaml_tampered_value_and_mac() {
    let k = kit();
    let f = k.encrypt(
        "t.yaml",
        "a:\n  b: hunter2-yaml\n  c: [1, 2]\n",
        &k.recipient,
        &[],
    );
    let text = std::fs::read_to_string(&f).unwrap();
    // The list's two items swapped: each authenticates (same path), the MAC does not.
    let items: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("- ENC"))
        .collect();
    assert_eq!(items.len(), 2);
    let swapped = text
        .replace(items[0], "@@0")
        .replace(items[1], items[0])
        .replace("@@0", items[1]);
    std::fs::write(&f, swapped).unwrap();
    assert_integrity(&f, &k, "hunter2", "reordered list");
}

#[test]
fn another_recipients_file_names_the_key_that_opens_it() {
    let k = kit();
    let (_, other) = keygen(k.dir.path(), "colleague");
    let (_, third) = keygen(k.dir.path(), "ci");
    let f = k.encrypt(
        "theirs.env",
        "A=hunter2\n",
        &format!("{other},{third}"),
        &[],
    );
    let e = secrets::decrypt_file(&f, &k.opts()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    for r in [&other, &third, &k.recipient] {
        assert!(e.message.contains(r.as_str()), "names {r}: {e}");
    }
    assert!(
        e.message.contains("whose public key is one of these"),
        "{e}"
    );
    let secret = std::fs::read_to_string(&k.key_file).unwrap();
    let secret = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    assert!(!e.message.contains(secret), "{e}");
    // No identity at all: says where it looked.
    let none = DecryptOptions {
        age_key_file: Some(k.dir.path().join("empty.txt")),
        ..Default::default()
    };
    std::fs::write(k.dir.path().join("empty.txt"), "# nothing\n").unwrap();
    let e = secrets::decrypt_file(&f, &none).unwrap_err();
    assert!(e.message.contains("No age identity was found"), "{e}");
}

#[test]
fn ssh_and_passphrase_recipients_are_not_supported() {
    let k = kit();
    let key = k.dir.path().join("id_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let pubkey = pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let f = k.encrypt("ssh.yaml", "a: hunter2\n", &pubkey, &[]);
    let e = secrets::decrypt_file(&f, &k.opts()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
    let m = e.message.to_lowercase();
    assert!(m.contains("not supported") && m.contains("ssh key"), "{e}");

    // A data key wrapped with a passphrase (scrypt), as `age -p` would.
    let f = k.encrypt("pw.yaml", "a: hunter2\n", &k.recipient, &[]);
    let mut w = Vec::new();
    {
        let enc =
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("pw".to_owned()));
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut w, age::armor::Format::AsciiArmor).unwrap();
        let mut s = enc.wrap_output(armor).unwrap();
        std::io::Write::write_all(&mut s, &[0u8; 32]).unwrap();
        s.finish().unwrap().finish().unwrap();
    }
    let armored = String::from_utf8(w).unwrap();
    let text = std::fs::read_to_string(&f).unwrap();
    let start = text.find("-----BEGIN AGE ENCRYPTED FILE-----").unwrap();
    let end = text.find("-----END AGE ENCRYPTED FILE-----").unwrap() + 32;
    let indent = "            ";
    let replaced = armored.trim_end().replace('\n', &format!("\n{indent}"));
    std::fs::write(&f, format!("{}{replaced}{}", &text[..start], &text[end..])).unwrap();
    let e = secrets::decrypt_file(&f, &k.opts()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
    let m = e.message.to_lowercase();
    assert!(
        m.contains("passphrase (scrypt)") && m.contains("not supported"),
        "{e}"
    );
}

#[test]
fn plain_files_are_refused_unless_allowed() {
    let k = kit();
    let f = k.dir.path().join(".env");
    std::fs::write(&f, "export A='x y'\nB=\"${A} z\"\nC=$(touch PWNED)\n").unwrap();
    let e = secrets::decrypt_file(&f, &k.opts()).unwrap_err();
    assert!(e.message.contains("not encrypted"), "{e}");
    let opts = DecryptOptions {
        allow_plaintext: true,
        ..k.opts()
    };
    let d = secrets::decrypt_file_detailed(&f, &opts).unwrap();
    assert!(!d.encrypted);
    assert_eq!(d.format, FileFormat::Dotenv);
    let j = d.secrets.to_value().to_json();
    assert_eq!(
        j,
        serde_json::json!({"A": "x y", "B": "x y z", "C": "$(touch PWNED)"})
    );
}
