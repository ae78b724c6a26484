//! `idpkit run` and `idpkit sandbox up | status | env | down` end to end, with real servers
//! (Debian's postgresql, redis-server and mariadb) and real signals: Ctrl-C stops a
//! foreground supervisor in reverse dependency order, `kill -9` of a detached one leaves no
//! process it started once `down` (or the next `up`) ran, a killed database restarts with
//! backoff on its port, and `down` then `up` keeps the data and the password.

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn idpkit() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idpkit"))
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(idpkit());
    c.args(args)
        .env_remove("IDPKIT_SANDBOX_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn status(dir: &Path) -> Value {
    let out = run(&["--json", "sandbox", "status", dir.to_str().unwrap()]);
    serde_json::from_str(&ok(&out)).unwrap()
}

fn pids(st: &Value) -> Vec<u32> {
    st["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["pid"].as_u64().map(|p| p as u32))
        .collect()
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s[s.rfind(')').unwrap() + 2..].starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary directory other users can enter (postgres runs as its own user when the
/// tests run as root).
fn open_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Runs `sandbox down DIR` when dropped, so a failing test leaves no server running.
struct DownOnDrop(PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = run(&["sandbox", "down", self.0.to_str().unwrap()]);
    }
}

fn stderr_of(mut child: Child) -> (Option<i32>, String, String) {
    let status = child.wait().unwrap();
    let mut err = String::new();
    let mut out = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.code(), out, err)
}

#[test]
fn ctrl_c_stops_a_foreground_run_in_reverse_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = dir.path().join("processes.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[processes.db]
command = "exec python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\",{port})); s.listen(); print(\"db listening\", flush=True); time.sleep(600)'"
readiness_probe = {{ tcp_socket = {{ port = {port} }}, period_seconds = 0.05 }}

[processes.web]
command = "echo web starts; exec sleep 600"
depends_on = {{ db = {{ condition = "process_healthy" }} }}
"#
        ),
    )
    .unwrap();
    let child = cmd(&["run", file.to_str().unwrap()]).spawn().unwrap();
    let state = dir.path().join(".idpkit-run");
    wait_until("both up", Duration::from_secs(15), || {
        state.join("supervisor.json").exists()
            && status(&state)["processes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["state"] == "healthy")
    });
    let st = status(&state);
    let started = pids(&st);
    assert_eq!(started.len(), 2);
    assert_eq!(st["pid"].as_u64().unwrap() as u32, child.id());
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (code, out, err) = stderr_of(child);
    assert_eq!(code, Some(0), "{err}");
    // The processes' output, prefixed, on stdout.
    assert!(out.contains("db | db listening"), "{out}");
    assert!(out.contains("web | web starts"), "{out}");
    // web (the dependent) is stopped before db is asked to stop.
    let at = |s: &str| err.find(s).unwrap_or_else(|| panic!("no {s:?} in {err}"));
    assert!(at("[db] healthy") < at("[web] healthy"));
    assert!(at("[web] stopped") < at("[db] stopping"), "{err}");
    assert!(err.contains("stopped (cancelled)"), "{err}");
    for p in started {
        assert!(!alive(p), "{p} outlived Ctrl-C");
    }
    assert_eq!(status(&state)["state"], "stopped");
}

