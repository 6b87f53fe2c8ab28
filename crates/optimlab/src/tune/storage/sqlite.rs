//! A study in an embedded SQLite file (`sqlite:PATH`): the default storage.
//!
//! The file has Optuna 5.0's RDBStorage schema (see [`super::rdb`]): `optuna.load_study(...,
//! storage="sqlite:///PATH")` and `optuna-dashboard sqlite:///PATH` open it, and Optuna
//! workers may run trials in it next to optimlab's.
//!
//! Many workers, threads or processes, each open their own `SqliteStorage` on the same file.
//! WAL lets readers go on while one writer writes; every write is one short `BEGIN IMMEDIATE`
//! transaction (a claim: pick the Waiting trial or the next number, check the budget, write
//! the lease and the heartbeat), and a 30 s busy timeout makes writers queue instead of
//! failing with "database is locked". A new trial's number is the count of the study's
//! trials before it, as Optuna numbers them, taken inside the write transaction.
//!
//! A file written by optimlab before it used Optuna's schema (tables `optimlab_meta`,
//! `study_attrs`, `trial_attrs`, …) is converted when opened, in one transaction: every
//! study, trial, value, attribute and lease is kept.
//!
//! `synchronous=NORMAL` (the WAL default advice): a commit survives a crash of the process;
//! the last commits before a power loss may be lost, never the file's consistency.

