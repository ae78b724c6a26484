//! sha256 digests in the OCI form `sha256:<64 lowercase hex>`.
//!
//! `sha2` picks SHA-NI (or the best SIMD path) at run time, so hashing keeps up with
//! compression; callers hash on the thread that already touches the bytes.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// The algorithm prefix of every digest idpkit writes.
const PREFIX: &str = "sha256:";

/// `sha256:<hex>` of a finished hasher.
pub(crate) fn finalize_sha256(hasher: Sha256) -> String {
    let mut s = String::with_capacity(PREFIX.len() + 64);
    s.push_str(PREFIX);
    s.push_str(&hex::encode(hasher.finalize()));
    s
}

/// A Write adapter that sha256-hashes and counts what passes through to an inner writer.
///
/// Only bytes the inner writer accepted are hashed and counted, so a short write or an
/// error never makes the digest disagree with what reached the inner writer.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer (not flushed), the digest `sha256:<hex>` and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, finalize_sha256(self.hasher), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // One hash update for the whole buffer instead of one per short write.
        self.inner.write_all(buf)?;
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// sha256 of a byte slice as "sha256:<hex>".
pub fn sha256_digest(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    finalize_sha256(hasher)
}

/// Streams a reader through sha256: ("sha256:<hex>", size).
// Part of the digest API; no caller in the crate yet.
#[allow(dead_code)]
pub fn sha256_reader<R: Read>(mut r: R) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((finalize_sha256(hasher), size))
}

/// Validates "sha256:<64 lowercase hex>" and returns the hex part, else InvalidInput naming
/// the value.
pub fn parse_sha256(digest: &str) -> Result<&str> {
    let hex = digest
        .strip_prefix(PREFIX)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    hex.ok_or_else(|| {
        Error::invalid(format!(
            "invalid digest {digest:?}: expected sha256: followed by 64 lowercase hex digits"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn digest_of_known_values() {
        assert_eq!(sha256_digest(b""), EMPTY);
        assert_eq!(sha256_digest(b"abc"), ABC);
    }

    #[test]
    fn reader_matches_slice_and_counts() {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let (d, n) = sha256_reader(&data[..]).unwrap();
        assert_eq!(d, sha256_digest(&data));
        assert_eq!(n, data.len() as u64);
        assert_eq!(sha256_reader(&b""[..]).unwrap(), (EMPTY.to_string(), 0));
    }

    #[test]
    fn reader_propagates_errors() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = sha256_reader(Failing).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }

    #[test]
    fn hashing_writer_passes_through() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"a").unwrap();
        assert_eq!(w.write(b"bc").unwrap(), 2);
        w.flush().unwrap();
        let (out, d, n) = w.finish();
        assert_eq!(out, b"abc");
        assert_eq!(d, ABC);
        assert_eq!(n, 3);
    }

    #[test]
    fn hashing_writer_counts_only_accepted_bytes() {
        /// Accepts at most 2 bytes per write.
        struct Short(Vec<u8>);
        impl Write for Short {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(2);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = HashingWriter::new(Short(Vec::new()));
        assert_eq!(w.write(b"abcdef").unwrap(), 2);
        w.write_all(b"c").unwrap();
        let (out, d, n) = w.finish();
        assert_eq!(out.0, b"abc");
        assert_eq!(d, ABC);
        assert_eq!(n, 3);
    }

    #[test]
    fn parse_accepts_valid() {
        assert_eq!(parse_sha256(ABC).unwrap(), &ABC[7..]);
    }

    #[test]
    fn parse_rejects_invalid() {
        let upper = ABC.to_uppercase().replace("SHA256", "sha256");
        let cases = [
            "",
            "sha256:",
            "sha256:abc",
            &ABC[7..],
            "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aZ",
            "sha256:../../../../etc/passwd/../../../../../../../../../../../../../..",
            &upper,
        ];
        for c in cases {
            let err = parse_sha256(c).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{c:?}");
            assert!(err.message.contains(&format!("{c:?}")), "{}", err.message);
        }
    }
}
