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

fn data_home() -> PathBuf {
    if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    home_dir().join(".local").join("share")
}

fn home_dir() -> PathBuf {
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
