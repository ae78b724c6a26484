//! Every default idpkit uses (paths, environment variables, limits) in one place.

use std::path::PathBuf;

/// Environment variable that overrides the local image store location.
pub const ENV_STORE: &str = "IDPKIT_STORE";
/// Reproducible-builds convention: timestamps in layers and config come from here.
pub const ENV_SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// Default gzip level; go-containerregistry uses 1 too: layers are pushed far more often
/// than bytes matter.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;
/// Default zstd level.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Size of the independently compressed blocks of a gzip layer. Fixed (never derived from
/// the thread count) so the output is byte-identical on every machine.
pub const COMPRESS_BLOCK_SIZE: usize = 1 << 20;
/// Name of the ignore file read from the root of a build context.
pub const IGNORE_FILE: &str = ".dockerignore";

/// The default local image store: `$IDPKIT_STORE`, else `$XDG_DATA_HOME/idpkit/store`,
/// else `~/.local/share/idpkit/store`.
pub fn default_store_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV_STORE).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    data_home().join("idpkit").join("store")
}

/// The GitOps source cache: `$IDPKIT_CACHE`, else `$XDG_CACHE_HOME/idpkit`, else
/// `~/.cache/idpkit`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("IDPKIT_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(p).join("idpkit");
    }
    home_dir().join(".cache").join("idpkit")
}

/// Environment variable naming the directory sandbox runs are cloned into.
pub const ENV_SANDBOX_HOME: &str = "IDPKIT_SANDBOX_HOME";

/// Where sandbox runs live: `$IDPKIT_SANDBOX_HOME`, else `$XDG_DATA_HOME/idpkit/sandboxes`,
/// else `~/.local/share/idpkit/sandboxes`.
pub fn default_sandbox_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV_SANDBOX_HOME).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    data_home().join("idpkit").join("sandboxes")
}

fn data_home() -> PathBuf {
    if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    home_dir().join(".local").join("share")
}

pub(crate) fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Number of compression workers when the caller does not say: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The timestamp for layer entries and image config, from `SOURCE_DATE_EPOCH` when set.
pub fn source_date_epoch() -> Option<i64> {
    std::env::var(ENV_SOURCE_DATE_EPOCH)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
}

/// Colon-separated certs.d roots that replace the system ones (`/etc/docker/certs.d`,
/// `/etc/containers/certs.d`); idpkit's own certs.d is always searched too. Set it empty to
/// search only idpkit's (tests do).
pub const ENV_CERTS_D: &str = "IDPKIT_CERTS_D";
/// Registry credentials that win over every config file.
pub const ENV_REGISTRY_USERNAME: &str = "IDPKIT_REGISTRY_USERNAME";
pub const ENV_REGISTRY_PASSWORD: &str = "IDPKIT_REGISTRY_PASSWORD";
pub const ENV_REGISTRY_TOKEN: &str = "IDPKIT_REGISTRY_TOKEN";
/// Parallel blob transfers per push or pull (go-containerregistry uses 4 too).
pub const DEFAULT_REGISTRY_JOBS: usize = 4;
/// Blobs up to this size go up in one PUT; larger ones in `Content-Range` chunks.
pub const DEFAULT_MONOLITHIC_MAX: u64 = 512 << 20;
/// Size of one PATCH of a chunked upload (well under ingress-nginx's 1 GiB body limit).
pub const DEFAULT_CHUNK_SIZE: u64 = 256 << 20;
/// Attempts per HTTP request or blob before giving up (first try included).
pub const DEFAULT_REGISTRY_ATTEMPTS: u32 = 5;

/// idpkit's configuration directory: `$XDG_CONFIG_HOME/idpkit`, else `~/.config/idpkit`.
pub fn config_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".config"))
        .join("idpkit")
}

/// idpkit's own certs.d (`idpkit trust add` writes here).
pub fn idpkit_certs_d() -> PathBuf {
    config_dir().join("certs.d")
}

/// Every certs.d root searched for a host's CA and client certificates, in order.
pub fn certs_d_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = match std::env::var_os(ENV_CERTS_D) {
        Some(v) => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => vec![
            PathBuf::from("/etc/docker/certs.d"),
            PathBuf::from("/etc/containers/certs.d"),
        ],
    };
    roots.push(idpkit_certs_d());
    roots
}

/// Docker's config directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> PathBuf {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".docker"))
}
