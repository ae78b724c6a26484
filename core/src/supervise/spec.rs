//! What the supervisor runs: processes with their commands, dependencies (with conditions),
//! probes, restart policy, shutdown and logs. The same serde types read from a TOML or
//! YAML file in process-compose's shape (`file.rs`), built by the sandbox for its services,
//! and shown in every front end.

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every process of one supervisor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisorSpec {
    /// By name.
    pub processes: BTreeMap<String, ProcessSpec>,
}

/// One supervised process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessSpec {
    /// A shell command line, run with `sh -c` (process-compose's `command`).
    pub command: Option<String>,
    /// Or the program and its arguments, run without a shell.
    pub args: Vec<String>,
    /// Its working directory; relative ones are taken from the file's directory.
    #[schemars(extend("x-path" = true))]
    pub working_dir: Option<PathBuf>,
    /// Variables added to the supervisor's environment.
    pub environment: BTreeMap<String, String>,
    /// Processes that must reach a condition before this one starts.
    pub depends_on: BTreeMap<String, Dependency>,
    /// Passes once the process is ready (its dependents waiting for `process_healthy`
    /// start then); none: ready once started.
    pub readiness_probe: Option<Probe>,
    /// Checked while the process runs; `failure_threshold` failures in a row restart it
    /// (under its restart policy).
    pub liveness_probe: Option<Probe>,
    pub availability: Availability,
    pub shutdown: Shutdown,
    pub log: LogSpec,
    /// Run as this user and group (numeric ids), when the supervisor is root.
    pub user: Option<u32>,
    pub group: Option<u32>,
}

/// The condition a dependency must reach.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Dependency {
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The dependency was started.
    #[default]
    ProcessStarted,
    /// Its readiness probe passed (or it has none and was started).
    ProcessHealthy,
    /// It exited, with any status.
    ProcessCompleted,
    /// It exited with status 0.
    ProcessCompletedSuccessfully,
}

impl Condition {
    /// Its name, as in files (`process_healthy`).
    pub fn name(self) -> &'static str {
        match self {
            Condition::ProcessStarted => "process_started",
            Condition::ProcessHealthy => "process_healthy",
            Condition::ProcessCompleted => "process_completed",
            Condition::ProcessCompletedSuccessfully => "process_completed_successfully",
        }
    }
}

/// One probe: exactly one of `exec`, `http_get` and `tcp_socket`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Probe {
    pub exec: Option<ExecProbe>,
    pub http_get: Option<HttpProbe>,
    pub tcp_socket: Option<TcpProbe>,
    /// Seconds (fractions allowed) before the first check.
    pub initial_delay_seconds: f64,
    /// Seconds between checks.
    pub period_seconds: f64,
    /// Seconds one check may take.
    pub timeout_seconds: f64,
    /// Passes in a row that make the process ready.
    pub success_threshold: u32,
    /// Failures in a row that make it unhealthy (liveness: restarted).
    pub failure_threshold: u32,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            exec: None,
            http_get: None,
            tcp_socket: None,
            initial_delay_seconds: 0.0,
            period_seconds: 1.0,
            timeout_seconds: 1.0,
            success_threshold: 1,
            failure_threshold: 3,
        }
    }
}

/// Passes when the command exits with 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExecProbe {
    /// A shell command line (`sh -c`).
    pub command: Option<String>,
    /// Or the program and its arguments.
    pub args: Vec<String>,
    /// Variables for the probe only (a password the probe needs, never its arguments).
    pub environment: BTreeMap<String, String>,
}

/// Passes on a 2xx or 3xx status. Plain HTTP to a loopback or named host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpProbe {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Default for HttpProbe {
    fn default() -> Self {
        HttpProbe {
            host: "127.0.0.1".into(),
            port: 0,
            path: "/".into(),
        }
    }
}

/// Passes when a TCP connection is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TcpProbe {
    pub host: String,
    pub port: u16,
}

impl Default for TcpProbe {
    fn default() -> Self {
        TcpProbe {
            host: "127.0.0.1".into(),
            port: 0,
        }
    }
}

/// When a process that ended is started again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Availability {
    pub restart: RestartPolicy,
    /// The first restart's delay; each restart in a row doubles it, up to
    /// `max_backoff_seconds`. A run that lasted longer than the cap resets it.
    pub backoff_seconds: f64,
    pub max_backoff_seconds: f64,
    /// Restarts in a row before the process is left failed; 0: no limit.
    pub max_restarts: u32,
}

impl Default for Availability {
    fn default() -> Self {
        Availability {
            restart: RestartPolicy::No,
            backoff_seconds: 1.0,
            max_backoff_seconds: 30.0,
            max_restarts: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    /// Never (a process that ends stays ended).
    #[default]
    No,
    /// When it exits with a non-zero status, is killed by a signal, or fails its
    /// liveness probe.
    OnFailure,
    /// Whenever it ends.
    Always,
}

/// How a process is stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Shutdown {
    /// The signal sent to its process group (`SIGTERM`, `SIGINT`, `SIGQUIT`, `SIGHUP`,
    /// or a number).
    pub signal: String,
    /// Seconds to wait before the group gets SIGKILL.
    pub timeout_seconds: f64,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            signal: "SIGTERM".into(),
            timeout_seconds: 10.0,
        }
    }
}

