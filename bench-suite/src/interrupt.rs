//! Ctrl-C and SIGTERM during a run: the first asks the run to stop (it saves what finished,
//! atomically, and exits 130); a second exits at once. A signal handler only sets a flag
//! (signal-hook), and the run polls it between cases and while it waits on a worker, so
//! nothing is written from inside a handler and no file is left half-written: every file
//! halbench writes goes through a rename.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The exit code of an interrupted run (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once; the command line does, a library caller need not).
pub fn install() {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The shutdown hook first: it fires only once the flag is already set, that
            // is on the second signal.
            let _ = signal_hook::flag::register_conditional_shutdown(
                signal,
                i32::from(INTERRUPTED),
                flag.clone(),
            );
            let _ = signal_hook::flag::register(signal, flag.clone());
        }
        flag
    });
}

/// Whether a stop was asked for (always false when [`install`] was never called).
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}
