//! SIGINT/SIGTERM, SIGPIPE and panics: how the binary ends when it is told to, when its reader
//! goes away, or on a bug.
//!
//! `train`, `tune run`/`worker` and `experiment all` stop gracefully ([`OnSignal::Graceful`]):
//! the first signal raises the stop flag (a run finishes its step and writes a checkpoint; a
//! tuning worker gives its trial back; `experiment all` finishes the experiment under way and
//! writes the reports done), a second one ends the process at once. A single experiment ends at once ([`OnSignal::AtOnce`]). Ending at once
//! first removes the folders registered with [`cleanup_on_signal`] (a report's staging
//! folder), so an interrupted command leaves nothing half-written.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// The signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Held across steps that must not be cut in two by an exit on a signal (see [`critical`]).
static CRITICAL: Mutex<()> = Mutex::new(());

/// Defers an exit on a signal until the guard is dropped: moving a finished report into place
/// takes two renames, and quitting between them would leave neither the old nor the new one
/// at the target.
pub fn critical() -> std::sync::MutexGuard<'static, ()> {
    CRITICAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The flag the first SIGINT/SIGTERM raises when handlers were installed with
/// [`OnSignal::Graceful`].
pub fn stop_flag() -> Arc<AtomicBool> {
    STOP.get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// The exit code of the signal that stopped the run (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code() -> Option<u8> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some((128 + sig) as u8),
    }
}

/// Removes `dir` (a folder or a file) if the process is ended by a signal before [`keep`] is called for it.
pub fn cleanup_on_signal(dir: &Path) {
    CLEANUP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(dir.to_path_buf());
}

/// No longer removes `dir` on a signal.
pub fn keep(dir: &Path) {
    CLEANUP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|d| d != dir);
}

fn remove_registered() {
    let dirs = std::mem::take(&mut *CLEANUP.lock().unwrap_or_else(|e| e.into_inner()));
    for d in dirs {
        if d.is_dir() {
            let _ = std::fs::remove_dir_all(d);
        } else {
            let _ = std::fs::remove_file(d);
        }
    }
}

/// What the first SIGINT/SIGTERM does; each says so on stderr with its line.
#[derive(Clone, Copy, Debug)]
pub enum OnSignal {
    /// Raise [`stop_flag`]; a second signal ends the process at once.
    Graceful(&'static str),
    /// Remove the registered folders and end the process (exit 128 + signal).
    AtOnce(&'static str),
}

/// Whether a graceful stop was asked for (see [`OnSignal::Graceful`]).
pub fn stop_requested() -> bool {
    stop_flag().load(Ordering::SeqCst)
}

/// A command that stopped early on a signal, after writing what it had finished: `main` prints
/// the message (what was written) and exits with the signal's code.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Installs SIGINT/SIGTERM handling (see the module doc).
#[cfg(unix)]
pub fn install(on: OnSignal) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // Default handling: the process ends.
    };
    let stop = stop_flag();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let first = RECEIVED.swap(sig, Ordering::SeqCst) == 0;
            if let OnSignal::Graceful(line) = on
                && first
            {
                stop.store(true, Ordering::SeqCst);
                eprintln!("{line}");
                continue;
            }
            // Quitting now: wait out a report being moved into place, then remove what is
            // unfinished.
            let _wait = critical();
            remove_registered();
            match on {
                OnSignal::Graceful(_) => {
                    eprintln!("interrupted again: quit at once; unfinished files removed")
                }
                OnSignal::AtOnce(line) => eprintln!("{line}"),
            }
            std::process::exit(128 + sig);
        }
    });
}

#[cfg(not(unix))]
pub fn install(_on: OnSignal) {}

/// Writing to a closed pipe (`optimlab … | head`) ends the process quietly, as for other
/// Unix tools, instead of a panic in `println!`: restores SIGPIPE's default action, which
/// the Rust runtime sets to "ignore".
pub fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A panic is a bug: one line, "internal error: …", no backtrace unless RUST_BACKTRACE asks.
pub fn panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let repo = env!("CARGO_PKG_REPOSITORY");
        let report = if repo.is_empty() {
            "please report it with the command that caused it".to_string()
        } else {
            format!("please report at {repo}/issues")
        };
        let msg = msg.lines().collect::<Vec<_>>().join(" ");
        eprintln!("internal error: {msg}{at} ({report})");
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}
