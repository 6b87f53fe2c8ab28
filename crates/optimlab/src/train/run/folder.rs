//! The files of a run folder: history, checkpoints, the final model, atomic writes.

use super::{ResolvedRun, RunError};
use crate::tensor::Scalar;
use crate::train::checkpoint::{self, CheckpointMeta};
use crate::train::export::export_safetensors;
use crate::train::{EpochRecord, IterRecord, Trainer, TrainerState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The settings, with a `[resolved]` table.
pub const CONFIG_FILE: &str = "config.toml";
/// One JSON line per iteration (`{"kind":"iter",…}`) and per epoch (`{"kind":"epoch",…}`).
pub const HISTORY_FILE: &str = "history.jsonl";
/// How the run ended, with its final numbers.
pub const SUMMARY_FILE: &str = "summary.json";
/// Everything needed to resume: weights, optimizer state, random streams, trainer state.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The trained weights with the configuration that rebuilds the network.
pub const MODEL_FILE: &str = "model.safetensors";

/// The lock file that keeps a second process out of a run folder (it holds the owner's PID).
pub const LOCK_FILE: &str = ".lock";

/// Holds a run folder (or an experiment's report folder) for this process; removes its lock
/// file when dropped.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
}

impl FolderLock {
    /// Takes `dir/.lock`, creating it with this process's PID. A lock held by a live process is
    /// refused; one left by a process that no longer runs (killed) is taken over.
    pub fn acquire(dir: &Path) -> Result<FolderLock, RunError> {
        Self::acquire_file(&dir.join(LOCK_FILE), dir)
    }

    /// [`FolderLock::acquire`] with the lock file at `path` (beside a folder that is replaced
    /// as a whole, such as a report); `what` is named in the error.
    pub fn acquire_file(path: &Path, what: &Path) -> Result<FolderLock, RunError> {
        let path = path.to_path_buf();
        let dir = what;
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id()).map_err(|e| {
                        RunError::io_with(format!("cannot write {}", path.display()), e)
                    })?;
                    return Ok(FolderLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    if owner.is_some_and(process_alive) {
                        return Err(RunError::Config(format!(
                            "{} is in use by process {} (lock file {}); wait for it to finish",
                            dir.display(),
                            owner.unwrap_or_default(),
                            path.display()
                        )));
                    }
                    // Stale: its process is gone (or the file is unreadable). Take it over.
                    std::fs::remove_file(&path).ok();
                }
                Err(e) => {
                    return Err(RunError::io_with(
                        format!("cannot create the lock file {}", path.display()),
                        e,
                    ));
                }
            }
        }
        Err(RunError::Config(format!(
            "{} is in use by another process (lock file {})",
            dir.display(),
            path.display()
        )))
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        std::fs::remove_file(&self.path).ok();
    }
}

/// Whether process `pid` runs. Only Linux can tell (through /proc); elsewhere a lock is kept
/// until removed by hand.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes the temporary files (`.NAME.tmp-*`) an interrupted atomic write left behind. Call
/// with the folder locked, so no other process is writing one.
pub(super) fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp-") {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}

/// Refuses to resume when `config.toml` no longer says what the checkpoint was trained with,
/// naming the keys that changed (the budget and threads may change).
pub(super) fn check_config_unchanged(
    current: &super::RunConfig,
    saved: &str,
    checkpoint: &Path,
) -> Result<(), RunError> {
    // Resolved as `current` was, so defaults made explicit since compare equal.
    let saved = super::RunConfig::from_toml_str(saved, &checkpoint.display().to_string())?
        .resolve()?
        .config;
    let strip = |c: &super::RunConfig| -> Result<toml::Table, RunError> {
        let mut t = c.table()?;
        for key in ["epochs", "iters", "threads", "resolved"] {
            t.remove(key);
        }
        Ok(t)
    };
    let (a, b) = (strip(current)?, strip(&saved)?);
    let mut changed: Vec<&str> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| k.as_str())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    if !changed.is_empty() {
        return Err(RunError::Config(format!(
            "{} was changed since the checkpoint was written ({} differ); --resume keeps the run's settings: restore them, or start a new run",
            checkpoint.with_file_name(CONFIG_FILE).display(),
            changed.join(", ")
        )));
    }
    Ok(())
}

