//! What the integration tests share: the rig's endpoints, read from `rig.env`.

#![allow(dead_code)] // each test file uses what it needs

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// The rig's state directory (`IDPKIT_RIG_DIR`, else the repository's `.rig`).
pub fn rig_dir() -> PathBuf {
    std::env::var_os("IDPKIT_RIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.rig"))
}

/// `IDPKIT_RIG_*` of `rig.env` without the prefix; fails naming what to start (never skips)
/// when the rig is not up or the `host:port` values of `reachable` do not answer.
pub fn rig(reachable: &[&str]) -> HashMap<String, String> {
    let path = rig_dir().join("rig.env");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the test rig is not up ({}: {e}); start it with tests/rig/up",
            path.display()
        )
    });
    let env: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export IDPKIT_RIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    for key in reachable {
        let addr = env
            .get(*key)
            .unwrap_or_else(|| panic!("rig.env has no IDPKIT_RIG_{key}"));
        let ok = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok());
        assert!(
            ok,
            "rig peer {key} is not reachable at {addr}; start the rig with tests/rig/up"
        );
    }
    env
}

/// A name no other test run uses (`{what}-{pid}-{nanos}`): namespaces, Secrets, Jobs on the
/// rig, which outlives a run.
pub fn unique(what: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{}", std::process::id(), t % 1_000_000_000)
}

/// Builds an image of one file, `f`, holding `content` into `store`, tagged `tag` (the
/// context is made under `dir`).
pub fn build_one_file(
    store: &idpkit::Store,
    dir: &std::path::Path,
    tag: &str,
    content: &[u8],
) -> idpkit::BuildResult {
    let ctx = dir.join(format!("ctx-{}", tag.replace(['/', ':'], "_")));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), content).unwrap();
    store
        .build(
            &idpkit::BuildOptions {
                context: ctx,
                tags: vec![tag.to_string()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap()
}

/// `len` pseudo-random (incompressible) bytes from `seed` (xorshift).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `plain` encrypted by the real `sops` for the age `recipient` into `dir/name`, as `kind`
/// (`dotenv`, `yaml`, `json`) with `extra` flags; sops sees no key of the machine's
/// (`SOPS_AGE_KEY*` removed, its config dir empty). The plain text never stays on disk.
pub fn sops_encrypt(
    sops: &std::path::Path,
    dir: &std::path::Path,
    (name, plain): (&str, &str),
    recipient: &str,
    kind: &str,
    extra: &[&str],
) -> PathBuf {
    let src = dir.join(format!("plain-{name}"));
    std::fs::write(&src, plain).unwrap();
    let out = std::process::Command::new(sops)
        .current_dir(dir)
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .args([
            "encrypt",
            "--age",
            recipient,
            "--input-type",
            kind,
            "--output-type",
            kind,
        ])
        .args(extra)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops encrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&src).unwrap();
    let dst = dir.join(name);
    std::fs::write(&dst, out.stdout).unwrap();
    dst
}

/// Options that reach the rig's TLS registry: its CA, and its user's password (basic auth).
pub fn tls_registry_options(rig: &HashMap<String, String>) -> idpkit::registry::RegistryOptions {
    idpkit::registry::RegistryOptions {
        trust: idpkit::trust::TrustOptions {
            ca_files: vec![rig["CA"].clone().into()],
            ..Default::default()
        },
        credential: Some(idpkit::registry::Credential::basic(
            &rig["REGISTRY_USER"],
            &rig["REGISTRY_PASSWORD"],
            "test",
        )),
        ..Default::default()
    }
}
