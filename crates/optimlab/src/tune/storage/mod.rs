//! Where a study lives. One trait, four back ends chosen by URL:
//!
//! | URL | back end |
//! |---|---|
//! | `memory` | in this process only (tests, one-off runs) |
//! | `sqlite:PATH` | an embedded SQLite file in Optuna's RDB schema: the default; WAL, busy timeout, short transactions |
//! | `postgres://…` | PostgreSQL in Optuna's RDB schema, for workers on many machines (`FOR UPDATE SKIP LOCKED`) |
//! | `journal:PATH` | Optuna's JournalStorage file format, read and written; fsynced once a second (`journal:PATH?sync=full`: every append, as Optuna) |
//!
//! **Leases.** A worker holds a Running trial under a lease that it renews with
//! [`Storage::heartbeat`]. [`Storage::reap_expired`] fails trials whose lease ran out and
//! re-queues a copy (state Waiting, same parameters) up to a retry limit. Every write to a
//! trial names the worker; a write from a worker that no longer holds the trial is rejected
//! with [`TuneError::LeaseLost`] (fencing), so no trial completes twice.
//!
//! **Budget.** [`Storage::claim_trial`] takes a study-wide budget: it creates a new trial only
//! while fewer than `budget` trials count. A failed trial that was re-queued does not count
//! (its retry does), so a crash does not eat the budget.
//!
//! **Shared rules.** Every back end behaves the same, checked by the conformance suite
//! (`tests/storage_conformance`): trial numbers 0, 1, 2, … per study under any number of
//! concurrent writers; a claim takes the lowest-numbered Waiting trial before creating one;
//! reaping marks the failed trial with `optimlab:requeued_as` before re-queueing a copy with
//! `optimlab:retry_of`, `optimlab:retries` and Optuna's `fixed_params`. Trials run by Optuna
//! workers carry no lease: our workers cannot write to them; in a journal the reaper leaves
//! them alone, in the SQL storages it fails those whose Optuna heartbeat went stale (see
//! `rdb`). Datetimes are written as Optuna 4/5 writes them into a journal, UTC with
//! the zone: `2024-05-01T10:00:00.123456+00:00`.

mod copy;
pub mod journal;
pub mod memory;
mod model;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rdb;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use copy::{CopyReport, copy_study};

use super::distribution::Distribution;
use super::error::{Result, TuneError};
use super::trial::{Direction, FrozenTrial, TrialState};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// System attribute keys this crate writes (Optuna keeps unknown system attributes).
pub mod attrs {
    /// Study: the search space, as JSON; a study reopened with another space is refused.
    pub const SPACE: &str = "optimlab:space";
    /// Trial: `{"worker": "...", "expires": unix seconds}` while Running; the SQL storages
    /// store `{"worker", "seconds"}` with a `trial_heartbeats` row and add `expires` on reading.
    pub const LEASE: &str = "optimlab:lease";
    /// Trial: the number of the failed trial this one retries.
    pub const RETRY_OF: &str = "optimlab:retry_of";
    /// Trial: how many times these parameters were retried so far.
    pub const RETRIES: &str = "optimlab:retries";
    /// Trial (failed): the number of the trial that re-queued it.
    pub const REQUEUED_AS: &str = "optimlab:requeued_as";
    /// Trial: parameters fixed before sampling (Optuna's `fixed_params`, used by enqueue).
    pub const FIXED_PARAMS: &str = "fixed_params";
}

/// A study as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyInfo {
    pub id: u64,
    pub name: String,
    pub direction: Direction,
    pub user_attrs: BTreeMap<String, Value>,
    pub system_attrs: BTreeMap<String, Value>,
}

/// What a reader already holds of a study's trials, so that [`Storage::trials_since`] can
/// answer with only what changed. Each back end uses the part it understands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrialsSeen {
    /// The back end's version of the study when the reader last caught up (memory and
    /// journal: a count of changes in this process; SQL: the highest trial id held);
    /// `None`: nothing held yet.
    pub version: Option<u64>,
    /// The reader holds the trials numbered below this.
    pub count: u64,
    /// Numbers of held trials that were Waiting or Running (they may have changed since).
    pub unfinished: Vec<u64>,
    /// The ids of those trials, in the same order (the SQL storages look them up by id).
    pub unfinished_ids: Vec<u64>,
}

/// The answer of [`Storage::trials_since`].
#[derive(Clone, Debug, Default)]
pub struct TrialChanges {
    /// The trials that may have changed or are new, in number order; with `all`, every
    /// trial of the study (what the reader held is to be dropped).
    pub trials: Vec<FrozenTrial>,
    pub all: bool,
    /// The version to pass next time.
    pub version: Option<u64>,
}

pub trait Storage: Send + Sync {
    /// Creates a study; fails if the name is taken.
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo>;

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>>;

    /// Every study that can be opened. A study in a shared SQL database whose direction
    /// Optuna never set (`NOT_SET`) is left out; `find_study` on it is an error.
    fn studies(&self) -> Result<Vec<StudyInfo>>;

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()>;

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()>;

    /// Gives `worker` a Running trial under a lease of `lease`: the Waiting trial with the
    /// lowest number if there is one, else a new trial (the next number) if fewer than
    /// `budget` trials count. `None` when the budget is spent and nothing waits. Atomic: two
    /// workers never get the same trial, and numbers are 0, 1, 2, … with no gap or repeat.
    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>>;

    /// Renews the lease. `LeaseLost` if the worker no longer holds the trial.
    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()>;

