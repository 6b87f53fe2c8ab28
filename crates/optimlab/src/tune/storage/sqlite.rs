//! A study in an embedded SQLite file (`sqlite:PATH`): the default storage.
//!
//! Many workers, threads or processes, each open their own `SqliteStorage` on the same file.
//! WAL lets readers go on while one writer writes; every write is one short `BEGIN IMMEDIATE`
//! transaction (a claim: pick the Waiting trial or the next number, check the budget, write
//! the lease), and a 30 s busy timeout makes writers queue instead of failing with "database is
//! locked".
//!
//! Schema (version 1): `optimlab_meta` (the schema version), `studies`, `study_attrs`,
//! `trials`, `trial_params` (the distribution as Optuna's JSON), `trial_values` (intermediate
//! values by step; NULL stands for NaN, which SQLite cannot store), `trial_attrs`. Attribute
//! values are JSON text; `kind` is 0 for user and 1 for system attributes. A trial value of
//! NaN reads back as no value (SQLite turns NaN into NULL).
//!
//! `synchronous=NORMAL` (the WAL default advice): a commit survives a crash of the process;
//! the last commits before a power loss may be lost, never the file's consistency.

use super::model::{
    TrialRows, attr_map, blank_trial, check_fence, check_final, lease_of, lease_value,
    requeue_copy, retries_of,
};
use super::{Storage, StudyInfo, TrialChanges, TrialsSeen, attrs, iso_now, unix_now};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The schema this code writes and reads.
const SCHEMA_VERSION: i64 = 1;
const USER: i64 = 0;
const SYSTEM: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS optimlab_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    direction INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS study_attrs (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (study_id, kind, key)
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    state INTEGER NOT NULL,
    value REAL,
    datetime_start TEXT,
    datetime_complete TEXT,
    UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_by_state ON trials (study_id, state, number);
CREATE TABLE IF NOT EXISTS trial_params (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    name TEXT NOT NULL,
    distribution TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (trial_id, name)
);
CREATE TABLE IF NOT EXISTS trial_values (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    step INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, step)
);
CREATE TABLE IF NOT EXISTS trial_attrs (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trial_id, kind, key)
);
";

