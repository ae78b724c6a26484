//! Deterministic parallel layer compression.
//!
//! [`LayerWriter`] takes the uncompressed tar stream of a layer through [`Write`] and, in
//! one streaming pass with bounded memory, hashes it (the OCI `diff_id`), compresses it on
//! every requested thread and writes the compressed stream to an output writer while
//! hashing and counting it (the layer digest and size). The compressed bytes depend only
//! on the input, the compression and the level, never on the thread count, so the same
//! layer gets the same digest on every machine.
//!
//! Three stages run concurrently:
//!
//! * the feeder (the caller's `write` calls) hashes the input and cuts it into blocks;
//! * workers compress blocks;
//! * the ordered writer emits compressed blocks in sequence, hashing and counting them.
//!
//! **gzip** works like bgzip: the input is cut into [`COMPRESS_BLOCK_SIZE`] blocks, each
//! compressed independently by libdeflate into one complete gzip member (fixed header,
//! mtime 0, its own crc32 and size), and the members are concatenated. RFC 1952 allows a
//! gzip file of several members and every layer consumer reads them (Go's `compress/gzip`
//! as containerd, Docker, CRI-O, skopeo and umoci use it, pigz, GNU gzip, Python); the
//! interop tests check skopeo and umoci. libdeflate compresses about twice as fast as
//! zlib-rs at the same size but cannot continue a stream, which is why the members are
//! separate (decision 0005). The block size is a constant, so the output is identical for
//! any thread count. Memory is bounded by a fixed pool of block slots (input + output
//! buffers) that circulates feeder → worker → writer → feeder; nothing is allocated per
//! block once the pool is warm.
//!
//! **zstd** uses libzstd's own multithreaded mode with at least one worker even for one
//! thread: its output is identical for every worker count >= 1 (but differs from the
//! single-threaded mode, workers = 0). Compressed chunks go to the ordered writer thread
//! through a small pool of recycled buffers.

use crate::config::{COMPRESS_BLOCK_SIZE, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL};
use crate::digest::{finalize_sha256, HashingWriter};
use crate::error::{Error, ErrorKind, Result};
use crate::oci::Compression;
use libdeflater::{CompressionLvl, Compressor};
use sha2::{Digest, Sha256};
use std::any::Any;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// Upper bound on compression threads (libzstd refuses more than 200 workers).
const MAX_THREADS: usize = 128;
/// libzstd's multithreaded job size. The default (4x the window: 8 MiB at level 3) costs
/// ~75 MiB with two workers; 4 MiB halves that for a 0.05% larger output. libzstd raises it
/// where a level's window needs more. It depends on nothing but the level, so the output
/// stays the same for any worker count.
const ZSTD_JOB_SIZE: u32 = 4 << 20;
/// Size of the compressed chunks the zstd encoder hands to the writer thread.
const ZSTD_CHUNK: usize = 1 << 20;
/// Compressed chunks in flight between the zstd encoder and the writer thread.
const ZSTD_CHUNKS: usize = 4;

/// What [`LayerWriter::finish`] returns.
#[derive(Debug)]
pub struct LayerOutput<W> {
    /// The output writer, flushed.
    pub out: W,
    /// `sha256:<hex>` of the uncompressed stream (the OCI diff_id).
    pub diff_id: String,
    /// `sha256:<hex>` of the compressed stream (the layer blob digest).
    pub digest: String,
    /// Size of the compressed stream in bytes.
    pub size: u64,
    /// Size of the uncompressed stream in bytes.
    pub uncompressed_size: u64,
}

/// Compresses a layer's tar stream on several threads with byte-identical output for any
/// thread count. See the module documentation.
pub struct LayerWriter<W: Write + Send + 'static> {
    diff: Sha256,
    uncompressed: u64,
    engine: Option<Engine<W>>,
    /// The first failure; every later call reports it again.
    failed: Option<Error>,
}

/// What the ordered writer thread hands back: the output writer, its digest and size.
type Written<W> = (W, String, u64);

enum Engine<W: Write + Send + 'static> {
    Gzip(GzipEngine<W>),
    Zstd(ZstdEngine<W>),
}

