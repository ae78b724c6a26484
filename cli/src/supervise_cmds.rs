//! `idpkit run FILE` and `idpkit sandbox up | status | env | down`: the supervisor from the
//! command line. In the foreground, state changes go to stderr (`[web] healthy`) and the
//! processes' output to stdout (`web | …`), and Ctrl-C stops everything in order. Detached
//! (`sandbox up`'s default, `run --detach`), the command starts itself in the foreground
//! as a daemon (own session, output in the state directory's `supervisor.out`), waits
//! until every process is ready (or one failed) and returns; `sandbox down` stops it.

use crate::output::Output;
use clap::Args;
use idpkit::ops::{RunOptions, SandboxDownOptions, SandboxServicesOptions, SandboxUpOptions};
use idpkit::sandbox::detect::Service;
use idpkit::sandbox::{local, services};
use idpkit::supervise::{self, engine, ProcessState, SupervisorStatus};
use idpkit::{Call, Error, ErrorKind, Event, EventSink, Result};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The detached supervisor's own output, in its state directory.
const DAEMON_OUT: &str = "supervisor.out";

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A Procfile (`name: command` lines), or a .toml/.yaml file in process-compose's
    /// shape (processes.NAME.command, depends_on, readiness_probe, availability, …).
    pub file: PathBuf,
    /// Only these processes (repeatable), with what they depend on.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Where the status, lock and logs go (default: .idpkit-run beside FILE).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Return once every process is ready and leave them running; `idpkit sandbox down
    /// DIR` stops them.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// With --detach: how long to wait for readiness.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
    pub timeout: Duration,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// A run's id or directory, or a checkout.
    pub dir: PathBuf,
    /// The services to run (repeatable; default: the plan's).
    #[arg(long = "service", value_name = "NAME", value_parser = parse_service)]
    pub services: Vec<Service>,
    /// The sandbox config (default: $IDPKIT_SANDBOX_CONFIG, else idpkit-sandbox.toml in
    /// the project).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stay in the foreground, printing the services' output, until Ctrl-C.
    #[arg(long)]
    pub foreground: bool,
    /// How long to wait for every service to be ready.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
    pub timeout: Duration,
}

fn parse_service(s: &str) -> std::result::Result<Service, String> {
    Service::ALL
        .into_iter()
        .find(|x| x.name() == s)
        .ok_or_else(|| {
            format!("{s:?} is not a service; the services are postgres, mysql and redis")
        })
}

/// Prints state changes on stderr and output lines on stdout (JSON lines on stderr with
/// --json, as every command's events).
fn sink(json: bool) -> EventSink {
    Arc::new(move |e: &Event| {
        if json {
            if let Ok(s) = serde_json::to_string(e) {
                eprintln!("{s}");
            }
            return;
        }
        match e {
            Event::ProcessOutput { name, line } => println!("{name} | {line}"),
            Event::ProcessState {
                name,
                state,
                pid,
                delay_ms,
                message,
                ..
            } => {
                let mut s = format!("[{name}] {}", state.name());
                if let Some(p) = pid
                    .filter(|_| *state == ProcessState::Running || *state == ProcessState::Healthy)
                {
                    s.push_str(&format!(" (pid {p})"));
                }
                if let Some(d) = delay_ms {
                    s.push_str(&format!(" in {:.1}s", *d as f64 / 1000.0));
                }
                if let Some(m) = message {
                    s.push_str(&format!(": {m}"));
                }
                eprintln!("{s}");
            }
            Event::Warning { message } => eprintln!("warning: {message}"),
            _ => {}
        }
    })
}

/// A call that Ctrl-C (or SIGTERM) cancels.
fn interruptible(json: bool) -> Call {
    Call::new()
        .with_sink(Some(sink(json)))
        .with_cancel(Some(crate::interrupt::token()))
}

pub fn run(a: RunArgs, out: &Output, json: bool) -> Result<()> {
    let state_dir = a
        .state_dir
        .clone()
        .unwrap_or_else(|| supervise::file::default_state_dir(&a.file));
    if a.detach {
        // Read the file here, so a mistake in it is this command's error.
        supervise::file::read(&a.file)?;
        let mut args: Vec<OsString> = vec!["run".into(), a.file.clone().into()];
        for o in &a.only {
            args.extend(["--only".into(), o.into()]);
        }
        args.extend(["--state-dir".into(), state_dir.clone().into()]);
        let st = detach(&args, &state_dir, a.timeout)?;
        out.result(&st, || status_table(&st));
        return Ok(());
    }
    let opts = RunOptions {
        file: a.file,
        state_dir: Some(state_dir),
        only: a.only,
        output_events: true,
        ..RunOptions::default()
    };
    let st = services::run(&opts, &interruptible(json))?;
    out.note(&format!(
        "stopped ({})",
        st.reason.as_deref().unwrap_or("ended")
    ));
    finish(&st, out)
}

/// The exit of a foreground supervisor: an error when a process failed.
fn finish(st: &SupervisorStatus, out: &Output) -> Result<()> {
    out.result(st, String::new);
    match engine::first_failed(st) {
        Some(p) => Err(Error::new(
            ErrorKind::Network,
            format!(
                "{} failed{} (its log: {})",
                p.name,
                p.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default(),
                p.log.display()
            ),
        )),
        None => Ok(()),
    }
}

