//! The supervisor: one thread owns every process's state and decides (starts when the
//! dependencies' conditions hold, restarts with backoff, ordered shutdown); waiter threads
//! report exits, probe threads report checks, and everything arrives as a message on one
//! channel, so no decision races another.
//!
//! Every child is spawned by that one thread, which lives until the last child is gone:
//! the parent-death signal (`spawn.rs`) belongs to the spawning thread, so children die
//! with the supervisor, not with some short-lived worker.

use super::logs::{self, RotatingLog};
use super::probe;
use super::spawn;
use super::spec::{Condition, Probe, ProcessSpec, RestartPolicy, SupervisorSpec};
use super::state::{self, ProcessState, ProcessStatus, SupervisorState, SupervisorStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventSink};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the loop looks at its FIFO and timers when no message comes.
const TICK: Duration = Duration::from_millis(50);

/// How long an exit waits for the process's output to be drained into its log: all of
/// it, unless a grandchild still holds the pipe (then the group's kill ends the drain).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Where events go while a call listens; emptied when the call returns, so a supervisor
/// left running in the background sends nothing to a callback that is gone.
type SharedSink = Arc<Mutex<Option<EventSink>>>;

fn emit(sink: &SharedSink, e: Event) {
    let guard = sink.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = guard.as_ref() {
        s(&e);
    }
}

/// A running supervisor.
pub struct Supervisor {
    shared: Arc<(Mutex<SupervisorStatus>, Condvar)>,
    tx: Sender<Msg>,
    sink: SharedSink,
    thread: Option<JoinHandle<()>>,
}

enum Msg {
    Exited { idx: usize, gen: u64, code: i32 },
    Ready { idx: usize, gen: u64 },
    Unhealthy { idx: usize, gen: u64, why: String },
    LivenessFailed { idx: usize, gen: u64, why: String },
    Stop(String),
}

/// Starts supervising `spec` with its state in `dir` (created), after cleaning up what a
/// supervisor that died there left running. CONFLICT when one runs there now.
pub fn start(
    spec: SupervisorSpec,
    dir: &Path,
    lock: Option<File>,
    sink: Option<EventSink>,
    echo: bool,
) -> Result<Supervisor> {
    let order = spec.check()?;
    std::fs::create_dir_all(dir.join(state::LOG_DIR)).map_err(|e| Error::io("create", dir, e))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::io("open", dir, e))?;
    let lock = match lock {
        Some(l) => l,
        None => lock_or_conflict(&dir)?,
    };
    let sink: SharedSink = Arc::new(Mutex::new(sink));
    if let Some(old) = state::stale(&dir)? {
        let killed = state::sweep(&old);
        emit(
            &sink,
            Event::Warning {
                message: format!(
                    "{}: the supervisor before (pid {}) ended without stopping its processes; \
                     {killed} left over were killed",
                    dir.display(),
                    old.pid
                ),
            },
        );
    }
    let control = state::open_control(&dir)?;
    let procs: Vec<Proc> = order
        .iter()
        .map(|name| Proc::new(name, &spec.processes[name], &dir))
        .collect();
    let status = SupervisorStatus {
        dir: dir.clone(),
        pid: std::process::id(),
        state: SupervisorState::Starting,
        started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        processes: procs.iter().map(|p| p.status.clone()).collect(),
        reason: None,
    };
    state::write_status(&status)?;
    let shared = Arc::new((Mutex::new(status), Condvar::new()));
    let (tx, rx) = channel();
    let engine = Engine {
        dir: dir.clone(),
        procs,
        rx,
        tx: tx.clone(),
        shared: shared.clone(),
        sink: sink.clone(),
        control,
        stopping: None,
        echo,
    };
    let thread = std::thread::Builder::new()
        .name("idpkit-supervisor".into())
        .spawn(move || {
            let _lock = lock;
            engine.run();
        })
        .map_err(|e| Error::internal(format!("cannot start the supervisor thread: {e}")))?;
    Ok(Supervisor {
        shared,
        tx,
        sink,
        thread: Some(thread),
    })
}

