//! A process supervisor (docs/supervise.md): processes started in dependency order once
//! their conditions hold (started, healthy, completed), readiness and liveness probes
//! (exec, HTTP, TCP), restarts with exponential backoff and a cap, per-process log files
//! with rotation, ordered shutdown in reverse dependency order (signal to the process
//! group, then SIGKILL after a timeout), the status as JSON, and no process left behind by
//! `down`, a cancelled call, or a supervisor killed with -9 (parent-death signals, and the
//! next supervisor or `down` sweeps what a dead one recorded).
//!
//! `idpkit run` drives it from a Procfile or a process-compose-style file; the sandbox's
//! local services (`sandbox up`) are built on it.

pub mod engine;
pub mod file;
mod logs;
mod probe;
mod spawn;
pub mod spec;
pub mod state;

pub use spec::{
    Availability, Condition, Dependency, ExecProbe, HttpProbe, LogSpec, Probe, ProcessSpec,
    RestartPolicy, Shutdown, SupervisorSpec, TcpProbe,
};
pub use state::{ProcessState, ProcessStatus, SupervisorState, SupervisorStatus};

use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventSink};
use crate::Call;
use engine::WaitEnd;
use std::path::Path;
use std::time::Duration;

/// How [`supervise`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Once every process is ready, leaving them supervised by a thread of this process
    /// until a `down` (or this process's end); an error stops what started.
    Background { timeout: Duration },
    /// When the call is cancelled, a `down` asks, or every process ended; after the
    /// ordered shutdown.
    Foreground,
}

/// Supervises `spec` with its state in `dir`.
pub fn supervise(
    spec: SupervisorSpec,
    dir: &Path,
    mode: Mode,
    output_events: bool,
    call: &Call,
) -> Result<SupervisorStatus> {
    supervise_locked(spec, dir, None, mode, output_events, call)
}

/// [`supervise`] with the directory's lock already taken ([`engine::lock_or_conflict`]),
/// for a caller that prepares files in the directory first.
pub fn supervise_locked(
    spec: SupervisorSpec,
    dir: &Path,
    lock: Option<std::fs::File>,
    mode: Mode,
    output_events: bool,
    call: &Call,
) -> Result<SupervisorStatus> {
    let sup = engine::start(spec, dir, lock, call.sink().cloned(), output_events)?;
    let cancelled = || call.cancel().is_some_and(|c| c.is_cancelled());
    match mode {
        Mode::Background { timeout } => {
            let ready =
                |s: &SupervisorStatus| engine::all_ready(s) || engine::first_failed(s).is_some();
            let (st, end) = sup.wait_for(Some(timeout), &cancelled, &ready);
            if end == WaitEnd::Done && engine::all_ready(&st) {
                sup.detach();
                return Ok(st);
            }
            let err = not_ready(&st, end, timeout);
            sup.stop(&err.message);
            sup.join();
            Err(err)
        }
        Mode::Foreground => {
            let (_, end) = sup.wait_for(None, &cancelled, &|_| false);
            if end == WaitEnd::Cancelled {
                sup.stop("cancelled");
            }
            Ok(sup.join())
        }
    }
}

/// The error of an `up` that did not get every process ready.
fn not_ready(st: &SupervisorStatus, end: WaitEnd, timeout: Duration) -> Error {
    if end == WaitEnd::Cancelled {
        return Error::cancelled();
    }
    let bad: Vec<String> = st
        .processes
        .iter()
        .filter(|p| p.state != ProcessState::Healthy && p.state != ProcessState::Completed)
        .map(|p| {
            let state = p.state.name();
            let why = p
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            format!("{} is {state}{why} (its log: {})", p.name, p.log.display())
        })
        .collect();
    let when = match end {
        WaitEnd::TimedOut => format!("not ready after {}s", timeout.as_secs()),
        _ => "failed".to_string(),
    };
    // NETWORK: a local server that never answered its probe is a peer that could not be
    // reached.
    Error::new(
        ErrorKind::Network,
        format!("{when}: {}; everything started was stopped", bad.join("; ")),
    )
}

/// The status of the supervisor whose state is in `dir`; a supervisor that died without
/// stopping says so in `reason`.
pub fn status(dir: &Path) -> Result<SupervisorStatus> {
    state::check_dir(dir)?;
    let Some(mut st) = state::read_status(dir)? else {
        return Err(Error::not_found(format!(
            "{}: no supervisor ran here",
            dir.display()
        )));
    };
    if st.state != SupervisorState::Stopped && state::try_lock(dir)?.is_some() {
        st.reason = Some(format!(
            "the supervisor (pid {}) ended without stopping its processes; `down` cleans up",
            st.pid
        ));
    }
    Ok(st)
}

/// Stops the supervisor whose state is in `dir` (in this process or another), in order,
/// and waits for it; cleans up after one that died. Sends the state changes it sees as
/// events.
pub fn down(dir: &Path, timeout: Duration, sink: Option<&EventSink>) -> Result<SupervisorStatus> {
    state::check_dir(dir)?;
    let before = state::read_status(dir)?;
    if state::request_stop(dir)? {
        let mut seen = before.clone().unwrap_or_default();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let stopped = state::try_lock(dir)?.is_some();
            if let Some(now) = state::read_status(dir)? {
                report_changes(&seen, &now, sink);
                seen = now;
            }
            if stopped {
                break;
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Network,
                    format!(
                        "{}: the supervisor (pid {}) did not stop within {}s",
                        dir.display(),
                        seen.pid,
                        timeout.as_secs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    } else if let Some(_lock) = state::try_lock(dir)? {
        if let Some(mut old) = state::stale(dir)? {
            let killed = state::sweep(&old);
            for p in &mut old.processes {
                if p.state.is_up() || p.state == ProcessState::Restarting {
                    p.state = ProcessState::Stopped;
                    p.pid = None;
                    p.start_ticks = None;
                }
            }
            old.state = SupervisorState::Stopped;
            old.reason = Some(format!(
                "the supervisor (pid {}) had ended without stopping; {killed} processes left \
                 over were killed",
                old.pid
            ));
            state::write_status(&old)?;
            if let Some(b) = &before {
                report_changes(b, &old, sink);
            }
        }
    } else {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "{}: a supervisor is starting there; try again in a moment",
                dir.display()
            ),
        ));
    }
    state::read_status(dir)?
        .ok_or_else(|| Error::not_found(format!("{}: no supervisor ran here", dir.display())))
}

/// A `process_state` event for each process whose state differs between two statuses.
fn report_changes(before: &SupervisorStatus, now: &SupervisorStatus, sink: Option<&EventSink>) {
    let Some(sink) = sink else { return };
    for p in &now.processes {
        let old = before.processes.iter().find(|q| q.name == p.name);
        if old.map(|o| o.state) != Some(p.state) {
            sink(&Event::ProcessState {
                name: p.name.clone(),
                state: p.state,
                pid: p.pid,
                restarts: p.restarts,
                exit_code: p.exit_code,
                delay_ms: None,
                message: p.message.clone(),
            });
        }
    }
}
