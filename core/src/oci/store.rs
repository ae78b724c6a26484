//! The local image store: a standard OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/...`) that skopeo (`oci:DIR:REF`) and umoci read.
//!
//! Tags are `org.opencontainers.image.ref.name` annotations holding the normalized reference.
//! idpkit's own bookkeeping (locks, temp files, layer cache, directory listings) lives under `.idpkit/`, which the
//! layout spec permits and other tools ignore.
//!
//! Consistency: every file is written to a temporary sibling and renamed into place, so a
//! crash never leaves a half-written blob or index visible. Two locks serialize writers
//! across processes: `index.lock` (exclusive) around each read-modify-write of `index.json`,
//! and `gc.lock`, held shared by builds and imports for their whole run and exclusively by
//! `gc`, so a collection never deletes the blobs of a build that has not tagged them yet.

use crate::digest::{parse_sha256, sha256_digest};
use crate::error::{Error, ErrorKind, Result};
use crate::oci::media::{doc_kind, DocKind};
use crate::oci::reference::Reference;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const EMPTY_INDEX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

/// A local OCI image-layout store. Cheap to clone; safe to share between threads and
/// processes.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

use crate::fsx::create_if_absent;
pub(crate) use crate::fsx::{readable, write_atomic, LockGuard};

/// An image arriving from outside the store (a pull): verified blobs first, then one index
/// update that tags it. Holds the store's writer lock for its whole life, so a `gc` never
/// collects blobs that are in but not yet tagged. This is the one way the registry client
/// writes into a store: it never touches the layout's files itself.
pub(crate) struct Ingest<'a> {
    store: &'a Store,
    _writer: LockGuard,
}

impl Ingest<'_> {
    pub(crate) fn has_blob(&self, digest: &str) -> bool {
        self.store.has_blob(digest)
    }

    /// A temporary file in the store's temp dir, for a blob being received.
    pub(crate) fn new_blob_file(&self) -> Result<tempfile::NamedTempFile> {
        self.store.temp_file()
    }

    /// Moves a received and verified blob into place.
    pub(crate) fn commit_blob(&self, file: tempfile::NamedTempFile, digest: &str) -> Result<()> {
        self.store.commit_blob(file, digest)
    }

    /// Stores a manifest an index lists, untagged (the index is tagged after it).
    pub(crate) fn put_manifest(&self, bytes: &[u8]) -> Result<String> {
        self.store.put_blob(bytes)
    }

    /// Stores a manifest's bytes and tags it `key`; returns the manifest's digest.
    pub(crate) fn tag_manifest(&self, key: &str, media_type: &str, bytes: &[u8]) -> Result<String> {
        let digest = self.store.put_blob(bytes)?;
        let dg = oci_spec::image::Digest::from_str(&digest)
            .map_err(|e| Error::internal(format!("digest {digest}: {e}")))?;
        let desc = Descriptor::new(
            oci_spec::image::MediaType::from(media_type),
            bytes.len() as u64,
            dg,
        );
        self.store.update_index(|index| {
            Store::set_tag(index, key, &desc);
            Ok(())
        })?;
        Ok(digest)
    }
}

