//! Manifests and indexes as typed documents (oci-spec's `ImageManifest` and `ImageIndex`,
//! which read Docker's schema 2 manifests and manifest lists too): what idpkit reads from
//! them (blobs, children, the platform's manifest) without walking `serde_json::Value`s.

use crate::error::{Error, Result};
use oci_spec::image::{ImageIndex, ImageManifest};

/// An index (OCI image index or Docker manifest list), by media type.
pub(crate) fn is_index(media: &str) -> bool {
    media.contains("image.index") || media.contains("manifest.list")
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str, digest: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid(format!("{what} {digest} is not a valid {what}: {e}")))
}

pub(crate) fn parse_manifest(bytes: &[u8], digest: &str) -> Result<ImageManifest> {
    parse(bytes, "manifest", digest)
}

pub(crate) fn parse_index(bytes: &[u8], digest: &str) -> Result<ImageIndex> {
    parse(bytes, "index", digest)
}

/// The document's own `mediaType`, when it names one.
pub(crate) fn declared_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Head>(bytes).ok()?.media_type
}

/// `config` and `layers` digests and sizes of a manifest.
pub(crate) fn manifest_blobs(bytes: &[u8], digest: &str) -> Result<Vec<(String, u64)>> {
    let m = parse_manifest(bytes, digest)?;
    Ok(std::iter::once(m.config())
        .chain(m.layers())
        .map(|d| (d.digest().to_string(), d.size()))
        .collect())
}

/// More manifests than this in one index are refused: real indexes list a few dozen
/// (platforms and their attestations), and each listed manifest costs a request.
pub(crate) const MAX_INDEX_MANIFESTS: usize = 1000;

/// The manifests an index lists: digest and media type.
pub(crate) fn index_children(bytes: &[u8], digest: &str) -> Result<Vec<(String, String)>> {
    let index = parse_index(bytes, digest)?;
    let listed = index.manifests();
    if listed.len() > MAX_INDEX_MANIFESTS {
        return Err(Error::invalid(format!(
            "image index {digest} lists {} manifests, more than the {MAX_INDEX_MANIFESTS} idpkit follows",
            listed.len()
        )));
    }
    Ok(listed
        .iter()
        .map(|d| (d.digest().to_string(), d.media_type().to_string()))
        .collect())
}

fn host_platform() -> (String, String) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    ("linux".into(), arch.into())
}

/// The digest of the manifest of `platform` (`os/arch[/variant]`, default this machine's)
/// in an index; `what` names the index in the error that lists what it has.
pub(crate) fn pick_platform(
    index: &[u8],
    digest: &str,
    platform: Option<&str>,
    what: &str,
) -> Result<String> {
    pick_platform_in(&parse_index(index, digest)?, platform, what)
}

/// [`pick_platform`] on an index already parsed (the store's, when it reads one).
pub(crate) fn pick_platform_in(
    index: &ImageIndex,
    platform: Option<&str>,
    what: &str,
) -> Result<String> {
    let (os, arch, variant) = match platform {
        Some(p) => {
            let mut parts = p.split('/');
            let os = parts.next().unwrap_or("linux").to_string();
            let arch = parts.next().ok_or_else(|| {
                Error::invalid(format!("platform {p:?}: expected os/arch[/variant]"))
            })?;
            (os, arch.to_string(), parts.next().map(String::from))
        }
        None => {
            let (o, a) = host_platform();
            (o, a, None)
        }
    };
    let list = index.manifests();
    let found = list.iter().find(|m| {
        m.platform().as_ref().is_some_and(|p| {
            p.os().to_string() == os
                && p.architecture().to_string() == arch
                && variant
                    .as_deref()
                    .is_none_or(|v| p.variant().as_deref() == Some(v))
        })
    });
    // An index without platforms (e.g. one manifest): take the only entry.
    let found = found.or_else(|| (list.len() == 1).then(|| &list[0]));
    found.map(|m| m.digest().to_string()).ok_or_else(|| {
        let have: Vec<String> = list
            .iter()
            .filter_map(|m| m.platform().as_ref())
            .map(|p| format!("{}/{}", p.os(), p.architecture()))
            .collect();
        Error::not_found(format!(
            "{what} has no image for {os}/{arch}; it has: {}; pick one with the platform option (--platform)",
            have.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"amd64"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#;

    #[test]
    fn platforms_are_picked_from_an_index_and_missing_ones_listed() {
        let d = "sha256:x";
        let arm = pick_platform(INDEX.as_bytes(), d, Some("linux/arm64/v8"), "idx").unwrap();
        assert!(arm.starts_with("sha256:2222"));
        let amd = pick_platform(INDEX.as_bytes(), d, Some("linux/amd64"), "idx").unwrap();
        assert!(amd.starts_with("sha256:1111"));
        let e = pick_platform(INDEX.as_bytes(), d, Some("linux/s390x"), "idx").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::NotFound);
        assert!(
            e.message.contains("it has: linux/amd64, linux/arm64"),
            "{}",
            e.message
        );
        let e = pick_platform(INDEX.as_bytes(), d, Some("linux"), "idx").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
        assert_eq!(index_children(INDEX.as_bytes(), d).unwrap().len(), 2);
    }

    #[test]
    fn a_docker_manifest_gives_its_blobs_and_a_broken_one_an_error() {
        let docker = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
          "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333"},
          "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444"}]}"#;
        let blobs = manifest_blobs(docker.as_bytes(), "sha256:m").unwrap();
        assert_eq!(blobs.len(), 2);
        assert_eq!(blobs[1].1, 9);
        assert_eq!(
            declared_media_type(docker.as_bytes()).as_deref(),
            Some("application/vnd.docker.distribution.manifest.v2+json")
        );
        let e =
            manifest_blobs(br#"{"schemaVersion":2,"config":{"size":1}}"#, "sha256:m").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
        assert!(
            e.message
                .starts_with("manifest sha256:m is not a valid manifest"),
            "{}",
            e.message
        );
    }
}
