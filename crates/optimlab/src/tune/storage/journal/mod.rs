//! Optuna's JournalStorage file format (`journal:PATH`), read and written, so that Optuna and
//! optuna-dashboard open our studies and we open theirs.
//!
//! The file is a log: one JSON object per line, each an operation with an `op_code` and a
//! `worker_id`. Study and trial ids are assigned by replay order (the n-th study created is
//! id n, the n-th trial created in the file is id n), trial numbers by order within the study.
//! Replay follows Optuna's `JournalStorageReplayResult` rules: a duplicate study name is
//! ignored, writes to a finished or unknown trial are ignored, and a `RUNNING` state written to
//! a trial that is already Running is ignored, so when several workers claim one Waiting trial
//! the first claim in the file wins.
//!
//! Leases, retries and the search space live in system attributes: no op code is ours.
//!
//! Writes append whole lines under Optuna's default lock (`JournalFileSymlinkLock`: a symlink
//! `PATH.lock` → `PATH` created exclusively, released by rename + unlink, broken after 30 s
//! without progress), one `write` per operation batch (a trial's parameters are one batch).
//! Durability ([`Sync`]): by default the write reaches the operating system before the call
//! returns, so a killed process loses nothing, and the file is fsynced at most once a second
//! and when the storage is dropped (SQLite's WAL with `synchronous=NORMAL` gives the same);
//! `journal:PATH?sync=full` fsyncs every append, as Optuna's `JournalFileBackend` does.
//! Every decision (the trial to claim, the next number, the
//! budget, fencing) is taken while holding that lock after reading the file to its end, so
//! optimlab writers exclude each other and Optuna writers too. Reads are incremental from the
//! last offset.
//!
//! A crash mid-write can leave a torn last line (no newline, incomplete JSON): readers ignore
//! it, and the next append cuts it off under the lock before writing, so the file stays one
//! Optuna reads. A torn line followed by others (a file written by an older version) is still
//! recognised (JSON that ends early) and skipped; any other unreadable line, or an unknown op
//! code, is an error naming the line. Whole lines are never rewritten.
//!
//! A study's direction is the first of Optuna's `directions` (optimlab studies have one
//! objective); Optuna's NOT_SET reads as minimise.
//!
//! Python's `json` writes `NaN`, `Infinity` and `-Infinity` literals; they are read, and
//! written the same way for non-finite values.
//!
//! The parts: `replay` reads and writes the log's lines and applies them to the model,
//! `file` reads the file incrementally and appends under the lock, `lock` is Optuna's
//! symlink lock.

mod file;
mod lock;
mod replay;

use super::model::{
    Claim, Model, blank_trial, check_fence, check_final, lease_value, requeue_copy, retries_of,
};
use super::{Storage, StudyInfo, TrialChanges, TrialsSeen, attrs, iso_now, unix_now};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use replay::{Replay, create_trial_op, jnum, merge, op};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// When appends reach the disk (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sync {
    /// Each append is written to the OS before the call returns (a killed process loses
    /// nothing); the file is fsynced at an append a second or more after the last fsync, and
    /// when the storage is dropped. A power cut may lose the last second's appends; a torn
    /// last line is cut off by the next writer.
    #[default]
    Normal,
    /// Every append is fsynced before the call returns (`journal:PATH?sync=full`).
    Full,
}

impl Sync {
    /// Splits `PATH?sync=normal|full` into the path and the mode (`PATH` alone: normal).
    pub fn from_url_path(path: &str) -> (&str, Sync) {
        if let Some(p) = path.strip_suffix("?sync=full") {
            (p, Sync::Full)
        } else if let Some(p) = path.strip_suffix("?sync=normal") {
            (p, Sync::Normal)
        } else {
            (path, Sync::Normal)
        }
    }
}

pub struct JournalStorage {
    path: PathBuf,
    sync: Sync,
    lock_path: PathBuf,
    /// This storage object's prefix of `worker_id` (Optuna uses a UUID and the thread).
    worker_prefix: String,
    replay: Mutex<Replay>,
}

impl JournalStorage {
    /// Opens the journal at `path` (created empty if missing, as Optuna does) and replays it;
    /// appends are fsynced as [`Sync::Normal`] says.
    pub fn open(path: &str) -> Result<Self> {
        Self::open_with(path, Sync::Normal)
    }

