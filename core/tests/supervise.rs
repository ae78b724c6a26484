//! The supervisor with real processes: dependency order and reverse shutdown order read
//! from the events, HTTP and TCP readiness against real Python servers, restarts with
//! backoff after a kill, a failing liveness probe, a readiness that never passes, log
//! rotation, `down` through the FIFO, and no process left afterwards.

use idpkit::supervise::{
    self, Condition, Dependency, ExecProbe, HttpProbe, Mode, Probe, ProcessSpec, ProcessState,
    RestartPolicy, SupervisorSpec, SupervisorState, TcpProbe,
};
use idpkit::{Call, CancelToken, ErrorKind, Event};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Events = Arc<Mutex<Vec<Event>>>;

fn recorder() -> (Events, Call) {
    let events: Events = Arc::default();
    let e = events.clone();
    let call = Call::new().with_sink(Some(Arc::new(move |ev: &Event| {
        e.lock().unwrap().push(ev.clone())
    })));
    (events, call)
}

fn shell(cmd: &str) -> ProcessSpec {
    ProcessSpec {
        command: Some(cmd.into()),
        ..ProcessSpec::default()
    }
}

fn probe_exec(cmd: &str, period: f64, failures: u32) -> Probe {
    Probe {
        exec: Some(ExecProbe {
            command: Some(cmd.into()),
            ..ExecProbe::default()
        }),
        period_seconds: period,
        failure_threshold: failures,
        ..Probe::default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive: its process has ended.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s[s.rfind(')').unwrap() + 2..].starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (name, state) of every process_state event, in order.
fn states(events: &Events) -> Vec<(String, ProcessState)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::ProcessState { name, state, .. } => Some((name.clone(), *state)),
            _ => None,
        })
        .collect()
}

fn first(states: &[(String, ProcessState)], name: &str, state: ProcessState) -> usize {
    states
        .iter()
        .position(|(n, s)| n == name && *s == state)
        .unwrap_or_else(|| panic!("no {name} {state:?} in {states:?}"))
}

fn depends(pairs: &[(&str, Condition)]) -> std::collections::BTreeMap<String, Dependency> {
    pairs
        .iter()
        .map(|(n, c)| (n.to_string(), Dependency { condition: *c }))
        .collect()
}

