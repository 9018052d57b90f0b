//! SIGINT and SIGTERM end a scan as the end of its input would.
//!
//! The handler only sets a flag; it is installed without `SA_RESTART`, so
//! a read blocked on a pipe returns `EINTR`, and the reader then sees the
//! end of its input: the scan closes its windows, writes their alerts and
//! the summary, and exits. A second signal ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Whether a signal asked the scan to stop.
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    if STOP.swap(true, Ordering::Relaxed) {
        // The second one: the default action, now. Both calls are
        // async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Installs the handlers (once per process, by the `ward` binary only:
/// tests that run the CLI in-process keep their own).
#[cfg(unix)]
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid empty one; the handler only
        // touches an atomic and async-signal-safe calls.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut act.sa_mask);
            act.sa_flags = 0;
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

#[cfg(not(unix))]
pub fn install() {}
