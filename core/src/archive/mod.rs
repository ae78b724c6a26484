//! Safe extraction of the tarballs GitOps sources serve (Flux artifacts), in the spirit of
//! fluxcd/pkg `tar.Untar` and stricter where it is lenient:
//! - regular files and directories only; symlinks skipped and reported (or, behind an
//!   option, kept when they stay inside the tree); hard links, devices, FIFOs and sparse
//!   files refused;
//! - absolute names and `..` refused with UNSAFE_ARCHIVE (an error, not a skip), whether the
//!   name comes from the header, a PAX record or a GNU long-name entry;
//! - the size of the files is capped (Flux's default 100 MiB), and so is the decompressed
//!   stream (a PAX or long-name header cannot make idpkit hold gigabytes in memory);
//! - modes reduced to permission bits, with the owner always able to read and traverse (so a
//!   crafted mode cannot make an entry impossible to garbage-collect);
//! - a truncated stream or a body that is not gzip is an error.
//!
//! Files are only ever created below a fresh directory the caller publishes afterwards;
//! nothing is followed through a symlink because none exists until the very end.

mod untar;
mod writer;

pub use untar::{untar_gz, UntarLimits, UntarReport};

#[cfg(test)]
mod tests;
