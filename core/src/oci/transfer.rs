//! Import from and export to other OCI image layouts (umoci, skopeo `oci:`, buildah), so
//! idpkit's store interoperates with the tools platform engineers already use.

use crate::digest::{parse_sha256, sha256_digest, HashingWriter};
use crate::error::{Error, ErrorKind, Result};
use crate::oci::media::{doc_kind, is_image_document, DocKind};
use crate::oci::reference::Reference;
use crate::oci::store::{canonical_json, ref_name, write_atomic, Store};
use crate::oci::ImageSummary;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

impl Store {
    /// Copies images from the OCI layout at `layout` into the store.
    ///
    /// `tag` picks one entry by its `org.opencontainers.image.ref.name` (all tagged entries
    /// when `None`). Entries named by a full reference keep it; a bare tag like `latest`
    /// becomes `localhost/<layout directory name>:<tag>`, or `name` when given.
    /// Every blob is verified against its digest on the way in.
    pub fn import(
        &self,
        layout: &Path,
        tag: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<ImageSummary>> {
        let src = Layout::open(layout)?;
        let index = src.index()?;
        let picked: Vec<&Descriptor> = index
            .manifests()
            .iter()
            .filter(|d| match tag {
                Some(t) => ref_name(d) == Some(t),
                None => ref_name(d).is_some(),
            })
            .collect();
        if picked.is_empty() {
            return Err(Error::not_found(match tag {
                Some(t) => format!("layout {}: no image tagged {t:?}", layout.display()),
                None => format!("layout {}: no tagged image to import", layout.display()),
            }));
        }
        if name.is_some() && picked.len() > 1 {
            return Err(Error::invalid(format!(
                "layout {} holds {} tagged images; pick one with :TAG to import it under a name",
                layout.display(),
                picked.len()
            )));
        }
        if let Some(d) = picked.iter().find(|d| !is_image_document(d.media_type())) {
            return Err(Error::invalid(format!(
                "layout {}: {:?} is a {}, not an image manifest or index; idpkit stores images only",
                layout.display(),
                ref_name(d).unwrap_or_default(),
                d.media_type()
            )));
        }
        let _writer = self.writer_lock()?;
        let mut keys = Vec::new();
        for d in &picked {
            self.copy_tree_in(&src, d)?;
            let source_name = ref_name(d).unwrap_or_default();
            let key = match name {
                Some(n) => Reference::parse(n)?.store_key(),
                None => local_name(layout, source_name)?,
            };
            keys.push((key, (*d).clone()));
        }
        self.update_index(|index| {
            for (key, d) in &keys {
                let mut d = d.clone();
                d.set_annotations(None);
                Store::set_tag(index, key, &d);
            }
            Ok(())
        })?;
        let images = self.images()?;
        Ok(images
            .into_iter()
            .filter(|i| keys.iter().any(|(k, _)| i.reference.as_deref() == Some(k)))
            .collect())
    }

    /// Copies one image into the OCI layout at `layout` (created when missing), tagged
    /// `tag`, by default the reference's own tag, so `skopeo oci:DIR:TAG` and
    /// `umoci --image DIR:TAG` find it.
    pub fn export(
        &self,
        reference: &str,
        layout: &Path,
        tag: Option<&str>,
    ) -> Result<ImageSummary> {
        let (key, desc) = self.resolve(reference)?;
        let tag = match tag {
            Some(t) => t.to_string(),
            None => key
                .as_deref()
                .and_then(|k| Reference::parse(k).ok())
                .and_then(|r| r.tag)
                .unwrap_or_else(|| crate::oci::reference::DEFAULT_TAG.to_string()),
        };
        let dst = Layout::create(layout)?;
        for digest in self.tree_digests(&desc)? {
            dst.copy_blob_from(&self.blob_path(&digest)?, &digest)?;
        }
        let mut index = dst.index()?;
        let mut d = desc.clone();
        d.set_annotations(None);
        Store::set_tag(&mut index, &tag, &d);
        write_atomic(&dst.root.join("index.json"), &canonical_json(&index)?)?;
        let mut out = self
            .images()?
            .into_iter()
            .find(|i| i.digest == desc.digest().as_ref())
            .ok_or_else(|| Error::internal("exported image vanished from the store"))?;
        out.reference = Some(tag);
        Ok(out)
    }

    /// The manifest (or index) and everything it references, children first.
    fn tree_digests(&self, root: &Descriptor) -> Result<Vec<String>> {
        let mut out = Vec::new();
        walk_tree(root, &mut |d| self.read_blob(d), &mut out)?;
        Ok(out.into_iter().map(|b| b.digest).collect())
    }

    fn copy_tree_in(&self, src: &Layout, root: &Descriptor) -> Result<()> {
        let mut blobs = Vec::new();
        walk_tree(root, &mut |d| src.read_small(d), &mut blobs)?;
        for TreeBlob { digest, size } in blobs {
            if self.has_blob(&digest) {
                continue;
            }
            let from = src.blob_path(&digest)?;
            let file = open_regular(&from)?;
            let mut w = HashingWriter::new(self.temp_file()?);
            // Never more than the descriptor promised (+1 to notice a longer file).
            io::copy(&mut io::Read::take(file, size.saturating_add(1)), &mut w)
                .map_err(|e| Error::io("copy blob", &from, e))?;
            let (tmp, got, copied) = w.finish();
            if copied != size {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "{}: holds {}{copied} bytes, its descriptor says {size}",
                        from.display(),
                        if copied > size { "more than " } else { "" }
                    ),
                ));
            }
            if got != digest {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "{}: content does not match its digest {digest} (got {got})",
                        from.display()
                    ),
                ));
            }
            self.commit_blob(tmp, &digest)?;
        }
        Ok(())
    }
}