impl<W: Write + Send + 'static> LayerWriter<W> {
    /// Starts compressing into `out`. `level` defaults per compression (gzip 0–9, default
    /// [`DEFAULT_GZIP_LEVEL`]; zstd 1–22, default [`DEFAULT_ZSTD_LEVEL`]); `threads` is the
    /// number of compression threads (0 counts as 1).
    pub fn new(
        out: W,
        compression: Compression,
        level: Option<i32>,
        threads: usize,
    ) -> Result<Self> {
        let threads = threads.clamp(1, MAX_THREADS);
        let engine = match compression {
            Compression::Gzip => {
                let level = level.unwrap_or(DEFAULT_GZIP_LEVEL as i32);
                if !(0..=9).contains(&level) {
                    return Err(Error::invalid(format!(
                        "level: {level} is out of range for gzip; use 0 to 9"
                    )));
                }
                Engine::Gzip(GzipEngine::start(out, level as u32, threads)?)
            }
            Compression::Zstd => {
                let level = level.unwrap_or(DEFAULT_ZSTD_LEVEL);
                if !(1..=22).contains(&level) {
                    return Err(Error::invalid(format!(
                        "level: {level} is out of range for zstd; use 1 to 22"
                    )));
                }
                Engine::Zstd(ZstdEngine::start(out, level, threads)?)
            }
        };
        Ok(LayerWriter {
            diff: Sha256::new(),
            uncompressed: 0,
            engine: Some(engine),
            failed: None,
        })
    }

    /// Compresses what is still buffered, waits for every thread and returns the output
    /// writer with the digests and sizes. Reports the first error of any stage.
    pub fn finish(mut self) -> Result<LayerOutput<W>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let (out, digest, size) = match self.engine.take() {
            Some(Engine::Gzip(g)) => g.finish()?,
            Some(Engine::Zstd(z)) => z.finish()?,
            None => return Err(Error::internal("layer writer finished twice")),
        };
        Ok(LayerOutput {
            out,
            diff_id: finalize_sha256(std::mem::take(&mut self.diff)),
            digest,
            size,
            uncompressed_size: self.uncompressed,
        })
    }

    /// Records the first failure and turns it into an `io::Error` for `Write`.
    fn fail(&mut self, err: Error) -> io::Error {
        self.engine = None;
        let io_err = to_io_error(&err);
        self.failed = Some(err);
        io_err
    }
}

impl<W: Write + Send + 'static> Write for LayerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(to_io_error(e));
        }
        let result = match &mut self.engine {
            Some(Engine::Gzip(g)) => g.write(buf),
            Some(Engine::Zstd(z)) => z.write(buf),
            None => Err(Error::internal("layer writer used after a failure")),
        };
        match result {
            Ok(()) => {
                self.diff.update(buf);
                self.uncompressed += buf.len() as u64;
                Ok(buf.len())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // `write` always takes the whole buffer.
        self.write(buf).map(|_| ())
    }

    /// A no-op: blocks are cut at fixed offsets so the output never depends on when the
    /// caller flushes. [`LayerWriter::finish`] flushes everything.
    fn flush(&mut self) -> io::Result<()> {
        match &self.failed {
            Some(e) => Err(to_io_error(e)),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// gzip

/// One block on its way feeder → worker → ordered writer → feeder.
struct Slot {
    seq: u64,
    /// Whether this is the final block of the stream.
    last: bool,
    /// Uncompressed data, at most [`COMPRESS_BLOCK_SIZE`].
    input: Vec<u8>,
    /// `input` as one complete gzip member.
    output: Vec<u8>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            seq: 0,
            last: false,
            input: Vec::with_capacity(COMPRESS_BLOCK_SIZE),
            output: Vec::new(),
        }
    }
}

struct GzipEngine<W: Write + Send + 'static> {
    /// The block being filled.
    cur: Option<Slot>,
    next_seq: u64,
    /// `None` once the pipeline broke or finished.
    jobs: Option<SyncSender<Slot>>,
    free: Receiver<Slot>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<Result<Written<W>>>>,
}