pub fn up(a: UpArgs, out: &Output, json: bool) -> Result<()> {
    if !a.foreground {
        let state_dir = services::state_dir(&a.dir)?;
        let mut args: Vec<OsString> = vec!["sandbox".into(), "up".into(), a.dir.clone().into()];
        for s in &a.services {
            args.extend(["--service".into(), s.name().into()]);
        }
        if let Some(c) = &a.config {
            args.extend(["--config".into(), c.clone().into()]);
        }
        args.extend([
            "--foreground".into(),
            "--timeout".into(),
            format!("{}s", a.timeout.as_secs()).into(),
        ]);
        let st = detach(&args, &state_dir, a.timeout)?;
        let env = local::read_env(&state_dir)?;
        let result = idpkit::ops::SandboxServices {
            status: st,
            env_file: state_dir.join(local::ENV_FILE),
            env,
        };
        out.note(&format!(
            "services up: {}; `idpkit sandbox down {}` stops them",
            result
                .status
                .processes
                .iter()
                .map(|p| format!("{} (pid {})", p.name, p.pid.unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", "),
            a.dir.display()
        ));
        out.result(&result, || {
            local::dotenv(&result.env).trim_end().to_string()
        });
        return Ok(());
    }
    let opts = SandboxUpOptions {
        dir: a.dir,
        config: a.config,
        services: (!a.services.is_empty()).then_some(a.services),
        timeout_seconds: a.timeout.as_secs(),
        foreground: true,
        output_events: true,
    };
    let r = services::up(&opts, &interruptible(json))?;
    out.note(&format!(
        "stopped ({})",
        r.status.reason.as_deref().unwrap_or("ended")
    ));
    finish(&r.status, out)
}

pub fn status(dir: PathBuf, out: &Output) -> Result<()> {
    let st = services::status(&SandboxServicesOptions { dir })?;
    out.result(&st, || status_table(&st));
    Ok(())
}

pub fn env(dir: PathBuf, export: bool, out: &Output) -> Result<()> {
    let e = services::env(&SandboxServicesOptions { dir })?;
    out.result(&e, || {
        let text = local::dotenv(&e.env);
        let text = if export {
            text.lines()
                .map(|l| format!("export {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text
        };
        text.trim_end().to_string()
    });
    Ok(())
}

pub fn down(dir: PathBuf, timeout: Duration, out: &Output, json: bool) -> Result<()> {
    let st = services::down(
        &SandboxDownOptions {
            dir,
            timeout_seconds: timeout.as_secs().max(1),
        },
        &Call::new()
            .with_cancel(Some(crate::interrupt::token()))
            .with_sink(Some(sink(json))),
    )?;
    out.result(&st, || {
        format!(
            "stopped{}",
            st.reason
                .as_deref()
                .filter(|r| *r != "stopped on request")
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    });
    Ok(())
}

/// NAME STATE PID READY RESTARTS EXIT, then the reason when it ended.
pub fn status_table(st: &SupervisorStatus) -> String {
    let mut lines = vec![format!(
        "{:<16} {:<10} {:>8} {:<5} {:>8} {:>4}",
        "NAME", "STATE", "PID", "READY", "RESTARTS", "EXIT"
    )];
    for p in &st.processes {
        lines.push(format!(
            "{:<16} {:<10} {:>8} {:<5} {:>8} {:>4}",
            p.name,
            p.state.name(),
            p.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            if p.ready { "yes" } else { "no" },
            p.restarts,
            p.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into())
        ));
    }
    if let Some(r) = &st.reason {
        lines.push(format!("({r})"));
    }
    lines.join("\n")
}

/// Starts this program with `args` as a daemon (its own session, stdin from /dev/null,
/// output in `{state_dir}/supervisor.out`) and waits until its processes are ready.
fn detach(args: &[OsString], state_dir: &Path, timeout: Duration) -> Result<SupervisorStatus> {
    std::fs::create_dir_all(state_dir).map_err(|e| Error::io("create", state_dir, e))?;
    let out_path = state_dir.join(DAEMON_OUT);
    let log = std::fs::File::create(&out_path).map_err(|e| Error::io("create", &out_path, e))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::internal(format!("cannot find this program: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| Error::io("open", &out_path, e))?,
        )
        .stderr(log);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::internal(format!("cannot start the supervisor: {e}")))?;
    let pid = child.id();
    let deadline = started + timeout + Duration::from_secs(5);
    loop {
        if let Some(code) = child.try_wait().ok().flatten() {
            // Its error is the last line it printed, and its kind its exit code.
            let text = std::fs::read_to_string(&out_path).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| l.starts_with("error["))
                .unwrap_or("");
            let message = last.split_once("]: ").map_or(last, |(_, m)| m);
            let kind = crate::kind_of_exit(code.code().unwrap_or(1));
            return Err(Error::new(
                kind,
                format!(
                    "{message} (the supervisor's output: {})",
                    out_path.display()
                ),
            ));
        }
        // Only a status written by this daemon counts (an older one may be there).
        if let Ok(st) = supervise::status(state_dir) {
            if st.pid == pid && engine::all_ready(&st) {
                // The child is a daemon now: nobody here waits for it.
                std::mem::forget(child);
                return Ok(st);
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(
                ErrorKind::Network,
                format!(
                    "the supervisor did not report ready within {}s; see {}",
                    timeout.as_secs(),
                    out_path.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
