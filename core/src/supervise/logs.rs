//! A process's output: drained from its pipe line by line into `logs/{name}.log`, rotated
//! by size (`.log.1` is the newest rotated file), and optionally handed on as events.

use super::spec::LogSpec;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Longer lines are cut (a process printing without newlines cannot grow memory).
pub const MAX_LINE: usize = 8 << 10;

/// A log file that rotates itself.
pub struct RotatingLog {
    path: PathBuf,
    spec: LogSpec,
    file: File,
    size: u64,
}

impl RotatingLog {
    /// Opens (appends to) `path`.
    pub fn open(path: &Path, spec: &LogSpec) -> io::Result<RotatingLog> {
        let file = File::options().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog {
            path: path.to_path_buf(),
            spec: spec.clone(),
            file,
            size,
        })
    }

    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let n = line.len() as u64 + 1;
        if self.spec.max_bytes > 0 && self.size > 0 && self.size + n > self.spec.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.file.write_all(b"\n")?;
        self.size += n;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |k: u32| PathBuf::from(format!("{}.{k}", self.path.display()));
        if self.spec.keep == 0 {
            let _ = fs::remove_file(&self.path);
        } else {
            let _ = fs::remove_file(numbered(self.spec.keep));
            for k in (1..self.spec.keep).rev() {
                let _ = fs::rename(numbered(k), numbered(k + 1));
            }
            fs::rename(&self.path, numbered(1))?;
        }
        self.file = File::options().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Drains `pipe` into `log` until every writer closed it, passing each line to `each`.
pub fn drain(pipe: io::PipeReader, mut log: RotatingLog, each: impl Fn(&str)) {
    let mut r = BufReader::with_capacity(64 << 10, pipe);
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        match read_line_capped(&mut r, &mut buf) {
            Ok(0) => return,
            Ok(_) => {
                while buf.last() == Some(&b'\n') || buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                let _ = log.write_line(&buf);
                each(&String::from_utf8_lossy(&buf));
            }
            Err(_) => return,
        }
    }
}

/// One line, at most [`MAX_LINE`] bytes of it kept (the rest of a longer line skipped).
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}