#[test]
fn kill_9_of_a_detached_supervisor_leaves_nothing_once_down_or_up_ran() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Procfile");
    let grandchild = dir.path().join("grandchild.pid");
    std::fs::write(
        &file,
        format!(
            "# a process with a child of its own in its group\nfamily: sleep 600 & echo $! > {}; exec sleep 601\nsolo: exec sleep 602\n",
            grandchild.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let _down = DownOnDrop(state.clone());
    let out = run(&["run", file.to_str().unwrap(), "--detach", "--state-dir", s]);
    ok(&out);
    let st = status(&state);
    let supervisor = st["pid"].as_u64().unwrap() as u32;
    let children = pids(&st);
    assert_eq!(children.len(), 2);
    wait_until("the grandchild", Duration::from_secs(5), || {
        std::fs::read_to_string(&grandchild).is_ok_and(|s| s.trim().parse::<u32>().is_ok())
    });
    let gc: u32 = std::fs::read_to_string(&grandchild)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(supervisor as i32, libc::SIGKILL) };
    // Its own children die with it (parent-death signal) ...
    wait_until("the children gone", Duration::from_secs(5), || {
        children.iter().all(|p| !alive(*p))
    });
    // ... the grandchild is reparented, alive, and status says who must clean up.
    assert!(alive(gc));
    let st = status(&state);
    assert!(
        st["reason"]
            .as_str()
            .unwrap()
            .contains("ended without stopping its processes; `down` cleans up"),
        "{st}"
    );
    // The next detached run cleans up first, then starts afresh.
    let out = run(&["run", file.to_str().unwrap(), "--detach", "--state-dir", s]);
    ok(&out);
    wait_until("the grandchild killed", Duration::from_secs(5), || {
        !alive(gc)
    });
    let st = status(&state);
    let second = pids(&st);
    let gc2: u32 = std::fs::read_to_string(&grandchild)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Killed again, and this time `down` sweeps.
    unsafe { libc::kill(st["pid"].as_u64().unwrap() as i32, libc::SIGKILL) };
    wait_until("the children gone", Duration::from_secs(5), || {
        second.iter().all(|p| !alive(*p))
    });
    let out = run(&["sandbox", "down", s]);
    let said = ok(&out);
    assert!(said.contains("left over were killed"), "{said}");
    wait_until("every process gone", Duration::from_secs(5), || !alive(gc2));
    assert_eq!(status(&state)["state"], "stopped");
}

#[test]
fn process_compose_yaml_runs_and_a_bad_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("process-compose.yaml");
    // process-compose's own spellings: version, environment as a list, a numeric signal.
    std::fs::write(
        &file,
        r#"version: "0.5"
processes:
  greeter:
    command: "echo hello $WHO; exec sleep 600"
    environment:
      - "WHO=platform"
    shutdown:
      signal: 15
      timeout_seconds: 5
    availability:
      restart: on_failure
"#,
    )
    .unwrap();
    let state = dir.path().join(".idpkit-run");
    let _down = DownOnDrop(state.clone());
    // A bare file name, as a user types it in the file's directory.
    let out = cmd(&["run", "process-compose.yaml", "--detach"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&out);
    wait_until("the greeting", Duration::from_secs(5), || {
        std::fs::read_to_string(state.join("logs/greeter.log"))
            .is_ok_and(|l| l.contains("hello platform"))
    });
    ok(&run(&["sandbox", "down", state.to_str().unwrap()]));
    std::fs::write(
        &file,
        "processes:\n  web:\n    command: \"true\"\n    is_daemon: true\n",
    )
    .unwrap();
    let out = run(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("is_daemon"), "{err}");
    assert!(err.contains("process-compose.yaml"), "{err}");
}

