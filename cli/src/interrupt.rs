//! Ctrl-C and SIGTERM as cancellation: installed once when the CLI starts, before any thread,
//! so every command's call carries the same token. The first signal cancels (the operation
//! ends with CANCELLED, exit 11; a supervisor stops its processes in order first); a second
//! one exits at once with 130.

use std::sync::OnceLock;

static TOKEN: OnceLock<idpkit::CancelToken> = OnceLock::new();

/// Installs the handler; call first thing in `main`.
pub fn install() -> idpkit::Result<()> {
    let token = idpkit::CancelToken::new();
    cancel_on_signals(token.clone())?;
    let _ = TOKEN.set(token);
    Ok(())
}

/// The token Ctrl-C cancels (a fresh one when no handler was installed).
pub fn token() -> idpkit::CancelToken {
    TOKEN.get().cloned().unwrap_or_default()
}

/// Turns the first SIGINT or SIGTERM into `cancel`; a second one exits at once (130). The
/// signals are blocked in this thread before any other starts (the runtime's threads and
/// the sigwait thread inherit the mask), so they reach only the sigwait thread. Child
/// processes inherit the mask too: the supervisor clears it in every process it starts.
fn cancel_on_signals(cancel: idpkit::CancelToken) -> idpkit::Result<()> {
    // SAFETY: plain libc calls on a zeroed sigset_t owned here.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(idpkit::Error::internal(format!(
                "cannot block SIGINT and SIGTERM to handle them: {}",
                std::io::Error::from_raw_os_error(rc)
            )));
        }
        set
    };
    std::thread::Builder::new()
        .name("idpkit-signals".into())
        .spawn(move || {
            let mut seen = 0;
            loop {
                let mut signal = 0;
                // SAFETY: `set` is a valid, initialized sigset_t.
                if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                    return;
                }
                seen += 1;
                if seen == 1 {
                    cancel.cancel();
                } else {
                    std::process::exit(130);
                }
            }
        })
        .map_err(|e| idpkit::Error::internal(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}