impl<W: Write + Send + 'static> GzipEngine<W> {
    fn start(out: W, level: u32, threads: usize) -> Result<Self> {
        // Enough slots that the feeder, every worker and the writer each have one at hand
        // with one queued per worker; memory stays at about 2 MiB per slot.
        let slots = 2 * threads + 2;
        let (jobs_tx, jobs_rx) = sync_channel::<Slot>(slots);
        let (done_tx, done_rx) = sync_channel::<Result<Slot>>(slots);
        let (free_tx, free_rx) = sync_channel::<Slot>(slots);
        for _ in 0..slots {
            free_tx
                .send(Slot::new())
                .map_err(|_| Error::internal("layer writer: slot pool closed"))?;
        }
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let jobs = Arc::clone(&jobs_rx);
            let done = done_tx.clone();
            workers.push(spawn(format!("idpkit-gzip-{i}"), move || {
                gzip_worker(level, jobs, done)
            })?);
        }
        drop(done_tx);
        let writer = spawn("idpkit-layer-out".to_string(), move || {
            gzip_writer(out, done_rx, free_tx)
        })?;
        Ok(GzipEngine {
            cur: None,
            next_seq: 0,
            jobs: Some(jobs_tx),
            free: free_rx,
            workers,
            writer: Some(writer),
        })
    }

    fn write(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let slot = match &mut self.cur {
                // Full blocks wait for more input so the final block is never empty
                // unless the whole stream is.
                Some(slot) if slot.input.len() == COMPRESS_BLOCK_SIZE => {
                    let full = self.cur.take().expect("current block");
                    self.dispatch(full, false)?;
                    continue;
                }
                Some(slot) => slot,
                None => {
                    let slot = self.take_slot()?;
                    self.cur.insert(slot)
                }
            };
            let n = buf.len().min(COMPRESS_BLOCK_SIZE - slot.input.len());
            slot.input.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
        }
        Ok(())
    }

    /// A free slot, numbered as the next block.
    fn take_slot(&mut self) -> Result<Slot> {
        let Ok(mut slot) = self.free.recv() else {
            return Err(self.broken());
        };
        slot.seq = self.next_seq;
        self.next_seq += 1;
        slot.last = false;
        slot.input.clear();
        Ok(slot)
    }

    fn dispatch(&mut self, mut slot: Slot, last: bool) -> Result<()> {
        slot.last = last;
        match &self.jobs {
            Some(jobs) if jobs.send(slot).is_ok() => Ok(()),
            _ => Err(self.broken()),
        }
    }

    /// The error that stopped the pipeline: some thread quit, so the writer (which every
    /// failure reaches) has the cause.
    fn broken(&mut self) -> Error {
        // Close the job queue so idle workers exit.
        self.jobs = None;
        match self.writer.take().map(|w| join(w, "layer output")) {
            Some(Err(e)) => e,
            _ => Error::internal("layer compression stopped unexpectedly"),
        }
    }

    fn finish(mut self) -> Result<Written<W>> {
        let slot = match self.cur.take() {
            Some(slot) => slot,
            None => self.take_slot()?,
        };
        self.dispatch(slot, true)?;
        self.jobs = None;
        let Some(writer) = self.writer.take() else {
            return Err(Error::internal("layer compression stopped unexpectedly"));
        };
        let result = join(writer, "layer output");
        for w in self.workers {
            // Worker failures (errors and panics) reach the writer; a join error here
            // could only come from the panic hook itself.
            if w.join().is_err() && result.is_ok() {
                return Err(Error::internal("layer compression worker panicked"));
            }
        }
        result
    }
}

fn gzip_worker(level: u32, jobs: Arc<Mutex<Receiver<Slot>>>, done: SyncSender<Result<Slot>>) {
    // libdeflate compressors keep no state between calls (each call is a whole member),
    // so one per worker serves every block without making the output depend on which
    // blocks a worker saw.
    let mut compressors = match (Compressors::new(level), Compressors::new(0)) {
        (Ok(c), Ok(stored)) => (c, stored),
        (Err(e), _) | (_, Err(e)) => {
            let _ = done.send(Err(e));
            return;
        }
    };
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(mut slot) = job else { return };
        let result = match catch_unwind(AssertUnwindSafe(|| {
            gzip_member(level, &mut compressors, &mut slot)
        })) {
            Ok(Ok(())) => Ok(slot),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(Error::internal(format!(
                "layer compression worker panicked: {}",
                panic_message(&*panic)
            ))),
        };
        let failed = result.is_err();
        if done.send(result).is_err() || failed {
            return;
        }
    }
}

/// A libdeflate compressor at one level.
struct Compressors(Compressor);

impl Compressors {
    fn new(level: u32) -> Result<Self> {
        let lvl = CompressionLvl::new(level as i32)
            .map_err(|e| Error::internal(format!("libdeflate level {level}: {e:?}")))?;
        Ok(Compressors(Compressor::new(lvl)))
    }
}

