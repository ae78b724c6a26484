//! A supervisor's state directory, shared by the supervisor and by any process that asks
//! after it:
//!
//! - `supervisor.json`: the status, replaced atomically on every change (what `status`
//!   reads, and what the next supervisor reads to clean up after a crashed one);
//! - `supervisor.lock`: held (flock) by the supervisor for its whole life; free while a
//!   status says it runs means the supervisor died without stopping its processes;
//! - `supervisor.ctl`: a FIFO the supervisor reads requests from (`stop`); FIFOs have no
//!   path-length limit, unlike a Unix socket, and their mode keeps other users out;
//! - `logs/{name}.log`: each process's output.

use crate::error::{Error, ErrorKind, Result};
use crate::fsx;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const STATUS_FILE: &str = "supervisor.json";
pub const LOCK_FILE: &str = "supervisor.lock";
pub const CONTROL_FILE: &str = "supervisor.ctl";
pub const LOG_DIR: &str = "logs";

/// What a supervisor and its processes are doing. The same serde type in every front end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisorStatus {
    /// The state directory.
    #[schemars(extend("x-path" = true))]
    pub dir: PathBuf,
    /// The supervising process (the CLI's, or the program that called `up`).
    pub pid: u32,
    pub state: SupervisorState,
    /// When it started (RFC 3339, UTC).
    #[schemars(extend("format" = "date-time"))]
    pub started: String,
    /// In start order.
    pub processes: Vec<ProcessStatus>,
    /// Why it ended, once it has (`stopped on request`, `cancelled`, `every process ended`,
    /// `the supervisor ended without stopping`).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorState {
    #[default]
    Starting,
    Running,
    Stopping,
    Stopped,
}

/// One process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessStatus {
    pub name: String,
    pub state: ProcessState,
    /// Its process (and process group) id while it runs.
    pub pid: Option<u32>,
    /// The kernel's start time of `pid` (clock ticks since boot), so a later cleanup never
    /// signals another process that reused the id.
    pub start_ticks: Option<u64>,
    /// Whether its readiness probe passed (or it has none and runs).
    pub ready: bool,
    /// Restarts so far.
    pub restarts: u32,
    /// The last exit status; a signal's number is 128 + n.
    pub exit_code: Option<i32>,
    /// The last probe failure, the dependency that failed, …
    pub message: Option<String>,
    #[schemars(extend("x-path" = true))]
    pub log: PathBuf,
}

/// A process's state; the `process_state` event carries each change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// Waiting for its dependencies.
    #[default]
    Pending,
    /// Started; its readiness probe has not passed yet.
    Running,
    /// Ready: its readiness probe passed (or it has none).
    Healthy,
    /// Its probe failed `failure_threshold` times in a row.
    Unhealthy,
    /// Ended; waiting out its backoff before it starts again.
    Restarting,
    /// Being stopped.
    Stopping,
    /// Stopped by the supervisor.
    Stopped,
    /// Exited with status 0 and is not restarted.
    Completed,
    /// Exited otherwise and is not restarted, or a dependency failed.
    Failed,
}

impl ProcessState {
    /// Its name, as in JSON and events (`healthy`).
    pub fn name(self) -> &'static str {
        match self {
            ProcessState::Pending => "pending",
            ProcessState::Running => "running",
            ProcessState::Healthy => "healthy",
            ProcessState::Unhealthy => "unhealthy",
            ProcessState::Restarting => "restarting",
            ProcessState::Stopping => "stopping",
            ProcessState::Stopped => "stopped",
            ProcessState::Completed => "completed",
            ProcessState::Failed => "failed",
        }
    }

    /// Whether the process is running (or being stopped).
    pub fn is_up(self) -> bool {
        matches!(
            self,
            ProcessState::Running
                | ProcessState::Healthy
                | ProcessState::Unhealthy
                | ProcessState::Stopping
        )
    }
}

pub fn status_path(dir: &Path) -> PathBuf {
    dir.join(STATUS_FILE)
}