/// The lock of the supervisor directory `dir` (which exists); CONFLICT naming the
/// supervisor that holds it.
pub fn lock_or_conflict(dir: &Path) -> Result<File> {
    match state::try_lock(dir)? {
        Some(lock) => Ok(lock),
        None => {
            let pid = state::read_status(dir).ok().flatten().map(|s| s.pid);
            Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{}: a supervisor runs there already{}; stop it first (`idpkit sandbox \
                     down`)",
                    dir.display(),
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                ),
            ))
        }
    }
}

impl Supervisor {
    /// The status now.
    pub fn status(&self) -> SupervisorStatus {
        self.shared
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks for the ordered shutdown.
    pub fn stop(&self, reason: &str) {
        let _ = self.tx.send(Msg::Stop(reason.to_string()));
    }

    /// Stops sending events (the call that listened returns).
    pub fn release_sink(&self) {
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Waits until `done` holds for the status, the supervisor ends, or `timeout` passes;
    /// polls `cancelled` meanwhile. Returns the status and whether `done` held.
    pub fn wait_for(
        &self,
        timeout: Option<Duration>,
        cancelled: &dyn Fn() -> bool,
        done: &dyn Fn(&SupervisorStatus) -> bool,
    ) -> (SupervisorStatus, WaitEnd) {
        let deadline = timeout.map(|t| Instant::now() + t);
        let (lock, cv) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if done(&st) {
                return (st.clone(), WaitEnd::Done);
            }
            if st.state == SupervisorState::Stopped {
                return (st.clone(), WaitEnd::Ended);
            }
            if cancelled() {
                return (st.clone(), WaitEnd::Cancelled);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (st.clone(), WaitEnd::TimedOut);
            }
            st = cv
                .wait_timeout(st, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits for the supervisor to end; returns its last status.
    pub fn join(mut self) -> SupervisorStatus {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.release_sink();
        self.status()
    }

    /// Leaves the supervisor running in the background (until `stop` through its FIFO, or
    /// this process's end).
    pub fn detach(mut self) {
        self.release_sink();
        self.thread.take();
    }
}

/// Why [`Supervisor::wait_for`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    Done,
    Ended,
    Cancelled,
    TimedOut,
}

/// Every process ready (healthy) or completed: what `up` waits for.
pub fn all_ready(s: &SupervisorStatus) -> bool {
    s.processes
        .iter()
        .all(|p| p.state == ProcessState::Healthy || p.state == ProcessState::Completed)
}

/// A process that failed for good, when there is one.
pub fn first_failed(s: &SupervisorStatus) -> Option<&ProcessStatus> {
    s.processes.iter().find(|p| p.state == ProcessState::Failed)
}

struct Proc {
    spec: ProcessSpec,
    status: ProcessStatus,
    gen: u64,
    child_pid: Option<u32>,
    started_at: Option<Instant>,
    started_once: bool,
    ready_once: bool,
    probes_stop: Option<Arc<AtomicBool>>,
    restart_at: Option<Instant>,
    /// Restarts in a row (for the backoff), reset by a run longer than the cap.
    in_a_row: u32,
    stop_deadline: Option<Instant>,
    killed: bool,
    liveness_failed: bool,
}

impl Proc {
    fn new(name: &str, spec: &ProcessSpec, dir: &Path) -> Proc {
        Proc {
            spec: spec.clone(),
            status: ProcessStatus {
                name: name.to_string(),
                log: log_path(dir, name),
                ..ProcessStatus::default()
            },
            gen: 0,
            child_pid: None,
            started_at: None,
            started_once: false,
            ready_once: false,
            probes_stop: None,
            restart_at: None,
            in_a_row: 0,
            stop_deadline: None,
            killed: false,
            liveness_failed: false,
        }
    }

    fn name(&self) -> &str {
        &self.status.name
    }

    fn stop_probes(&mut self) {
        if let Some(f) = self.probes_stop.take() {
            f.store(true, Ordering::SeqCst);
        }
    }

    fn is_final(&self) -> bool {
        matches!(
            self.status.state,
            ProcessState::Completed | ProcessState::Failed | ProcessState::Stopped
        )
    }
}

/// `{dir}/logs/{name}.log`.
pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(state::LOG_DIR).join(format!("{name}.log"))
}

struct Engine {
    /// The state directory (absolute).
    dir: PathBuf,
    procs: Vec<Proc>,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    shared: Arc<(Mutex<SupervisorStatus>, Condvar)>,
    sink: SharedSink,
    control: File,
    /// The shutdown's reason once it began.
    stopping: Option<String>,
    echo: bool,
}

impl Engine {
    fn run(mut self) {
        self.set_supervisor_state(SupervisorState::Running, None);
        loop {
            if self.stopping.is_none() {
                self.start_what_can_start();
                if self.procs.iter().all(|p| p.is_final()) {
                    self.stopping = Some("every process ended".into());
                }
            }
            if self.stopping.is_some() {
                self.shutdown_step();
                if self.procs.iter().all(|p| p.child_pid.is_none()) {
                    break;
                }
            }
            self.check_control();
            let wait = self.next_timer().unwrap_or(TICK).min(TICK);
            match self.rx.recv_timeout(wait) {
                Ok(m) => self.handle(m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.fire_timers();
        }
        for p in &mut self.procs {
            if !p.is_final() {
                p.status.state = ProcessState::Stopped;
            }
        }
        let reason = self.stopping.clone();
        self.publish_all();
        self.set_supervisor_state(SupervisorState::Stopped, reason);
        let _ = std::fs::remove_file(self.dir.join(state::CONTROL_FILE));
    }

    fn check_control(&mut self) {
        let mut buf = [0u8; 256];
        if let Ok(n) = (&self.control).read(&mut buf) {
            if n > 0
                && String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == "stop")
            {
                self.begin_stop("stopped on request");
            }
        }
    }

    fn begin_stop(&mut self, reason: &str) {
        if self.stopping.is_none() {
            self.stopping = Some(reason.to_string());
            self.set_supervisor_state(SupervisorState::Stopping, None);
        }
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Stop(reason) => self.begin_stop(&reason),
            Msg::Exited { idx, gen, code } => {
                if self.procs[idx].gen == gen {
                    self.exited(idx, code);
                }
            }
            Msg::Ready { idx, gen } => {
                let p = &mut self.procs[idx];
                if p.gen == gen && p.child_pid.is_some() && !p.status.ready {
                    p.status.ready = true;
                    p.ready_once = true;
                    p.status.message = None;
                    if p.status.state != ProcessState::Stopping {
                        self.set_state(idx, ProcessState::Healthy, None);
                    }
                }
            }
            Msg::Unhealthy { idx, gen, why } => {
                let p = &self.procs[idx];
                if p.gen == gen && p.child_pid.is_some() && p.status.state == ProcessState::Running
                {
                    self.set_state(idx, ProcessState::Unhealthy, Some(why));
                }
            }
            Msg::LivenessFailed { idx, gen, why } => {
                let p = &mut self.procs[idx];
                if p.gen == gen && p.stop_deadline.is_none() {
                    if let Some(pid) = p.child_pid {
                        // Killed now; `exited` decides about the restart.
                        p.liveness_failed = true;
                        spawn::signal_group(pid, libc::SIGKILL);
                        self.set_state(idx, ProcessState::Unhealthy, Some(why));
                    }
                }
            }
        }
    }

    /// The earliest restart or stop deadline, from now.
    fn next_timer(&self) -> Option<Duration> {
        let now = Instant::now();
        self.procs
            .iter()
            .flat_map(|p| [p.restart_at, p.stop_deadline])
            .flatten()
            .map(|t| t.saturating_duration_since(now))
            .min()
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        for idx in 0..self.procs.len() {
            let p = &mut self.procs[idx];
            if p.restart_at.is_some_and(|t| t <= now) {
                p.restart_at = None;
                if self.stopping.is_none() {
                    self.procs[idx].status.restarts += 1;
                    self.launch(idx);
                }
            }
            let p = &mut self.procs[idx];
            if p.stop_deadline.is_some_and(|t| t <= now) && !p.killed {
                if let Some(pid) = p.child_pid {
                    p.killed = true;
                    spawn::signal_group(pid, libc::SIGKILL);
                    let name = p.name().to_string();
                    emit(
                        &self.sink,
                        Event::Warning {
                            message: format!(
                                "{name} did not stop within {}s; killed",
                                p.spec.shutdown.timeout_seconds
                            ),
                        },
                    );
                }
            }
        }
    }

    /// Starts every pending process whose dependencies hold; fails those whose
    /// dependencies never will.
    fn start_what_can_start(&mut self) {
        for idx in 0..self.procs.len() {
            if self.procs[idx].status.state != ProcessState::Pending {
                continue;
            }
            match self.dependencies(idx) {
                Deps::Met => self.launch(idx),
                Deps::Wait => {}
                Deps::Never(why) => self.set_state(idx, ProcessState::Failed, Some(why)),
            }
        }
    }

    fn dependencies(&self, idx: usize) -> Deps {
        let mut met = true;
        for (dep, d) in &self.procs[idx].spec.depends_on {
            let Some(p) = self.procs.iter().find(|p| p.name() == dep) else {
                continue;
            };
            let st = p.status.state;
            let ok = match d.condition {
                Condition::ProcessStarted => p.started_once,
                Condition::ProcessHealthy => p.ready_once,
                Condition::ProcessCompleted => {
                    matches!(st, ProcessState::Completed | ProcessState::Failed)
                }
                Condition::ProcessCompletedSuccessfully => st == ProcessState::Completed,
            };
            let never = !ok
                && match d.condition {
                    Condition::ProcessCompleted => st == ProcessState::Stopped,
                    _ => matches!(
                        st,
                        ProcessState::Failed | ProcessState::Stopped | ProcessState::Completed
                    ),
                };
            if never {
                return Deps::Never(format!(
                    "its dependency {dep} is {} and will not be {}",
                    st.name(),
                    d.condition.name()
                ));
            }
            met &= ok;
        }
        if met {
            Deps::Met
        } else {
            Deps::Wait
        }
    }

    fn launch(&mut self, idx: usize) {
        let p = &mut self.procs[idx];
        p.gen += 1;
        p.status.ready = false;
        p.status.exit_code = None;
        p.killed = false;
        p.liveness_failed = false;
        p.stop_deadline = None;
        let name = p.name().to_string();
        let log = match RotatingLog::open(&log_path(&self.dir, &name), &p.spec.log) {
            Ok(l) => l,
            Err(e) => {
                let why = format!("cannot open its log {}: {e}", p.status.log.display());
                self.set_state(idx, ProcessState::Failed, Some(why));
                return;
            }
        };
        let (mut child, pipe) = match spawn::spawn(&p.spec) {
            Ok(c) => c,
            Err(e) => {
                let what = p
                    .spec
                    .command
                    .clone()
                    .unwrap_or_else(|| p.spec.args[0].clone());
                let why = match &p.spec.working_dir {
                    Some(d) => format!("cannot start {what:?} in {}: {e}", d.display()),
                    None => format!("cannot start {what:?}: {e}"),
                };
                self.set_state(idx, ProcessState::Failed, Some(why));
                return;
            }
        };
        let pid = child.id();
        p.child_pid = Some(pid);
        p.status.pid = Some(pid);
        p.status.start_ticks = state::start_ticks(pid);
        p.started_at = Some(Instant::now());
        p.started_once = true;
        let gen = p.gen;
        // Output.
        let sink = self.sink.clone();
        let echo = self.echo;
        let out_name = name.clone();
        // Dropped when the drain ends (or could not start): the exit waits on it below.
        let (drained_tx, drained_rx) = channel::<()>();
        let _ = std::thread::Builder::new()
            .name(format!("idpkit-log-{name}"))
            .spawn(move || {
                let _drained = drained_tx;
                logs::drain(pipe, log, |line| {
                    if echo {
                        emit(
                            &sink,
                            Event::ProcessOutput {
                                name: out_name.clone(),
                                line: line.to_string(),
                            },
                        );
                    }
                })
            });
        // Exit.
        let tx = self.tx.clone();
        let _ = std::thread::Builder::new()
            .name(format!("idpkit-wait-{name}"))
            .spawn(move || {
                let code = child.wait().map(spawn::exit_code).unwrap_or(-1);
                // The exit is reported once its last lines are in the log and sent as
                // events, so whoever sees `completed` (or supervise's return) reads them.
                // A grandchild that kept the pipe open holds the drain until the exit
                // kills the group, so that wait is bounded.
                let _ = drained_rx.recv_timeout(DRAIN_GRACE);
                let _ = tx.send(Msg::Exited { idx, gen, code });
            });
        // Probes.
        let stop = Arc::new(AtomicBool::new(false));
        p.probes_stop = Some(stop.clone());
        let readiness = p.spec.readiness_probe.clone();
        let liveness = p.spec.liveness_probe.clone();
        if readiness.is_none() {
            p.status.ready = true;
            p.ready_once = true;
        }
        if readiness.is_some() || liveness.is_some() {
            let tx = self.tx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("idpkit-probe-{name}"))
                .spawn(move || probe_loop(idx, gen, readiness, liveness, stop, tx));
        }
        let state = if self.procs[idx].status.ready {
            ProcessState::Healthy
        } else {
            ProcessState::Running
        };
        // One event for the start: `running`, or `healthy` when nothing is to wait for.
        self.set_state(idx, state, None);
    }

    fn exited(&mut self, idx: usize, code: i32) {
        let stopping = self.stopping.is_some();
        let p = &mut self.procs[idx];
        if let Some(pid) = p.child_pid.take() {
            // What the process left in its group goes with it.
            spawn::signal_group(pid, libc::SIGKILL);
        }
        p.stop_probes();
        p.status.pid = None;
        p.status.start_ticks = None;
        p.status.ready = false;
        p.status.exit_code = Some(code);
        p.stop_deadline = None;
        let ran = p.started_at.take().map(|t| t.elapsed()).unwrap_or_default();
        if stopping || p.status.state == ProcessState::Stopping {
            self.set_state(idx, ProcessState::Stopped, None);
            return;
        }
        let failed = code != 0 || p.liveness_failed;
        let a = &p.spec.availability;
        let wants = match a.restart {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Always => true,
        };
        if ran > Duration::from_secs_f64(a.max_backoff_seconds) {
            p.in_a_row = 0;
        }
        let exhausted = a.max_restarts > 0 && p.in_a_row >= a.max_restarts;
        if wants && !exhausted {
            let delay = (a.backoff_seconds * 2f64.powi(p.in_a_row.min(30) as i32))
                .min(a.max_backoff_seconds);
            p.in_a_row += 1;
            let delay = Duration::from_secs_f64(delay);
            p.restart_at = Some(Instant::now() + delay);
            let why = if p.liveness_failed {
                "its liveness probe failed".to_string()
            } else {
                format!("exited with {code}")
            };
            self.set_state_delay(idx, ProcessState::Restarting, Some(why), Some(delay));
        } else {
            let (state, why) = if failed {
                let why = if exhausted {
                    format!("exited with {code} after {} restarts", p.in_a_row)
                } else {
                    format!("exited with {code}")
                };
                (ProcessState::Failed, Some(why))
            } else {
                (ProcessState::Completed, None)
            };
            self.set_state(idx, state, why);
        }
    }

    /// One step of the ordered shutdown: processes nobody running depends on get their
    /// stop signal; the others wait for their dependents to be gone.
    fn shutdown_step(&mut self) {
        for idx in 0..self.procs.len() {
            let st = self.procs[idx].status.state;
            if matches!(st, ProcessState::Pending | ProcessState::Restarting) {
                self.procs[idx].restart_at = None;
                self.set_state(idx, ProcessState::Stopped, None);
            }
        }
        for idx in 0..self.procs.len() {
            let p = &self.procs[idx];
            let Some(pid) = p.child_pid else { continue };
            if p.stop_deadline.is_some() {
                continue;
            }
            let name = p.name().to_string();
            let dependents_up = self
                .procs
                .iter()
                .any(|q| q.child_pid.is_some() && q.spec.depends_on.contains_key(&name));
            if dependents_up {
                continue;
            }
            let p = &mut self.procs[idx];
            let signal =
                super::spec::signal_number(&p.spec.shutdown.signal).unwrap_or(libc::SIGTERM);
            p.stop_probes();
            p.stop_deadline =
                Some(Instant::now() + Duration::from_secs_f64(p.spec.shutdown.timeout_seconds));
            spawn::signal_group(pid, signal);
            self.set_state(idx, ProcessState::Stopping, None);
        }
    }

    fn set_state(&mut self, idx: usize, state: ProcessState, message: Option<String>) {
        self.set_state_delay(idx, state, message, None)
    }

    fn set_state_delay(
        &mut self,
        idx: usize,
        state: ProcessState,
        message: Option<String>,
        delay: Option<Duration>,
    ) {
        let p = &mut self.procs[idx];
        p.status.state = state;
        if message.is_some() || matches!(state, ProcessState::Healthy | ProcessState::Running) {
            p.status.message = message.clone();
        }
        if state == ProcessState::Stopped || state == ProcessState::Completed {
            p.stop_probes();
        }
        let event = Event::ProcessState {
            name: p.status.name.clone(),
            state,
            pid: p.status.pid,
            restarts: p.status.restarts,
            exit_code: p.status.exit_code,
            delay_ms: delay.map(|d| d.as_millis() as u64),
            message,
        };
        self.publish(idx, Some(event));
    }

    /// Records process `idx`'s status (shared and on disk), then sends `event`, both under
    /// the status lock: whoever reads the status file after an event sees that change, and
    /// a caller waiting on the status (`up` until all are ready) sees it only once the event
    /// was delivered, so it never returns before the event that ended its wait.
    fn publish(&self, idx: usize, event: Option<Event>) {
        let (lock, cv) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.processes[idx] = self.procs[idx].status.clone();
        let _ = state::write_status(&st);
        if let Some(e) = event {
            emit(&self.sink, e);
        }
        cv.notify_all();
    }

    fn publish_all(&self) {
        for idx in 0..self.procs.len() {
            self.publish(idx, None);
        }
    }

    fn set_supervisor_state(&self, s: SupervisorState, reason: Option<String>) {
        let (lock, cv) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.state = s;
        if reason.is_some() {
            st.reason = reason;
        }
        if let Err(e) = state::write_status(&st) {
            emit(
                &self.sink,
                Event::Warning {
                    message: format!("cannot record the supervisor's status: {e}"),
                },
            );
        }
        cv.notify_all();
    }
}

enum Deps {
    Met,
    Wait,
    Never(String),
}

/// Readiness until it passes, then liveness, until `stop`.
fn probe_loop(
    idx: usize,
    gen: u64,
    readiness: Option<Probe>,
    liveness: Option<Probe>,
    stop: Arc<AtomicBool>,
    tx: Sender<Msg>,
) {
    let sleep = |secs: f64| -> bool {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
        }
        !stop.load(Ordering::SeqCst)
    };
    if let Some(r) = &readiness {
        if !sleep(r.initial_delay_seconds) {
            return;
        }
        let (mut ok, mut bad) = (0u32, 0u32);
        loop {
            match probe::check(r) {
                Ok(()) => {
                    ok += 1;
                    bad = 0;
                    if ok >= r.success_threshold {
                        let _ = tx.send(Msg::Ready { idx, gen });
                        break;
                    }
                }
                Err(why) => {
                    ok = 0;
                    bad += 1;
                    if bad == r.failure_threshold {
                        let _ = tx.send(Msg::Unhealthy { idx, gen, why });
                    }
                }
            }
            if !sleep(r.period_seconds) {
                return;
            }
        }
    }
    let Some(l) = liveness else { return };
    if readiness.is_none() && !sleep(l.initial_delay_seconds) {
        return;
    }
    let mut bad = 0u32;
    loop {
        if !sleep(l.period_seconds) {
            return;
        }
        match probe::check(&l) {
            Ok(()) => bad = 0,
            Err(why) => {
                bad += 1;
                if bad >= l.failure_threshold {
                    let _ = tx.send(Msg::LivenessFailed { idx, gen, why });
                    return;
                }
            }
        }
    }
}
