//! End-to-end: the `idpkit` binary against the tools users already have. skopeo and umoci
//! read the store; umoci's images build on; processes race and get killed. These tests
//! need skopeo and umoci (installed by scripts/setup-system.sh) and fail without them.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn idpkit(store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idpkit"));
    c.arg("--store").arg(store).env_remove("IDPKIT_STORE");
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is it installed? scripts/setup-system.sh installs skopeo and umoci)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_string()
}

fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn context() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(&p.join("server.py"), b"print('serving')\n");
    write(&p.join("bin/run"), b"#!/bin/sh\nexec python3 /server.py\n");
    fs::set_permissions(p.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
    write(&p.join("static/a.css"), b"body{}\n");
    write(
        &p.join("static/big.bin"),
        &(0..4_000_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<_>>(),
    );
    symlink("a.css", p.join("static/link.css")).unwrap();
    write(&p.join("secrets/token"), b"do-not-ship\n");
    write(&p.join("build.log"), b"noise\n");
    write(&p.join(".dockerignore"), b"secrets\n*.log\n");
    d
}

/// path → (kind, mode bits, content or link target) for a directory tree.
fn tree(root: &Path) -> Vec<(String, char, u32, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, char, u32, Vec<u8>)>) {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push((
                    rel,
                    'l',
                    0,
                    fs::read_link(&p)
                        .unwrap()
                        .to_string_lossy()
                        .as_bytes()
                        .to_vec(),
                ));
            } else if m.is_dir() {
                out.push((rel, 'd', m.mode() & 0o7777, Vec::new()));
                walk(root, &p, out);
            } else {
                out.push((rel, 'f', m.mode() & 0o7777, fs::read(&p).unwrap()));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

#[test]
fn skopeo_reads_the_store_and_copies_the_image() {
    let ctx = context();
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let digest = stdout(&run(idpkit(&store)
        .arg("build")
        .arg(ctx.path())
        .args(["-t", "gitea.cnoe.localtest.me:8443/giteaadmin/app:dev"])));
    assert!(digest.starts_with("sha256:"), "{digest}");

    let image = format!(
        "oci:{}:gitea.cnoe.localtest.me:8443/giteaadmin/app:dev",
        store.display()
    );
    let inspect: serde_json::Value =
        serde_json::from_slice(&run(Command::new("skopeo").args(["inspect", &image])).stdout)
            .unwrap();
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(inspect["Os"], "linux");

    let copied = work.path().join("copied");
    run(Command::new("skopeo").args(["copy", &image, &format!("dir:{}", copied.display())]));
    let ours: serde_json::Value =
        serde_json::from_slice(&run(idpkit(&store).args(["inspect", &digest])).stdout).unwrap();
    let layer = ours["manifest"]["layers"][0]["digest"].as_str().unwrap();
    let hex = layer.strip_prefix("sha256:").unwrap();
    assert!(
        copied.join(hex).is_file(),
        "skopeo copied the layer blob {layer}"
    );

    // skopeo (Go's compress/gzip) decompresses every gzip member of the multi-block layer
    // (big.bin spans several 1 MiB blocks): the result is exactly the diff_id.
    let plain = work.path().join("decompressed");
    run(Command::new("skopeo").args([
        "copy",
        "--dest-decompress",
        &image,
        &format!("dir:{}", plain.display()),
    ]));
    let diff_id = ours["config"]["rootfs"]["diff_ids"][0].as_str().unwrap();
    let tar = plain.join(diff_id.strip_prefix("sha256:").unwrap());
    assert!(
        tar.is_file(),
        "skopeo's decompressed layer is named by the diff_id {diff_id}"
    );
    assert!(
        fs::metadata(&tar).unwrap().len() > 4_000_000,
        "the whole layer"
    );
    let sum = stdout(&run(Command::new("sha256sum").arg(&tar)));
    assert_eq!(format!("sha256:{}", &sum[..64]), diff_id);
}

#[test]
fn umoci_unpacks_exactly_the_context_minus_ignored_files() {
    let ctx = context();
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    run(idpkit(&store)
        .arg("build")
        .arg(ctx.path())
        .args(["-t", "localhost/app:1"]));
    let bundle = work.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:localhost/app:1", store.display()))
        .arg(&bundle));

    let mut expected = tree(ctx.path());
    expected.retain(|e| !e.0.starts_with("secrets") && e.0 != "build.log");
    let got = tree(&bundle.join("rootfs"));
    let names =
        |t: &[(String, char, u32, Vec<u8>)]| t.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&expected));
    assert_eq!(
        got, expected,
        "same kinds, modes, contents and link targets"
    );
}

