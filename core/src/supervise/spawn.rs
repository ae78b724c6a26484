//! Starting one process: its own process group (so a stop signal reaches everything it
//! started, and a terminal's Ctrl-C reaches only the supervisor, which then stops the
//! processes in order), SIGKILL as its parent-death signal (a supervisor killed with -9
//! leaves no process behind it started), stdin from /dev/null, and stdout and stderr into
//! one pipe that `logs.rs` drains.

use super::spec::ProcessSpec;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// Starts `p`; returns the child and the read end of its output pipe.
pub fn spawn(p: &ProcessSpec) -> io::Result<(Child, io::PipeReader)> {
    let mut cmd = match &p.command {
        Some(line) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(line);
            c
        }
        None => {
            let mut c = Command::new(&p.args[0]);
            c.args(&p.args[1..]);
            c
        }
    };
    if let Some(dir) = &p.working_dir {
        cmd.current_dir(dir);
    }
    cmd.envs(&p.environment);
    let (reader, writer) = io::pipe()?;
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        if let Some(gid) = p.group {
            cmd.gid(gid);
        }
        if let Some(uid) = p.user {
            cmd.uid(uid);
        }
    }
    cmd.process_group(0);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    // std changes the user before running this, and a credential change clears the
    // parent-death signal, so it is set here, after.
    unsafe {
        cmd.pre_exec(move || {
            clear_signal_mask()?;
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The supervisor died between fork and prctl: do not run unsupervised.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // `cmd` (holding the pipe's write ends) is dropped here, so the reader sees
    // end-of-file once the process group's last writer is gone.
    drop(cmd);
    Ok((child, reader))
}

/// Unblocks every signal in a forked child. A program that handles Ctrl-C with sigwait
/// (the CLI) blocks SIGINT and SIGTERM in all its threads, and a blocked mask survives
/// fork and exec: a server that does not set its own mask (redis-server) would then never
/// see its stop signal. Async-signal-safe.
pub(crate) fn clear_signal_mask() -> io::Result<()> {
    // SAFETY: an empty set built on the stack, then installed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `signal` to the process group `pgid`; false when the group is gone.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    // SAFETY: signalling a process group.
    unsafe { libc::kill(-(pgid as libc::pid_t), signal) == 0 }
}

/// The exit code of a status: its code, or 128 + the signal that ended it.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}
