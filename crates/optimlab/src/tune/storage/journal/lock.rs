//! Optuna's journal lock, with a portable fallback where there are no symlinks.

use crate::tune::error::{Result, TuneError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a lock whose journal does not change may be held before it is taken as stale
/// (Optuna's `grace_period` default).
const GRACE: Duration = Duration::from_secs(30);

/// Creates the lock: Optuna's symlink where there are symlinks; elsewhere (wasm32, where no
/// Optuna process can share the file) a file created exclusively.
fn make_lock(target: &Path, lock_path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, lock_path)
    }
    #[cfg(not(unix))]
    {
        let _ = target;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock_path)
            .map(drop)
    }
}

/// Optuna's `JournalFileSymlinkLock`: holding the lock means having created the symlink
/// `PATH.lock` → `PATH`. Released by renaming it to a unique name and unlinking that, so a
/// release never removes a lock another process has since taken.
pub(super) struct FileLock {
    lock_path: PathBuf,
}

impl FileLock {
    pub(super) fn acquire(target: &Path, lock_path: &Path) -> Result<Self> {
        let mut sleep = Duration::from_millis(1);
        let mut last_change = Instant::now();
        let mut mtime = None;
        loop {
            match make_lock(target, lock_path) {
                Ok(()) => {
                    return Ok(FileLock {
                        lock_path: lock_path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Like Optuna: the lock is stale when the journal it points to has not
                    // changed for the grace period.
                    if let Ok(t) = std::fs::metadata(lock_path).and_then(|m| m.modified()) {
                        if mtime != Some(t) {
                            mtime = Some(t);
                            last_change = Instant::now();
                        } else if last_change.elapsed() > GRACE {
                            release(lock_path);
                            last_change = Instant::now();
                            sleep = Duration::from_millis(1);
                            continue;
                        }
                    }
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(TuneError::Storage(format!(
                        "cannot take the journal lock '{}': {e}",
                        lock_path.display()
                    )));
                }
            }
        }
    }
}

fn release(lock_path: &Path) {
    static RELEASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RELEASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let renamed = PathBuf::from(format!(
        "{}{}-{n}.rename",
        lock_path.display(),
        std::process::id()
    ));
    if std::fs::rename(lock_path, &renamed).is_ok() {
        let _ = std::fs::remove_file(&renamed);
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        release(&self.lock_path);
    }
}
