//! `idpkit secrets decrypt` end to end: files encrypted by the rig's real sops for keys from
//! the real age-keygen; every key lookup sops has; stdout only unless --output (0600); exit
//! codes by kind. `idpkit secrets push` and `idpkit sandbox secrets push` against the rig's
//! real kube-apiserver, the Secret read back with the tests' own client. Fails (never skips)
//! when the rig or its tools are missing.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An identity from the real age-keygen: (file, recipient, secret line).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String, String) {
    let file = dir.join(name);
    let out = Command::new("age-keygen").arg("-o").arg(&file).output();
    let out = out.expect("age-keygen is not installed (the rig's setup installs it)");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let r = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    let s = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    (file, r.to_owned(), s.to_owned())
}

fn encrypt(sops: &str, dir: &Path, name: &str, plain: &str, recipient: &str) -> PathBuf {
    let src = dir.join(format!("plain-{name}"));
    std::fs::write(&src, plain).unwrap();
    let t = if name.ends_with(".yaml") {
        "yaml"
    } else {
        "dotenv"
    };
    let out = Command::new(sops)
        .current_dir(dir)
        .args([
            "encrypt",
            "--age",
            recipient,
            "--input-type",
            t,
            "--output-type",
            t,
        ])
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&src).unwrap();
    let dst = dir.join(name);
    std::fs::write(&dst, out.stdout).unwrap();
    dst
}

/// `idpkit` with no key variables of the caller's and HOME/XDG_CONFIG_HOME inside `home`.
fn idpkit(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idpkit"));
    c.env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home);
    c
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "idpkit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn decrypt_with_every_key_lookup_and_output_rules() {
    let env = rig();
    let sops = env.get("SOPS").expect("rig.env has no IDPKIT_RIG_SOPS");
    assert!(
        Path::new(sops).is_file(),
        "the rig's sops {sops} is missing; run tests/rig/up"
    );
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (key_file, recipient, secret) = keygen(dir.path(), "keys.txt");
    let f = encrypt(
        sops,
        dir.path(),
        ".env.sops",
        "API_TOKEN=hunter2-cli\nCMD=$(touch PWNED)\nNOTE=it's here\n",
        &recipient,
    );
    let want = "API_TOKEN=hunter2-cli\nCMD='$(touch PWNED)'\nNOTE=\"it's here\"\n";

    // SOPS_AGE_KEY_FILE.
    let out = idpkit(&home)
        .env("SOPS_AGE_KEY_FILE", &key_file)
        .args(["secrets", "decrypt"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(ok(&out), want);
    // SOPS_AGE_KEY.
    let out = idpkit(&home)
        .env("SOPS_AGE_KEY", &secret)
        .args(["secrets", "decrypt"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(ok(&out), want);
    // The default file under $XDG_CONFIG_HOME, then under ~/.config.
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::copy(&key_file, xdg.join("sops/age/keys.txt")).unwrap();
    let out = idpkit(&home)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["secrets", "decrypt"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(ok(&out), want);
    std::fs::create_dir_all(home.join(".config/sops/age")).unwrap();
    std::fs::copy(&key_file, home.join(".config/sops/age/keys.txt")).unwrap();
    let out = idpkit(&home)
        .args(["secrets", "decrypt", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(j["CMD"], "$(touch PWNED)");
    assert!(!dir.path().join("PWNED").exists());
    // --json: the operation's result.
    let out = idpkit(&home)
        .args(["--json", "secrets", "decrypt"])
        .arg(&f)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        (j["format"].as_str(), j["encrypted"].as_bool()),
        (Some("dotenv"), Some(true))
    );
    assert_eq!(j["values"]["API_TOKEN"], "hunter2-cli");

    // --output: nothing on stdout, the file 0600, no temporary left beside it.
    let outdir = dir.path().join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let target = outdir.join("decrypted.env");
    let out = idpkit(&home)
        .args(["secrets", "decrypt", "--output"])
        .arg(&target)
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(ok(&out), "");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), want);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 1);

    // Tampered: exit 6 (INTEGRITY), no value in the message.
    let text = std::fs::read_to_string(&f).unwrap();
    let mac = text.lines().find(|l| l.starts_with("sops_mac=")).unwrap();
    let d = mac.find("data:").unwrap() + 5;
    let flip = if &mac[d..d + 1] == "A" { "B" } else { "A" };
    let bad = format!("{}{flip}{}", &mac[..d], &mac[d + 1..]);
    let tampered = dir.path().join("tampered.env");
    std::fs::write(&tampered, text.replace(mac, &bad)).unwrap();
    let out = idpkit(&home)
        .args(["secrets", "decrypt"])
        .arg(&tampered)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[INTEGRITY]") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // Another recipient's file: exit 4 (AUTH), names the recipients.
    let (_, other, _) = keygen(dir.path(), "other.txt");
    let theirs = encrypt(sops, dir.path(), "theirs.yaml", "a: {b: hunter2}\n", &other);
    let out = idpkit(&home)
        .args(["secrets", "decrypt"])
        .arg(&theirs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&other) && err.contains(&recipient) && !err.contains(&secret),
        "{err}"
    );

    // A nested document cannot be dotenv: exit 2, says to use json.
    let mine = encrypt(
        sops,
        dir.path(),
        "mine.yaml",
        "a: {b: hunter2}\n",
        &recipient,
    );
    let out = idpkit(&home)
        .args(["secrets", "decrypt", "--format", "dotenv"])
        .arg(&mine)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("JSON"));
    let out = idpkit(&home)
        .args(["secrets", "decrypt"])
        .arg(&mine)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(j, serde_json::json!({"a": {"b": "hunter2"}}));

    // A plain dotenv syntax error: the file and line, never the text.
    let plain = dir.path().join(".env.plain");
    std::fs::write(&plain, "A=1\nB=\"hunter2\n").unwrap();
    let out = idpkit(&home)
        .args(["secrets", "decrypt", "--plain"])
        .arg(&plain)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{} line 2", plain.display())) && !err.contains("hunter2"),
        "{err}"
    );
}