#[test]
fn starts_in_dependency_order_and_stops_in_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let (web_port, db_port) = (free_port(), free_port());
    let mut spec = SupervisorSpec::default();
    // db: a TCP server that takes 0.3 s to listen; ready when it accepts.
    spec.processes.insert(
        "db".into(),
        ProcessSpec {
            readiness_probe: Some(Probe {
                tcp_socket: Some(TcpProbe {
                    host: "127.0.0.1".into(),
                    port: db_port,
                }),
                period_seconds: 0.05,
                ..Probe::default()
            }),
            ..shell(&format!(
                "sleep 0.3; exec python3 -c 'import socket,time; s=socket.socket(); \
                 s.bind((\"127.0.0.1\",{db_port})); s.listen(); time.sleep(600)'"
            ))
        },
    );
    // migrate: runs once the db is healthy, and must succeed.
    spec.processes.insert(
        "migrate".into(),
        ProcessSpec {
            depends_on: depends(&[("db", Condition::ProcessHealthy)]),
            ..shell("sleep 0.1")
        },
    );
    // web: an HTTP server after the migration completed successfully.
    spec.processes.insert(
        "web".into(),
        ProcessSpec {
            depends_on: depends(&[
                ("migrate", Condition::ProcessCompletedSuccessfully),
                ("db", Condition::ProcessHealthy),
            ]),
            readiness_probe: Some(Probe {
                http_get: Some(HttpProbe {
                    port: web_port,
                    path: "/".into(),
                    ..HttpProbe::default()
                }),
                period_seconds: 0.05,
                ..Probe::default()
            }),
            ..shell(&format!(
                "exec python3 -m http.server {web_port} --bind 127.0.0.1"
            ))
        },
    );
    // worker: started once web is.
    spec.processes.insert(
        "worker".into(),
        ProcessSpec {
            depends_on: depends(&[("web", Condition::ProcessStarted)]),
            ..shell("exec sleep 600")
        },
    );
    let (events, call) = recorder();
    let cancel = CancelToken::new();
    let call = call.with_cancel(Some(cancel.clone()));
    let state_dir = dir.path().join("state");
    let sd = state_dir.clone();
    let runner =
        std::thread::spawn(move || supervise::supervise(spec, &sd, Mode::Foreground, false, &call));
    wait_until("every process up", Duration::from_secs(20), || {
        supervise::status(&state_dir).is_ok_and(|s| {
            s.processes
                .iter()
                .all(|p| p.state == ProcessState::Healthy || p.state == ProcessState::Completed)
        })
    });
    let up = supervise::status(&state_dir).unwrap();
    assert_eq!(up.state, SupervisorState::Running);
    let pids: Vec<u32> = up.processes.iter().filter_map(|p| p.pid).collect();
    assert_eq!(pids.len(), 3, "{up:?}");
    // The web server answers: ready meant ready.
    std::net::TcpStream::connect(("127.0.0.1", web_port)).unwrap();
    cancel.cancel();
    let end = runner.join().unwrap().unwrap();
    assert_eq!(end.state, SupervisorState::Stopped);
    assert_eq!(end.reason.as_deref(), Some("cancelled"));
    let s = states(&events);
    use ProcessState::*;
    // Start order: db healthy before migrate runs, migrate completed before web runs,
    // web started before worker.
    assert!(first(&s, "db", Healthy) < first(&s, "migrate", Healthy));
    assert!(first(&s, "migrate", Completed) < first(&s, "web", Running));
    assert!(first(&s, "web", Running) < first(&s, "worker", Healthy));
    // Shutdown in reverse: worker before web before db.
    assert!(first(&s, "worker", Stopped) < first(&s, "web", Stopping));
    assert!(first(&s, "web", Stopped) < first(&s, "db", Stopping));
    for pid in pids {
        assert!(!alive(pid), "{pid} still runs after the shutdown");
    }
    // Status is JSON on disk, and says stopped.
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("supervisor.json")).unwrap()).unwrap();
    assert_eq!(on_disk["state"], "stopped");
}

#[test]
fn a_killed_process_restarts_with_growing_backoff_up_to_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SupervisorSpec::default();
    let mut p = shell("exec sleep 600");
    p.availability.restart = RestartPolicy::Always;
    p.availability.backoff_seconds = 0.1;
    p.availability.max_backoff_seconds = 0.4;
    spec.processes.insert("svc".into(), p);
    let mut flaky = shell("exit 3");
    flaky.availability.restart = RestartPolicy::OnFailure;
    flaky.availability.backoff_seconds = 0.05;
    flaky.availability.max_backoff_seconds = 0.2;
    flaky.availability.max_restarts = 4;
    spec.processes.insert("flaky".into(), flaky);
    let (events, call) = recorder();
    let cancel = CancelToken::new();
    let call = call.with_cancel(Some(cancel.clone()));
    let sd = dir.path().to_path_buf();
    let runner =
        std::thread::spawn(move || supervise::supervise(spec, &sd, Mode::Foreground, false, &call));
    let pid_of = |dir: &Path| {
        supervise::status(dir).ok().and_then(|s| {
            s.processes
                .iter()
                .find(|p| p.name == "svc")
                .and_then(|p| p.pid)
        })
    };
    wait_until("svc running", Duration::from_secs(10), || {
        pid_of(dir.path()).is_some()
    });
    let first_pid = pid_of(dir.path()).unwrap();
    for round in 1..=3 {
        let pid = pid_of(dir.path()).unwrap();
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        wait_until("svc restarted", Duration::from_secs(10), || {
            supervise::status(dir.path()).is_ok_and(|s| {
                s.processes
                    .iter()
                    .any(|p| p.name == "svc" && p.restarts == round && p.pid.is_some())
            })
        });
    }
    assert_ne!(pid_of(dir.path()), Some(first_pid));
    // flaky gave up after 4 restarts.
    wait_until("flaky failed", Duration::from_secs(10), || {
        supervise::status(dir.path()).is_ok_and(|s| {
            s.processes
                .iter()
                .any(|p| p.name == "flaky" && p.state == ProcessState::Failed)
        })
    });
    cancel.cancel();
    runner.join().unwrap().unwrap();
    let delays = |name: &str| -> Vec<u64> {
        events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::ProcessState {
                    name: n,
                    state: ProcessState::Restarting,
                    delay_ms,
                    exit_code,
                    ..
                } if n == name => {
                    assert!(exit_code.is_some());
                    *delay_ms
                }
                _ => None,
            })
            .collect()
    };
    // Doubling from the first delay, capped.
    assert_eq!(delays("svc"), vec![100, 200, 400]);
    assert_eq!(delays("flaky"), vec![50, 100, 200, 200]);
    let killed = events.lock().unwrap().iter().any(|e| {
        matches!(e, Event::ProcessState { name, state: ProcessState::Restarting, exit_code: Some(137), .. } if name == "svc")
    });
    assert!(killed, "a SIGKILL is exit 137");
    let failed = events.lock().unwrap().iter().any(|e| {
        matches!(e, Event::ProcessState { name, state: ProcessState::Failed, message: Some(m), .. }
            if name == "flaky" && m.contains("exited with 3 after 4 restarts"))
    });
    assert!(failed);
}

