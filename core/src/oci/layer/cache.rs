//! The layer cache: a layer is reused when the context's fingerprint matches, and a file
//! that was racily clean at the last build still holds the content the layer has.

use super::*;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CacheEntry {
    pub(super) layer: LayerInfo,
    pub(super) entries: u64,
    /// Files that were racily clean when the layer was built, with the hash of the content
    /// the layer holds; a hit holds only while their content still matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) racy: Vec<RacyFile>,
}

/// A file whose metadata alone cannot prove it unchanged (git's "racily clean" entry): it
/// changed within `RACY_WINDOW` of the walk, so a write in the same timestamp tick after the
/// walk's stat would leave its size and times as recorded.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct RacyFile {
    /// Relative to the context.
    pub(super) path: String,
    /// XXH3-128 of the content: this detects accidental change, so it need not be
    /// cryptographic, and a sha256 pass made cold builds of just-written contexts 17% slower.
    pub(super) xxh3: String,
}

pub(super) fn content_hash(hasher: Xxh3) -> String {
    format!("{:032x}", hasher.digest128())
}

pub(super) fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(content_hash(h)),
            n => h.update(&buf[..n]),
        }
    }
}

/// The layer digest a layer-cache file points at, if it is one (`gc` keeps those whose
/// blob is still there).
pub(crate) fn cached_layer_digest(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<CacheEntry>(bytes)
        .ok()
        .map(|c| c.layer.digest)
}

/// The cache entry at `path`, if its blob is intact and its racy files (if any) still
/// hold what the layer holds.
pub(super) fn read_cache(store: &Store, path: &Path, context: &Path) -> Option<CacheEntry> {
    let hit: CacheEntry = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    let blob = store.blob_path(&hit.layer.digest).ok()?;
    // A blob of the wrong size means the store was tampered with; rebuild instead.
    if fs::metadata(blob).ok()?.len() != hit.layer.size {
        return None;
    }
    let unchanged = |f: &RacyFile| hash_file(&context.join(&f.path)).is_ok_and(|h| h == f.xxh3);
    hit.racy.iter().all(unchanged).then_some(hit)
}

/// Records a cache entry. The cache is an optimization: failing to record it must not
/// fail the build.
pub(super) fn write_cache(path: &Path, entry: &CacheEntry) {
    if let Ok(bytes) = serde_json::to_vec(entry) {
        let _ = crate::oci::store::write_atomic(path, &bytes);
    }
}
