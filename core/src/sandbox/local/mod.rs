//! The plan's services as local supervised processes, for machines without a container
//! engine (`sandbox up`): Debian's postgres, redis-server and mariadbd, each with its data
//! under the run's `services/` directory, a free loopback port, a throwaway password, and
//! a readiness probe; the connection URLs go to `services/env` (mode 0600) and to
//! `sandbox env`.
//!
//! Ports and passwords are chosen once per run and kept in `services/services.json` (mode
//! 0600), so `down` then `up` finds its data with the password it was made with. No
//! password is ever on a command line: they reach the servers through files of mode 0600
//! and the probes through their environment.

mod mysql;
mod postgres;
mod redis;

use super::detect::Service;
use super::plan::ServicePlan;
use crate::error::{Error, ErrorKind, Result};
use crate::fsx;
use crate::supervise::{ExecProbe, Probe, ProcessSpec, RestartPolicy, SupervisorSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file recording each service's port and password.
pub const SECRETS_FILE: &str = "services.json";
/// The dotenv file with the connection variables.
pub const ENV_FILE: &str = "env";

/// One service made ready to run.
pub struct Prepared {
    pub process: ProcessSpec,
    /// Its connection variables (`DATABASE_URL`, `PGHOST`, …).
    pub env: BTreeMap<String, String>,
}

/// What a service keeps between `up`s.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Kept {
    pub port: u16,
    pub password: String,
}

/// Where a service's files go, its port and password, and who runs it.
pub struct Ctx<'a> {
    pub plan: &'a ServicePlan,
    /// `services/{name}`.
    pub dir: PathBuf,
    pub port: u16,
    pub password: String,
}

/// Prepares every service of `plan` in `state` (the run's `services/` directory): data
/// directories made once (built in a temporary sibling, then renamed), ports and passwords
/// chosen once. Returns the supervisor spec and the environment.
pub fn prepare(
    services: &[ServicePlan],
    state: &Path,
) -> Result<(SupervisorSpec, BTreeMap<String, String>)> {
    std::fs::create_dir_all(state).map_err(|e| Error::io("create", state, e))?;
    let mut kept = read_kept(state)?;
    let mut spec = SupervisorSpec::default();
    let mut env = BTreeMap::new();
    let mut taken = Vec::new();
    for plan in services {
        let name = plan.service.name();
        let k = kept.entry(name.to_string()).or_default();
        if k.password.is_empty() {
            k.password = random_password()?;
        }
        k.port = pick_port(k.port, &taken)?;
        taken.push(k.port);
        let dir = state.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let ctx = Ctx {
            plan,
            dir,
            port: k.port,
            password: k.password.clone(),
        };
        let prepared = match plan.service {
            Service::Postgres => postgres::prepare(ctx)?,
            Service::Redis => redis::prepare(ctx)?,
            Service::Mysql => mysql::prepare(ctx)?,
        };
        spec.processes.insert(name.to_string(), prepared.process);
        for (k, v) in prepared.env {
            // Two services both claiming DATABASE_URL: the first (postgres) keeps it, as
            // the plan warns.
            env.entry(k).or_insert(v);
        }
    }
    fsx::write_atomic_private(
        &state.join(SECRETS_FILE),
        &serde_json::to_vec_pretty(&kept).map_err(|e| Error::internal(e.to_string()))?,
    )?;
    fsx::write_atomic_private(&state.join(ENV_FILE), dotenv(&env).as_bytes())?;
    Ok((spec, env))
}

/// The environment recorded by the last `up` in `state`.
pub fn read_env(state: &Path) -> Result<BTreeMap<String, String>> {
    let path = state.join(ENV_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!(
                "{}: no services were brought up here; run `idpkit sandbox up` first",
                state.display()
            ))
        } else {
            Error::io("read", &path, e)
        }
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unquote(v)))
        .collect())
}