#[test]
fn a_failing_liveness_probe_restarts_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("alive");
    let mut p = shell(&format!("touch {}; exec sleep 600", flag.display()));
    p.liveness_probe = Some(probe_exec(&format!("test -f {}", flag.display()), 0.05, 2));
    p.availability.restart = RestartPolicy::OnFailure;
    p.availability.backoff_seconds = 0.05;
    let mut spec = SupervisorSpec::default();
    spec.processes.insert("svc".into(), p);
    let (events, call) = recorder();
    let st = supervise::supervise(
        spec,
        &dir.path().join("s"),
        Mode::Background {
            timeout: Duration::from_secs(10),
        },
        false,
        &call,
    )
    .unwrap();
    let pid = st.processes[0].pid.unwrap();
    wait_until("the flag", Duration::from_secs(5), || flag.exists());
    std::fs::remove_file(&flag).unwrap();
    wait_until("a restart", Duration::from_secs(10), || {
        supervise::status(&dir.path().join("s"))
            .is_ok_and(|s| s.processes[0].restarts == 1 && s.processes[0].pid.is_some())
    });
    assert!(!alive(pid));
    // Events ended with the call: the restart is seen in the status, not as events.
    let seen = states(&events);
    assert!(!seen.iter().any(|(_, s)| *s == ProcessState::Restarting));
    let down = supervise::down(&dir.path().join("s"), Duration::from_secs(10), None).unwrap();
    assert_eq!(down.state, SupervisorState::Stopped);
    assert!(down.processes[0].pid.is_none());
}

#[test]
fn up_that_never_gets_ready_fails_naming_the_process_and_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SupervisorSpec::default();
    spec.processes
        .insert("other".into(), shell("exec sleep 600"));
    let mut p = shell("echo starting; exec sleep 600");
    p.readiness_probe = Some(probe_exec("echo not yet >&2; exit 1", 0.05, 3));
    spec.processes.insert("never".into(), p);
    let (_events, call) = recorder();
    let t = Instant::now();
    let err = supervise::supervise(
        spec,
        dir.path(),
        Mode::Background {
            timeout: Duration::from_secs(1),
        },
        false,
        &call,
    )
    .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(err.kind, ErrorKind::Network);
    assert!(
        err.message.contains("never is unhealthy"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("exited with 1: not yet"),
        "{}",
        err.message
    );
    assert!(err.message.contains("never.log"), "{}", err.message);
    let st = supervise::status(dir.path()).unwrap();
    assert_eq!(st.state, SupervisorState::Stopped);
    assert!(st.processes.iter().all(|p| p.pid.is_none()));
    // The output is in the process's log.
    let log = std::fs::read_to_string(dir.path().join("logs/never.log")).unwrap();
    assert!(log.contains("starting"));
}