/// Compresses `slot.input` into `slot.output` as one complete gzip member (libdeflate's
/// header: no name, mtime 0, OS unknown). Blocks that look incompressible are stored.
fn gzip_member(level: u32, c: &mut (Compressors, Compressors), slot: &mut Slot) -> Result<()> {
    let stored = level > 0 && looks_incompressible(&slot.input);
    let compressor = if stored { &mut c.1 .0 } else { &mut c.0 .0 };
    let bound = compressor.gzip_compress_bound(slot.input.len());
    slot.output.resize(bound, 0);
    let n = compressor
        .gzip_compress(&slot.input, &mut slot.output)
        .map_err(|e| Error::internal(format!("gzip: {e}")))?;
    slot.output.truncate(n);
    Ok(())
}

/// Whether a block is already-compressed or random data (compressed artifacts, images,
/// archives), for which deflate spends most of its time finding nothing: such a block is
/// stored instead. The test is integer-only (every byte value frequent and none dominant, as
/// in uniformly random data), so the decision, and thus the output, is the same on every
/// machine.
fn looks_incompressible(block: &[u8]) -> bool {
    const MIN_LEN: usize = 64 * 1024;
    if block.len() < MIN_LEN {
        return false;
    }
    // Four tables, summed at the end: one table serializes on repeated bytes (each
    // increment waits for the previous one to the same counter).
    let mut tables = [[0u32; 256]; 4];
    let mut quads = block.chunks_exact(4);
    for q in &mut quads {
        tables[0][q[0] as usize] += 1;
        tables[1][q[1] as usize] += 1;
        tables[2][q[2] as usize] += 1;
        tables[3][q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        tables[0][b as usize] += 1;
    }
    let counts: [u32; 256] = std::array::from_fn(|i| tables.iter().map(|t| t[i]).sum());
    let expected = (block.len() / 256) as u32;
    // Uniform data stays within a few standard deviations (sqrt(expected)) of the mean.
    let slack = expected / 8;
    counts
        .iter()
        .all(|&c| c >= expected - slack && c <= expected + slack)
}

fn gzip_writer<W: Write>(
    out: W,
    done: Receiver<Result<Slot>>,
    free: SyncSender<Slot>,
) -> Result<Written<W>> {
    let mut out = HashingWriter::new(out);
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    loop {
        let Ok(result) = done.recv() else {
            return Err(Error::internal(
                "layer compression stopped before the last block",
            ));
        };
        let slot = result?;
        pending.insert(slot.seq, slot);
        while let Some(slot) = pending.remove(&next) {
            next += 1;
            out.write_all(&slot.output).map_err(output_error)?;
            if slot.last {
                out.flush().map_err(output_error)?;
                return Ok(out.finish());
            }
            // The feeder may have given up; then the slot is simply dropped.
            let _ = free.send(slot);
        }
    }
}

// ---------------------------------------------------------------------------------------
// zstd

struct ZstdEngine<W: Write + Send + 'static> {
    /// `None` once finished.
    encoder: Option<zstd::stream::Encoder<'static, ChunkSender>>,
    /// `None` once joined.
    writer: Option<JoinHandle<Result<Written<W>>>>,
}