use super::model::{
    TrialRows, attr_map, blank_trial, check_fence, check_final, requeue_copy, retries_of,
};
use super::rdb::{
    self, ALEMBIC_HEAD, OPTUNA_LIBRARY_VERSION, OPTUNA_SCHEMA_VERSION, direction_from_name,
    direction_name, expose_lease, from_sql_datetime, intermediate_repr, is_expired, parse_datetime,
    sql_datetime, state_from_name, state_name, stored_lease, to_sql_datetime, unix_micros_now,
    value_from, value_repr,
};
use super::{Storage, StudyInfo, TrialChanges, TrialsSeen, attrs};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Optuna 5.0's tables as its SQLAlchemy models create them in SQLite.
const SCHEMA: &str = r#"
CREATE TABLE studies (
	study_id INTEGER NOT NULL,
	study_name VARCHAR(512) NOT NULL,
	PRIMARY KEY (study_id)
);
CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);
CREATE TABLE version_info (
	version_info_id INTEGER NOT NULL,
	schema_version INTEGER,
	library_version VARCHAR(256),
	PRIMARY KEY (version_info_id),
	CHECK (version_info_id=1)
);
CREATE TABLE study_directions (
	study_direction_id INTEGER NOT NULL,
	direction VARCHAR(8) NOT NULL,
	study_id INTEGER NOT NULL,
	objective INTEGER NOT NULL,
	PRIMARY KEY (study_direction_id),
	UNIQUE (study_id, objective),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_user_attributes (
	study_user_attribute_id INTEGER NOT NULL,
	study_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (study_user_attribute_id),
	UNIQUE (study_id, "key"),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_system_attributes (
	study_system_attribute_id INTEGER NOT NULL,
	study_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (study_system_attribute_id),
	UNIQUE (study_id, "key"),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE trials (
	trial_id INTEGER NOT NULL,
	number INTEGER,
	study_id INTEGER,
	state VARCHAR(8) NOT NULL,
	datetime_start DATETIME,
	datetime_complete DATETIME,
	PRIMARY KEY (trial_id),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE INDEX ix_trials_study_id ON trials (study_id);
CREATE TABLE trial_user_attributes (
	trial_user_attribute_id INTEGER NOT NULL,
	trial_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (trial_user_attribute_id),
	UNIQUE (trial_id, "key"),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_system_attributes (
	trial_system_attribute_id INTEGER NOT NULL,
	trial_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (trial_system_attribute_id),
	UNIQUE (trial_id, "key"),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_params (
	param_id INTEGER NOT NULL,
	trial_id INTEGER,
	param_name VARCHAR(512),
	param_value FLOAT,
	distribution_json TEXT,
	PRIMARY KEY (param_id),
	UNIQUE (trial_id, param_name),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_values (
	trial_value_id INTEGER NOT NULL,
	trial_id INTEGER NOT NULL,
	objective INTEGER NOT NULL,
	value FLOAT,
	value_type VARCHAR(7) NOT NULL,
	PRIMARY KEY (trial_value_id),
	UNIQUE (trial_id, objective),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_intermediate_values (
	trial_intermediate_value_id INTEGER NOT NULL,
	trial_id INTEGER NOT NULL,
	step INTEGER NOT NULL,
	intermediate_value FLOAT,
	intermediate_value_type VARCHAR(7) NOT NULL,
	PRIMARY KEY (trial_intermediate_value_id),
	UNIQUE (trial_id, step),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_heartbeats (
	trial_heartbeat_id INTEGER NOT NULL,
	trial_id INTEGER NOT NULL,
	heartbeat DATETIME NOT NULL,
	PRIMARY KEY (trial_heartbeat_id),
	UNIQUE (trial_id),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
"#;

/// The tables of optimlab's own schema before it used Optuna's (schema version 1), children
/// first (the order they are dropped in).
const LEGACY_TABLES: &[&str] = &[
    "trial_attrs",
    "trial_values",
    "trial_params",
    "study_attrs",
    "trials",
    "studies",
    "optimlab_meta",
];

/// One trial's own row: id, number, state, value (and its type), start, completion,
/// heartbeat.
type Head = (
    i64,
    Option<i64>,
    String,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A trial row of the former schema: id, study, number, state code, value, start, completion.
type LegacyTrial = (
    i64,
    i64,
    i64,
    i64,
    Option<f64>,
    Option<String>,
    Option<String>,
);

pub struct SqliteStorage {
    path: String,
    conn: Mutex<Db>,
}

/// The connection and what this connection knows of each study's trial counts.
struct Db {
    conn: Connection,
    counts: BTreeMap<u64, Counts>,
}

/// A study's trial counts as this connection last left them. Valid while
/// `PRAGMA data_version` still reads `version` (it changes when another connection
/// commits, not for this connection's own commits), so a claim does not count the study's
/// trials again while this connection is the only writer.
#[derive(Clone, Copy)]
struct Counts {
    version: i64,
    /// Trials in the study (the next trial's number).
    trials: u64,
    /// Trials that count against the budget (not failed and re-queued).
    counted: u64,
    /// Whether a Waiting trial may exist.
    waiting: bool,
}

/// Which attribute table: the user's or the system's.
#[derive(Clone, Copy)]
enum Attrs {
    User,
    System,
}

impl Attrs {
    fn trial_table(self) -> &'static str {
        match self {
            Attrs::User => "trial_user_attributes",
            Attrs::System => "trial_system_attributes",
        }
    }

    fn study_table(self) -> &'static str {
        match self {
            Attrs::User => "study_user_attributes",
            Attrs::System => "study_system_attributes",
        }
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the study database at `path`. Refuses a file that is not a
    /// study database or whose Optuna schema revision this build does not know; converts a
    /// file written with optimlab's former schema.
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
        // Every statement of a trial's claim, writes and refresh stays prepared (the default
        // 16 are fewer than a trial uses, and the cache would re-parse them all in turn).
        conn.set_prepared_statement_cache_capacity(128);
        let storage = SqliteStorage {
            path: path.to_string(),
            conn: Mutex::new(Db {
                conn,
                counts: BTreeMap::new(),
            }),
        };
        storage.init().map_err(|e| match e {
            TuneError::Storage(m) => fail(&m),
            other => other,
        })?;
        Ok(storage)
    }

    fn init(&self) -> Result<()> {
        let mut db = self.lock();
        let conn = &mut db.conn;
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
        let has = |t: &str| tables.iter().any(|n| n == t);
        if tables.is_empty() {
            create_schema(&tx).map_err(sql)?;
        } else if has("optimlab_meta") {
            let version: Option<String> = tx
                .query_row(
                    "SELECT value FROM optimlab_meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            if version.as_deref() != Some("1") {
                return Err(TuneError::Storage(format!(
                    "written by a newer optimlab (schema {}; this version converts schema 1)",
                    version.as_deref().unwrap_or("unknown")
                )));
            }
            migrate_v1(&tx).map_err(|e| {
                TuneError::Storage(format!(
                    "converting to Optuna's schema failed, nothing changed: {e}"
                ))
            })?;
        } else if has("alembic_version") && has("studies") && has("trials") {
            let revision: Option<String> = tx
                .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
                .optional()
                .map_err(sql)?;
            if revision.as_deref() != Some(ALEMBIC_HEAD) {
                return Err(TuneError::Storage(format!(
                    "Optuna schema revision {} is not {ALEMBIC_HEAD} (Optuna 5.0): upgrade it with \
                     `optuna storage upgrade` or use a matching optimlab",
                    revision.as_deref().unwrap_or("(none)")
                )));
            }
        } else {
            return Err(TuneError::Storage(
                "not an optimlab or Optuna study database (it has other tables)".into(),
            ));
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Db> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: impl std::fmt::Display) -> TuneError {
        TuneError::Storage(format!("sqlite database '{}': {e}", self.path))
    }

    /// Runs `f` in one transaction begun with `behavior`, committed when it returns `Ok`,
    /// rolled back otherwise. BEGIN and COMMIT are cached statements: a trial's few
    /// transactions do not parse SQL.
    fn transaction<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        self.transaction_counted(behavior, |c, _| f(c))
    }

    /// [`Self::transaction`] with this connection's trial counts at hand; they are all
    /// dropped if the transaction fails.
    fn transaction_counted<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Connection, &mut BTreeMap<u64, Counts>) -> Result<T>,
    ) -> Result<T> {
        let mut db = self.lock();
        let Db { conn, counts } = &mut *db;
        let conn = &*conn;
        let begin = match behavior {
            TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
            TransactionBehavior::Exclusive => "BEGIN EXCLUSIVE",
            _ => "BEGIN DEFERRED",
        };
        self.exec(conn, begin, [])?;
        let out = f(conn, counts).and_then(|v| self.exec(conn, "COMMIT", []).map(|()| v));
        if out.is_err() {
            counts.clear();
            if !conn.is_autocommit() {
                // The error is the caller's; a failed rollback leaves nothing to report.
                let _ = self.exec(conn, "ROLLBACK", []);
            }
        }
        out
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Immediate, f)
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Deferred, f)
    }

    fn study_info(&self, c: &Connection, id: u64, name: String) -> Result<StudyInfo> {
        let e = |e: rusqlite::Error| self.err(e);
        let dir: Option<String> = c
            .query_row(
                "SELECT direction FROM study_directions WHERE study_id = ?1 AND objective = 0",
                [id as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)?;
        let direction = dir
            .as_deref()
            .and_then(direction_from_name)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "study '{name}' has direction {}: optimlab studies minimize or maximize one objective",
                    dir.as_deref().unwrap_or("(none)")
                ))
            })?;
        let mut user_attrs = BTreeMap::new();
        let mut system_attrs = BTreeMap::new();
        for kind in [Attrs::User, Attrs::System] {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT key, value_json FROM {} WHERE study_id = ?1",
                    kind.study_table()
                ))
                .map_err(e)?;
            let rows = st
                .query_map([id as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(e)?;
            for row in rows {
                let (key, value) = row.map_err(e)?;
                let value = self.json(&value)?;
                attr_map(
                    &mut user_attrs,
                    &mut system_attrs,
                    matches!(kind, Attrs::System),
                )
                .insert(key, value);
            }
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

    /// Loads the trials `filter` selects (SQL on `trials t`, with `?1` bound to `key`), in
    /// number order, each with its heartbeat (unix microseconds).
    fn load_where(
        &self,
        c: &Connection,
        filter: &str,
        key: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<(FrozenTrial, Option<i64>)>> {
        let mut trials = TrialRows::default();
        let heads: Vec<Head> = self.rows(
            c,
            &format!(
                "SELECT t.trial_id, t.number, t.state, v.value, v.value_type,
                        t.datetime_start, t.datetime_complete, h.heartbeat
                 FROM trials t
                 LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0
                 LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id
                 WHERE {filter} ORDER BY t.number"
            ),
            key,
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )?;
        let mut heartbeats = BTreeMap::new();
        for (tid, number, state, value, kind, ds, dc, hb) in heads {
            let number =
                number.ok_or_else(|| self.corrupt(format!("trial #{tid} has no number")))?;
            let state = state_from_name(&state)
                .ok_or_else(|| self.corrupt(format!("trial {number} has state {state}")))?;
            let value = match kind {
                Some(k) => Some(value_from(value, &k).ok_or_else(|| {
                    self.corrupt(format!("trial {number} has a value of type {k}"))
                })?),
                None => None,
            };
            trials.push(
                tid as u64,
                number as u64,
                state,
                value,
                ds.as_deref().and_then(from_sql_datetime),
                dc.as_deref().and_then(from_sql_datetime),
            );
            heartbeats.insert(tid as u64, hb.as_deref().and_then(parse_datetime));
        }
        if trials.is_empty() {
            return Ok(Vec::new());
        }
        let params = self.rows(
            c,
            &format!(
                "SELECT p.trial_id, p.param_name, p.distribution_json, p.param_value
                 FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id WHERE {filter}"
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
                "SELECT v.trial_id, v.step, v.intermediate_value, v.intermediate_value_type
                 FROM trial_intermediate_values v JOIN trials t ON t.trial_id = v.trial_id
                 WHERE {filter}"
            ),
            key,
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?;
        for (tid, step, value, kind) in values {
            let value = value_from(value, &kind)
                .ok_or_else(|| self.corrupt(format!("an intermediate value has type {kind}")))?;
            if let Some(t) = trials.get_mut(tid as u64) {
                t.intermediate.insert(step as u64, value);
            }
        }
        for kind in [Attrs::User, Attrs::System] {
            let attr_rows = self.rows(
                c,
                &format!(
                    "SELECT a.trial_id, a.key, a.value_json
                     FROM {} a JOIN trials t ON t.trial_id = a.trial_id WHERE {filter}",
                    kind.trial_table()
                ),
                key,
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )?;
            for (tid, k, v) in attr_rows {
                let v = self.json(&v)?;
                if let Some(t) = trials.get_mut(tid as u64) {
                    attr_map(
                        &mut t.user_attrs,
                        &mut t.system_attrs,
                        matches!(kind, Attrs::System),
                    )
                    .insert(k, v);
                }
            }
        }
        Ok(trials
            .into_trials()
            .into_iter()
            .map(|mut t| {
                let hb = heartbeats.get(&t.id).copied().flatten();
                expose_lease(&mut t, hb);
                (t, hb)
            })
            .collect())
    }

    fn load_trial(&self, c: &Connection, id: u64) -> Result<FrozenTrial> {
        self.load_where(c, "t.trial_id = ?1", &[&(id as i64)])?
            .pop()
            .map(|(t, _)| t)
            .ok_or_else(|| TuneError::Storage(format!("no trial with id {id}")))
    }

    /// Runs `f` in one write transaction if `worker` holds trial `id`'s lease: the check and
    /// the write see the same state, so a reaper cannot fail the trial in between. The check
    /// reads only the trial's state and lease.
    fn fenced_write(
        &self,
        id: u64,
        worker: &str,
        f: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<()> {
        self.write(|c| {
            let row: Option<(Option<i64>, String, Option<String>)> = c
                .prepare_cached(
                    "SELECT t.number, t.state, a.value_json FROM trials t
                     LEFT JOIN trial_system_attributes a
                         ON a.trial_id = t.trial_id AND a.key = ?2
                     WHERE t.trial_id = ?1",
                )
                .and_then(|mut st| {
                    st.query_row(params![id as i64, attrs::LEASE], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()
                })
                .map_err(|e| self.err(e))?;
            let Some((number, state, lease)) = row else {
                return Err(TuneError::Storage(format!("no trial with id {id}")));
            };
            let mut t = blank_trial(state_from_name(&state).unwrap_or(TrialState::Fail));
            t.number = number.unwrap_or(0) as u64;
            if let Some(lease) = lease {
                let mut lease = self.json(&lease)?;
                if let Value::Object(m) = &mut lease {
                    // The fence compares owners; the expiry is the reaper's business.
                    m.insert("expires".into(), Value::from(0.0));
                }
                t.system_attrs.insert(attrs::LEASE.into(), lease);
            }
            check_fence(&t, worker)?;
            f(c)
        })
    }

    /// Runs a query with the parameters `key` and collects its rows, read by `row`.
    fn rows<T>(
        &self,
        c: &Connection,
        sql: &str,
        key: &[&dyn rusqlite::ToSql],
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let e = |e: rusqlite::Error| self.err(e);
        let mut st = c.prepare_cached(sql).map_err(e)?;
        st.query_map(key, row)
            .map_err(e)?
            .collect::<std::result::Result<_, _>>()
            .map_err(e)
    }

    /// Runs one statement with `params` and drops the row count.
    fn exec(&self, c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        c.prepare_cached(sql)
            .and_then(|mut st| st.execute(params))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn set_attr(
        &self,
        c: &Connection,
        trial: u64,
        kind: Attrs,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        self.exec(
            c,
            &format!(
                "INSERT INTO {} (trial_id, key, value_json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json",
                kind.trial_table()
            ),
            params![trial as i64, key, value.to_string()],
        )
    }

    fn set_heartbeat(&self, c: &Connection, trial: u64, micros: i64) -> Result<()> {
        self.exec(
            c,
            "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?1, ?2)
             ON CONFLICT (trial_id) DO UPDATE SET heartbeat = excluded.heartbeat",
            params![trial as i64, sql_datetime(micros)],
        )
    }

    fn set_value(&self, c: &Connection, trial: u64, value: Option<f64>) -> Result<()> {
        if let Some((v, kind)) = value.and_then(value_repr) {
            self.exec(
                c,
                "INSERT INTO trial_values (trial_id, objective, value, value_type)
                 VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT (trial_id, objective)
                 DO UPDATE SET value = excluded.value, value_type = excluded.value_type",
                params![trial as i64, v, kind],
            )?;
        }
        Ok(())
    }

    fn set_study_attr(&self, study: u64, kind: Attrs, key: &str, value: &Value) -> Result<()> {
        self.write(|c| {
            self.check_study(c, study)?;
            self.exec(
                c,
                &format!(
                    "INSERT INTO {} (study_id, key, value_json) VALUES (?1, ?2, ?3)
                     ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json",
                    kind.study_table()
                ),
                params![study as i64, key, value.to_string()],
            )
        })
    }

    fn check_study(&self, c: &Connection, study: u64) -> Result<()> {
        let found: Option<i64> = c
            .prepare_cached("SELECT study_id FROM studies WHERE study_id = ?1")
            .and_then(|mut st| st.query_row([study as i64], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        found
            .map(|_| ())
            .ok_or_else(|| TuneError::NoStudy(format!("#{study}")))
    }

    /// Inserts a trial row under the study's next number (Optuna's: the count of the study's
    /// trials before it); returns (id, number).
    fn insert_head(
        &self,
        c: &Connection,
        study: u64,
        state: TrialState,
        start: Option<String>,
        complete: Option<String>,
    ) -> Result<(u64, u64)> {
        let number = self.count(
            c,
            "SELECT COUNT(*) FROM trials WHERE study_id = ?1",
            &[&(study as i64)],
        )?;
        let id = self.insert_numbered(
            c,
            study,
            number,
            state,
            start.as_deref(),
            complete.as_deref(),
        )?;
        Ok((id, number))
    }

    /// Inserts a trial row under `number`; returns its id.
    fn insert_numbered(
        &self,
        c: &Connection,
        study: u64,
        number: u64,
        state: TrialState,
        start: Option<&str>,
        complete: Option<&str>,
    ) -> Result<u64> {
        self.exec(
            c,
            "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                number as i64,
                study as i64,
                state_name(state),
                start,
                complete
            ],
        )?;
        Ok(c.last_insert_rowid() as u64)
    }

    /// A query that answers one count.
    fn count(&self, c: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<u64> {
        c.prepare_cached(sql)
            .and_then(|mut st| st.query_row(args, |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Counts a study's trials for a claim (the O(trials) part of a claim).
    fn count_trials(&self, c: &Connection, study: u64, version: i64) -> Result<Counts> {
        let key = study as i64;
        let trials = self.count(
            c,
            "SELECT COUNT(*) FROM trials WHERE study_id = ?1",
            &[&key],
        )?;
        let requeued = self.count(
            c,
            "SELECT COUNT(*) FROM trials t WHERE t.study_id = ?1 AND EXISTS
             (SELECT 1 FROM trial_system_attributes a
              WHERE a.trial_id = t.trial_id AND a.key = ?2)",
            &[&key, &attrs::REQUEUED_AS],
        )?;
        let waiting = self.count(
            c,
            "SELECT EXISTS (SELECT 1 FROM trials WHERE study_id = ?1 AND state = 'WAITING')",
            &[&key],
        )?;
        Ok(Counts {
            version,
            trials,
            counted: trials.saturating_sub(requeued),
            waiting: waiting > 0,
        })
    }

    /// Inserts a whole trial under the study's next number; returns (id, number).
    fn insert_trial(&self, c: &Connection, study: u64, t: &FrozenTrial) -> Result<(u64, u64)> {
        let (id, number) = self.insert_head(
            c,
            study,
            t.state,
            t.datetime_start.as_deref().and_then(to_sql_datetime),
            t.datetime_complete.as_deref().and_then(to_sql_datetime),
        )?;
        self.set_value(c, id, t.value)?;
        for (name, (dist, v)) in &t.params {
            self.exec(
                c,
                "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id as i64, name, v, dist.to_json().to_string()],
            )?;
        }
        for (step, v) in &t.intermediate {
            let (v, kind) = intermediate_repr(*v);
            self.exec(
                c,
                "INSERT INTO trial_intermediate_values
                     (trial_id, step, intermediate_value, intermediate_value_type)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id as i64, *step as i64, v, kind],
            )?;
        }
        for (k, v) in &t.user_attrs {
            self.set_attr(c, id, Attrs::User, k, v)?;
        }
        for (k, v) in &t.system_attrs {
            if k == attrs::LEASE
                && let Some((lease, hb)) = rdb::import_lease(v)
            {
                self.set_attr(c, id, Attrs::System, k, &lease)?;
                self.set_heartbeat(c, id, hb)?;
                continue;
            }
            self.set_attr(c, id, Attrs::System, k, v)?;
        }
        Ok((id, number))
    }
}

/// Creates Optuna's tables and stamps them as Optuna stamps a fresh database.
fn create_schema(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch(SCHEMA)?;
    c.execute(
        "INSERT INTO version_info (version_info_id, schema_version, library_version)
         VALUES (1, ?1, ?2)",
        params![OPTUNA_SCHEMA_VERSION, OPTUNA_LIBRARY_VERSION],
    )?;
    c.execute(
        "INSERT INTO alembic_version (version_num) VALUES (?1)",
        [ALEMBIC_HEAD],
    )?;
    Ok(())
}

/// Converts optimlab's schema version 1 to Optuna's inside the caller's transaction: the old
/// tables are renamed, the new ones created and filled (same study and trial ids), then the
/// old ones dropped.
fn migrate_v1(c: &Connection) -> Result<()> {
    let e = |e: rusqlite::Error| TuneError::Storage(e.to_string());
    for t in LEGACY_TABLES {
        c.execute_batch(&format!("ALTER TABLE {t} RENAME TO legacy_{t}"))
            .map_err(e)?;
    }
    create_schema(c).map_err(e)?;
    c.execute_batch(
        "INSERT INTO studies (study_id, study_name) SELECT id, name FROM legacy_studies;
         INSERT INTO study_directions (direction, study_id, objective)
             SELECT CASE direction WHEN 2 THEN 'MAXIMIZE' ELSE 'MINIMIZE' END, id, 0
             FROM legacy_studies;
         INSERT INTO study_user_attributes (study_id, key, value_json)
             SELECT study_id, key, value FROM legacy_study_attrs WHERE kind = 0;
         INSERT INTO study_system_attributes (study_id, key, value_json)
             SELECT study_id, key, value FROM legacy_study_attrs WHERE kind <> 0;",
    )
    .map_err(e)?;
    let direction_check: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM legacy_studies WHERE direction NOT IN (1, 2)",
            [],
            |r| r.get(0),
        )
        .map_err(e)?;
    if direction_check > 0 {
        return Err(TuneError::Corrupt(
            "a study has an unknown direction".into(),
        ));
    }
    // Trials one by one: states, datetimes and values change their encoding.
    let trials: Vec<LegacyTrial> = {
        let mut st = c
            .prepare(
                "SELECT id, study_id, number, state, value, datetime_start, datetime_complete
                 FROM legacy_trials ORDER BY id",
            )
            .map_err(e)?;
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(e)?
        .collect::<std::result::Result<_, _>>()
        .map_err(e)?
    };
    for (id, study, number, code, value, ds, dc) in trials {
        let state = TrialState::from_code(code)
            .ok_or_else(|| TuneError::Corrupt(format!("trial #{id} has state {code}")))?;
        let dt = |s: Option<String>| -> Result<Option<String>> {
            s.map(|s| {
                to_sql_datetime(&s)
                    .ok_or_else(|| TuneError::Corrupt(format!("trial #{id}: bad datetime {s}")))
            })
            .transpose()
        };
        c.execute(
            "INSERT INTO trials (trial_id, number, study_id, state, datetime_start,
                 datetime_complete) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, number, study, state_name(state), dt(ds)?, dt(dc)?],
        )
        .map_err(e)?;
        if let Some((v, kind)) = value.and_then(value_repr) {
            c.execute(
                "INSERT INTO trial_values (trial_id, objective, value, value_type)
                 VALUES (?1, 0, ?2, ?3)",
                params![id, v, kind],
            )
            .map_err(e)?;
        }
    }
    c.execute_batch(
        "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
             SELECT trial_id, name, value, distribution FROM legacy_trial_params;
         INSERT INTO trial_user_attributes (trial_id, key, value_json)
             SELECT trial_id, key, value FROM legacy_trial_attrs WHERE kind = 0;",
    )
    .map_err(e)?;
    let steps: Vec<(i64, i64, Option<f64>)> = {
        let mut st = c
            .prepare("SELECT trial_id, step, value FROM legacy_trial_values")
            .map_err(e)?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(e)?
            .collect::<std::result::Result<_, _>>()
            .map_err(e)?
    };
    for (id, step, value) in steps {
        // The old schema stored NaN as NULL.
        let (v, kind) = intermediate_repr(value.unwrap_or(f64::NAN));
        c.execute(
            "INSERT INTO trial_intermediate_values
                 (trial_id, step, intermediate_value, intermediate_value_type)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, step, v, kind],
        )
        .map_err(e)?;
    }
    let system: Vec<(i64, String, String)> = {
        let mut st = c
            .prepare("SELECT trial_id, key, value FROM legacy_trial_attrs WHERE kind <> 0")
            .map_err(e)?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(e)?
            .collect::<std::result::Result<_, _>>()
            .map_err(e)?
    };
    for (id, key, value) in system {
        let mut value = value;
        if key == attrs::LEASE {
            // {"worker", "expires"} becomes the lease and a heartbeat with the same expiry.
            let old: Value = serde_json::from_str(&value)
                .map_err(|err| TuneError::Corrupt(format!("trial #{id}: lease: {err}")))?;
            if let Some((lease, hb)) = rdb::import_lease(&old) {
                value = lease.to_string();
                c.execute(
                    "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?1, ?2)",
                    params![id, sql_datetime(hb)],
                )
                .map_err(e)?;
            }
        }
        c.execute(
            "INSERT INTO trial_system_attributes (trial_id, key, value_json) VALUES (?1, ?2, ?3)",
            params![id, key, value],
        )
        .map_err(e)?;
    }
    for t in LEGACY_TABLES {
        c.execute_batch(&format!("DROP TABLE legacy_{t}"))
            .map_err(e)?;
    }
    Ok(())
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
                .query_row(
                    "SELECT study_id FROM studies WHERE study_name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if taken.is_some() {
                return Err(TuneError::StudyMismatch(format!(
                    "a study named '{name}' already exists"
                )));
            }
            self.exec(c, "INSERT INTO studies (study_name) VALUES (?1)", [name])?;
            let id = c.last_insert_rowid() as u64;
            self.exec(
                c,
                "INSERT INTO study_directions (direction, study_id, objective) VALUES (?1, ?2, 0)",
                params![direction_name(direction), id as i64],
            )?;
            for (k, v) in system_attrs {
                self.exec(
                    c,
                    "INSERT INTO study_system_attributes (study_id, key, value_json)
                     VALUES (?1, ?2, ?3)",
                    params![id as i64, k, v.to_string()],
                )?;
            }
            self.study_info(c, id, name.to_string())
        })
    }

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        self.read(|c| {
            let id: Option<i64> = c
                .query_row(
                    "SELECT study_id FROM studies WHERE study_name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            id.map(|id| self.study_info(c, id as u64, name.to_string()))
                .transpose()
        })
    }

    fn studies(&self) -> Result<Vec<StudyInfo>> {
        self.read(|c| {
            let rows: Vec<(i64, String)> = {
                let mut st = c
                    // A study without a set direction (Optuna's `NOT_SET`, left by a
                    // `create_study` that was interrupted) is not listed: it cannot be
                    // opened, and it must not hide the others. Opening it by name says why.
                    .prepare(
                        "SELECT s.study_id, s.study_name FROM studies s
                         JOIN study_directions d ON d.study_id = s.study_id AND d.objective = 0
                         WHERE d.direction IN ('MINIMIZE', 'MAXIMIZE') ORDER BY s.study_id",
                    )
                    .map_err(|e| self.err(e))?;
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| self.err(e))?
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| self.err(e))?
            };
            rows.into_iter()
                .map(|(id, name)| self.study_info(c, id as u64, name))
                .collect()
        })
    }

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.set_study_attr(study, Attrs::User, key, value)
    }

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.set_study_attr(study, Attrs::System, key, value)
    }

    /// One `BEGIN IMMEDIATE` transaction. While no other connection committed since this
    /// one last claimed (`PRAGMA data_version`), the study's counts are known and a new
    /// trial is created without counting or scanning the study's trials, and returned
    /// without reading it back.
    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        self.transaction_counted(TransactionBehavior::Immediate, |c, counts| {
            self.check_study(c, study)?;
            let e = |e: rusqlite::Error| self.err(e);
            let now = unix_micros_now();
            let version: i64 = c
                .prepare_cached("PRAGMA data_version")
                .and_then(|mut st| st.query_row([], |r| r.get(0)))
                .map_err(e)?;
            let known = match counts.get(&study).filter(|k| k.version == version) {
                Some(k) => *k,
                None => {
                    let k = self.count_trials(c, study, version)?;
                    counts.insert(study, k);
                    k
                }
            };
            let waiting: Option<i64> = if known.waiting {
                c.prepare_cached(
                    "SELECT trial_id FROM trials WHERE study_id = ?1 AND state = 'WAITING'
                     ORDER BY trial_id LIMIT 1",
                )
                .and_then(|mut st| st.query_row([study as i64], |r| r.get(0)).optional())
                .map_err(e)?
            } else {
                None
            };
            let lease_attr = stored_lease(worker, lease);
            if let Some(id) = waiting {
                let id = id as u64;
                self.exec(
                    c,
                    "UPDATE trials SET state = 'RUNNING', datetime_start = ?1
                     WHERE trial_id = ?2",
                    params![sql_datetime(now), id as i64],
                )?;
                self.set_attr(c, id, Attrs::System, attrs::LEASE, &lease_attr)?;
                self.set_heartbeat(c, id, now)?;
                return self.load_trial(c, id).map(Some);
            }
            let entry = counts.get_mut(&study).expect("counted above");
            entry.waiting = false;
            if budget.is_some_and(|b| known.counted >= b) {
                return Ok(None);
            }
            let start = sql_datetime(now);
            let id = self.insert_numbered(
                c,
                study,
                known.trials,
                TrialState::Running,
                Some(&start),
                None,
            )?;
            entry.trials += 1;
            entry.counted += 1;
            self.set_attr(c, id, Attrs::System, attrs::LEASE, &lease_attr)?;
            self.set_heartbeat(c, id, now)?;
            // The trial as `load_trial` would read it back.
            let mut t = blank_trial(TrialState::Running);
            t.id = id;
            t.number = known.trials;
            t.datetime_start = from_sql_datetime(&start);
            t.system_attrs.insert(attrs::LEASE.into(), lease_attr);
            expose_lease(&mut t, Some(now));
            Ok(Some(t))
        })
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        self.fenced_write(trial_id, worker, |c| {
            self.set_attr(
                c,
                trial_id,
                Attrs::System,
                attrs::LEASE,
                &stored_lease(worker, lease),
            )?;
            self.set_heartbeat(c, trial_id, unix_micros_now())
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
        self.set_params(trial_id, worker, &[(name, dist, internal)])
    }

    fn set_params(
        &self,
        trial_id: u64,
        worker: &str,
        params: &[(&str, &Distribution, f64)],
    ) -> Result<()> {
        self.fenced_write(trial_id, worker, |c| {
            for &(name, dist, internal) in params {
                self.exec(
                    c,
                    "INSERT INTO trial_params
                         (trial_id, param_name, param_value, distribution_json)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (trial_id, param_name) DO UPDATE SET
                         param_value = excluded.param_value,
                         distribution_json = excluded.distribution_json",
                    params![trial_id as i64, name, internal, dist.to_json().to_string()],
                )?;
            }
            Ok(())
        })
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        let (v, kind) = intermediate_repr(value);
        self.fenced_write(trial_id, worker, |c| {
            self.exec(
                c,
                "INSERT INTO trial_intermediate_values
                     (trial_id, step, intermediate_value, intermediate_value_type)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (trial_id, step) DO UPDATE SET
                     intermediate_value = excluded.intermediate_value,
                     intermediate_value_type = excluded.intermediate_value_type",
                params![trial_id as i64, step as i64, v, kind],
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
            self.set_attr(c, trial_id, Attrs::User, key, value)
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
                "UPDATE trials SET state = ?1, datetime_complete = ?2 WHERE trial_id = ?3",
                params![
                    state_name(state),
                    sql_datetime(unix_micros_now()),
                    trial_id as i64
                ],
            )?;
            self.set_value(c, trial_id, value)
        })
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        self.transaction_counted(TransactionBehavior::Immediate, |c, counts| {
            self.check_study(c, study)?;
            let now = unix_micros_now();
            let expired: Vec<FrozenTrial> = self
                .load_where(
                    c,
                    "t.study_id = ?1 AND t.state = 'RUNNING'",
                    &[&(study as i64)],
                )?
                .into_iter()
                .filter(|(t, hb)| is_expired(t, *hb, now))
                .map(|(t, _)| t)
                .collect();
            let mut failed = Vec::new();
            if !expired.is_empty() {
                counts.remove(&study);
            }
            for old in expired {
                self.exec(
                    c,
                    "UPDATE trials SET state = 'FAIL', datetime_complete = ?1 WHERE trial_id = ?2",
                    params![sql_datetime(now), old.id as i64],
                )?;
                failed.push(old.number);
                if retries_of(&old) < u64::from(max_retries) {
                    let (_, number) = self.insert_trial(c, study, &requeue_copy(&old))?;
                    self.set_attr(
                        c,
                        old.id,
                        Attrs::System,
                        attrs::REQUEUED_AS,
                        &Value::from(number),
                    )?;
                }
            }
            Ok(failed)
        })
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.read(|c| {
            self.check_study(c, study)?;
            Ok(self
                .load_where(c, "t.study_id = ?1", &[&(study as i64)])?
                .into_iter()
                .map(|(t, _)| t)
                .collect())
        })
    }

    /// The trials with an id above the highest the reader holds (`seen.version`; within a
    /// study ids grow with numbers) and those it holds unfinished, by id: both are primary
    /// key lookups. A finished trial is only changed by the transaction that finishes it.
    /// The SQL text is the same every time (the held ids are one JSON parameter), so its
    /// statements are prepared once per connection.
    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        let study_key = study as i64;
        let (last, ids) = match seen.version {
            Some(last) if seen.unfinished_ids.len() == seen.unfinished.len() => (
                Some(last as i64),
                Value::from(seen.unfinished_ids.clone()).to_string(),
            ),
            _ => (None, String::new()),
        };
        let all = last.is_none();
        self.read(|c| {
            self.check_study(c, study)?;
            let loaded = match last {
                Some(last) => self.load_where(
                    c,
                    // `+`: look trials up by id, not by scanning the study's index.
                    "+t.study_id = ?1 AND (t.trial_id > ?2
                         OR t.trial_id IN (SELECT value FROM json_each(?3)))",
                    &[&study_key, &last, &ids],
                )?,
                None => self.load_where(c, "t.study_id = ?1", &[&study_key])?,
            };
            let trials: Vec<FrozenTrial> = loaded.into_iter().map(|(t, _)| t).collect();
            let last = trials.iter().map(|t| t.id).max();
            Ok(TrialChanges {
                version: last.max(seen.version).or(Some(0)),
                trials,
                all,
            })
        })
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        self.transaction_counted(TransactionBehavior::Immediate, |c, counts| {
            counts.remove(&study);
            self.check_study(c, study)?;
            Ok(self.insert_trial(c, study, trial)?.1)
        })
    }
}
