//! One check of a probe: a command's exit status, a TCP connect, or an HTTP GET's status.
//! The HTTP check is a plain HTTP/1.1 request on a socket rather than the registry's
//! client: a probe talks to a local process, needs no TLS, pooling or redirects, and must
//! stay cheap at a few checks a second.

use super::spec::{ExecProbe, HttpProbe, Probe};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs one check; the error says what failed (kept short: it lands in the status).
pub fn check(probe: &Probe) -> Result<(), String> {
    let timeout = Duration::from_secs_f64(probe.timeout_seconds);
    if let Some(e) = &probe.exec {
        exec(e, timeout)
    } else if let Some(h) = &probe.http_get {
        http(h, timeout)
    } else if let Some(t) = &probe.tcp_socket {
        connect(&t.host, t.port, timeout).map(drop)
    } else {
        Err("no probe".into())
    }
}

fn exec(e: &ExecProbe, timeout: Duration) -> Result<(), String> {
    let mut cmd = match &e.command {
        Some(line) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(line);
            c
        }
        None => {
            let mut c = Command::new(&e.args[0]);
            c.args(&e.args[1..]);
            c
        }
    };
    cmd.envs(&e.environment)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: async-signal-safe (see spawn::clear_signal_mask).
    unsafe { cmd.pre_exec(super::spawn::clear_signal_mask) };
    let mut child = cmd
        .spawn()
        .map_err(|err| format!("cannot run the probe: {err}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                // SAFETY: signalling the probe's own process group.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = child.wait();
                return Err(format!("the probe took longer than {timeout:?}"));
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut out = String::new();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let _ = pipe.take(512).read_to_string(&mut out);
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let code = super::spawn::exit_code(status);
    Err(if out.is_empty() {
        format!("the probe exited with {code}")
    } else {
        format!("the probe exited with {code}: {}", truncate(&out, 200))
    })
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    let mut last = format!("{host}:{port}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{host}:{port}: {e}"),
        }
    }
    Err(last)
}

fn http(h: &HttpProbe, timeout: Duration) -> Result<(), String> {
    let mut s = connect(&h.host, h.port, timeout)?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let path = if h.path.starts_with('/') {
        h.path.clone()
    } else {
        format!("/{}", h.path)
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: idpkit-probe\r\nConnection: close\r\n\r\n",
        h.host, h.port
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{}:{}: {e}", h.host, h.port))?;
    // The status line is all a probe needs; read at most a little.
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("{}:{}: {e}", h.host, h.port)),
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let code: u16 = line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{}:{}: not an HTTP response", h.host, h.port))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("GET {path} answered {code}"))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