fn read_kept(state: &Path) -> Result<BTreeMap<String, Kept>> {
    let path = state.join(SECRETS_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            Error::invalid(format!(
                "{}: not a services record ({e}); remove the run's services directory",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

/// `KEY='value'` lines (values are URLs and words: single quotes suffice, and none is
/// expected to hold one).
pub fn dotenv(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', "'\\''")))
        .collect()
}

fn unquote(v: &str) -> String {
    v.strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .map(|v| v.replace("'\\''", "'"))
        .unwrap_or_else(|| v.to_string())
}

/// 24 hex characters from the kernel's random source: URL-safe, no quoting anywhere.
fn random_password() -> Result<String> {
    let mut b = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::io("read", Path::new("/dev/urandom"), e))?;
    Ok(hex::encode(b))
}

/// The port kept from before when it is still free, else a free one the OS picks.
fn pick_port(kept: u16, taken: &[u16]) -> Result<u16> {
    if kept != 0
        && !taken.contains(&kept)
        && std::net::TcpListener::bind(("127.0.0.1", kept)).is_ok()
    {
        return Ok(kept);
    }
    loop {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::new(ErrorKind::Io, format!("no free loopback port: {e}")))?;
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        if port != 0 && !taken.contains(&port) {
            return Ok(port);
        }
    }
}

/// The first of `names` found in `dirs`, then on PATH.
pub fn find_program(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    let path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in names {
        for d in dirs.iter().chain(path.iter()) {
            let p = d.join(name);
            if is_executable(&p) {
                return Some(p);
            }
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// NOT_FOUND naming the program and the Debian package that has it.
pub fn missing(program: &str, package: &str) -> Error {
    Error::not_found(format!(
        "{program} is not installed; install Debian's {package} package (apt-get install \
         {package}) or put {program} on PATH"
    ))
}

/// Runs a setup command (initdb, an install script) to its end; its output is in the error
/// when it fails. `stdin` is written to it.
pub fn run_setup(cmd: &mut Command, what: &str, stdin: Option<&str>) -> Result<()> {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot run {what}: {e}")))?;
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        let _ = input.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(ErrorKind::Io, format!("{what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let tail: Vec<&str> = text.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(Error::new(
        ErrorKind::Io,
        format!("{what} failed ({}): {}", out.status, tail.join(" | ")),
    ))
}

/// The uid and gid of the first of `users` that exists.
pub fn user_ids(users: &[&str]) -> Option<(u32, u32, String)> {
    for u in users {
        let c = std::ffi::CString::new(*u).ok()?;
        // SAFETY: getpwnam returns NULL or a pointer to static storage read at once.
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: non-NULL passwd entry.
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            return Some((uid, gid, u.to_string()));
        }
    }
    None
}

/// Whether `uid`/`gid` may enter every directory from `/` to `dir`; the first one it
/// cannot, when not.
pub fn unreachable_ancestor(dir: &Path, uid: u32, gid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut cur = PathBuf::new();
    for c in dir.components() {
        cur.push(c);
        let Ok(m) = std::fs::metadata(&cur) else {
            return Some(cur);
        };
        let bit = if m.uid() == uid {
            0o100
        } else if m.gid() == gid {
            0o010
        } else {
            0o001
        };
        if m.mode() & bit == 0 {
            return Some(cur);
        }
    }
    None
}

/// Gives `path` (recursively) to `uid`/`gid`.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    for e in walkdir::WalkDir::new(path).follow_links(false) {
        let e = e.map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        std::os::unix::fs::lchown(e.path(), Some(uid), Some(gid))
            .map_err(|err| Error::io("chown", e.path(), err))?;
    }
    Ok(())
}

/// The service user for a server that refuses root, when this process is root: the first
/// of `users` that exists, after checking it can reach `dir`.
pub fn service_user(server: &str, users: &[&str], dir: &Path) -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let Some((uid, gid, name)) = user_ids(users) else {
        return Err(Error::invalid(format!(
            "{server} refuses to run as root and none of the users {} exists; run idpkit as \
             a normal user",
            users.join(", ")
        )));
    };
    if let Some(blocked) = unreachable_ancestor(dir, uid, gid) {
        return Err(Error::invalid(format!(
            "{server} refuses to run as root, and its user {name} (uid {uid}) cannot enter \
             {} on the way to its data in {}; keep sandbox runs where other users can \
             enter (IDPKIT_SANDBOX_HOME or --root), or run idpkit as a normal user",
            blocked.display(),
            dir.display()
        )));
    }
    Ok(Some((uid, gid)))
}

/// A directory built in a temporary sibling by `make`, renamed to `dir` once complete; a
/// half-made one (a failed or killed setup) is removed first.
pub fn make_once(dir: &Path, complete: &str, make: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if dir.join(complete).exists() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("data");
    let tmp = parent.join(format!(".{name}-tmp"));
    for stale in [&tmp, &dir.to_path_buf()] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| Error::io("remove", stale, e))?;
        }
    }
    std::fs::create_dir(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    if let Err(e) = make(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io("rename", &tmp, e))?;
    fsx::sync_dir(parent).map_err(|e| Error::io("sync", parent, e))
}

/// A local server: `args`, ready when `probe` passes (checked every `period` seconds, at
/// most 2 s each, reported unhealthy after 200 failures in a row), restarted when it fails
/// (at most 5 times in a row).
pub fn server(args: Vec<String>, probe: ExecProbe, period: f64) -> ProcessSpec {
    let mut p = ProcessSpec {
        args,
        readiness_probe: Some(Probe {
            exec: Some(probe),
            period_seconds: period,
            timeout_seconds: 2.0,
            failure_threshold: 200,
            ..Probe::default()
        }),
        ..ProcessSpec::default()
    };
    p.availability.restart = RestartPolicy::OnFailure;
    p.availability.max_restarts = 5;
    p
}

/// The plan's URL variable (`DATABASE_URL`) with the local address and password.
pub fn url_env(ctx: &Ctx) -> BTreeMap<String, String> {
    let url = local_url(ctx.plan, ctx.port, &ctx.password);
    [(ctx.plan.url_env.clone(), url)].into_iter().collect()
}

/// `scheme://user@{host}:PORT/path` with the local host, port and password.
pub fn local_url(plan: &ServicePlan, port: u16, password: &str) -> String {
    let url = plan
        .url
        .replace(
            &format!("{{host}}:{}", plan.port),
            &format!("127.0.0.1:{port}"),
        )
        .replace("{host}", &format!("127.0.0.1:{port}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    match rest.split_once('@') {
        Some((user, host)) if !user.contains(':') => {
            format!("{scheme}://{user}:{password}@{host}")
        }
        Some(_) => url,
        // No user: Redis's `default` one (an empty user name fails with redis-cli -u).
        None => format!("{scheme}://default:{password}@{rest}"),
    }
}