#[test]
fn down_kills_the_whole_process_group_and_a_second_up_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SupervisorSpec::default();
    // A grandchild in the background: only a signal to the group reaches it.
    let pidfile = dir.path().join("grandchild.pid");
    let mut p = shell(&format!(
        "trap '' TERM; sleep 600 & echo $! > {}; wait",
        pidfile.display()
    ));
    p.shutdown.timeout_seconds = 0.5;
    spec.processes.insert("stubborn".into(), p);
    let sd = dir.path().join("s");
    let bg = Mode::Background {
        timeout: Duration::from_secs(10),
    };
    let st = supervise::supervise(spec.clone(), &sd, bg, false, &Call::new()).unwrap();
    let pid = st.processes[0].pid.unwrap();
    wait_until("the grandchild", Duration::from_secs(5), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.trim().parse::<u32>().is_ok())
    });
    let grandchild: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(grandchild));
    let again = supervise::supervise(spec, &sd, bg, false, &Call::new()).unwrap_err();
    assert_eq!(again.kind, ErrorKind::Conflict);
    assert!(
        again.message.contains("runs there already"),
        "{}",
        again.message
    );
    let (events, _) = recorder();
    let sink_events = events.clone();
    let sink: idpkit::EventSink =
        Arc::new(move |e: &Event| sink_events.lock().unwrap().push(e.clone()));
    let t = Instant::now();
    let down = supervise::down(&sd, Duration::from_secs(10), Some(&sink)).unwrap();
    // It ignored SIGTERM, so it took the timeout and a SIGKILL to the group.
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(down.processes[0].state, ProcessState::Stopped);
    wait_until("every process gone", Duration::from_secs(5), || {
        !alive(pid) && !alive(grandchild)
    });
    assert!(states(&events).contains(&("stubborn".into(), ProcessState::Stopped)));
    // A second down finds nothing to do and says so without error.
    let again = supervise::down(&sd, Duration::from_secs(5), None).unwrap();
    assert_eq!(again.state, SupervisorState::Stopped);
}

#[test]
fn logs_rotate_by_size_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = shell(
        "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done",
    );
    p.log.max_bytes = 2000;
    p.log.keep = 2;
    let mut spec = SupervisorSpec::default();
    spec.processes.insert("chatty".into(), p);
    let (events, call) = recorder();
    let end = supervise::supervise(spec, dir.path(), Mode::Foreground, true, &call).unwrap();
    assert_eq!(end.reason.as_deref(), Some("every process ended"));
    assert_eq!(end.processes[0].state, ProcessState::Completed);
    let logs = dir.path().join("logs");
    let read = |n: &str| std::fs::read_to_string(logs.join(n)).unwrap();
    assert!(read("chatty.log").contains("line-399-"));
    assert!(read("chatty.log.1").len() <= 2000);
    assert!(read("chatty.log").len() <= 2000);
    assert!(logs.join("chatty.log.2").exists());
    assert!(!logs.join("chatty.log.3").exists());
    // The oldest lines were rotated away.
    assert!(!read("chatty.log.2").contains("line-0-"));
    // Output events carry every line.
    let lines = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::ProcessOutput { name, .. } if name == "chatty"))
        .count();
    assert_eq!(lines, 400);
}

#[test]
fn every_line_is_logged_and_sent_before_the_exit_is_reported() {
    // A burst of output right before the exit: the exit used to be reported (and
    // supervise to return) while the log was still being written, so a caller reading
    // the log at once missed its end. 50,001 lines take the drain far longer than the
    // process takes to exit.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SupervisorSpec::default();
    spec.processes
        .insert("burst".into(), shell("seq 1 50000; echo last-line"));
    let (events, call) = recorder();
    let end = supervise::supervise(spec, dir.path(), Mode::Foreground, true, &call).unwrap();
    assert_eq!(end.processes[0].state, ProcessState::Completed);
    let log = std::fs::read_to_string(dir.path().join("logs").join("burst.log")).unwrap();
    assert!(
        log.ends_with("49999\n50000\nlast-line\n"),
        "log ends {:?}",
        &log[log.len().saturating_sub(40)..]
    );
    let events = events.lock().unwrap();
    let is_output = |e: &Event| matches!(e, Event::ProcessOutput { name, .. } if name == "burst");
    assert_eq!(events.iter().filter(|e| is_output(e)).count(), 50_001);
    let last_line = events.iter().rposition(is_output).unwrap();
    let completed = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::ProcessState {
                    state: ProcessState::Completed,
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        last_line < completed,
        "the exit was reported before the last line"
    );
}

