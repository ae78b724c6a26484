//! Ctrl-C and SIGTERM as cancellation, for commands that run until stopped.

/// Turns the first SIGINT or SIGTERM into `cancel`; a second one exits at once (130). The
/// signals are blocked in this thread before any other starts (the runtime's threads and
/// the sigwait thread inherit the mask), so they reach only the sigwait thread. Child
/// processes inherit the mask too: the supervisor clears it in every process it starts.
pub fn cancel_on_signals(cancel: idpkit::CancelToken) -> idpkit::Result<()> {
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