#[test]
fn sandbox_up_runs_real_postgres_and_redis_and_keeps_their_data_across_down_and_up() {
    let dir = open_tempdir();
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(
        app.join("Gemfile"),
        "source \"https://rubygems.org\"\ngem \"rails\"\ngem \"pg\"\ngem \"redis\"\n",
    )
    .unwrap();
    let a = app.to_str().unwrap();
    let _down = DownOnDrop(app.clone());
    let out = run(&["sandbox", "up", a]);
    let dotenv = ok(&out);
    let env: std::collections::HashMap<String, String> = dotenv
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    let db = &env["DATABASE_URL"];
    assert!(db.starts_with("postgres://sandbox:"), "{db}");
    let password = env["PGPASSWORD"].clone();
    assert_eq!(password.len(), 24);
    let psql = |sql: &str| {
        let o = Command::new("psql")
            .args([db.as_str(), "-tAc", sql])
            .output()
            .unwrap();
        (
            o.status.success(),
            text(&o.stdout).trim().to_string(),
            text(&o.stderr),
        )
    };
    let (good, _, e) = psql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    assert!(good, "{e}");
    let redis = Command::new("redis-cli")
        .args(["-u", &env["REDIS_URL"], "--no-auth-warning", "ping"])
        .output()
        .unwrap();
    assert_eq!(text(&redis.stdout).trim(), "PONG");
    // No password on any command line.
    let st = status(&app);
    for pid in pids(&st) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(!text(&cmdline).contains(&password));
    }
    let env_file = app.join(".idpkit/services/env");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // `sandbox env --export` for `eval`.
    let exported = ok(&run(&["sandbox", "env", a, "--export"]));
    assert!(exported.contains(&format!("export DATABASE_URL='{db}'")));
    // Kill the database: it comes back, on the same port, after its backoff. (Commits are
    // asynchronous in a sandbox, durability traded for speed: a checkpoint first makes the
    // row survive a crash.)
    assert!(psql("CHECKPOINT").0);
    let pg = st["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "postgres")
        .unwrap()["pid"]
        .as_u64()
        .unwrap() as i32;
    unsafe { libc::kill(pg, libc::SIGKILL) };
    wait_until("postgres back", Duration::from_secs(20), || {
        status(&app)["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "postgres" && p["restarts"] == 1 && p["state"] == "healthy")
    });
    let (good, v, e) = psql("SELECT v FROM kept");
    assert!(good, "{e}");
    assert_eq!(v, "still here");
    let out = run(&["sandbox", "down", a]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains("[postgres] stopped") && err.contains("[redis] stopped"),
        "{err}"
    );
    assert!(!err.contains(&password) && !text(&out.stdout).contains(&password));
    let st = status(&app);
    assert_eq!(st["state"], "stopped");
    assert!(pids(&st).is_empty());
    assert!(!psql("SELECT 1").0, "postgres still answers after down");
    // Up again: same data, same password.
    ok(&run(&["sandbox", "up", a, "--service", "postgres"]));
    assert_eq!(psql("SELECT v FROM kept").1, "still here");
    ok(&run(&["sandbox", "down", a]));
}

#[test]
fn sandbox_up_runs_mariadb_for_a_mysql_project() {
    let dir = open_tempdir();
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("Gemfile"), "gem \"rails\"\ngem \"mysql2\"\n").unwrap();
    let a = app.to_str().unwrap();
    let _down = DownOnDrop(app.clone());
    let out = run(&["--json", "sandbox", "up", a]);
    let r: Value = serde_json::from_str(&ok(&out)).unwrap();
    let url = r["env"]["DATABASE_URL"].as_str().unwrap().to_string();
    assert!(url.starts_with("mysql2://root:"), "{url}");
    // mysql2://root:PASS@127.0.0.1:PORT/sandbox_development
    let rest = url.trim_start_matches("mysql2://root:");
    let (pass, rest) = rest.split_once('@').unwrap();
    let (hostport, db) = rest.split_once('/').unwrap();
    let port = hostport.rsplit(':').next().unwrap();
    let q = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-P",
            port,
        ])
        .args(["-u", "root", "-N", "-e", "SELECT DATABASE()", db])
        .env("MYSQL_PWD", pass)
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", text(&q.stderr));
    assert_eq!(text(&q.stdout).trim(), db);
    // Without the password: refused.
    let q = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-P",
            port,
        ])
        .args(["-u", "root", "-e", "SELECT 1"])
        .env_remove("MYSQL_PWD")
        .output()
        .unwrap();
    assert!(!q.status.success());
    ok(&run(&["sandbox", "down", a]));
    assert!(pids(&status(&app)).is_empty());
}

#[test]
fn sandbox_up_names_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing to run: a directory whose plan has no services and none named.
    let out = run(&["sandbox", "status", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no supervisor ran here"));
    let out = run(&[
        "sandbox",
        "up",
        dir.path().to_str().unwrap(),
        "--service",
        "mongodb",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("postgres, mysql and redis"));
}