#[test]
fn a_dependency_that_fails_fails_its_dependents_without_starting_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SupervisorSpec::default();
    spec.processes.insert("migrate".into(), shell("exit 2"));
    spec.processes.insert(
        "web".into(),
        ProcessSpec {
            depends_on: depends(&[("migrate", Condition::ProcessCompletedSuccessfully)]),
            ..shell("exec sleep 600")
        },
    );
    let (events, call) = recorder();
    let end = supervise::supervise(spec, dir.path(), Mode::Foreground, false, &call).unwrap();
    let web = end.processes.iter().find(|p| p.name == "web").unwrap();
    assert_eq!(web.state, ProcessState::Failed);
    assert!(web.pid.is_none());
    assert!(
        web.message
            .as_deref()
            .unwrap()
            .contains("migrate is failed"),
        "{web:?}"
    );
    assert!(!states(&events).contains(&("web".into(), ProcessState::Running)));
}

#[test]
fn bad_specs_are_refused_by_name() {
    let mut spec = SupervisorSpec::default();
    spec.processes.insert(
        "a".into(),
        ProcessSpec {
            depends_on: depends(&[("b", Condition::ProcessStarted)]),
            ..shell("true")
        },
    );
    spec.processes.insert(
        "b".into(),
        ProcessSpec {
            depends_on: depends(&[("a", Condition::ProcessStarted)]),
            ..shell("true")
        },
    );
    let e = spec.check().unwrap_err();
    assert!(e.message.contains("cycle among a, b"), "{}", e.message);
    let mut spec = SupervisorSpec::default();
    spec.processes.insert("../x".into(), shell("true"));
    assert!(spec
        .check()
        .unwrap_err()
        .message
        .contains("not a process name"));
    let mut spec = SupervisorSpec::default();
    spec.processes.insert("a".into(), ProcessSpec::default());
    assert!(spec
        .check()
        .unwrap_err()
        .message
        .contains("process \"a\": command is missing"));
}

#[test]
fn files_in_three_shapes_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let procfile = write(
        "Procfile",
        "# comment\n\nweb: python3 -m http.server 8000\nworker:   bundle exec sidekiq -c 2\n",
    );
    let toml = write(
        "p.toml",
        r#"
[processes.web]
command = "python3 -m http.server 8000"
working_dir = "site"
readiness_probe = { http_get = { port = 8000, path = "/health" }, period_seconds = 0.5 }
[processes.worker]
args = ["bundle", "exec", "sidekiq", "-c", "2"]
depends_on = { web = { condition = "process_healthy" } }
availability = { restart = "always", backoff_seconds = 2, max_backoff_seconds = 60 }
shutdown = { signal = "SIGINT", timeout_seconds = 20 }
"#,
    );
    let yaml = write(
        "p.yaml",
        r#"version: "0.5"
processes:
  web:
    command: python3 -m http.server 8000
    working_dir: site
    environment: ["A=1", "B=x=y"]
    readiness_probe:
      http_get: {port: 8000, path: /health}
      period_seconds: 1
  worker:
    args: [bundle, exec, sidekiq, "-c", "2"]
    depends_on:
      web: {condition: process_healthy}
    shutdown: {signal: 2, timeout_seconds: 20}
"#,
    );
    let p = supervise::file::read(&procfile).unwrap();
    assert_eq!(
        p.processes["worker"].command.as_deref(),
        Some("bundle exec sidekiq -c 2")
    );
    assert_eq!(p.processes["web"].working_dir.as_deref(), Some(dir.path()));
    let t = supervise::file::read(&toml).unwrap();
    assert_eq!(
        t.processes["web"].working_dir,
        Some(dir.path().join("site"))
    );
    assert_eq!(
        t.processes["worker"].depends_on["web"].condition,
        Condition::ProcessHealthy
    );
    assert_eq!(
        t.processes["worker"].availability.restart,
        RestartPolicy::Always
    );
    let h = t.processes["web"].readiness_probe.as_ref().unwrap();
    assert_eq!(h.http_get.as_ref().unwrap().path, "/health");
    assert_eq!(h.period_seconds, 0.5);
    let y = supervise::file::read(&yaml).unwrap();
    assert_eq!(y.processes["web"].environment["B"], "x=y");
    assert_eq!(y.processes["worker"].shutdown.signal, "2");
    assert_eq!(y.processes["worker"].args, t.processes["worker"].args);
    assert_eq!(
        supervise::spec::signal_number(&y.processes["worker"].shutdown.signal).unwrap(),
        libc::SIGINT
    );
}

