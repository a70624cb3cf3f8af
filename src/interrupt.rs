//! Ctrl-C and SIGTERM: the first one asks the running command to stop at the next safe point
//! and keep what it finished; a second one ends the process at once.
//!
//! Long commands (`calibrate`, `plan --verify`, `bench`) call [`install`] and poll
//! [`requested`] between workloads. Nothing is written by the handler itself: the second signal
//! exits with status 130 before any write starts, and every write is atomic
//! ([`crate::profile::write_atomically`]), so the file on disk is the old one or the complete
//! new one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// Exit status of a command stopped by a signal, as shells report SIGINT (128 + 2).
pub const EXIT_CODE: u8 = 130;

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once per process; later calls do
/// nothing). The first signal prints what will happen and sets [`requested`]; the second exits
/// with [`EXIT_CODE`] immediately. When a handler cannot be installed (another one owns the
/// signal), the default behaviour stays: the process ends on the signal.
pub fn install() {
    INSTALL.call_once(|| {
        let result = ctrlc::set_handler(|| {
            if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
                eprintln!(
                    "\nhwcal: interrupted: finishing the current measurement, then writing what is done (interrupt again to quit at once, writing nothing)"
                );
            } else {
                eprintln!("\nhwcal: interrupted twice: quitting now; the output file is unchanged");
                std::process::exit(i32::from(EXIT_CODE));
            }
        });
        if let Err(e) = result {
            eprintln!("hwcal: warning: cannot catch Ctrl-C ({e}): an interruption will lose the run");
        }
    });
}

/// Whether the user asked the command to stop (one signal received).
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