/// Restores a resumed run's state from its folder, or loads `init_from` weights.
pub(super) fn prepare<T: Scalar>(
    resolved: &ResolvedRun,
    out: &Path,
    resume: bool,
    trainer: &mut Trainer<T>,
) -> Result<(), RunError> {
    if resume {
        let path = out.join(CHECKPOINT_FILE);
        let ckpt = checkpoint::load::<T>(&path)?;
        check_config_unchanged(&resolved.config, &ckpt.meta.config, &path)?;
        ckpt.apply_to_network(&mut trainer.net)?;
        ckpt.restore_network_rngs(&mut trainer.net)?;
        let bad = |what: String| RunError::Config(format!("{}: {what}", path.display()));
        let optimizer_state = ckpt
            .optimizer
            .as_ref()
            .ok_or_else(|| bad("the checkpoint has no optimizer state".into()))?;
        trainer
            .optimizer
            .load_state(&mut trainer.net, optimizer_state)
            .map_err(|e| bad(e.to_string()))?;
        let json = ckpt
            .meta
            .extra
            .get("trainer")
            .ok_or_else(|| bad("the checkpoint has no trainer state".into()))?;
        let state: TrainerState = serde_json::from_str(json)
            .map_err(|e| bad(format!("unreadable trainer state: {e}")))?;
        trainer.restore(state);
    } else if let Some(init) = &resolved.config.init_from {
        let weights = checkpoint::load_weights::<T>(Path::new(init))?;
        weights.apply_to_network(&mut trainer.net)?;
    }
    Ok(())
}

/// Writes the resumable checkpoint (atomically; the previous one stays until the new one is
/// complete).
pub(super) fn save_checkpoint<T: Scalar>(
    resolved: &ResolvedRun,
    out: &Path,
    trainer: &mut Trainer<T>,
) -> Result<(), RunError> {
    let mut extra = BTreeMap::new();
    extra.insert(
        "trainer".to_string(),
        serde_json::to_string(&trainer.state()).expect("trainer state serialises"),
    );
    let meta = CheckpointMeta {
        epoch: trainer.epoch() as u64,
        iter: trainer.iter() as u64,
        config: resolved.to_toml()?,
        scheduler: None,
        rngs: checkpoint::network_rngs(&mut trainer.net),
        extra,
    };
    checkpoint::save(
        &out.join(CHECKPOINT_FILE),
        &trainer.net,
        Some(&trainer.optimizer),
        &meta,
    )?;
    Ok(())
}

/// Writes `model.safetensors`: the trained weights and the configuration that rebuilds them.
pub(super) fn save_model<T: Scalar>(
    resolved: &ResolvedRun,
    out: &Path,
    trainer: &Trainer<T>,
) -> Result<(), RunError> {
    let config = resolved.to_toml()?;
    export_safetensors(&out.join(MODEL_FILE), &trainer.net, Some(&config))?;
    Ok(())
}

