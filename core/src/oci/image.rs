//! Image config and manifest for a build: the base image's settings, the options on top,
//! the new layer appended.

use crate::error::{Error, Result};
use crate::oci::store::to_hash_map;
use crate::oci::{BuildOptions, LayerInfo};
use oci_spec::image::{
    Arch, Config, Descriptor, History, ImageConfiguration, ImageManifest, ImageManifestBuilder,
    MediaType, Os, Platform,
};
use std::str::FromStr;

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlatformSpec {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    pub fn parse(s: &str) -> Result<PlatformSpec> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid =
            |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| valid(p)) {
            return Err(Error::invalid(format!(
                "platform {s:?}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8"
            )));
        }
        Ok(PlatformSpec {
            os: parts[0].to_string(),
            arch: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    /// Linux on this machine's architecture, in Go's names.
    pub fn host() -> PlatformSpec {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        PlatformSpec {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }

    fn of_config(c: &ImageConfiguration) -> PlatformSpec {
        PlatformSpec {
            os: c.os().to_string(),
            arch: c.architecture().to_string(),
            variant: c.variant().clone(),
        }
    }

    pub fn to_oci(&self) -> Platform {
        let mut p = Platform::default();
        p.set_os(Os::from(self.os.as_str()));
        p.set_architecture(Arch::from(self.arch.as_str()));
        p.set_variant(self.variant.clone());
        p
    }
}

/// RFC 3339 time for a Unix epoch second (negative clamps to 1970).
pub(crate) fn rfc3339(epoch: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The platform of the build: the option, else the base image's, else the host's.
pub(crate) fn pick_platform(
    opts: &BuildOptions,
    base: Option<&ImageConfiguration>,
) -> Result<PlatformSpec> {
    match (&opts.platform, base) {
        (Some(p), Some(b)) => {
            let wanted = PlatformSpec::parse(p)?;
            let have = PlatformSpec::of_config(b);
            if wanted.os != have.os || wanted.arch != have.arch {
                return Err(Error::invalid(format!(
                    "platform {p} does not match the base image's {}/{}; pick a base image for {p}",
                    have.os, have.arch
                )));
            }
            Ok(wanted)
        }
        (Some(p), None) => PlatformSpec::parse(p),
        (None, Some(b)) => Ok(PlatformSpec::of_config(b)),
        (None, None) => Ok(PlatformSpec::host()),
    }
}

/// The new image config: the base's config with the options applied and the layer's
/// diff_id appended.
pub(crate) fn make_config(
    base: Option<ImageConfiguration>,
    opts: &BuildOptions,
    platform: &PlatformSpec,
    layer: &LayerInfo,
    created: &str,
) -> Result<ImageConfiguration> {
    let mut cfg = base.unwrap_or_default();
    cfg.set_os(Os::from(platform.os.as_str()));
    cfg.set_architecture(Arch::from(platform.arch.as_str()));
    cfg.set_variant(platform.variant.clone());
    cfg.set_created(Some(created.to_string()));

    let mut run = cfg.config().clone().unwrap_or_default();
    apply_run_config(&mut run, opts)?;
    cfg.set_config(Some(run));

    let mut rootfs = cfg.rootfs().clone();
    rootfs.diff_ids_mut().push(layer.diff_id.clone());
    cfg.set_rootfs(rootfs);

    let mut history = cfg.history().clone().unwrap_or_default();
    let mut h = History::default();
    h.set_created(Some(created.to_string()));
    h.set_created_by(Some(format!("idpkit build (prefix {})", opts.prefix)));
    history.push(h);
    cfg.set_history(Some(history));
    Ok(cfg)
}

fn apply_run_config(run: &mut Config, opts: &BuildOptions) -> Result<()> {
    if let Some(ep) = &opts.entrypoint {
        run.set_entrypoint(Some(ep.clone()));
        // Like Docker: a new entrypoint drops the base's cmd unless a cmd is given too.
        if opts.cmd.is_none() {
            run.set_cmd(None);
        }
    }
    if let Some(cmd) = &opts.cmd {
        run.set_cmd(Some(cmd.clone()));
    }
    if let Some(w) = &opts.workdir {
        if !w.starts_with('/') {
            return Err(Error::invalid(format!(
                "workdir {w:?} must be an absolute path inside the image, like /app"
            )));
        }
        run.set_working_dir(Some(w.clone()));
    }
    if let Some(u) = &opts.user {
        run.set_user(Some(u.clone()));
    }
    if !opts.env.is_empty() {
        let mut env = run.env().clone().unwrap_or_default();
        for (k, v) in &opts.env {
            if k.is_empty() || k.contains('=') {
                return Err(Error::invalid(format!(
                    "env name {k:?} is invalid: it must be non-empty and contain no '='"
                )));
            }
            let entry = format!("{k}={v}");
            match env
                .iter_mut()
                .find(|e| e.split('=').next() == Some(k.as_str()))
            {
                Some(slot) => *slot = entry,
                None => env.push(entry),
            }
        }
        run.set_env(Some(env));
    }
    if !opts.labels.is_empty() {
        let mut labels = run.labels().clone().unwrap_or_default();
        for (k, v) in &opts.labels {
            labels.insert(k.clone(), v.clone());
        }
        run.set_labels(Some(labels));
    }
    Ok(())
}

/// The manifest: base layers, then the new one.
pub(crate) fn make_manifest(
    base_layers: Vec<Descriptor>,
    layer: &LayerInfo,
    config_digest: &str,
    config_size: u64,
    opts: &BuildOptions,
) -> Result<ImageManifest> {
    let mut layers = base_layers;
    layers.push(descriptor(&layer.media_type, &layer.digest, layer.size)?);
    let mut m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            "application/vnd.oci.image.config.v1+json",
            config_digest,
            config_size,
        )?)
        .layers(layers)
        .build()
        .map_err(|e| Error::internal(format!("manifest: {e}")))?;
    m.set_annotations(to_hash_map(&opts.annotations));
    Ok(m)
}

pub(crate) fn descriptor(media_type: &str, digest: &str, size: u64) -> Result<Descriptor> {
    let d = oci_spec::image::Digest::from_str(digest)
        .map_err(|e| Error::internal(format!("digest {digest}: {e}")))?;
    Ok(Descriptor::new(MediaType::from(media_type), size, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        assert_eq!(
            PlatformSpec::parse("linux/arm64/v8")
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"] {
            let e = PlatformSpec::parse(bad).unwrap_err();
            assert!(e.message.contains("os/arch"), "{bad}");
        }
    }

    #[test]
    fn env_overrides_base_and_keeps_order() {
        let mut run = Config::default();
        run.set_env(Some(vec!["PATH=/bin".into(), "A=1".into()]));
        let mut opts = BuildOptions::default();
        opts.env.insert("A".into(), "2".into());
        opts.env.insert("B".into(), "x=y".into());
        apply_run_config(&mut run, &opts).unwrap();
        assert_eq!(
            run.env().clone().unwrap(),
            vec!["PATH=/bin", "A=2", "B=x=y"]
        );
        opts.env.insert("C=D".into(), "1".into());
        assert!(apply_run_config(&mut run, &opts)
            .unwrap_err()
            .message
            .contains("C=D"));
    }

    #[test]
    fn rfc3339_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
