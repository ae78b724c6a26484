//! Listing, tagging, removing, inspecting and collecting images in the store.

use crate::error::{Error, Result};
use crate::oci::media::doc_kind;
use crate::oci::reference::Reference;
use crate::oci::store::{ref_name, Store};
use crate::oci::{document, GcReport, ImageInspect, ImageSummary};
use oci_spec::image::Descriptor;

impl Store {
    /// Every image in the store, one row per tag (untagged images once, by digest).
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        let index = self.read_index()?;
        index
            .manifests()
            .iter()
            .map(|d| self.summarize(d))
            .collect()
    }

    fn summarize(&self, d: &Descriptor) -> Result<ImageSummary> {
        let digest = d.digest().to_string();
        let mut size = d.size();
        let mut created = None;
        if doc_kind(d.media_type()) != crate::oci::media::DocKind::Leaf {
            if let Ok((_, m)) = self.load_manifest(d) {
                size += m.config().size() + m.layers().iter().map(|l| l.size()).sum::<u64>();
                created = self
                    .read_blob(m.config().digest().as_ref())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v.get("created").and_then(|c| c.as_str()).map(String::from));
            }
        }
        Ok(ImageSummary {
            reference: ref_name(d).map(String::from),
            digest,
            size,
            created,
            media_type: d.media_type().to_string(),
        })
    }

    /// Points `target` at the image `source` names. No blob is copied.
    pub fn tag(&self, source: &str, target: &str) -> Result<ImageSummary> {
        let r = Reference::parse(target).map_err(|e| e.context("target"))?;
        if r.tag.is_none() {
            return Err(Error::invalid(format!(
                "target {target:?} has no tag; give a name with a tag, like app:v2"
            )));
        }
        let (_, desc) = self.resolve(source)?;
        let key = r.store_key();
        self.update_index(|index| {
            Store::set_tag(index, &key, &desc);
            Ok(())
        })?;
        let mut tagged = desc;
        let mut ann = tagged.annotations().clone().unwrap_or_default();
        ann.insert(crate::oci::store::REF_NAME.into(), key);
        tagged.set_annotations(Some(ann));
        self.summarize(&tagged)
    }

    /// Removes a tag, or every entry of a digest. Blobs stay until `gc`.
    pub fn remove(&self, reference: &str) -> Result<Vec<String>> {
        let (key, desc) = self.resolve(reference)?;
        let by_digest = reference.starts_with("sha256:") || reference.contains('@');
        let digest = desc.digest().to_string();
        self.update_index(|index| {
            let mut removed = Vec::new();
            let mut all = index.manifests().clone();
            all.retain(|d| {
                let hit = if by_digest {
                    d.digest().as_ref() == digest
                } else {
                    ref_name(d) == key.as_deref()
                };
                if hit {
                    removed.push(ref_name(d).map_or_else(|| d.digest().to_string(), String::from));
                }
                !hit
            });
            index.set_manifests(all);
            Ok(removed)
        })
    }

    /// The manifest and config of an image.
    pub fn inspect(&self, reference: &str) -> Result<ImageInspect> {
        let (key, desc) = self.resolve(reference)?;
        let (digest, manifest) = self.load_manifest(&desc)?;
        let what = format!("{reference} ({digest})");
        let config_desc = manifest.config();
        let config = if document::is_image_config(config_desc.media_type().as_ref()) {
            let bytes = self.read_blob(config_desc.digest().as_ref())?;
            Some(document::parse(&bytes, &format!("the config of {what}"))?)
        } else {
            None
        };
        // oci-spec's manifest (what the store reads with) as the contract's typed mirror.
        let manifest = serde_json::to_vec(&manifest).map_err(|e| Error::internal(e.to_string()))?;
        Ok(ImageInspect {
            reference: key,
            manifest: document::parse(&manifest, &what)?,
            digest,
            config,
        })
    }

    /// Deletes blobs no tag or untagged image reaches, and leftovers of killed builds.
    pub fn gc(&self) -> Result<GcReport> {
        self.collect_garbage()
    }
}