pub struct SqliteStorage {
    path: String,
    conn: Mutex<Connection>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the study database at `path`. Refuses a file that is not an
    /// optimlab database or was written with a newer schema; never rewrites existing rows.
    pub fn open(path: &str) -> Result<Self> {
        let fail = |e: &dyn std::fmt::Display| {
            TuneError::Storage(format!("cannot open sqlite database '{path}': {e}"))
        };
        if path.is_empty() {
            return Err(TuneError::Config(
                "sqlite storage URL has no path: expected sqlite:PATH".into(),
            ));
        }
        let conn = Connection::open(path).map_err(|e| fail(&e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| fail(&e))?;
        let storage = SqliteStorage {
            path: path.to_string(),
            conn: Mutex::new(conn),
        };
        storage.init().map_err(|e| match e {
            TuneError::Storage(m) => fail(&m),
            other => other,
        })?;
        Ok(storage)
    }

    fn init(&self) -> Result<()> {
        let mut conn = self.lock();
        let sql = |e: rusqlite::Error| TuneError::Storage(e.to_string());
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(TuneError::Storage(format!(
                "the file system does not allow WAL mode (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(sql)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let tables: Vec<String> = {
            let mut st = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .map_err(sql)?;
            st.query_map([], |r| r.get(0))
                .map_err(sql)?
                .collect::<std::result::Result<_, _>>()
                .map_err(sql)?
        };
        if tables.is_empty() {
            tx.execute_batch(SCHEMA).map_err(sql)?;
            tx.execute(
                "INSERT INTO optimlab_meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )
            .map_err(sql)?;
        } else if !tables.iter().any(|t| t == "optimlab_meta") {
            return Err(TuneError::Storage(
                "not an optimlab study database (it has other tables)".into(),
            ));
        } else {
            let version: Option<String> = tx
                .query_row(
                    "SELECT value FROM optimlab_meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            let version: i64 = version.and_then(|v| v.parse().ok()).ok_or_else(|| {
                TuneError::Storage("not an optimlab study database (no schema version)".into())
            })?;
            if version > SCHEMA_VERSION {
                return Err(TuneError::Storage(format!(
                    "written by a newer optimlab (schema {version}; this version reads up to {SCHEMA_VERSION})"
                )));
            }
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: impl std::fmt::Display) -> TuneError {
        TuneError::Storage(format!("sqlite database '{}': {e}", self.path))
    }

    /// Runs `f` in one transaction begun with `behavior`, committed when it returns `Ok`.
    fn transaction<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(behavior)
            .map_err(|e| self.err(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Immediate, f)
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Deferred, f)
    }

    fn study_info(&self, c: &Connection, id: u64, name: String, dir: i64) -> Result<StudyInfo> {
        let direction = Direction::from_code(dir)
            .ok_or_else(|| self.corrupt(format!("study '{name}' has direction {dir}")))?;
        let mut user_attrs = BTreeMap::new();
        let mut system_attrs = BTreeMap::new();
        let mut st = c
            .prepare_cached("SELECT kind, key, value FROM study_attrs WHERE study_id = ?1")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (kind, key, value) = row.map_err(|e| self.err(e))?;
            let value = self.json(&value)?;
            attr_map(&mut user_attrs, &mut system_attrs, kind != USER).insert(key, value);
        }
        Ok(StudyInfo {
            id,
            name,
            direction,
            user_attrs,
            system_attrs,
        })
    }

    fn corrupt(&self, m: String) -> TuneError {
        TuneError::Corrupt(format!("sqlite database '{}': {m}", self.path))
    }

    fn json(&self, text: &str) -> Result<Value> {
        serde_json::from_str(text).map_err(|e| self.corrupt(format!("bad JSON value: {e}")))
    }

    /// Loads trials (all of a study, or one by id), in number order.
    fn load_trials(
        &self,
        c: &Connection,
        study: Option<u64>,
        id: Option<u64>,
    ) -> Result<Vec<FrozenTrial>> {
        let (filter, key) = match (study, id) {
            (_, Some(id)) => ("t.id = ?1", id as i64),
            (Some(s), None) => ("t.study_id = ?1", s as i64),
            (None, None) => unreachable!("a study or a trial"),
        };
        self.load_where(c, filter, key)
    }

    /// Loads the trials `filter` selects (SQL on `trials t`, with `?1` bound to `key`), in
    /// number order.
    fn load_where(&self, c: &Connection, filter: &str, key: i64) -> Result<Vec<FrozenTrial>> {
        let mut trials = TrialRows::default();
        let heads = self.rows(
            c,
            &format!(
                "SELECT t.id, t.number, t.state, t.value, t.datetime_start, t.datetime_complete
                 FROM trials t WHERE {filter} ORDER BY t.number"
            ),
            key,
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )?;
        for (tid, number, state, value, ds, dc) in heads {
            let state = TrialState::from_code(state)
                .ok_or_else(|| self.corrupt(format!("trial {number} has state {state}")))?;
            trials.push(tid as u64, number as u64, state, value, ds, dc);
        }
        let params = self.rows(
            c,
            &format!(
                "SELECT p.trial_id, p.name, p.distribution, p.value
                 FROM trial_params p JOIN trials t ON t.id = p.trial_id WHERE {filter}"
            ),
            key,
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            },
        )?;
        for (tid, name, dist, value) in params {
            let dist = Distribution::from_json(&self.json(&dist)?).ok_or_else(|| {
                self.corrupt(format!(
                    "parameter '{name}' has an unknown distribution {dist}"
                ))
            })?;
            if let Some(t) = trials.get_mut(tid as u64) {
                t.params.insert(name, (dist, value));
            }
        }
        let values = self.rows(
            c,
            &format!(
                "SELECT v.trial_id, v.step, v.value
                 FROM trial_values v JOIN trials t ON t.id = v.trial_id WHERE {filter}"
            ),
            key,
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                ))
            },
        )?;
        for (tid, step, value) in values {
            if let Some(t) = trials.get_mut(tid as u64) {
                t.intermediate
                    .insert(step as u64, value.unwrap_or(f64::NAN));
            }
        }
        let attr_rows = self.rows(
            c,
            &format!(
                "SELECT a.trial_id, a.kind, a.key, a.value
                 FROM trial_attrs a JOIN trials t ON t.id = a.trial_id WHERE {filter}"
            ),
            key,
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?;
        for (tid, kind, k, v) in attr_rows {
            let v = self.json(&v)?;
            if let Some(t) = trials.get_mut(tid as u64) {
                attr_map(&mut t.user_attrs, &mut t.system_attrs, kind != USER).insert(k, v);
            }
        }
        Ok(trials.into_trials())
    }

    fn load_trial(&self, c: &Connection, id: u64) -> Result<FrozenTrial> {
        self.load_trials(c, None, Some(id))?
            .pop()
            .ok_or_else(|| TuneError::Storage(format!("no trial with id {id}")))
    }

    /// Runs `f` in one write transaction if `worker` holds trial `id`'s lease: the check and
    /// the write see the same state, so a reaper cannot fail the trial in between.
    fn fenced_write(
        &self,
        id: u64,
        worker: &str,
        f: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<()> {
        self.write(|c| {
            check_fence(&self.load_trial(c, id)?, worker)?;
            f(c)
        })
    }

    /// Runs a query whose one parameter is `key` and collects its rows, read by `row`.
    fn rows<T>(
        &self,
        c: &Connection,
        sql: &str,
        key: i64,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let e = |e: rusqlite::Error| self.err(e);
        let mut st = c.prepare(sql).map_err(e)?;
        st.query_map([key], row)
            .map_err(e)?
            .collect::<std::result::Result<_, _>>()
            .map_err(e)
    }

    /// Runs one statement with `params` and drops the row count.
    fn exec(&self, c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        c.execute(sql, params).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn set_attr(
        &self,
        c: &Connection,
        trial: u64,
        kind: i64,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        self.exec(
            c,
            "INSERT OR REPLACE INTO trial_attrs (trial_id, kind, key, value) VALUES (?1, ?2, ?3, ?4)",
            params![trial as i64, kind, key, value.to_string()],
        )
    }

    fn set_study_attr(&self, study: u64, kind: i64, key: &str, value: &Value) -> Result<()> {
        self.write(|c| {
            self.check_study(c, study)?;
            self.exec(
                c,
                "INSERT OR REPLACE INTO study_attrs (study_id, kind, key, value) VALUES (?1, ?2, ?3, ?4)",
                params![study as i64, kind, key, value.to_string()],
            )
        })
    }

    fn check_study(&self, c: &Connection, study: u64) -> Result<()> {
        let found: Option<i64> = c
            .query_row(
                "SELECT id FROM studies WHERE id = ?1",
                [study as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        found
            .map(|_| ())
            .ok_or_else(|| TuneError::NoStudy(format!("#{study}")))
    }

    /// Inserts a whole trial under the study's next number; returns (id, number).
    fn insert_trial(&self, c: &Connection, study: u64, t: &FrozenTrial) -> Result<(u64, u64)> {
        let e = |e: rusqlite::Error| self.err(e);
        let number: i64 = c
            .query_row(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1",
                [study as i64],
                |r| r.get(0),
            )
            .map_err(e)?;
        c.execute(
            "INSERT INTO trials (study_id, number, state, value, datetime_start, datetime_complete)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                study as i64,
                number,
                t.state.code(),
                t.value,
                t.datetime_start,
                t.datetime_complete
            ],
        )
        .map_err(e)?;
        let id = c.last_insert_rowid() as u64;
        for (name, (dist, v)) in &t.params {
            c.execute(
                "INSERT INTO trial_params (trial_id, name, distribution, value) VALUES (?1, ?2, ?3, ?4)",
                params![id as i64, name, dist.to_json().to_string(), v],
            )
            .map_err(e)?;
        }
        for (step, v) in &t.intermediate {
            c.execute(
                "INSERT INTO trial_values (trial_id, step, value) VALUES (?1, ?2, ?3)",
                params![id as i64, *step as i64, v],
            )
            .map_err(e)?;
        }
        for (k, v) in &t.user_attrs {
            self.set_attr(c, id, USER, k, v)?;
        }
        for (k, v) in &t.system_attrs {
            self.set_attr(c, id, SYSTEM, k, v)?;
        }
        Ok((id, number as u64))
    }
}

impl Storage for SqliteStorage {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        self.write(|c| {
            let taken: Option<i64> = c
                .query_row("SELECT id FROM studies WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.err(e))?;
            if taken.is_some() {
                return Err(TuneError::StudyMismatch(format!(
                    "a study named '{name}' already exists"
                )));
            }
            c.execute(
                "INSERT INTO studies (name, direction) VALUES (?1, ?2)",
                params![name, direction.code()],
            )
            .map_err(|e| self.err(e))?;
            let id = c.last_insert_rowid() as u64;
            for (k, v) in system_attrs {
                c.execute(
                    "INSERT INTO study_attrs (study_id, kind, key, value) VALUES (?1, ?2, ?3, ?4)",
                    params![id as i64, SYSTEM, k, v.to_string()],
                )
                .map_err(|e| self.err(e))?;
            }
            self.study_info(c, id, name.to_string(), direction.code())
        })
    }

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        self.read(|c| {
            let row: Option<(i64, i64)> = c
                .query_row(
                    "SELECT id, direction FROM studies WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            row.map(|(id, dir)| self.study_info(c, id as u64, name.to_string(), dir))
                .transpose()
        })
    }

    fn studies(&self) -> Result<Vec<StudyInfo>> {
        self.read(|c| {
            let rows: Vec<(i64, String, i64)> = {
                let mut st = c
                    .prepare("SELECT id, name, direction FROM studies ORDER BY id")
                    .map_err(|e| self.err(e))?;
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(|e| self.err(e))?
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| self.err(e))?
            };
            rows.into_iter()
                .map(|(id, name, dir)| self.study_info(c, id as u64, name, dir))
                .collect()
        })
    }

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.set_study_attr(study, USER, key, value)
    }

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.set_study_attr(study, SYSTEM, key, value)
    }

    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        self.write(|c| {
            self.check_study(c, study)?;
            let e = |e: rusqlite::Error| self.err(e);
            let waiting: Option<i64> = c
                .query_row(
                    "SELECT id FROM trials WHERE study_id = ?1 AND state = ?2 ORDER BY number LIMIT 1",
                    params![study as i64, TrialState::Waiting.code()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e)?;
            let id = match waiting {
                Some(id) => id as u64,
                None => {
                    if let Some(b) = budget {
                        let counted: i64 = c
                            .query_row(
                                "SELECT COUNT(*) FROM trials t WHERE t.study_id = ?1 AND NOT EXISTS
                                 (SELECT 1 FROM trial_attrs a WHERE a.trial_id = t.id
                                  AND a.kind = ?2 AND a.key = ?3)",
                                params![study as i64, SYSTEM, attrs::REQUEUED_AS],
                                |r| r.get(0),
                            )
                            .map_err(e)?;
                        if counted as u64 >= b {
                            return Ok(None);
                        }
                    }
                    self.insert_trial(c, study, &blank_trial(TrialState::Waiting))?.0
                }
            };
            c.execute(
                "UPDATE trials SET state = ?1, datetime_start = ?2 WHERE id = ?3",
                params![TrialState::Running.code(), iso_now(), id as i64],
            )
            .map_err(e)?;
            self.set_attr(c, id, SYSTEM, attrs::LEASE, &lease_value(worker, lease))?;
            self.load_trial(c, id).map(Some)
        })
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        self.fenced_write(trial_id, worker, |c| {
            self.set_attr(
                c,
                trial_id,
                SYSTEM,
                attrs::LEASE,
                &lease_value(worker, lease),
            )
        })
    }

    fn set_param(
        &self,
        trial_id: u64,
        worker: &str,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()> {
        self.fenced_write(trial_id, worker, |c| {
            self.exec(
                c,
                "INSERT OR REPLACE INTO trial_params (trial_id, name, distribution, value)
                 VALUES (?1, ?2, ?3, ?4)",
                params![trial_id as i64, name, dist.to_json().to_string(), internal],
            )
        })
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        self.fenced_write(trial_id, worker, |c| {
            self.exec(
                c,
                "INSERT OR REPLACE INTO trial_values (trial_id, step, value) VALUES (?1, ?2, ?3)",
                params![trial_id as i64, step as i64, value],
            )
        })
    }

    fn set_trial_user_attr(
        &self,
        trial_id: u64,
        worker: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        self.fenced_write(trial_id, worker, |c| {
            self.set_attr(c, trial_id, USER, key, value)
        })
    }

    fn finish(
        &self,
        trial_id: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
    ) -> Result<()> {
        check_final(state)?;
        self.fenced_write(trial_id, worker, |c| {
            self.exec(
                c,
                "UPDATE trials SET state = ?1, value = ?2, datetime_complete = ?3 WHERE id = ?4",
                params![state.code(), value, iso_now(), trial_id as i64],
            )
        })
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        self.write(|c| {
            self.check_study(c, study)?;
            let now = unix_now();
            let running: Vec<FrozenTrial> = self
                .load_where(
                    c,
                    &format!(
                        "t.study_id = ?1 AND t.state = {}",
                        TrialState::Running.code()
                    ),
                    study as i64,
                )?
                .into_iter()
                .filter(|t| {
                    t.state == TrialState::Running && lease_of(t).is_some_and(|(_, exp)| exp < now)
                })
                .collect();
            let mut failed = Vec::new();
            for old in running {
                c.execute(
                    "UPDATE trials SET state = ?1, datetime_complete = ?2 WHERE id = ?3",
                    params![TrialState::Fail.code(), iso_now(), old.id as i64],
                )
                .map_err(|e| self.err(e))?;
                failed.push(old.number);
                if retries_of(&old) < u64::from(max_retries) {
                    let (_, number) = self.insert_trial(c, study, &requeue_copy(&old))?;
                    self.set_attr(c, old.id, SYSTEM, attrs::REQUEUED_AS, &Value::from(number))?;
                }
            }
            Ok(failed)
        })
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.read(|c| {
            self.check_study(c, study)?;
            self.load_trials(c, Some(study), None)
        })
    }

    /// The trials numbered from `seen.count` on and those `seen` holds unfinished: a finished
    /// trial is only changed by the transaction that finishes it.
    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        let numbers: Vec<String> = seen.unfinished.iter().map(u64::to_string).collect();
        let filter = format!(
            "t.study_id = ?1 AND (t.number >= {} OR t.number IN ({}))",
            seen.count,
            numbers.join(",")
        );
        self.read(|c| {
            self.check_study(c, study)?;
            Ok(TrialChanges {
                trials: self.load_where(c, &filter, study as i64)?,
                all: false,
                version: None,
            })
        })
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        self.write(|c| {
            self.check_study(c, study)?;
            Ok(self.insert_trial(c, study, trial)?.1)
        })
    }
}