impl<W: Write + Send + 'static> ZstdEngine<W> {
    fn start(out: W, level: i32, threads: usize) -> Result<Self> {
        let (chunks_tx, chunks_rx) = sync_channel::<Option<Vec<u8>>>(ZSTD_CHUNKS);
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(ZSTD_CHUNKS);
        for _ in 1..ZSTD_CHUNKS {
            free_tx
                .send(Vec::with_capacity(ZSTD_CHUNK))
                .map_err(|_| Error::internal("layer writer: chunk pool closed"))?;
        }
        let sender = ChunkSender {
            buf: Vec::with_capacity(ZSTD_CHUNK),
            chunks: chunks_tx,
            free: free_rx,
            broken: false,
        };
        let zstd_err = |e: io::Error| Error::internal(format!("zstd: {e}"));
        let mut encoder = zstd::stream::Encoder::new(sender, level).map_err(zstd_err)?;
        // Always the multithreaded mode, even for one thread: see the module docs.
        encoder.multithread(threads as u32).map_err(zstd_err)?;
        encoder
            .set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))
            .map_err(zstd_err)?;
        encoder.include_checksum(true).map_err(zstd_err)?;
        let writer = spawn("idpkit-layer-out".to_string(), move || {
            zstd_writer(out, chunks_rx, free_tx)
        })?;
        Ok(ZstdEngine {
            encoder: Some(encoder),
            writer: Some(writer),
        })
    }

    fn write(&mut self, buf: &[u8]) -> Result<()> {
        let result = match &mut self.encoder {
            Some(encoder) => encoder.write_all(buf),
            None => return Err(Error::internal("layer writer used after finishing")),
        };
        result.map_err(|e| self.error(e, false))
    }

    /// The cause of a failed encoder call: the writer thread's error when it stopped,
    /// else the encoder's own.
    fn error(&mut self, err: io::Error, broken: bool) -> Error {
        let broken = broken || self.encoder.as_ref().is_some_and(|e| e.get_ref().broken);
        if !broken {
            return Error::internal(format!("zstd: {err}"));
        }
        // The writer thread quit; it holds the cause.
        match self.writer.take().map(|w| join(w, "layer output")) {
            Some(Err(e)) => e,
            _ => Error::internal("layer output stopped unexpectedly"),
        }
    }

    fn finish(mut self) -> Result<Written<W>> {
        let Some(mut encoder) = self.encoder.take() else {
            return Err(Error::internal("layer writer finished twice"));
        };
        if let Err(e) = encoder.do_finish() {
            let broken = encoder.get_ref().broken;
            return Err(self.error(e, broken));
        }
        // Already finished: this only unwraps the sender.
        let sender = encoder.finish().map_err(|e| self.error(e, false))?;
        if let Err(e) = sender.close() {
            return Err(self.error(e, true));
        }
        match self.writer.take() {
            Some(w) => join(w, "layer output"),
            None => Err(Error::internal("layer output stopped unexpectedly")),
        }
    }
}

/// The zstd encoder's output: collects compressed bytes into chunks for the writer thread.
struct ChunkSender {
    buf: Vec<u8>,
    /// `Some(chunk)` per chunk, `None` at the end of the stream.
    chunks: SyncSender<Option<Vec<u8>>>,
    free: Receiver<Vec<u8>>,
    /// Set once the writer thread stopped taking chunks.
    broken: bool,
}

impl ChunkSender {
    fn gone(&mut self) -> io::Error {
        self.broken = true;
        io::Error::new(io::ErrorKind::BrokenPipe, "layer output thread stopped")
    }

    fn send_chunk(&mut self) -> io::Result<()> {
        let Ok(next) = self.free.recv() else {
            return Err(self.gone());
        };
        let full = std::mem::replace(&mut self.buf, next);
        if self.chunks.send(Some(full)).is_err() {
            return Err(self.gone());
        }
        Ok(())
    }