#[test]
fn an_image_made_by_umoci_imports_and_builds_on() {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("umoci-layout");
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:base", layout.display())));
    let base_files = work.path().join("base-files");
    write(&base_files.join("etc/os-release"), b"NAME=umoci-base\n");
    run(Command::new("umoci")
        .args(["insert", "--rootless", "--image"])
        .arg(format!("{}:base", layout.display()))
        .arg(base_files.join("etc"))
        .arg("/etc"));
    run(Command::new("umoci")
        .args(["config", "--image"])
        .arg(format!("{}:base", layout.display()))
        .args(["--config.env", "FROM_BASE=1"]));

    let store = work.path().join("store");
    let imported = stdout(&run(idpkit(&store)
        .args(["--json", "import"])
        .arg(format!("{}:base", layout.display()))));
    let imported: serde_json::Value = serde_json::from_str(&imported).unwrap();
    assert_eq!(imported[0]["reference"], "localhost/umoci-layout:base");

    let ctx = context();
    run(idpkit(&store).arg("build").arg(ctx.path()).args([
        "--from",
        "localhost/umoci-layout:base",
        "-t",
        "localhost/app:on-umoci",
        "--env",
        "APP=1",
    ]));
    let bundle = work.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:localhost/app:on-umoci", store.display()))
        .arg(&bundle));
    assert_eq!(
        fs::read(bundle.join("rootfs/etc/os-release")).unwrap(),
        b"NAME=umoci-base\n"
    );
    assert_eq!(
        fs::read(bundle.join("rootfs/server.py")).unwrap(),
        b"print('serving')\n"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let env: Vec<String> = serde_json::from_value(config["process"]["env"].clone()).unwrap();
    assert!(
        env.contains(&"FROM_BASE=1".to_string()) && env.contains(&"APP=1".to_string()),
        "{env:?}"
    );

    // Round trip out again: skopeo reads the exported layout by its bare tag.
    let out = work.path().join("exported");
    run(idpkit(&store)
        .args(["export", "localhost/app:on-umoci"])
        .arg(format!("{}:v2", out.display())));
    let v: serde_json::Value = serde_json::from_slice(
        &run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}:v2", out.display())))
        .stdout,
    )
    .unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
}

#[test]
fn four_build_processes_on_one_store_leave_a_valid_layout() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let ctxs: Vec<_> = (0..4)
        .map(|i| {
            let c = context();
            write(&c.path().join("id.txt"), format!("{i}").as_bytes());
            c
        })
        .collect();
    let children: Vec<_> = ctxs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            idpkit(&store)
                .arg("build")
                .arg(c.path())
                .args(["-t", &format!("localhost/par:{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let digests: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout(&out)
        })
        .collect();
    for (i, d) in digests.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(
            &run(Command::new("skopeo")
                .arg("inspect")
                .arg(format!("oci:{}:localhost/par:{i}", store.display())))
            .stdout,
        )
        .unwrap();
        assert_eq!(v["Digest"], d.as_str());
    }
}

#[test]
fn a_killed_build_leaves_the_store_valid() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let small = context();
    let before = stdout(&run(idpkit(&store)
        .arg("build")
        .arg(small.path())
        .args(["-t", "localhost/app:ok"])));
    let big = tempfile::tempdir().unwrap();
    // Incompressible content, so the layer's temporary blob grows as the files go in.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..16 {
        let data: Vec<u8> = (0..(4 << 20) / 8)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .collect();
        write(&big.path().join(format!("f{i}.bin")), &data);
    }
    let index_before = fs::read(store.join("index.json")).unwrap();
    let mut child = idpkit(&store)
        .arg("build")
        .arg(big.path())
        .args(["-t", "localhost/app:ok", "--threads", "1", "--level", "9"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill only once a temporary blob exists and has grown (mid-write), not at a fixed time
    // that could fall before the first byte or after the end.
    let tmp = store.join(".idpkit/tmp");
    let grown = |min: u64| {
        fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() >= min))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !grown(1 << 20) {
        assert!(
            std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "no temporary blob grew past 1 MiB before the build ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        grown(1 << 20),
        "the half-written temporary blob is there to clean up"
    );
    assert_eq!(
        fs::read(store.join("index.json")).unwrap(),
        index_before,
        "the tag still points at the old image"
    );
    let v: serde_json::Value = serde_json::from_slice(
        &run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}:localhost/app:ok", store.display())))
        .stdout,
    )
    .unwrap();
    assert_eq!(v["Digest"], before.as_str());
    // gc clears what the killed process left behind, and the next build succeeds.
    run(idpkit(&store).arg("gc"));
    assert_eq!(fs::read_dir(store.join(".idpkit/tmp")).unwrap().count(), 0);
    let after = stdout(&run(idpkit(&store)
        .arg("build")
        .arg(small.path())
        .args(["-t", "localhost/app:again"])));
    assert_eq!(
        after, before,
        "the same context builds the same image after the kill"
    );
}

