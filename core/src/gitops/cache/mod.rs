//! The source cache: a tree of entries under one root, each a directory published whole.
//!
//! ```text
//! {root}/flux-artifact/{namespace}/{name}/{pointer}-sha-{7hex}/   a Flux artifact, extracted
//! {root}/flux-artifact/{namespace}/{name}/{pointer}-sha-{7hex}.json   what it is (url, digest, …)
//! {root}/flux-artifact/{namespace}/{name}/{pointer}-sha-{7hex}.lock   its writers' lock
//! {root}/artifact/{algorithm}-{hex}/ (.json, .lock)                    a plain artifact by digest
//! ```
//!
//! The Flux layout is the Secret Manager Controller's, so its users can point idpkit at the
//! same root. An entry is a hit only when its directory and its record both exist and the
//! record's digest is the one asked for (see `entry`).

pub(crate) mod entry;
pub mod gc;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::gitops::revision::Revision;
use std::path::{Path, PathBuf};

pub use entry::EntryRecord;

/// The kinds of entry, as top-level directories of the root.
pub(crate) const FLUX_DIR: &str = "flux-artifact";
pub(crate) const ARGO_DIR: &str = "argocd-repo";
pub(crate) const ARTIFACT_DIR: &str = "artifact";
pub(crate) const GIT_DIR: &str = "git";

/// A cache root.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at `root`, else `$IDPKIT_CACHE`, else the XDG cache directory; created when
    /// missing.
    pub fn open(root: Option<&Path>) -> Result<Cache> {
        let root = root
            .map(Path::to_path_buf)
            .unwrap_or_else(crate::config::default_cache_dir);
        std::fs::create_dir_all(&root).map_err(|e| Error::io("create cache", &root, e))?;
        Ok(Cache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `{root}/flux-artifact/{namespace}/{name}/{entry name}` of a Flux artifact.
    pub fn flux_entry(
        &self,
        namespace: &str,
        name: &str,
        revision: &Revision,
        digest: &Digest,
    ) -> Result<PathBuf> {
        check_kube_name("namespace", namespace)?;
        check_kube_name("name", name)?;
        Ok(self
            .root
            .join(FLUX_DIR)
            .join(namespace)
            .join(name)
            .join(revision.entry_name(digest)))
    }

    /// `{root}/artifact/{algorithm}-{hex}` of a plain artifact: its digest is its identity.
    pub fn artifact_entry(&self, digest: &Digest) -> PathBuf {
        self.root
            .join(ARTIFACT_DIR)
            .join(format!("{}-{}", digest.algorithm.name(), digest.hex))
    }
}

// Kept under its old name for the gitops callers; it lives with the Kubernetes client.
pub(crate) use crate::kube::check_name as check_kube_name;

#[cfg(test)]
mod tests;