/// Reads the status file; none when no supervisor ever ran here.
pub fn read_status(dir: &Path) -> Result<Option<SupervisorStatus>> {
    let path = status_path(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::invalid(format!(
                "{}: not a supervisor status ({e}); remove it if no supervisor runs",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

pub fn write_status(status: &SupervisorStatus) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(status).map_err(|e| Error::internal(e.to_string()))?;
    fsx::write_atomic(&status_path(&status.dir), &bytes)
}

/// The lock held for a supervisor's life, taken without waiting; none when another holds it.
pub fn try_lock(dir: &Path) -> Result<Option<File>> {
    let path = dir.join(LOCK_FILE);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open lock", &path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}

/// Creates the control FIFO (mode 0600) and opens it for reading without blocking.
pub fn open_control(dir: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(CONTROL_FILE);
    let _ = std::fs::remove_file(&path);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::invalid(format!("{}: NUL in path", path.display())))?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(Error::io(
            "create FIFO",
            &path,
            std::io::Error::last_os_error(),
        ));
    }
    // Read-write: the FIFO never reports end-of-file when a writer leaves.
    File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))
}

/// Sends `stop` to a live supervisor; false when none reads the FIFO.
pub fn request_stop(dir: &Path) -> Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(CONTROL_FILE);
    // No symlink followed: the request goes to this directory's FIFO or nowhere.
    let opened = File::options()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&path);
    let mut f = match opened {
        Ok(f) => f,
        // ENXIO: nobody has it open for reading; ENOENT: never made.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO) | Some(libc::ENOENT)) => {
            return Ok(false)
        }
        Err(e) => return Err(Error::io("open", &path, e)),
    };
    if !f.metadata().map(|m| is_fifo(&m)).unwrap_or(false) {
        return Err(Error::invalid(format!(
            "{} is not the supervisor's FIFO; remove it",
            path.display()
        )));
    }
    f.write_all(b"stop\n")
        .map_err(|e| Error::io("write", &path, e))?;
    Ok(true)
}

fn is_fifo(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_fifo()
}

/// Waits until the supervisor's lock is free (it ended); false on timeout.
pub fn wait_unlocked(dir: &Path, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if try_lock(dir)?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The start time (clock ticks since boot) of `pid`, field 22 of `/proc/PID/stat`.
pub fn start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid).and_then(|f| f.get(19).and_then(|s| s.parse().ok()))
}

/// `/proc/PID/stat`'s fields after the command name (field 3 onwards).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// The live processes of group `pgid` that started no earlier than its recorded leader
/// (`ticks`): a group outlives its leader while members keep it, and a process older than
/// the leader cannot be one the leader started.
pub fn group_members(pgid: u32, ticks: u64) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Some(f) = stat_fields(pid) else { continue };
        // Fields (from 3): state, ppid, pgrp, …, starttime at index 19.
        let group = f.get(2).and_then(|s| s.parse::<u32>().ok());
        let started = f.get(19).and_then(|s| s.parse::<u64>().ok());
        let zombie = f.first().map(|s| s == "Z").unwrap_or(false);
        if group == Some(pgid) && started.is_some_and(|s| s >= ticks) && !zombie {
            out.push(pid);
        }
    }
    out
}

/// SIGKILLs what is left of the processes a status names (a supervisor that died without
/// stopping them); returns how many processes were killed.
pub fn sweep(status: &SupervisorStatus) -> usize {
    let mut killed = 0;
    for p in &status.processes {
        let (Some(pgid), Some(ticks)) = (p.pid, p.start_ticks) else {
            continue;
        };
        // The id belongs to a process started at another time: it was reused, and as the
        // kernel never reuses an id that still names a group, ours has no member left.
        if start_ticks(pgid).is_some_and(|t| t != ticks) {
            continue;
        }
        let members = group_members(pgid, ticks);
        if members.is_empty() {
            continue;
        }
        // The leader (still alive, or gone with members left): the whole group.
        // SAFETY: signalling a process group.
        unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
        killed += members.len();
    }
    killed
}

/// A status that claims to run while nobody holds the lock: its supervisor died.
pub fn stale(dir: &Path) -> Result<Option<SupervisorStatus>> {
    let Some(status) = read_status(dir)? else {
        return Ok(None);
    };
    if status.state == SupervisorState::Stopped {
        return Ok(None);
    }
    Ok(Some(status))
}

/// The state directory must exist and be a directory.
pub fn check_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::invalid(format!(
            "{} is not a directory",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(
            ErrorKind::NotFound,
            format!("{}: no supervisor ran here", dir.display()),
        )),
        Err(e) => Err(Error::io("open", dir, e)),
    }
}
