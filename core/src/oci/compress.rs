// TEMPORARY STUB (helper-3 replaces this file)
use crate::error::{Error, Result};
use crate::oci::digest::HashingWriter;
use crate::oci::Compression;
use std::io::Write;
pub struct LayerOutput<W> {
    pub out: W,
    pub diff_id: String,
    pub digest: String,
    pub size: u64,
    pub uncompressed_size: u64,
}
pub struct LayerWriter<W: Write + Send + 'static> {
    enc: flate2::write::GzEncoder<HashingWriter<W>>,
    diff: HashingWriter<std::io::Sink>,
}
impl<W: Write + Send + 'static> LayerWriter<W> {
    pub fn new(out: W, _c: Compression, level: Option<i32>, _threads: usize) -> Result<Self> {
        Ok(Self {
            enc: flate2::write::GzEncoder::new(
                HashingWriter::new(out),
                flate2::Compression::new(level.unwrap_or(1) as u32),
            ),
            diff: HashingWriter::new(std::io::sink()),
        })
    }
    pub fn finish(self) -> Result<LayerOutput<W>> {
        let hw = self
            .enc
            .finish()
            .map_err(|e| Error::internal(e.to_string()))?;
        let (out, digest, size) = hw.finish();
        let (_, diff_id, us) = self.diff.finish();
        Ok(LayerOutput {
            out,
            diff_id,
            digest,
            size,
            uncompressed_size: us,
        })
    }
}
impl<W: Write + Send + 'static> Write for LayerWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.diff.write_all(b)?;
        self.enc.write_all(b)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
