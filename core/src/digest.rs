//! Content digests in the OCI form `algorithm:hex`: sha256 for everything idpkit writes,
//! and [`Digest`] for any algorithm the OCI spec registers (sha256, sha384, sha512), which
//! registries and GitOps artifacts (Flux's `status.artifact.digest`) may name.
//!
//! `sha2` picks SHA-NI (or the best SIMD path) at run time, so hashing keeps up with
//! compression; callers hash on the thread that already touches the bytes.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
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

/// A hash algorithm the OCI image spec registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the lowercase hex encoding.
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated `algorithm:hex` digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algorithm: Algorithm,
    /// Lowercase hex, of the algorithm's length.
    pub hex: String,
}

impl Digest {
    /// Parses `algorithm:hex`. An algorithm idpkit cannot verify is refused (an INTEGRITY
    /// error: content it cannot check must not pass as checked); a malformed value is
    /// INVALID_INPUT naming it.
    pub fn parse(s: &str) -> Result<Digest> {
        let (alg, hex) = s.split_once(':').ok_or_else(|| {
            Error::invalid(format!("invalid digest {s:?}: expected algorithm:hex"))
        })?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(Error::new(
                    crate::ErrorKind::Integrity,
                    format!(
                        "{s}: digest algorithm {other:?} is not one idpkit can verify (sha256, sha384, sha512); refused"
                    ),
                ))
            }
        };
        let ok = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(Error::invalid(format!(
                "invalid digest {s:?}: expected {alg}: followed by {} lowercase hex digits",
                algorithm.hex_len()
            )));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(algorithm);
        h.update(bytes);
        h.finish()
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::of(self.algorithm, bytes) == *self
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// A streaming hasher for any [`Algorithm`] (an artifact verified while it is read).
pub enum Hasher {
    Sha256(Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha384(h) => (Algorithm::Sha384, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
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
    fn every_registered_algorithm_parses_hashes_and_prints_back() {
        let abc384 = "sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7";
        let abc512 = "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
        for (text, alg) in [
            (ABC, Algorithm::Sha256),
            (abc384, Algorithm::Sha384),
            (abc512, Algorithm::Sha512),
        ] {
            let d = super::Digest::parse(text).unwrap();
            assert_eq!(d.algorithm, alg);
            assert_eq!(d.to_string(), text);
            assert!(d.matches(b"abc"));
            assert!(!d.matches(b"abd"));
            assert_eq!(super::Digest::of(alg, b"abc"), d);
        }
        assert_eq!(
            super::Digest::parse("md5:900150983cd24fb0d6963f7d28e17f72")
                .unwrap_err()
                .kind,
            ErrorKind::Integrity
        );
        for bad in [
            "sha384:abc",
            "sha512:",
            "sha256",
            &ABC.to_uppercase().replace("SHA256", "sha256"),
        ] {
            assert_eq!(
                super::Digest::parse(bad).unwrap_err().kind,
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
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