    fn set_param(
        &self,
        trial_id: u64,
        worker: &str,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()>;

    /// Sets several parameters of one trial at once: one transaction (SQL) or one append
    /// (journal), fenced like [`Storage::set_param`]. The default sets them one by one.
    fn set_params(
        &self,
        trial_id: u64,
        worker: &str,
        params: &[(&str, &Distribution, f64)],
    ) -> Result<()> {
        for &(name, dist, internal) in params {
            self.set_param(trial_id, worker, name, dist, internal)?;
        }
        Ok(())
    }

    /// Stores an intermediate value (overwrites the step's earlier value).
    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()>;

    fn set_trial_user_attr(
        &self,
        trial_id: u64,
        worker: &str,
        key: &str,
        value: &Value,
    ) -> Result<()>;

    /// Ends a Running trial held by `worker` (state Complete, Pruned or Fail).
    fn finish(
        &self,
        trial_id: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
    ) -> Result<()>;

    /// Fails every Running trial of the study whose lease has expired, and re-queues a
    /// Waiting copy of each with the same parameters unless it was already retried
    /// `max_retries` times. Returns the numbers of the failed trials.
    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>>;

    /// Every trial of the study, in number order.
    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>>;

    /// The trials that changed since what the reader holds (`seen`): new trials, and every
    /// trial that may have changed since. A finished trial (Complete, Pruned, Fail) does
    /// not change except when reaping marks it re-queued, which happens with the state
    /// change. The default answers with every trial ([`TrialChanges::all`]).
    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        let _ = seen;
        Ok(TrialChanges {
            trials: self.trials(study)?,
            all: true,
            version: None,
        })
    }

    /// Copies a trial as it is (any state, all values and attributes) into a study under the
    /// next number: `tune import/export`. Returns the new trial's number.
    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64>;
}

/// Opens a storage by URL (see the module doc).
pub fn open(url: &str) -> Result<Box<dyn Storage>> {
    if url == "memory" || url == ":memory:" {
        Ok(Box::new(memory::MemoryStorage::new()))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok(Box::new(sqlite::SqliteStorage::open(path)?));
        #[cfg(not(feature = "sqlite"))]
        return Err(missing_feature(url, path, "sqlite"));
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Box::new(postgres::PostgresStorage::connect(url)?));
        #[cfg(not(feature = "postgres"))]
        return Err(missing_feature(url, url, "postgres"));
    } else if let Some(path) = url.strip_prefix("journal:") {
        let (path, sync) = journal::Sync::from_url_path(path);
        Ok(Box::new(journal::JournalStorage::open_with(path, sync)?))
    } else {
        Err(TuneError::Config(format!(
            "unknown storage URL '{url}': expected memory, sqlite:PATH, postgres://… or journal:PATH"
        )))
    }
}

/// Opens a storage that must exist already, for commands that only read (status, best,
/// report, the source of a copy): a `sqlite:` or `journal:` path that names no file is an
/// error, and no file is created.
pub fn open_existing(url: &str) -> Result<Box<dyn Storage>> {
    let file = url
        .strip_prefix("sqlite:")
        .map(|p| ("SQLite file", p))
        .or_else(|| {
            url.strip_prefix("journal:")
                .map(|p| ("journal file", journal::Sync::from_url_path(p).0))
        });
    if let Some((what, path)) = file
        && !path.is_empty()
        && !std::path::Path::new(path).is_file()
    {
        return Err(TuneError::Config(format!("no {what} '{path}'")));
    }
    open(url)
}

/// A storage this build was compiled without.
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn missing_feature(url: &str, _target: &str, feature: &str) -> TuneError {
    TuneError::Config(format!(
        "storage '{url}' needs optimlab's `{feature}` feature, which this build does not have"
    ))
}

/// The current time as Unix seconds (lease expiry).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The current UTC time as Optuna (4.x, 5.x) writes datetimes into its journal:
/// `%Y-%m-%dT%H:%M:%S.%f+00:00` (`datetime.now(timezone.utc).isoformat(timespec="microseconds")`).
pub fn iso_now() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    iso_from_unix_micros(micros)
}

/// Formats unix microseconds (UTC) as `%Y-%m-%dT%H:%M:%S.%f+00:00`.
pub fn iso_from_unix_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}+00:00",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A storage shared by reference counting is a storage: threads of one process can hold the
/// same memory (or any) storage as `Box<dyn Storage>`.
impl<S: Storage + ?Sized> Storage for std::sync::Arc<S> {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        (**self).create_study(name, direction, system_attrs)
    }
    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        (**self).find_study(name)
    }
    fn studies(&self) -> Result<Vec<StudyInfo>> {
        (**self).studies()
    }
    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        (**self).set_study_user_attr(study, key, value)
    }
    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        (**self).set_study_system_attr(study, key, value)
    }
    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        (**self).claim_trial(study, worker, lease, budget)
    }
    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        (**self).heartbeat(trial_id, worker, lease)
    }
    fn set_param(
        &self,
        trial_id: u64,
        worker: &str,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()> {
        (**self).set_param(trial_id, worker, name, dist, internal)
    }
    fn set_params(
        &self,
        trial_id: u64,
        worker: &str,
        params: &[(&str, &Distribution, f64)],
    ) -> Result<()> {
        (**self).set_params(trial_id, worker, params)
    }
    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        (**self).report(trial_id, worker, step, value)
    }
    fn set_trial_user_attr(
        &self,
        trial_id: u64,
        worker: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        (**self).set_trial_user_attr(trial_id, worker, key, value)
    }
    fn finish(
        &self,
        trial_id: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
    ) -> Result<()> {
        (**self).finish(trial_id, worker, state, value)
    }
    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        (**self).reap_expired(study, max_retries)
    }
    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        (**self).trials(study)
    }
    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        (**self).trials_since(study, seen)
    }
    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        (**self).import_trial(study, trial)
    }
}