#[test]
fn bad_input_is_a_clear_error_with_a_non_zero_exit() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let missing = work.path().join("no-such-dir");
    let out = idpkit(&store)
        .arg("build")
        .arg(&missing)
        .args(["-t", "localhost/x:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[NOT_FOUND]") && err.contains(&missing.display().to_string()),
        "{err}"
    );

    let out = idpkit(&store)
        .args(["--json", "build"])
        .arg(work.path())
        .args(["-t", "Bad/Name"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(doc["error"]["kind"], "INVALID_INPUT");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"Bad/Name\""));

    let not_layout = work.path().join("not-a-layout");
    write(&not_layout.join("file.txt"), b"x");
    let out = idpkit(&not_layout).arg("images").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an OCI image layout"));
    assert_eq!(
        fs::read_dir(&not_layout).unwrap().count(),
        1,
        "nothing written"
    );

    let out = idpkit(&store)
        .args(["build"])
        .arg(work.path())
        .args(["--env", "NOEQUALS"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a malformed --env must fail the build"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--env \"NOEQUALS\": expected KEY=VALUE"));
    let _ = PathBuf::new();
}

/// Unmounts a tmpfs when the test ends, pass or fail.
struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_reported_and_the_store_stays_as_it_was() {
    let work = tempfile::tempdir().unwrap();
    let disk = work.path().join("small-disk");
    fs::create_dir(&disk).unwrap();
    // Needs root (CI and the dev machines run as root): a 2 MiB filesystem to fill.
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&disk));
    let _unmount = Mount(disk.clone());
    let store = disk.join("store");
    let small = tempfile::tempdir().unwrap();
    write(&small.path().join("a.txt"), b"a\n");
    run(idpkit(&store)
        .arg("build")
        .arg(small.path())
        .args(["-t", "localhost/app:1"]));
    let index_before = fs::read(store.join("index.json")).unwrap();

    let big = tempfile::tempdir().unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..6_000_000)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect();
    write(&big.path().join("noise.bin"), &noise);
    let out = idpkit(&store)
        .arg("build")
        .arg(big.path())
        .args(["-t", "localhost/app:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[IO]") && err.contains("no space left"),
        "{err}"
    );
    assert_eq!(fs::read(store.join("index.json")).unwrap(), index_before);
    assert_eq!(
        fs::read_dir(store.join(".idpkit/tmp")).unwrap().count(),
        0,
        "the partial layer is gone"
    );
    run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:localhost/app:1", store.display())));
}

#[test]
fn an_unreadable_file_is_named() {
    // Root reads everything, so the build runs as `nobody` (setpriv from util-linux).
    let work = tempfile::Builder::new()
        .prefix("idpkit-perm")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let ctx = work.path().join("ctx");
    write(&ctx.join("ok.txt"), b"ok\n");
    write(&ctx.join("locked.key"), b"secret\n");
    fs::set_permissions(&ctx, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(ctx.join("ok.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(ctx.join("locked.key"), fs::Permissions::from_mode(0o000)).unwrap();
    let store = work.path().join("store");
    fs::create_dir(&store).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_idpkit"))
        .arg("--store")
        .arg(&store)
        .arg("build")
        .arg(&ctx)
        .args(["-t", "localhost/app:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("locked.key") && err.contains("permission denied"),
        "{err}"
    );
}

#[test]
fn trust_add_does_not_create_a_store() {
    let home = tempfile::tempdir().unwrap();
    let pem = home.path().join("ca.pem");
    let key = home.path().join("ca.key");
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=store-free",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&pem));
    let mut c = Command::new(env!("CARGO_BIN_EXE_idpkit"));
    c.args(["trust", "add", "registry.example:5000"])
        .arg(&pem)
        .env_remove("IDPKIT_STORE")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"));
    run(&mut c);
    assert!(home
        .path()
        .join("config/idpkit/certs.d/registry.example:5000/ca.crt")
        .is_file());
    assert!(
        !home.path().join("data").exists(),
        "trust add created a store as a side effect"
    );
}