/// Creates the run folder and checks it can be written to.
pub(super) fn ensure_writable(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        RunError::io_with(format!("cannot create the run folder {}", dir.display()), e)
    })?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| RunError::io_with(format!("cannot write to {}", dir.display()), e))?;
    std::fs::remove_file(&probe).ok();
    if !dir.is_dir() {
        return Err(RunError::Config(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees a half-written file.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    checkpoint::write_atomic(path, |w| w.write_all(bytes))
        .map_err(|e| RunError::io_with(format!("cannot write {}", path.display()), e))
}

/// `history.jsonl`, appended to as training goes.
pub(super) struct History {
    path: PathBuf,
    file: BufWriter<std::fs::File>,
    /// The first write error of the hot loop, reported after the epoch.
    error: Option<std::io::Error>,
}

impl History {
    /// Opens the history for appending; on resume, first drops the lines of iterations the
    /// checkpoint does not hold (`iter` onwards), including a line cut off by a crash.
    pub fn open(dir: &Path, resume: bool, iter: usize) -> Result<History, RunError> {
        let path = dir.join(super::HISTORY_FILE);
        if resume {
            keep_history_before(&path, iter)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| RunError::io_with(format!("cannot open {}", path.display()), e))?;
        Ok(History {
            path,
            file: BufWriter::new(file),
            error: None,
        })
    }

    /// One iteration's line. Written by hand: this runs every iteration and allocates nothing.
    pub fn iteration(&mut self, r: &IterRecord) {
        if let Err(e) = writeln!(
            self.file,
            "{{\"kind\":\"iter\",\"iter\":{},\"loss\":{},\"lr\":{}}}",
            r.iter,
            JsonNumber(r.loss),
            JsonNumber(r.lr)
        ) {
            self.error.get_or_insert(e);
        }
    }

    /// Reports the first write error of the iterations so far.
    pub fn check(&mut self) -> Result<(), RunError> {
        match self.error.take() {
            Some(e) => Err(self.write_error(e)),
            None => Ok(()),
        }
    }

    /// One epoch's line, flushed.
    pub fn epoch(&mut self, record: &EpochRecord) -> Result<(), RunError> {
        let line = json_line("epoch", record);
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .map_err(|e| self.write_error(e))
    }

    pub fn finish(mut self) -> Result<(), RunError> {
        self.check()?;
        self.file.flush().map_err(|e| self.write_error(e))
    }

    fn write_error(&self, e: std::io::Error) -> RunError {
        RunError::io_with(format!("cannot write {}", self.path.display()), e)
    }
}

/// `{"kind":KIND, …the record's fields…}`: "kind" first, as documented.
fn json_line<R: Serialize>(kind: &str, record: &R) -> String {
    let serde_json::Value::Object(map) = serde_json::to_value(record).expect("records serialise")
    else {
        unreachable!("a record is a struct")
    };
    let mut line = format!("{{\"kind\":{}", serde_json::Value::from(kind));
    for (k, val) in map.iter().filter(|(k, _)| *k != "kind") {
        line.push_str(&format!(",{}:{}", serde_json::Value::from(k.as_str()), val));
    }
    line.push('}');
    line
}

/// A float as JSON: non-finite values (which JSON cannot hold) become `null`.
struct JsonNumber(f64);

impl std::fmt::Display for JsonNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_finite() {
            // Rust prints the shortest text that reads back as the same f64.
            write!(f, "{:?}", self.0)
        } else {
            f.write_str("null")
        }
    }
}

/// On resume: keeps the history lines of iterations before `iter` (what the checkpoint holds)
/// and drops the rest, including a line cut off by a crash.
fn keep_history_before(path: &Path, iter: usize) -> Result<(), RunError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at = v["iter"].as_u64().unwrap_or(u64::MAX) as usize;
        let keep = match v["kind"].as_str() {
            Some("iter") => at < iter,
            Some("epoch") => at <= iter,
            _ => false,
        };
        if keep {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    write_atomic(path, kept.as_bytes())
}

/// A new run folder `PARENT/NAME` for a name made of anything (characters other than ASCII
/// letters, digits and `-` become `_`), with `-2`, `-3`, … appended while the folder exists.
pub fn free_run_folder(parent: &Path, name: &str) -> PathBuf {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut path = parent.join(&base);
    let mut k = 2;
    while path.exists() {
        path = parent.join(format!("{base}-{k}"));
        k += 1;
    }
    path
}

#[cfg(test)]
mod free_folder_tests {
    use super::free_run_folder;

    #[test]
    fn a_taken_name_gets_the_next_free_suffix_and_unsafe_characters_are_replaced() {
        let root = tempfile::tempdir().unwrap();
        let first = free_run_folder(root.path(), "digits-adam w/x");
        assert_eq!(first, root.path().join("digits-adam_w_x"));
        std::fs::create_dir(&first).unwrap();
        let second = free_run_folder(root.path(), "digits-adam w/x");
        assert_eq!(second, root.path().join("digits-adam_w_x-2"));
        std::fs::create_dir(&second).unwrap();
        assert_eq!(
            free_run_folder(root.path(), "digits-adam w/x"),
            root.path().join("digits-adam_w_x-3")
        );
    }
}
