//! `idpkit secrets decrypt` end to end: files encrypted by the rig's real sops for keys from
//! the real age-keygen; every key lookup sops has; stdout only unless --output (0600); exit
//! codes by kind. Fails (never skips) when the rig or its tools are missing.

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