/// The process's output file (`{state dir}/logs/{name}.log`), rotated by size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogSpec {
    /// Bytes after which the file is rotated (`.log.1`, `.log.2`, …); 0: never.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec {
            max_bytes: 10 << 20,
            keep: 3,
        }
    }
}

/// A signal name or number as a number.
pub fn signal_number(s: &str) -> Result<i32> {
    let name = s.trim().to_ascii_uppercase();
    let bare = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match bare {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "HUP" => libc::SIGHUP,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        n => match n.parse::<i32>() {
            Ok(n) if (1..=64).contains(&n) => n,
            _ => {
                return Err(Error::invalid(format!(
                    "shutdown.signal {s:?} is not a signal; give SIGTERM, SIGINT, SIGQUIT, \
                     SIGHUP, SIGKILL, SIGUSR1, SIGUSR2 or a number"
                )))
            }
        },
    };
    Ok(n)
}

impl SupervisorSpec {
    /// Checks names, commands, probes and dependencies, and returns the start order
    /// (every process after the ones it depends on).
    pub fn check(&self) -> Result<Vec<String>> {
        if self.processes.is_empty() {
            return Err(Error::invalid("no processes to supervise"));
        }
        for (name, p) in &self.processes {
            check_name(name)?;
            let at = |field: &str| format!("process {name:?}: {field}");
            match (&p.command, p.args.is_empty()) {
                (Some(c), true) if !c.trim().is_empty() => {}
                (None, false) => {}
                (Some(_), false) => {
                    return Err(Error::invalid(format!(
                        "{}; give command or args, not both",
                        at("command")
                    )))
                }
                _ => return Err(Error::invalid(format!("{} is missing", at("command")))),
            }
            for dep in p.depends_on.keys() {
                if !self.processes.contains_key(dep) {
                    return Err(Error::invalid(format!(
                        "{} names {dep:?}, which is not a process here",
                        at("depends_on")
                    )));
                }
                if dep == name {
                    return Err(Error::invalid(format!("{} names itself", at("depends_on"))));
                }
            }
            for (field, probe) in [
                ("readiness_probe", &p.readiness_probe),
                ("liveness_probe", &p.liveness_probe),
            ] {
                if let Some(probe) = probe {
                    probe.check(&at(field))?;
                }
            }
            signal_number(&p.shutdown.signal).map_err(|e| e.context(at("")))?;
            let a = &p.availability;
            if !(a.backoff_seconds >= 0.0 && a.max_backoff_seconds >= a.backoff_seconds) {
                return Err(Error::invalid(format!(
                    "{}: backoff_seconds must be 0 or more and at most max_backoff_seconds",
                    at("availability")
                )));
            }
            if !(p.shutdown.timeout_seconds >= 0.0 && p.shutdown.timeout_seconds <= 3600.0) {
                return Err(Error::invalid(format!(
                    "{} must be between 0 and 3600",
                    at("shutdown.timeout_seconds")
                )));
            }
        }
        self.start_order()
    }

    /// Topological order, by name among equals; a cycle is named.
    fn start_order(&self) -> Result<Vec<String>> {
        let mut order: Vec<String> = Vec::new();
        let mut left: BTreeMap<&String, &ProcessSpec> = self.processes.iter().collect();
        while !left.is_empty() {
            let ready: Vec<String> = left
                .iter()
                .filter(|(_, p)| p.depends_on.keys().all(|d| order.contains(d)))
                .map(|(n, _)| (*n).clone())
                .collect();
            if ready.is_empty() {
                let names: Vec<&str> = left.keys().map(|s| s.as_str()).collect();
                return Err(Error::invalid(format!(
                    "depends_on has a cycle among {}",
                    names.join(", ")
                )));
            }
            for n in ready {
                left.remove(&n);
                order.push(n);
            }
        }
        Ok(order)
    }
}

impl Probe {
    fn check(&self, at: &str) -> Result<()> {
        let kinds = [
            self.exec.is_some(),
            self.http_get.is_some(),
            self.tcp_socket.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(Error::invalid(format!(
                "{at}: give exactly one of exec, http_get and tcp_socket"
            )));
        }
        if let Some(e) = &self.exec {
            if e.command.as_deref().is_none_or(|c| c.trim().is_empty()) == e.args.is_empty() {
                return Err(Error::invalid(format!(
                    "{at}.exec: give command or args (one of them)"
                )));
            }
        }
        let port = self
            .http_get
            .as_ref()
            .map(|h| h.port)
            .or(self.tcp_socket.as_ref().map(|t| t.port));
        if port == Some(0) {
            return Err(Error::invalid(format!("{at}: the port is missing")));
        }
        let secs = [
            ("period_seconds", self.period_seconds, 0.01),
            ("timeout_seconds", self.timeout_seconds, 0.01),
            ("initial_delay_seconds", self.initial_delay_seconds, 0.0),
        ];
        for (field, v, min) in secs {
            if !(v >= min && v <= 3600.0) {
                return Err(Error::invalid(format!(
                    "{at}.{field} must be between {min} and 3600"
                )));
            }
        }
        if self.success_threshold == 0 || self.failure_threshold == 0 {
            return Err(Error::invalid(format!(
                "{at}: success_threshold and failure_threshold must be 1 or more"
            )));
        }
        Ok(())
    }
}

/// Names become file names (`logs/{name}.log`) and event fields.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{name:?} is not a process name; use letters, digits, '-', '_' and '.' (at most 64)"
        )))
    }
}