impl Store {
    /// Starts an [`Ingest`] (takes the writer lock).
    pub(crate) fn ingest(&self) -> Result<Ingest<'_>> {
        Ok(Ingest {
            store: self,
            _writer: self.writer_lock()?,
        })
    }

    /// Opens the store at `root`, creating an empty layout when the directory is missing or
    /// empty. A non-empty directory that is not an OCI layout is refused, untouched.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        let root = root.as_ref().to_path_buf();
        let store = Store { root };
        store.init()?;
        Ok(store)
    }

    /// Opens the default store (`$IDPKIT_STORE` or the XDG data dir).
    pub fn open_default() -> Result<Store> {
        Store::open(crate::config::default_store_dir())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn init(&self) -> Result<()> {
        let root = &self.root;
        match fs::metadata(root) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::invalid(format!(
                    "store {}: is a file, not a directory; pass a directory as the store (--store)",
                    root.display()
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(root).map_err(|e| Error::io("create store", root, e))?;
            }
            Err(e) => return Err(Error::io("open store", root, e)),
        }
        let layout = root.join(LAYOUT_FILE);
        if layout.exists() {
            let text = fs::read(&layout).map_err(|e| Error::io("read", &layout, e))?;
            let v: serde_json::Value = serde_json::from_slice(&text).map_err(|_| {
                Error::invalid(format!(
                    "store {}: oci-layout is not valid JSON",
                    root.display()
                ))
            })?;
            if v.get("imageLayoutVersion").and_then(|x| x.as_str()) != Some("1.0.0") {
                return Err(Error::invalid(format!(
                    "store {}: unsupported imageLayoutVersion in oci-layout (want 1.0.0)",
                    root.display()
                )));
            }
        } else {
            // Another process may be creating the store right now, so tolerate the entries a
            // layout consists of, and create each file only if it is still absent.
            let foreign = fs::read_dir(root)
                .map_err(|e| Error::io("read store", root, e))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| {
                    !matches!(n.as_str(), "blobs" | "index.json" | ".idpkit" | LAYOUT_FILE)
                        && !n.starts_with(".tmp-")
                });
            if let Some(name) = foreign {
                return Err(Error::invalid(format!(
                    "store {}: not an OCI image layout (no oci-layout file, and it holds {name:?}); \
                     pass an empty directory or an existing store",
                    root.display()
                )));
            }
            fs::create_dir_all(self.blob_dir()).map_err(|e| Error::io("create", root, e))?;
            create_if_absent(&root.join("index.json"), EMPTY_INDEX)?;
            create_if_absent(&layout, LAYOUT_CONTENT)?;
        }
        for dir in [self.blob_dir(), self.tmp_dir(), self.cache_dir()] {
            fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        }
        Ok(())
    }

    fn meta_dir(&self) -> PathBuf {
        self.root.join(".idpkit")
    }
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.meta_dir().join("tmp")
    }
    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.meta_dir().join("cache")
    }
    /// Directory listings of build contexts (oci/listing.rs), one file per context.
    pub(crate) fn listings_dir(&self) -> PathBuf {
        self.meta_dir().join("listings")
    }
    fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn lock(&self, name: &str, exclusive: bool) -> Result<LockGuard> {
        crate::event::refuse_in_callback(&format!(
            "an operation on store {}",
            self.root.display()
        ))?;
        crate::fsx::lock_file(&self.meta_dir().join(name), exclusive)
    }

    /// Held by operations that add blobs before they reference them from the index.
    pub(crate) fn writer_lock(&self) -> Result<LockGuard> {
        self.lock("gc.lock", false)
    }

    /// Path of a blob in the layout (it may not exist).
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.blob_dir().join(parse_sha256(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// A new temporary file on the store's filesystem, for a blob being written.
    pub(crate) fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("blob-")
            .permissions(readable())
            .tempfile_in(self.tmp_dir())
            .map_err(|e| Error::io("create temporary file in", &self.tmp_dir(), e))
    }

    /// Moves a finished temporary file into place as blob `digest`.
    pub(crate) fn commit_blob(&self, tmp: tempfile::NamedTempFile, digest: &str) -> Result<()> {
        let dest = self.blob_path(digest)?;
        tmp.as_file()
            .sync_data()
            .map_err(|e| Error::io("flush", tmp.path(), e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io("store blob", &dest, e.error))?;
        Ok(())
    }

    /// Writes a small blob (manifest, config) and returns its digest.
    pub(crate) fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let digest = sha256_digest(bytes);
        if !self.has_blob(&digest) {
            let mut tmp = self.temp_file()?;
            tmp.write_all(bytes)
                .map_err(|e| Error::io("write", tmp.path(), e))?;
            self.commit_blob(tmp, &digest)?;
        }
        Ok(digest)
    }

    /// Reads a small blob and checks it against its digest.
    pub(crate) fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(format!(
                "blob {digest} is missing from store {}; re-pull or rebuild the image",
                self.root.display()
            )),
            _ => Error::io("read blob", &path, e),
        })?;
        if sha256_digest(&bytes) != digest {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "blob {} does not match its digest; the store is damaged",
                    path.display()
                ),
            ));
        }
        Ok(bytes)
    }

    pub(crate) fn read_index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("{}: not a valid OCI index: {e}", path.display())))
    }

    /// Reads `index.json`, lets `change` edit it, and writes it back atomically, all under
    /// the index lock.
    pub(crate) fn update_index<T>(
        &self,
        change: impl FnOnce(&mut ImageIndex) -> Result<T>,
    ) -> Result<T> {
        let _guard = self.lock("index.lock", true)?;
        let mut index = self.read_index()?;
        let out = change(&mut index)?;
        let bytes = canonical_json(&index)?;
        // The blobs the new index names must be durable before the index that names them.
        crate::fsx::sync_dir(&self.blob_dir())
            .map_err(|e| Error::io("sync", &self.blob_dir(), e))?;
        write_atomic(&self.root.join("index.json"), &bytes)?;
        Ok(out)
    }

    /// Points `reference` (a normalized store key) at `manifest`, replacing any image the
    /// tag pointed at before.
    pub(crate) fn set_tag(index: &mut ImageIndex, key: &str, manifest: &Descriptor) {
        let mut manifests = index.manifests().clone();
        manifests.retain(|d| ref_name(d) != Some(key));
        let mut d = manifest.clone();
        let mut ann = d.annotations().clone().unwrap_or_default();
        ann.insert(REF_NAME.to_string(), key.to_string());
        d.set_annotations(Some(ann));
        manifests.push(d);
        // Sorted by tag so index.json itself is reproducible.
        manifests.sort_by(|a, b| ref_name(a).cmp(&ref_name(b)));
        index.set_manifests(manifests);
    }

    /// Finds the manifest descriptor a reference (or a bare digest) points to.
    pub(crate) fn resolve(&self, reference: &str) -> Result<(Option<String>, Descriptor)> {
        let index = self.read_index()?;
        let wanted = parse_lookup(reference)?;
        let found = index.manifests().iter().find(|d| match &wanted {
            Lookup::Digest(dg) => d.digest().as_ref() == dg,
            Lookup::Key(k) => ref_name(d) == Some(k.as_str()),
        });
        match found {
            Some(d) => Ok((ref_name(d).map(str::to_string), d.clone())),
            None => Err(Error::not_found(format!(
                "image {reference} is not in store {}; `idpkit images` lists what is there",
                self.root.display()
            ))),
        }
    }

    /// Loads a manifest by digest. An index (a `pull --all-platforms`, an imported layout)
    /// resolves to this machine's platform when the store has it, else to the first
    /// manifest the store has, else to the first listed.
    pub(crate) fn load_manifest(&self, desc: &Descriptor) -> Result<(String, ImageManifest)> {
        let digest = desc.digest().to_string();
        let bytes = self.read_blob(&digest)?;
        if doc_kind(desc.media_type()) == DocKind::Index {
            let idx: ImageIndex = serde_json::from_slice(&bytes)?;
            let listed = idx.manifests();
            let here = |m: &&Descriptor| self.has_blob(m.digest().as_ref());
            // The same platform match a pull makes (an index of one entry counts as a match).
            let host = crate::registry::pick_platform_in(&idx, None, &digest)
                .ok()
                .and_then(|d| {
                    listed
                        .iter()
                        .filter(here)
                        .find(|m| m.digest().as_ref() == d)
                });
            let chosen = host
                .or_else(|| listed.iter().find(here))
                .or_else(|| listed.first())
                .ok_or_else(|| {
                    Error::invalid(format!("image index {digest} lists no manifests"))
                })?;
            return self.load_manifest(chosen);
        }
        let m: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::invalid(format!(
                "manifest {digest} is not a valid OCI image manifest: {e}"
            ))
        })?;
        Ok((digest, m))
    }

    /// Every digest reachable from `index.json` (manifests, indexes, configs, layers).
    pub(crate) fn reachable_blobs(&self) -> Result<std::collections::HashSet<String>> {
        let mut seen = std::collections::HashSet::new();
        let index = self.read_index()?;
        let mut stack: Vec<Descriptor> = index.manifests().clone();
        while let Some(d) = stack.pop() {
            let digest = d.digest().to_string();
            if !seen.insert(digest.clone()) {
                continue;
            }
            // Every manifest and index type the store accepts (Docker's too): a blob kept
            // only through a Docker manifest list must not look unreferenced.
            match doc_kind(d.media_type()) {
                DocKind::Index => {
                    if let Ok(bytes) = self.read_blob(&digest) {
                        let idx: ImageIndex = serde_json::from_slice(&bytes)?;
                        stack.extend(idx.manifests().iter().cloned());
                    }
                }
                DocKind::Manifest => {
                    if let Ok(bytes) = self.read_blob(&digest) {
                        let m: ImageManifest = serde_json::from_slice(&bytes)?;
                        stack.push(m.config().clone());
                        stack.extend(m.layers().iter().cloned());
                    }
                }
                DocKind::Leaf => {}
            }
        }
        Ok(seen)
    }

    /// Deletes blobs nothing references, plus stale temporary files.
    pub(crate) fn collect_garbage(&self) -> Result<crate::oci::GcReport> {
        let _gc = self.lock("gc.lock", true)?;
        let keep = self.reachable_blobs()?;
        let mut report = crate::oci::GcReport::default();
        let dir = self.blob_dir();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))? {
            let entry = entry.map_err(|e| Error::io("read", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&format!("sha256:{name}")) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            fs::remove_file(entry.path()).map_err(|e| Error::io("remove", &entry.path(), e))?;
            report.removed_blobs += 1;
            report.freed_bytes += size;
        }
        // No writer holds the gc lock now, so every temporary file is an orphan of a killed
        // process.
        let tmp = self.tmp_dir();
        for entry in fs::read_dir(&tmp)
            .map_err(|e| Error::io("read", &tmp, e))?
            .flatten()
        {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if fs::remove_file(entry.path()).is_ok() {
                report.freed_bytes += size;
            }
        }
        // Layer-cache entries whose blob is gone are useless.
        let cache = self.cache_dir();
        for entry in fs::read_dir(&cache)
            .map_err(|e| Error::io("read", &cache, e))?
            .flatten()
        {
            let stale = fs::read(entry.path())
                .ok()
                .and_then(|b| crate::oci::layer::cached_layer_digest(&b))
                .is_none_or(|digest| !self.has_blob(&digest));
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
        crate::oci::listing::prune(&self.listings_dir());
        Ok(report)
    }
}

/// The tag annotation of an index entry.
pub(crate) fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

enum Lookup {
    Digest(String),
    Key(String),
}

fn parse_lookup(reference: &str) -> Result<Lookup> {
    if reference.starts_with("sha256:") {
        parse_sha256(reference)?;
        return Ok(Lookup::Digest(reference.to_string()));
    }
    let r = Reference::parse(reference)?;
    match (&r.tag, &r.digest) {
        (None, Some(d)) => Ok(Lookup::Digest(d.clone())),
        _ => Ok(Lookup::Key(r.store_key())),
    }
}

/// JSON with object keys sorted at every level, so digests never depend on the iteration
/// order of a `HashMap` inside the oci-spec types.
pub(crate) fn canonical_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    let v = serde_json::to_value(value).map_err(|e| Error::internal(format!("serialize: {e}")))?;
    serde_json::to_vec(&sort(v)).map_err(|e| Error::internal(format!("serialize: {e}")))
}

/// Annotation maps as oci-spec wants them.
pub(crate) fn to_hash_map(
    m: &std::collections::BTreeMap<String, String>,
) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}