/// The namespace the push tests write Secrets into (applied by the tests' own client).
const PUSH_NS: &str = "idpkit-cli-secrets-test";

/// A Secret name of this run, so runs and processes never meet.
fn unique(what: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{}", std::process::id(), t % 1_000_000_000)
}

/// Secret `PUSH_NS/name` as the API server has it, values as text.
fn read_secret(
    kube: &idpkit::kube::KubeClient,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    kube.secret(PUSH_NS, name)
        .unwrap()
        .unwrap_or_else(|| panic!("Secret {PUSH_NS}/{name} does not exist"))
        .iter()
        .map(|(k, v)| (k.to_owned(), String::from_utf8(v.to_vec()).unwrap()))
        .collect()
}

#[test]
fn push_and_sandbox_push_write_the_secret_and_print_no_value() {
    let env = rig();
    let sops = env.get("SOPS").expect("rig.env has no IDPKIT_RIG_SOPS");
    assert!(
        Path::new(sops).is_file(),
        "the rig's sops {sops} is missing; run tests/rig/up"
    );
    let kube = rig_kube(&env);
    kube.apply(
        &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PUSH_NS}}),
        "idpkit-tests",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (key_file, recipient, _) = keygen(dir.path(), "keys.txt");
    let plain = dir.path().join(".env.claude-sandbox");
    std::fs::write(
        &plain,
        "SHARED=plain-cli-31d7\nPLAIN_ONLY=plain-only-cli-88e0\n",
    )
    .unwrap();
    let enc = encrypt(
        sops,
        dir.path(),
        ".env.sops",
        "SHARED=sops-cli-6a2f\nCMD=$(touch PWNED)\n",
        &recipient,
    );
    let values = [
        "plain-cli-31d7",
        "plain-only-cli-88e0",
        "sops-cli-6a2f",
        "$(touch PWNED)",
    ];
    let no_value = |out: &Output| {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for v in values {
            assert!(!all.contains(v), "idpkit printed the value {v}: {all}");
        }
    };

    for (i, cmd) in [
        &["secrets", "push"][..],
        &["sandbox", "secrets", "push"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let name = unique(&format!("cli-push-{i}"));
        let target = format!("{PUSH_NS}/{name}");
        let out = idpkit(&home)
            .args(["--json"])
            .args(cmd)
            .arg(&target)
            .arg(&plain)
            .arg(&enc)
            .arg("--age-key-file")
            .arg(&key_file)
            .arg("--kubeconfig")
            .arg(&env["KUBECONFIG"])
            .output()
            .unwrap();
        no_value(&out);
        let j: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
        assert_eq!(j["created"], true, "{cmd:?}: {j}");
        assert_eq!(
            j["keys"],
            serde_json::json!(["CMD", "PLAIN_ONLY", "SHARED"])
        );
        let got = read_secret(&kube, &name);
        assert_eq!(
            got["SHARED"], "sops-cli-6a2f",
            "{cmd:?}: the later tier wins"
        );
        assert_eq!(got["CMD"], "$(touch PWNED)");
        assert_eq!(got["PLAIN_ONLY"], "plain-only-cli-88e0");
        assert!(!dir.path().join("PWNED").exists());

        // Again with only the SOPS tier: PLAIN_ONLY leaves the Secret; human output.
        let out = idpkit(&home)
            .args(cmd)
            .arg(&target)
            .arg(&enc)
            .arg("--age-key-file")
            .arg(&key_file)
            .arg("--kubeconfig")
            .arg(&env["KUBECONFIG"])
            .output()
            .unwrap();
        no_value(&out);
        let text = ok(&out);
        assert!(
            text.starts_with(&format!("updated Secret {target} (2 keys: CMD, SHARED)")),
            "{text}"
        );
        let got = read_secret(&kube, &name);
        assert!(!got.contains_key("PLAIN_ONLY"), "{:?}", got.keys());
    }

    // A Secret another field manager set: exit 10 (CONFLICT) naming --force, then --force.
    let name = unique("cli-conflict");
    kube.apply(
        &serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": PUSH_NS},
            "data": {"SHARED": "dGhlaXJz"},
        }),
        "someone-else",
    )
    .unwrap();
    let push = |force: bool| {
        let mut c = idpkit(&home);
        c.args(["secrets", "push", &format!("{PUSH_NS}/{name}")])
            .arg(&enc)
            .env("SOPS_AGE_KEY_FILE", &key_file)
            .env("KUBECONFIG", &env["KUBECONFIG"]);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let out = push(false);
    no_value(&out);
    assert_eq!(out.status.code(), Some(10), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[CONFLICT]") && err.contains("someone-else") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read_secret(&kube, &name)["SHARED"], "theirs");
    let out = push(true);
    no_value(&out);
    assert!(ok(&out).starts_with("updated Secret"));
    assert_eq!(read_secret(&kube, &name)["SHARED"], "sops-cli-6a2f");

    // Not NAMESPACE/NAME: exit 2 before anything is read.
    let out = idpkit(&home)
        .args(["sandbox", "secrets", "push", "just-a-name"])
        .arg(&enc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAMESPACE/NAME"));
}