/// How deep indexes may nest (an index of indexes of manifests is 2) and how many
/// descriptors one tree may hold: a crafted layout cannot exhaust the stack or the memory.
const MAX_TREE_DEPTH: usize = 8;
const MAX_TREE_NODES: usize = 100_000;

/// One blob of a tree: its digest and the size its descriptor promises.
pub(crate) struct TreeBlob {
    pub digest: String,
    pub size: u64,
}

/// Visits a manifest/index tree, children first; `read` loads a manifest or index blob by
/// digest. Each document is checked against its digest before it is parsed or followed (so
/// a document cannot list itself: content addressing rules out cycles), nesting and count
/// are bounded, and every manifest and index media type the store accepts is followed.
fn walk_tree(
    d: &Descriptor,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>>,
    out: &mut Vec<TreeBlob>,
) -> Result<()> {
    walk_tree_at(d, read, out, 0)
}

fn walk_tree_at(
    d: &Descriptor,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>>,
    out: &mut Vec<TreeBlob>,
    depth: usize,
) -> Result<()> {
    let digest = d.digest().to_string();
    if depth > MAX_TREE_DEPTH || out.len() > MAX_TREE_NODES {
        return Err(Error::new(
            ErrorKind::UnsafeArchive,
            format!(
                "image {digest}: nested deeper than {MAX_TREE_DEPTH} indexes or more than {MAX_TREE_NODES} blobs; refused"
            ),
        ));
    }
    let kind = doc_kind(d.media_type());
    if kind != DocKind::Leaf {
        let bytes = read(&digest)?;
        let got = sha256_digest(&bytes);
        if got != digest {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{} {digest}: content does not match its digest (got {got})",
                    d.media_type()
                ),
            ));
        }
        if kind == DocKind::Index {
            let idx: ImageIndex = serde_json::from_slice(&bytes)?;
            for child in idx.manifests() {
                walk_tree_at(child, read, out, depth + 1)?;
            }
        } else {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid(format!(
                    "manifest {digest} is not a valid image manifest: {e}"
                ))
            })?;
            for b in std::iter::once(m.config()).chain(m.layers()) {
                out.push(TreeBlob {
                    digest: b.digest().to_string(),
                    size: b.size(),
                });
            }
        }
    }
    out.push(TreeBlob {
        digest,
        size: d.size(),
    });
    Ok(())
}

