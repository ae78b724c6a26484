//! What the CLI's rig tests share: where the rig is, what it exports, and a client of its
//! API server.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The rig's state directory (`IDPKIT_RIG_DIR`, else the repository's `.rig`).
pub fn rig_dir() -> PathBuf {
    std::env::var_os("IDPKIT_RIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.rig"))
}

/// `rig.env` without its `IDPKIT_RIG_` prefix; panics (the test fails, never skips) when the
/// rig is not up.
pub fn rig() -> HashMap<String, String> {
    let file = rig_dir().join("rig.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "the test rig is not up ({}: {e}); start it with tests/rig/up",
            file.display()
        )
    });
    text.lines()
        .filter_map(|l| l.strip_prefix("export IDPKIT_RIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// The rig's API server, as the tests' own client (to create objects and set status).
pub fn rig_kube(env: &HashMap<String, String>) -> idpkit::kube::KubeClient {
    idpkit::kube::KubeClient::connect(
        &idpkit::kube::KubeOptions {
            kubeconfig: Some(env["KUBECONFIG"].clone().into()),
            context: None,
        },
        None,
    )
    .unwrap()
}
