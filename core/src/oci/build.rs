//! `Store::build`: a directory becomes an image in the store.

use crate::call::Call;
use crate::cancel::{self, CancelToken};
use crate::error::{Error, Result};
use crate::event::{emit, Event, EventSink};
use crate::oci::image::{self, PlatformSpec};
use crate::oci::layer;
use crate::oci::reference::Reference;
use crate::oci::store::{canonical_json, Store};
use crate::oci::{BuildOptions, BuildResult};
use oci_spec::image::{ImageConfiguration, MediaType};

impl Store {
    /// Builds an image from `opts.context` and tags it with `opts.tags`.
    ///
    /// Blocks until done. Progress goes to `sink`; `cancel` stops it at the next file.
    /// On any error the store is left as it was (a half-written layer is a temporary file
    /// that is removed).
    pub fn build(
        &self,
        opts: &BuildOptions,
        sink: Option<&EventSink>,
        cancel: Option<&CancelToken>,
    ) -> Result<BuildResult> {
        let call = Call::new()
            .with_sink(sink.cloned())
            .with_cancel(cancel.cloned());
        self.build_call(opts, &call)
    }

    /// `build` with the call contract's [`Call`]: its credential (when given) is the base
    /// registry's, for pulling a base named by `opts.from` that is not in the store.
    pub(crate) fn build_call(&self, opts: &BuildOptions, call: &Call) -> Result<BuildResult> {
        let (sink, cancel) = (call.sink(), call.cancel());
        // Validate everything cheap before reading a single file.
        let tags = opts
            .tags
            .iter()
            .map(|t| {
                let r = Reference::parse(t).map_err(|e| e.context("tag"))?;
                if r.tag.is_none() {
                    return Err(Error::invalid(format!(
                        "tag {t:?} is a digest reference; give a name with a tag, like app:dev"
                    )));
                }
                Ok(r.store_key())
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(l) = opts.level {
            let ok = match opts.compression {
                crate::Compression::Gzip => (0..=9).contains(&l),
                crate::Compression::Zstd => (1..=22).contains(&l),
            };
            if !ok {
                return Err(Error::invalid(format!(
                    "level {l} is out of range for {:?} (gzip 0-9, zstd 1-22)",
                    opts.compression
                )));
            }
        }
        if let Some(p) = &opts.platform {
            PlatformSpec::parse(p)?;
        }
        let epoch = opts
            .source_date_epoch
            .or_else(crate::config::source_date_epoch)
            .unwrap_or(0);
        emit(
            sink,
            Event::BuildStarted {
                context: opts.context.display().to_string(),
            },
        );

        let _writer = self.writer_lock()?;
        let base = match opts.from.as_deref() {
            None | Some("") | Some("scratch") => None,
            Some(from) => {
                let desc = self.resolve_or_pull_base(from, &opts.pull, call)?;
                let (_, manifest) = self.load_manifest(&desc)?;
                let cfg_bytes = self.read_blob(manifest.config().digest().as_ref())?;
                let cfg: ImageConfiguration = serde_json::from_slice(&cfg_bytes).map_err(|e| {
                    Error::invalid(format!("base image {from}: config is not valid: {e}"))
                })?;
                Some((manifest, cfg))
            }
        };
        let platform = image::pick_platform(opts, base.as_ref().map(|b| &b.1))?;

        let built = layer::build_layer(self, opts, epoch, sink, cancel)?;
        cancel::check(cancel)?;

        let created = image::rfc3339(epoch);
        let (base_layers, base_cfg) = match base {
            Some((m, c)) => (m.layers().clone(), Some(c)),
            None => (Vec::new(), None),
        };
        let base_size: u64 = base_layers.iter().map(|d| d.size()).sum();
        let config = image::make_config(base_cfg, opts, &platform, &built.info, &created)?;
        let config_bytes = canonical_json(&config)?;
        let config_digest = self.put_blob(&config_bytes)?;
        let manifest = image::make_manifest(
            base_layers,
            &built.info,
            &config_digest,
            config_bytes.len() as u64,
            opts,
        )?;
        let manifest_bytes = canonical_json(&manifest)?;
        let digest = self.put_blob(&manifest_bytes)?;

        let mut desc = image::descriptor(
            MediaType::ImageManifest.to_string().as_str(),
            &digest,
            manifest_bytes.len() as u64,
        )?;
        desc.set_platform(Some(platform.to_oci()));
        self.update_index(|index| {
            if tags.is_empty() {
                // Keep an untagged image reachable (and listed) until `rmi` of its digest.
                if !index
                    .manifests()
                    .iter()
                    .any(|d| d.digest().as_ref() == digest)
                {
                    let mut all = index.manifests().clone();
                    all.push(desc.clone());
                    index.set_manifests(all);
                }
            }
            for key in &tags {
                Store::set_tag(index, key, &desc);
            }
            Ok(())
        })?;
        emit(
            sink,
            Event::ImageStored {
                digest: digest.clone(),
                tags: tags.clone(),
            },
        );
        Ok(BuildResult {
            size: base_size
                + built.info.size
                + config_bytes.len() as u64
                + manifest_bytes.len() as u64,
            digest,
            config_digest,
            layer: built.info,
            tags,
            cached: built.cached,
            entries: built.entries,
        })
    }

    /// The base image's manifest descriptor: from the store, else (when `from` names a
    /// registry host, like `registry.local:5000/base:1`) pulled first, with the trust a
    /// `pull` would use and the login stored for the base's registry (`idpkit login`), never
    /// `IDPKIT_REGISTRY_*`: those are given for the registry of a push or pull command, and a
    /// base named in a build must not receive them.
    fn resolve_or_pull_base(
        &self,
        from: &str,
        pull: &crate::registry::RegistryOptions,
        call: &Call,
    ) -> Result<oci_spec::image::Descriptor> {
        match self.resolve(from) {
            Ok((_, desc)) => Ok(desc),
            Err(e) if e.kind == crate::ErrorKind::NotFound && names_registry(from) => {
                let registry = crate::oci::Reference::parse(from)?.registry;
                // The call's credential, else the stored login: never the environment's
                // IDPKIT_REGISTRY_*, which name a push destination (decision 0008).
                let credential = match call.credential() {
                    Some(c) => c.clone(),
                    None => crate::registry::auth::resolve_stored(&registry)?,
                };
                let opts = crate::registry::RegistryOptions {
                    cancel: call.cancel().cloned(),
                    credential: Some(credential),
                    ..pull.clone()
                };
                self.pull(from, &opts, call.sink()).map_err(|e| {
                    // The image is missing either way: a registry that cannot be reached
                    // (`localhost/app:1` meant for the store, a host that is down) leaves it
                    // as missing as a tag the registry lacks. The network detail stays in the
                    // message; cancellation and trust or credential failures keep their kind.
                    let kind = match e.kind {
                        crate::ErrorKind::Network => crate::ErrorKind::NotFound,
                        k => k,
                    };
                    Error::new(
                        kind,
                        format!(
                            "base image {from} (--from) is not in the store, and pulling it failed: {}",
                            e.message
                        ),
                    )
                })?;
                Ok(self.resolve(from)?.1)
            }
            Err(e) => Err(e.context("base image (--from)")),
        }
    }
}

/// Whether a reference spells out its registry host (`host.domain/...`, `host:port/...`,
/// `localhost/...`), which is when a missing base image is pulled rather than reported.
fn names_registry(reference: &str) -> bool {
    reference
        .split_once('/')
        .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost")
}