/// `localhost/<dir>:<tag>` for a bare tag, or the normalized full reference.
fn local_name(layout: &Path, source: &str) -> Result<String> {
    if source.contains('/') {
        return Ok(Reference::parse(source)?.store_key());
    }
    let dir = fs::canonicalize(layout)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_default();
    let repo: String = dir
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let repo = if repo.is_empty() {
        "imported".to_string()
    } else {
        repo
    };
    Ok(Reference::parse(&format!("localhost/{repo}:{source}"))
        .map_err(|e| e.context(format!("importing tag {source:?}")))?
        .store_key())
}

/// Opens a blob of another tool's layout: a regular file, not followed through a symlink (a
/// layer that links to `/dev/zero` or `~/.ssh/id_ed25519` is refused, not copied).
fn open_regular(path: &Path) -> Result<fs::File> {
    let file = crate::fsx::open_no_follow(path).map_err(|e| {
        if crate::fsx::is_symlink_refusal(&e) {
            Error::new(
                ErrorKind::UnsafeArchive,
                format!("{}: a blob that is a symlink; refused", path.display()),
            )
        } else {
            Error::io("read blob", path, e)
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io("read blob", path, e))?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::UnsafeArchive,
            format!(
                "{}: a blob that is not a regular file; refused",
                path.display()
            ),
        ));
    }
    Ok(file)
}

/// Another tool's OCI layout, read or written without idpkit's bookkeeping.
struct Layout {
    root: PathBuf,
}

impl Layout {
    fn open(root: &Path) -> Result<Layout> {
        if !root.exists() {
            return Err(Error::not_found(format!(
                "OCI layout {} does not exist; check the path",
                root.display()
            )));
        }
        if !root.join("oci-layout").is_file() {
            return Err(Error::invalid(format!(
                "{} is not an OCI image layout (no oci-layout file)",
                root.display()
            )));
        }
        Ok(Layout {
            root: root.to_path_buf(),
        })
    }

    fn create(root: &Path) -> Result<Layout> {
        if root.join("oci-layout").is_file() {
            return Layout::open(root);
        }
        if root.exists()
            && fs::read_dir(root)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(Error::invalid(format!(
                "{} exists and is not an OCI image layout; export into an empty or new directory",
                root.display()
            )));
        }
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(|e| Error::io("create", &blobs, e))?;
        write_atomic(
            &root.join("index.json"),
            br#"{"schemaVersion":2,"manifests":[]}"#,
        )?;
        write_atomic(
            &root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(Layout {
            root: root.to_path_buf(),
        })
    }

    fn index(&self) -> Result<ImageIndex> {
        let p = self.root.join("index.json");
        let bytes = fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("{}: not a valid OCI index: {e}", p.display())))
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self
            .root
            .join("blobs")
            .join("sha256")
            .join(parse_sha256(digest)?))
    }

    /// A manifest or index of the layout: a regular file of at most 16 MiB (what registries
    /// accept), never read through a symlink.
    fn read_small(&self, digest: &str) -> Result<Vec<u8>> {
        const MAX_DOCUMENT: u64 = 16 << 20;
        let p = self.blob_path(digest)?;
        let mut bytes = Vec::new();
        io::Read::take(open_regular(&p)?, MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read blob", &p, e))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(Error::new(
                ErrorKind::UnsafeArchive,
                format!("{}: a manifest larger than 16 MiB; refused", p.display()),
            ));
        }
        Ok(bytes)
    }

    /// Copies a blob in through a temporary sibling. Never a hard link: an edit of the
    /// exported layout would then change the store's blob under its digest. `fs::copy` uses
    /// `copy_file_range`, which shares extents (a reflink) where the filesystem can.
    fn copy_blob_from(&self, from: &Path, digest: &str) -> Result<()> {
        let dest = self.blob_path(digest)?;
        if dest.exists() {
            return Ok(());
        }
        let dir = dest.parent().unwrap_or(&self.root);
        let tmp = tempfile::Builder::new()
            .permissions(crate::oci::store::readable())
            .tempfile_in(dir)
            .map_err(|e| Error::io("create temporary file in", dir, e))?;
        fs::copy(from, tmp.path()).map_err(|e| Error::io("copy blob to", &dest, e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io("write", &dest, e.error))?;
        Ok(())
    }
}