    /// [`Self::open`] with the given durability.
    pub fn open_with(path: &str, sync: Sync) -> Result<Self> {
        if path.is_empty() {
            return Err(TuneError::Config(
                "journal storage URL has no path: expected journal:PATH".into(),
            ));
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TuneError::Storage(format!("cannot open journal '{path}': {e}")))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let s = JournalStorage {
            path: PathBuf::from(path),
            sync,
            lock_path: PathBuf::from(format!("{path}.lock")),
            worker_prefix: format!("optimlab-{}-{nanos:x}", std::process::id()),
            replay: Mutex::new(Replay {
                model: Model::default(),
                offset: 0,
                lines: 0,
                synced: None,
                dirty: false,
            }),
        };
        drop(s.caught_up()?);
        Ok(s)
    }

    fn worker_id(&self, worker: &str) -> String {
        format!("{}-{worker}", self.worker_prefix)
    }

    fn study_attr(
        &self,
        study: u64,
        code: i64,
        field: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        let wid = self.worker_id("study");
        self.locked(
            |m| {
                m.study(study)?;
                Ok((
                    vec![json!({"op_code": code, "worker_id": wid, "study_id": study,
                        field: {key: value}})],
                    (),
                ))
            },
            |_, ()| Ok(()),
        )
    }

    /// One fenced trial write.
    fn trial_op(&self, trial_id: u64, worker: &str, fields: Value, code: i64) -> Result<()> {
        let wid = self.worker_id(worker);
        self.locked(
            |m| {
                check_fence(m.trial(trial_id)?, worker)?;
                let mut op = json!({"op_code": code, "worker_id": wid, "trial_id": trial_id});
                merge(&mut op, fields);
                Ok((vec![op], ()))
            },
            |_, ()| Ok(()),
        )
    }
}

impl Drop for JournalStorage {
    /// What this storage appended reaches the disk before it goes (see [`Sync::Normal`]).
    fn drop(&mut self) {
        let mut r = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        // Nothing to report to: a failed fsync here leaves the data with the OS.
        let _ = self.sync_now(&mut r);
    }
}