    /// Sends what is buffered and the end marker.
    fn close(mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send_chunk()?;
        }
        if self.chunks.send(None).is_err() {
            return Err(self.gone());
        }
        Ok(())
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > ZSTD_CHUNK && !self.buf.is_empty() {
            self.send_chunk()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn zstd_writer<W: Write>(
    out: W,
    chunks: Receiver<Option<Vec<u8>>>,
    free: SyncSender<Vec<u8>>,
) -> Result<Written<W>> {
    let mut out = HashingWriter::new(out);
    loop {
        match chunks.recv() {
            Ok(Some(mut chunk)) => {
                out.write_all(&chunk).map_err(output_error)?;
                chunk.clear();
                // The encoder may have given up; then the buffer is simply dropped.
                let _ = free.send(chunk);
            }
            Ok(None) => {
                out.flush().map_err(output_error)?;
                return Ok(out.finish());
            }
            Err(_) => return Err(Error::internal("layer compression stopped before the end")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// helpers

fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>> {
    thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(|e| Error::internal(format!("starting a compression thread: {e}")))
}

/// Waits for a thread; a panic becomes an internal error.
fn join<T>(handle: JoinHandle<Result<T>>, what: &str) -> Result<T> {
    match handle.join() {
        Ok(result) => result,
        Err(panic) => Err(Error::internal(format!(
            "{what} thread panicked: {}",
            panic_message(&*panic)
        ))),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

/// An error writing the compressed stream.
fn output_error(err: io::Error) -> Error {
    let message = if err.kind() == io::ErrorKind::StorageFull {
        "writing layer: no space left on device; free disk space and retry".to_string()
    } else {
        format!("writing layer: {err}")
    };
    Error::new(ErrorKind::Io, message)
}

fn to_io_error(err: &Error) -> io::Error {
    io::Error::other(err.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_digest;
    use flate2::read::MultiGzDecoder;
    use std::io::Read;

    const BLOCK: usize = COMPRESS_BLOCK_SIZE;

    /// Deterministic mixed data: runs of text-like lines and of random bytes.
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let words: [&[u8]; 8] = [
            b"layer ", b"image ", b"fn ", b"let ", b"config ", b"0x1f8b ", b"\n", b"tar ",
        ];
        let mut v = Vec::with_capacity(len + 64);
        while v.len() < len {
            let r = next();
            match r % 8 {
                0 => {
                    for _ in 0..(r >> 8) % 512 {
                        v.push(next() as u8);
                    }
                }
                1..=3 => {
                    for _ in 0..(r >> 8) % 256 {
                        v.extend_from_slice(words[(next() % 8) as usize]);
                    }
                }
                _ => {
                    // Near-repeats of recent data, like binaries: these make the match
                    // finder's choices sensitive to any state left from other blocks.
                    for _ in 0..(r >> 8) % 1024 {
                        let r = next();
                        let back = ((r >> 8) % 4096) as usize + 1;
                        if v.len() < back {
                            v.push(r as u8);
                            continue;
                        }
                        for i in 0..((r >> 24) % 40) as usize {
                            let b = v[v.len() - back + i % back];
                            v.push(b ^ u8::from((r >> 40) % 7 == 0));
                        }
                    }
                }
            }
        }
        v.truncate(len);
        v
    }

    /// Near-repeats of recent data with sparse bit flips, like binaries: the match
    /// finder's choices on such data are sensitive to any state left from other blocks.
    fn near_repeats(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut v = Vec::with_capacity(len + 64);
        while v.len() < len {
            let r = next();
            let back = ((r >> 8) % 4096) as usize + 1;
            if v.len() < back {
                v.push(r as u8);
                continue;
            }
            for i in 0..((r >> 24) % 40) as usize {
                let b = v[v.len() - back + i % back];
                v.push(b ^ u8::from((r >> 40) % 7 == 0));
            }
        }
        v.truncate(len);
        v
    }

    fn compress(
        data: &[u8],
        c: Compression,
        level: Option<i32>,
        threads: usize,
    ) -> LayerOutput<Vec<u8>> {
        compress_chunked(data, c, level, threads, 64 * 1024 + 7)
    }

    fn compress_chunked(
        data: &[u8],
        c: Compression,
        level: Option<i32>,
        threads: usize,
        chunk: usize,
    ) -> LayerOutput<Vec<u8>> {
        let mut w = LayerWriter::new(Vec::new(), c, level, threads).unwrap();
        for piece in data.chunks(chunk) {
            w.write_all(piece).unwrap();
        }
        w.flush().unwrap();
        w.finish().unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(gz).read_to_end(&mut out).unwrap();
        out
    }

    /// The gzip members of a layer, each decoded on its own: (compressed, decompressed).
    fn members(gz: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut rest = gz;
        let mut found = Vec::new();
        while !rest.is_empty() {
            let mut d = flate2::bufread::GzDecoder::new(rest);
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            let left = d.into_inner();
            found.push((rest.len() - left.len(), out));
            rest = left;
        }
        found
    }

    fn unzstd(z: &[u8]) -> Vec<u8> {
        zstd::stream::decode_all(z).unwrap()
    }

    fn check(data: &[u8], out: &LayerOutput<Vec<u8>>) {
        assert_eq!(out.diff_id, sha256_digest(data));
        assert_eq!(out.uncompressed_size, data.len() as u64);
        assert_eq!(out.digest, sha256_digest(&out.out));
        assert_eq!(out.size, out.out.len() as u64);
    }

    const SIZES: [usize; 8] = [
        0,
        1,
        1000,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        2 * BLOCK,
        3 * BLOCK + 12345,
    ];

    #[test]
    fn gzip_round_trip() {
        for len in SIZES {
            let data = sample(len, len as u64 + 1);
            for level in [None, Some(0), Some(1), Some(6), Some(9)] {
                let out = compress(&data, Compression::Gzip, level, 2);
                check(&data, &out);
                assert_eq!(gunzip(&out.out), data, "len {len} level {level:?}");
            }
        }
    }

    #[test]
    fn zstd_round_trip() {
        for len in SIZES {
            let data = sample(len, len as u64 + 2);
            for level in [None, Some(1), Some(19)] {
                let out = compress(&data, Compression::Zstd, level, 2);
                check(&data, &out);
                assert_eq!(unzstd(&out.out), data, "len {len} level {level:?}");
            }
        }
    }

    #[test]
    fn one_gzip_member_per_block_with_fixed_headers() {
        let data = sample(2 * BLOCK + 1, 5);
        let out = compress(&data, Compression::Gzip, None, 1).out;
        let found = members(&out);
        assert_eq!(found.len(), 3);
        let mut at = 0;
        for (i, (len, plain)) in found.iter().enumerate() {
            let member = &out[at..at + len];
            // No name, no comment, mtime 0: nothing of the machine or the time.
            assert_eq!(member[..8], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "member {i}");
            let block = &data[i * BLOCK..((i + 1) * BLOCK).min(data.len())];
            assert!(plain == block, "member {i} holds block {i}");
            let mut crc = crc32fast::Hasher::new();
            crc.update(block);
            let n = member.len();
            assert_eq!(member[n - 8..n - 4], crc.finalize().to_le_bytes());
            assert_eq!(member[n - 4..], (block.len() as u32).to_le_bytes());
            at += len;
        }
    }

    #[test]
    fn empty_input_is_valid() {
        let gz = compress(b"", Compression::Gzip, None, 1);
        check(b"", &gz);
        assert!(gunzip(&gz.out).is_empty());
        assert_eq!(gz.diff_id, sha256_digest(b""));
        let zs = compress(b"", Compression::Zstd, None, 1);
        check(b"", &zs);
        assert!(unzstd(&zs.out).is_empty());
        // No write at all, and only empty writes, give the same bytes.
        let mut w = LayerWriter::new(Vec::new(), Compression::Gzip, None, 3).unwrap();
        w.write_all(b"").unwrap();
        assert_eq!(w.finish().unwrap().out, gz.out);
    }

    #[test]
    fn gzip_identical_for_any_thread_count() {
        let mut data = near_repeats(6 * BLOCK, 7);
        data.extend_from_slice(&sample(2 * BLOCK + 777, 7));
        for level in [2, 6] {
            let one = compress(&data, Compression::Gzip, Some(level), 1);
            for threads in [2, 4, 8] {
                let out = compress(&data, Compression::Gzip, Some(level), threads);
                assert!(out.out == one.out, "level {level}, threads {threads}");
            }
        }
        let one = compress(&data, Compression::Gzip, None, 1);
        for threads in [0, 2, 4, 8] {
            let out = compress(&data, Compression::Gzip, None, threads);
            assert!(out.out == one.out, "threads {threads}");
            assert_eq!(out.digest, one.digest);
        }
        // ... and for any way the caller chunks its writes.
        for chunk in [1 << 20, 4096, 512, 3 * BLOCK] {
            let out = compress_chunked(&data, Compression::Gzip, None, 3, chunk);
            assert!(out.out == one.out, "chunk {chunk}");
        }
        assert!(
            compress(&data, Compression::Gzip, None, 2).out == one.out,
            "rerun"
        );
    }

    #[test]
    fn zstd_identical_for_any_thread_count() {
        // Level 1 uses small jobs, so this is several jobs per frame.
        let data = sample(12 * BLOCK + 99, 8);
        for level in [Some(1), None] {
            let one = compress(&data, Compression::Zstd, level, 1);
            for threads in [2, 4, 8] {
                let out = compress(&data, Compression::Zstd, level, threads);
                assert_eq!(out.out, one.out, "threads {threads} level {level:?}");
            }
            let out = compress_chunked(&data, Compression::Zstd, level, 2, 1000);
            assert_eq!(out.out, one.out, "chunked, level {level:?}");
        }
    }

    #[test]
    fn independent_blocks_cost_little_against_one_stream() {
        // What independence gives up is matches reaching back into the previous block;
        // the default level must still be as small as one zlib stream at gzip -1's
        // speed (zlib-rs level 2, which matches `gzip -1`).
        let data = sample(8 * BLOCK, 13);
        let out = compress(&data, Compression::Gzip, None, 2);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(2));
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap().len() as u64;
        assert!(out.size <= single + single / 50, "{} vs {single}", out.size);
    }

    #[test]
    fn random_blocks_are_stored_and_text_blocks_compressed() {
        let random = sample_random(3 * BLOCK);
        assert!(looks_incompressible(&random[..BLOCK]));
        let text = sample(3 * BLOCK, 7);
        assert!(!looks_incompressible(&text[..BLOCK]));
        assert!(
            !looks_incompressible(&random[..1000]),
            "short blocks are always compressed"
        );
        let mut mixed = text.clone();
        mixed.extend_from_slice(&random);
        let out = compress(&mixed, Compression::Gzip, Some(1), 2);
        check(&mixed, &out);
        // Stored random data costs only block framing; the text half still shrinks.
        let text_only = compress(&text, Compression::Gzip, Some(1), 2);
        assert!(text_only.size < text.len() as u64 * 3 / 4);
        assert!(out.size < text_only.size + (random.len() + random.len() / 500) as u64);
    }

    fn sample_random(len: usize) -> Vec<u8> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn invalid_level() {
        for (c, level) in [
            (Compression::Gzip, -1),
            (Compression::Gzip, 10),
            (Compression::Zstd, 0),
            (Compression::Zstd, 23),
        ] {
            let err = LayerWriter::new(Vec::new(), c, Some(level), 1)
                .err()
                .unwrap();
            assert_eq!(err.kind, ErrorKind::InvalidInput);
            assert!(err.message.contains("level"), "{}", err.message);
            assert!(err.message.contains(&level.to_string()), "{}", err.message);
        }
    }

    /// Fails every write after `ok` bytes.
    struct FailAfter {
        ok: usize,
    }
    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.ok);
            self.ok -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_errors_propagate() {
        let data = sample(20 * BLOCK, 10);
        for c in [Compression::Gzip, Compression::Zstd] {
            for ok in [0, 100, 3 * BLOCK] {
                let mut w = LayerWriter::new(FailAfter { ok }, c, Some(1), 2).unwrap();
                let mut write_err = None;
                for piece in data.chunks(8192) {
                    if let Err(e) = w.write_all(piece) {
                        write_err = Some(e);
                        break;
                    }
                }
                let err = w.finish().err().expect("finish must fail");
                assert_eq!(err.kind, ErrorKind::Io, "{c:?} {ok}: {}", err.message);
                assert!(err.message.contains("disk on fire"), "{}", err.message);
                if let Some(e) = write_err {
                    assert!(e.to_string().contains("disk on fire"), "{e}");
                }
            }
        }
    }

    #[test]
    fn output_error_on_tiny_input_surfaces_at_finish() {
        for c in [Compression::Gzip, Compression::Zstd] {
            let mut w = LayerWriter::new(FailAfter { ok: 0 }, c, None, 1).unwrap();
            w.write_all(b"hello").unwrap();
            let err = w.finish().err().unwrap();
            assert_eq!(err.kind, ErrorKind::Io);
        }
    }

    #[test]
    fn dropping_without_finish_does_not_hang() {
        for c in [Compression::Gzip, Compression::Zstd] {
            let mut w = LayerWriter::new(Vec::new(), c, None, 4).unwrap();
            w.write_all(&sample(3 * BLOCK, 11)).unwrap();
            drop(w);
        }
    }

    #[test]
    fn system_gzip_accepts_output() {
        // GNU gzip comes with every system the tests run on (scripts/setup-system.sh).
        let status = std::process::Command::new("gzip")
            .arg("--version")
            .output()
            .expect("gzip (GNU) must be installed for this test");
        assert!(status.status.success());
        let data = sample(2 * BLOCK + 5, 12);
        for input in [&data[..], b""] {
            let out = compress(input, Compression::Gzip, None, 2);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("layer.tar.gz");
            std::fs::write(&path, &out.out).unwrap();
            let t = std::process::Command::new("gzip")
                .arg("-t")
                .arg(&path)
                .status()
                .unwrap();
            assert!(t.success());
            let dc = std::process::Command::new("gzip")
                .arg("-dc")
                .arg(&path)
                .output()
                .unwrap();
            assert!(dc.status.success());
            assert_eq!(dc.stdout, input);
        }
    }
}
