//! Links the `idpkit` binary with packed relative relocations (DT_RELR) where the linker and
//! the C library support them. A position-independent binary of this size carries ~47,000
//! relative relocations (1.1 MB of `.rela.dyn`) that the dynamic loader reads and applies at
//! every start; packed, they are 15 KB. That is about 0.4 ms of a 4 ms `secrets decrypt`
//! (bench/secrets.sh), and the binary stays a PIE (ASLR kept). Probed by linking and running
//! a tiny program, so an older toolchain or glibc (< 2.36) builds as before.

use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let same_host = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if os != "linux" || env != "gnu" || !same_host {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let src = out.join("relr-probe.c");
    let exe = out.join("relr-probe");
    // A pointer in initialized data: the probe itself needs a relative relocation.
    let probe = "static const char *s = \"ok\";\nint main(void) { return s[0] == 'o' ? 0 : 1; }\n";
    if std::fs::write(&src, probe).is_err() {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let linked = Command::new(&cc)
        .args(["-pie", "-fPIE", FLAG, "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty());
    if linked && Command::new(&exe).status().is_ok_and(|s| s.success()) {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    }
}
