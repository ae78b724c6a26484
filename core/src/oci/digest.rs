// TEMPORARY STUB (helper-3 replaces this file)
use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
pub struct HashingWriter<W> {
    inner: W,
    h: Sha256,
    n: u64,
}
impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            h: Sha256::new(),
            n: 0,
        }
    }
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            format!("sha256:{}", hex::encode(self.h.finalize())),
            self.n,
        )
    }
}
impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.h.update(&b[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
pub fn sha256_reader<R: Read>(mut r: R) -> std::io::Result<(String, u64)> {
    let mut w = HashingWriter::new(std::io::sink());
    let n = std::io::copy(&mut r, &mut w)?;
    let (_, d, _) = w.finish();
    Ok((d, n))
}
pub fn parse_sha256(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(h)
            if h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(h)
        }
        _ => Err(Error::invalid(format!(
            "digest {digest:?} must be sha256:<64 hex>"
        ))),
    }
}