#[test]
fn bad_files_are_refused_with_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("a.yaml", "processes:\n  web:\n    command: x\n    is_daemon: true\n", "is_daemon"),
        ("b.toml", "[processes.web]\ncommand = \"x\"\nrestart = \"always\"\n", "restart"),
        ("c.toml", "[processes.web]\ncommand = \"x\"\ndepends_on = { db = {} }\n", "names \"db\", which is not a process"),
        ("d.yaml", "processes:\n  web:\n    command: x\n    shutdown: {signal: SIGFOO}\n", "SIGFOO"),
        ("e.yaml", "processes:\n  web:\n    command: x\n    readiness_probe: {exec: {command: \"true\"}, tcp_socket: {port: 1}}\n", "exactly one of"),
        ("Procfile", "web python3 app.py\n", "Procfile:1: expected `name: command`"),
        ("Procfile2", "web: a\nweb: b\n", "defined twice"),
        ("f.yaml", "processes: [1, 2\n", "not valid YAML"),
    ];
    for (name, text, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let e = supervise::file::read(&p).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{name}: {}", e.message);
        assert!(e.message.contains(want), "{name}: {}", e.message);
        assert!(
            e.message.contains(name.trim_end_matches('2')),
            "{name}: {}",
            e.message
        );
    }
    // Not a file at all, or too big.
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    assert!(supervise::file::read(&big)
        .unwrap_err()
        .message
        .contains("at most 1 MiB"));
    assert!(supervise::file::read(dir.path()).is_err());
}