impl Storage for JournalStorage {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        let wid = self.worker_id("study");
        self.locked(
            |m| {
                if m.find_study(name).is_some() {
                    return Err(TuneError::StudyMismatch(format!(
                        "a study named '{name}' already exists"
                    )));
                }
                let id = m.next_study;
                let mut ops = vec![json!({"op_code": op::CREATE_STUDY, "worker_id": wid,
                    "study_name": name, "directions": [direction.code()]})];
                for (k, v) in system_attrs {
                    ops.push(
                        json!({"op_code": op::SET_STUDY_SYSTEM_ATTR, "worker_id": wid,
                        "study_id": id, "system_attr": {k: v}}),
                    );
                }
                Ok((ops, ()))
            },
            |m, ()| {
                m.find_study(name)
                    .map(|s| s.info.clone())
                    .ok_or_else(|| TuneError::Storage(format!("study '{name}' was not created")))
            },
        )
    }

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        Ok(self
            .caught_up()?
            .model
            .find_study(name)
            .map(|s| s.info.clone()))
    }

    fn studies(&self) -> Result<Vec<StudyInfo>> {
        Ok(self
            .caught_up()?
            .model
            .studies
            .values()
            .map(|s| s.info.clone())
            .collect())
    }

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.study_attr(study, op::SET_STUDY_USER_ATTR, "user_attr", key, value)
    }

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.study_attr(study, op::SET_STUDY_SYSTEM_ATTR, "system_attr", key, value)
    }

    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        let wid = self.worker_id(worker);
        // The file lock makes the first attempt win against lock-respecting writers; the
        // loop covers a writer that appended a claim without it.
        for _ in 0..16 {
            let got = self.locked(
                |m| {
                    let lease_attr = lease_value(worker, lease);
                    Ok(match m.next_claim(study, budget)? {
                        Claim::Nothing => (vec![], None),
                        Claim::Waiting(id) => (
                            vec![
                                json!({"op_code": op::SET_TRIAL_STATE_VALUES, "worker_id": wid,
                                    "trial_id": id, "state": TrialState::Running.code(),
                                    "values": null, "datetime_start": iso_now()}),
                                json!({"op_code": op::SET_TRIAL_SYSTEM_ATTR, "worker_id": wid,
                                    "trial_id": id, "system_attr": {attrs::LEASE: lease_attr}}),
                            ],
                            Some(id),
                        ),
                        Claim::New => {
                            let mut t = blank_trial(TrialState::Running);
                            t.datetime_start = Some(iso_now());
                            t.system_attrs.insert(attrs::LEASE.into(), lease_attr);
                            (
                                vec![create_trial_op(&wid, study, &t)],
                                Some(m.trials.len() as u64),
                            )
                        }
                    })
                },
                |m, id| {
                    Ok(match id {
                        None => Some(None),
                        Some(id) => {
                            let t = m.trial(id)?;
                            check_fence(t, worker).ok().map(|_| Some(t.clone()))
                        }
                    })
                },
            )?;
            if let Some(answer) = got {
                return Ok(answer);
            }
        }
        Err(TuneError::Storage(format!(
            "journal '{}': could not claim a trial (other writers keep taking them without the lock)",
            self.path.display()
        )))
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"system_attr": {attrs::LEASE: lease_value(worker, lease)}}),
            op::SET_TRIAL_SYSTEM_ATTR,
        )
    }

    fn set_param(
        &self,
        trial_id: u64,
        worker: &str,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"param_name": name, "param_value_internal": jnum(internal),
                "distribution": dist.to_json().to_string()}),
            op::SET_TRIAL_PARAM,
        )
    }

    /// One append of one line per parameter (Optuna has no op for several).
    fn set_params(
        &self,
        trial_id: u64,
        worker: &str,
        params: &[(&str, &Distribution, f64)],
    ) -> Result<()> {
        let wid = self.worker_id(worker);
        self.locked(
            |m| {
                check_fence(m.trial(trial_id)?, worker)?;
                let ops = params
                    .iter()
                    .map(|&(name, dist, internal)| {
                        json!({"op_code": op::SET_TRIAL_PARAM, "worker_id": wid,
                            "trial_id": trial_id, "param_name": name,
                            "param_value_internal": jnum(internal),
                            "distribution": dist.to_json().to_string()})
                    })
                    .collect();
                Ok((ops, ()))
            },
            |_, ()| Ok(()),
        )
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"step": step, "intermediate_value": jnum(value)}),
            op::SET_TRIAL_INTERMEDIATE_VALUE,
        )
    }

    fn set_trial_user_attr(
        &self,
        trial_id: u64,
        worker: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"user_attr": {key: value}}),
            op::SET_TRIAL_USER_ATTR,
        )
    }

    fn finish(
        &self,
        trial_id: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
    ) -> Result<()> {
        check_final(state)?;
        self.trial_op(
            trial_id,
            worker,
            json!({"state": state.code(), "values": value.map(|v| vec![jnum(v)]),
                "datetime_complete": iso_now()}),
            op::SET_TRIAL_STATE_VALUES,
        )
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        let wid = self.worker_id("reaper");
        self.locked(
            |m| {
                let mut ops = Vec::new();
                let mut failed = Vec::new();
                let mut next_number = m.study(study)?.trials.len() as u64;
                for id in m.expired(study, unix_now())? {
                    let old = m.trial(id)?;
                    failed.push(old.number);
                    // The mark goes first: Optuna ignores writes to a finished trial.
                    let retry = retries_of(old) < u64::from(max_retries);
                    if retry {
                        ops.push(
                            json!({"op_code": op::SET_TRIAL_SYSTEM_ATTR, "worker_id": wid,
                            "trial_id": id, "system_attr": {attrs::REQUEUED_AS: next_number}}),
                        );
                    }
                    ops.push(
                        json!({"op_code": op::SET_TRIAL_STATE_VALUES, "worker_id": wid,
                        "trial_id": id, "state": TrialState::Fail.code(), "values": null,
                        "datetime_complete": iso_now()}),
                    );
                    if retry {
                        ops.push(create_trial_op(&wid, study, &requeue_copy(old)));
                        next_number += 1;
                    }
                }
                Ok((ops, failed))
            },
            |_, failed| Ok(failed),
        )
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.caught_up()?.model.study_trials(study)
    }

    /// Catches up from the last offset read, then answers from the replayed model.
    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        self.caught_up()?.model.changed_since(study, seen.version)
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        let wid = self.worker_id("import");
        self.locked(
            |m| {
                let number = m.study(study)?.trials.len() as u64;
                Ok((vec![create_trial_op(&wid, study, trial)], number))
            },
            |_, number| Ok(number),
        )
    }
}