#[test]
fn a_forged_status_never_gets_an_unrelated_process_killed() {
    let dir = tempfile::tempdir().unwrap();
    // A process that is not ours, in a group of its own.
    let mut victim = std::process::Command::new("sleep")
        .arg("600")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = victim.id();
    // A status (as a dead supervisor would have left it) naming that pid with another
    // start time: a reused id.
    let forged = serde_json::json!({
        "dir": dir.path(), "pid": 999999, "state": "running", "started": "2026-01-01T00:00:00Z",
        "reason": null,
        "processes": [{"name": "web", "state": "healthy", "pid": pid, "start_ticks": 1,
            "ready": true, "restarts": 0, "exit_code": null, "message": null,
            "log": dir.path().join("logs/web.log")}]
    });
    std::fs::write(
        dir.path().join("supervisor.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let st = supervise::down(dir.path(), Duration::from_secs(5), None).unwrap();
    assert_eq!(st.state, SupervisorState::Stopped);
    assert!(st
        .reason
        .unwrap()
        .contains("0 processes left over were killed"));
    assert!(
        alive(pid),
        "a process with the recorded pid but not its start was killed"
    );
    // The control FIFO swapped for a symlink is not followed.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("supervisor.ctl")).unwrap();
    assert!(!supervise::state::request_stop(dir.path()).unwrap_or(false));
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "");
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[test]
fn hostile_processes_and_probe_peers_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // A server that accepts and never answers, and one that answers garbage forever.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let flood = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let flood_port = flood.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in flood.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::Write;
                let mut s = s;
                while s.write_all(&[b'x'; 4096]).is_ok() {}
            });
        }
    });
    let http = |port: u16| Probe {
        http_get: Some(HttpProbe {
            port,
            ..HttpProbe::default()
        }),
        period_seconds: 0.05,
        timeout_seconds: 0.2,
        failure_threshold: 2,
        ..Probe::default()
    };
    let mut spec = SupervisorSpec::default();
    spec.processes.insert(
        "silent".into(),
        ProcessSpec {
            readiness_probe: Some(http(silent_port)),
            ..shell("exec sleep 600")
        },
    );
    spec.processes.insert(
        "flooded".into(),
        ProcessSpec {
            readiness_probe: Some(http(flood_port)),
            ..shell("exec sleep 600")
        },
    );
    // A process printing 4 MiB without a newline, then one short line.
    spec.processes.insert(
        "noline".into(),
        shell("head -c 4194304 /dev/zero | tr '\\0' a; echo; echo done; exec sleep 600"),
    );
    let t = Instant::now();
    let err = supervise::supervise(
        spec,
        dir.path(),
        Mode::Background {
            timeout: Duration::from_secs(2),
        },
        false,
        &Call::new(),
    )
    .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(8));
    assert!(
        err.message.contains("silent is unhealthy"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("flooded is unhealthy"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("not an HTTP response"),
        "{}",
        err.message
    );
    drop(silent);
    let log = std::fs::read_to_string(dir.path().join("logs/noline.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0].len(), 8 << 10, "the long line is cut at 8 KiB");
    assert!(lines.contains(&"done"));
}

/// `sandbox_up` from Rust through the one dynamic entry every binding uses: real postgres
/// and redis, the events of the call, the status and env, and `sandbox_down`.
#[test]
fn sandbox_up_through_invoke_runs_real_servers_and_down_stops_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("Gemfile"), "gem \"pg\"\ngem \"redis\"\n").unwrap();
    let (events, call) = recorder();
    let opts = serde_json::json!({"dir": dir.path()}).to_string();
    // Stops the servers even when an assertion fails first.
    struct Down(String);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = idpkit::ops::invoke("sandbox_down", None, Some(&self.0), &Call::new());
        }
    }
    let _down = Down(opts.clone());
    let json = |s: String| -> serde_json::Value { serde_json::from_str(&s).unwrap() };
    let up = json(idpkit::ops::invoke("sandbox_up", None, Some(&opts), &call).unwrap());
    let n_events = events.lock().unwrap().len();
    let password = up["env"]["PGPASSWORD"].as_str().unwrap().to_string();
    for p in up["status"]["processes"].as_array().unwrap() {
        assert_eq!(p["state"], "healthy", "{p}");
    }
    let s = states(&events);
    assert!(
        s.contains(&("postgres".into(), ProcessState::Healthy)),
        "{s:?}"
    );
    assert!(s.contains(&("redis".into(), ProcessState::Healthy)));
    for e in events.lock().unwrap().iter() {
        assert!(!format!("{e:?}").contains(&password));
    }
    // The servers answer on the ports in the variables.
    let port: u16 = up["env"]["PGPORT"].as_str().unwrap().parse().unwrap();
    std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let env = json(idpkit::ops::invoke("sandbox_env", None, Some(&opts), &Call::new()).unwrap());
    assert_eq!(env["env"], up["env"]);
    // A second up is refused before it touches anything: ports, files and variables stay.
    let again = idpkit::ops::invoke("sandbox_up", None, Some(&opts), &Call::new()).unwrap_err();
    assert_eq!(again.kind, ErrorKind::Conflict);
    let env = json(idpkit::ops::invoke("sandbox_env", None, Some(&opts), &Call::new()).unwrap());
    assert_eq!(env["env"], up["env"]);
    let pids: Vec<u32> = up["status"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap() as u32)
        .collect();
    // No event reached the call's sink after it returned.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(events.lock().unwrap().len(), n_events);
    let (down_events, down_call) = recorder();
    let down = json(idpkit::ops::invoke("sandbox_down", None, Some(&opts), &down_call).unwrap());
    assert_eq!(down["state"], "stopped");
    let s = states(&down_events);
    assert!(
        s.contains(&("postgres".into(), ProcessState::Stopped)),
        "{s:?}"
    );
    for p in pids {
        wait_until("the server gone", Duration::from_secs(5), || !alive(p));
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn state_and_condition_names_are_their_json() {
    use ProcessState::*;
    for s in [
        Pending, Running, Healthy, Unhealthy, Restarting, Stopping, Stopped, Completed, Failed,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.name());
    }
    for c in [
        Condition::ProcessStarted,
        Condition::ProcessHealthy,
        Condition::ProcessCompleted,
        Condition::ProcessCompletedSuccessfully,
    ] {
        assert_eq!(serde_json::to_value(c).unwrap(), c.name());
    }
}
