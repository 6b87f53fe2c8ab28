//! A study in PostgreSQL (`postgres://user@host:port/db`), shared by workers on many
//! machines.
//!
//! The database has Optuna 5.0's RDBStorage schema (see [`super::rdb`]): Optuna workers
//! (`optuna.load_study(storage="postgresql+psycopg2://…")`) and optuna-dashboard work on the
//! same study as optimlab's workers. The rules are the other storages' (see [`Storage`]),
//! enforced by the server:
//! - a claim takes the lowest-numbered Waiting trial with `FOR UPDATE SKIP LOCKED`, so racing
//!   workers never wait on each other nor take the same trial;
//! - a new trial's number is the count of the study's trials before it, taken under a lock on
//!   the study row as Optuna takes it, in the same transaction that checks the budget: numbers
//!   run 0, 1, 2, … with no gap, shared with Optuna's workers, and the budget holds however
//!   many workers race;
//! - leases are timed by the server's clock: the heartbeat row holds `LOCALTIMESTAMP` as
//!   Optuna's `record_heartbeat` writes it, and a lease runs out `seconds` after it;
//! - every write to a trial names its worker and checks, in the same statement, that the trial
//!   is Running and leased to it (fencing): zero rows touched means the lease was lost;
//! - expired trials are failed and re-queued in one transaction that locks them with
//!   `SKIP LOCKED`, so two reapers never re-queue the same trial twice.
//!
//! A database holding optimlab's former tables (`optimlab_studies`, …) is converted on
//! connect, in one transaction: studies, trials, values, attributes and leases move to
//! Optuna's tables and the old tables are dropped.
//!
//! The URL takes libpq's parameters: `connect_timeout` (10 s unless given), `application_name`
//! (`optimlab` unless given), and `options=-csearch_path%3DNAME` to keep the tables in an
//! existing schema NAME. Connections are unencrypted (`sslmode=require` is refused): reach a
//! remote server through a private network or a tunnel.

use super::model::{TrialRows, attr_map, check_final, requeue_copy, retries_of};
use super::rdb::{
    self, ALEMBIC_HEAD, FOREIGN_GRACE, OPTUNA_LIBRARY_VERSION, OPTUNA_SCHEMA_VERSION,
    direction_from_name, direction_name, expose_lease, from_sql_datetime, intermediate_repr,
    state_from_name, state_name, stored_lease, to_sql_datetime, value_from, value_repr,
};
use super::{Storage, StudyInfo, TrialChanges, TrialsSeen, attrs};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Key of the advisory lock held while creating or converting the schema, so that workers
/// connecting for the first time at the same moment do not trip over each other.
const SCHEMA_LOCK: i64 = 0x6f70_746c_6162_0001;

/// How long a connection attempt may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Optuna 5.0's types and tables as its SQLAlchemy models create them in PostgreSQL.
const SCHEMA: &str = "
CREATE TYPE studydirection AS ENUM ('NOT_SET', 'MINIMIZE', 'MAXIMIZE');
CREATE TYPE trialintermediatevaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG', 'NAN');
CREATE TYPE trialstate AS ENUM ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING');
CREATE TYPE trialvaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG');
CREATE TABLE studies (
    study_id SERIAL NOT NULL,
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
    study_direction_id SERIAL NOT NULL,
    direction studydirection NOT NULL,
    study_id INTEGER NOT NULL,
    objective INTEGER NOT NULL,
    PRIMARY KEY (study_direction_id),
    UNIQUE (study_id, objective),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_user_attributes (
    study_user_attribute_id SERIAL NOT NULL,
    study_id INTEGER,
    key VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (study_user_attribute_id),
    UNIQUE (study_id, key),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_system_attributes (
    study_system_attribute_id SERIAL NOT NULL,
    study_id INTEGER,
    key VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (study_system_attribute_id),
    UNIQUE (study_id, key),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE trials (
    trial_id SERIAL NOT NULL,
    number INTEGER,
    study_id INTEGER,
    state trialstate NOT NULL,
    datetime_start TIMESTAMP WITHOUT TIME ZONE,
    datetime_complete TIMESTAMP WITHOUT TIME ZONE,
    PRIMARY KEY (trial_id),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE INDEX ix_trials_study_id ON trials (study_id);
CREATE TABLE trial_user_attributes (
    trial_user_attribute_id SERIAL NOT NULL,
    trial_id INTEGER,
    key VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (trial_user_attribute_id),
    UNIQUE (trial_id, key),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_system_attributes (
    trial_system_attribute_id SERIAL NOT NULL,
    trial_id INTEGER,
    key VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (trial_system_attribute_id),
    UNIQUE (trial_id, key),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_params (
    param_id SERIAL NOT NULL,
    trial_id INTEGER,
    param_name VARCHAR(512),
    param_value FLOAT(53),
    distribution_json TEXT,
    PRIMARY KEY (param_id),
    UNIQUE (trial_id, param_name),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_values (
    trial_value_id SERIAL NOT NULL,
    trial_id INTEGER NOT NULL,
    objective INTEGER NOT NULL,
    value FLOAT(53),
    value_type trialvaluetype NOT NULL,
    PRIMARY KEY (trial_value_id),
    UNIQUE (trial_id, objective),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_intermediate_values (
    trial_intermediate_value_id SERIAL NOT NULL,
    trial_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    intermediate_value FLOAT(53),
    intermediate_value_type trialintermediatevaluetype NOT NULL,
    PRIMARY KEY (trial_intermediate_value_id),
    UNIQUE (trial_id, step),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_heartbeats (
    trial_heartbeat_id SERIAL NOT NULL,
    trial_id INTEGER NOT NULL,
    heartbeat TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (trial_heartbeat_id),
    UNIQUE (trial_id),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
";

/// The current time as Optuna stores trial datetimes: naive UTC.
const UTC_NOW: &str = "(now() AT TIME ZONE 'UTC')";

/// A datetime column as text that [`from_sql_datetime`] reads.
fn dt_text(col: &str) -> String {
    format!("to_char({col}, 'YYYY-MM-DD HH24:MI:SS.US')")
}

/// A PostgreSQL-backed [`Storage`]. One connection behind a mutex: each worker process opens
/// its own storage; threads of one process may share it.
pub struct PostgresStorage {
    config: Config,
    /// `host:port/database`, for messages (never the password).
    target: String,
    client: Mutex<Client>,
}

/// What an operation can fail with: the server (maybe a broken connection, worth one
/// reconnect) or a rule of the storage.
enum Fail {
    Pg(postgres::Error),
    Tune(TuneError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<TuneError> for Fail {
    fn from(e: TuneError) -> Self {
        Fail::Tune(e)
    }
}

type PgResult<T> = std::result::Result<T, Fail>;

/// The host part of a URL (`host:port` list) without user or password, for messages.
fn redact(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hosts.is_empty() {
        "localhost".into()
    } else {
        hosts.into()
    }
}

/// `host:port/database` as the parsed configuration says.
fn describe(config: &Config, fallback: &str) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        fallback.to_string()
    } else {
        hosts.join(",")
    };
    match config.get_dbname() {
        Some(db) => format!("{hosts}/{db}"),
        None => hosts,
    }
}

/// One line from a client error: the server's message and code, or the client's error and
/// its causes.
fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg.replace('\n', " ")
}

/// Whether an error means the connection is gone (worth reconnecting), rather than a refused
/// statement.
fn is_broken(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || code == &SqlState::ADMIN_SHUTDOWN
            || code == &SqlState::CRASH_SHUTDOWN
            || code == &SqlState::CANNOT_CONNECT_NOW;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        source = s.source();
    }
    false
}

fn to_i32(x: u64, what: &str) -> PgResult<i32> {
    i32::try_from(x).map_err(|_| Fail::Tune(TuneError::Storage(format!("{what} {x} is too large"))))
}

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).expect("a JSON value serialises")
}

fn parse_json(text: &str, what: &str) -> PgResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        Fail::Tune(TuneError::Corrupt(format!(
            "{what} is not JSON ({e}): {text}"
        )))
    })
}

impl PostgresStorage {
    /// Connects and creates the schema if it is absent (or converts optimlab's former one).
    /// A bad URL, an unreachable server or a refused login is a one-line
    /// [`TuneError::Storage`] naming the host.
    pub fn connect(url: &str) -> Result<Self> {
        let mut config = Config::from_str(url).map_err(|e| {
            TuneError::Storage(format!(
                "invalid PostgreSQL URL for {}: {}",
                redact(url),
                pg_message(&e)
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("optimlab");
        }
        let target = describe(&config, &redact(url));
        let mut client = Self::open_client(&config, &target)?;
        Self::create_schema(&mut client)
            .map_err(|f| Self::error(&target, "creating the schema", f))?;
        Ok(Self {
            config,
            target,
            client: Mutex::new(client),
        })
    }

    fn open_client(config: &Config, target: &str) -> Result<Client> {
        config.connect(NoTls).map_err(|e| {
            TuneError::Storage(format!(
                "cannot connect to PostgreSQL at {target}: {}",
                pg_message(&e)
            ))
        })
    }

    fn create_schema(client: &mut Client) -> PgResult<()> {
        let mut tx = client.transaction()?;
        let schema: Option<String> = tx.query_one("SELECT current_schema()::text", &[])?.get(0);
        if schema.is_none() {
            return Err(TuneError::Storage(
                "the connection's search_path names no existing schema to create tables in".into(),
            )
            .into());
        }
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        let exists = |tx: &mut postgres::Transaction<'_>, t: &str| -> PgResult<bool> {
            Ok(tx
                .query_one("SELECT to_regclass($1)::text IS NOT NULL", &[&t])?
                .get(0))
        };
        let optuna = exists(&mut tx, "studies")?;
        let legacy = exists(&mut tx, "optimlab_studies")?;
        if !optuna {
            tx.batch_execute(SCHEMA)?;
            tx.execute(
                "INSERT INTO version_info (version_info_id, schema_version, library_version)
                 VALUES (1, $1, $2)",
                &[&(OPTUNA_SCHEMA_VERSION as i32), &OPTUNA_LIBRARY_VERSION],
            )?;
            tx.execute(
                "INSERT INTO alembic_version (version_num) VALUES ($1)",
                &[&ALEMBIC_HEAD],
            )?;
        } else {
            let revision: Option<String> = if exists(&mut tx, "alembic_version")? {
                tx.query_opt("SELECT version_num::text FROM alembic_version", &[])?
                    .map(|r| r.get(0))
            } else {
                None
            };
            if revision.as_deref() != Some(ALEMBIC_HEAD) {
                return Err(TuneError::Storage(format!(
                    "the database's Optuna schema revision {} is not {ALEMBIC_HEAD} (Optuna 5.0): \
                     upgrade it with `optuna storage upgrade` or use a matching optimlab",
                    revision.as_deref().unwrap_or("(none)")
                ))
                .into());
            }
        }
        if legacy {
            migrate_legacy(&mut tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn error(target: &str, what: &str, f: Fail) -> TuneError {
        match f {
            Fail::Tune(e) => e,
            Fail::Pg(e) => TuneError::Storage(format!(
                "PostgreSQL at {target}: {what}: {}",
                pg_message(&e)
            )),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Client> {
        // A panic while holding the lock leaves at worst an open transaction, which the
        // client rolls back when the next one starts.
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` on the connection; if the connection turns out broken, reconnects once and
    /// runs it again (each operation is one transaction, rolled back by the server if the
    /// connection died before its commit).
    fn with<T>(&self, what: &str, mut op: impl FnMut(&mut Client) -> PgResult<T>) -> Result<T> {
        let mut client = self.lock();
        if client.is_closed() {
            *client = Self::open_client(&self.config, &self.target)?;
        }
        match op(&mut client) {
            Err(Fail::Pg(e)) if is_broken(&e) || client.is_closed() => {
                *client = Self::open_client(&self.config, &self.target)?;
                op(&mut client).map_err(|f| Self::error(&self.target, what, f))
            }
            r => r.map_err(|f| Self::error(&self.target, what, f)),
        }
    }
}

/// Moves optimlab's former tables (`optimlab_*`, schema version 1) into Optuna's, inside the
/// caller's transaction, then drops them. A study whose name Optuna's tables already hold
/// is refused (nothing changes).
fn migrate_legacy(tx: &mut postgres::Transaction<'_>) -> PgResult<()> {
    let studies = tx.query(
        "SELECT id, name, direction FROM optimlab_studies ORDER BY id",
        &[],
    )?;
    for s in studies {
        let old_id: i64 = s.get(0);
        let name: String = s.get(1);
        let code: i16 = s.get(2);
        let direction = Direction::from_code(i64::from(code)).ok_or_else(|| {
            TuneError::Corrupt(format!(
                "study '{name}' has an unknown direction code {code}"
            ))
        })?;
        let mut system = BTreeMap::new();
        let mut user = BTreeMap::new();
        for row in tx.query(
            "SELECT system, key, value FROM optimlab_study_attrs WHERE study_id = $1",
            &[&old_id],
        )? {
            let key: String = row.get(1);
            let value = parse_json(row.get(2), &format!("study attribute '{key}'"))?;
            attr_map(&mut user, &mut system, row.get(0)).insert(key, value);
        }
        let info = create_study_in(tx, &name, direction, &system)?;
        let id = info.id as i32;
        for (k, v) in &user {
            tx.execute(
                "INSERT INTO study_user_attributes (study_id, key, value_json) VALUES ($1, $2, $3)",
                &[&id, k, &json_text(v)],
            )?;
        }
        for t in load_legacy_trials(tx, old_id)? {
            insert_trial(tx, id, &t)?;
        }
    }
    tx.batch_execute(
        "DROP TABLE optimlab_trial_attrs, optimlab_trial_intermediate, optimlab_trial_params,
             optimlab_trials, optimlab_study_attrs, optimlab_studies, optimlab_schema_version",
    )?;
    Ok(())
}

/// A study's trials in optimlab's former tables, in number order.
fn load_legacy_trials(
    tx: &mut postgres::Transaction<'_>,
    study: i64,
) -> PgResult<Vec<FrozenTrial>> {
    let mut trials = TrialRows::default();
    for row in tx.query(
        "SELECT id, number, state, value, datetime_start, datetime_complete,
                lease_worker, extract(epoch FROM lease_expires)::float8
         FROM optimlab_trials WHERE study_id = $1 ORDER BY number",
        &[&study],
    )? {
        let code: i16 = row.get(2);
        let number: i64 = row.get(1);
        let state = TrialState::from_code(i64::from(code)).ok_or_else(|| {
            TuneError::Corrupt(format!("trial {number} has an unknown state code {code}"))
        })?;
        let t = trials.push(
            row.get::<_, i64>(0) as u64,
            number as u64,
            state,
            row.get(3),
            row.get(4),
            row.get(5),
        );
        if let (Some(w), Some(e)) = (
            row.get::<_, Option<String>>(6),
            row.get::<_, Option<f64>>(7),
        ) {
            t.system_attrs
                .insert(attrs::LEASE.into(), json!({"worker": w, "expires": e}));
        }
    }
    let ids: Vec<i64> = trials.ids().map(|i| i as i64).collect();
    for row in tx.query(
        "SELECT trial_id, name, distribution, value FROM optimlab_trial_params
         WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let name: String = row.get(1);
        let v = parse_json(row.get(2), &format!("parameter '{name}'"))?;
        let dist = Distribution::from_json(&v).ok_or_else(|| {
            TuneError::Corrupt(format!("parameter '{name}' has an unknown distribution"))
        })?;
        if let Some(t) = trials.get_mut(row.get::<_, i64>(0) as u64) {
            t.params.insert(name, (dist, row.get(3)));
        }
    }
    for row in tx.query(
        "SELECT trial_id, step, value FROM optimlab_trial_intermediate WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        if let Some(t) = trials.get_mut(row.get::<_, i64>(0) as u64) {
            t.intermediate
                .insert(row.get::<_, i64>(1) as u64, row.get(2));
        }
    }
    for row in tx.query(
        "SELECT trial_id, system, key, value FROM optimlab_trial_attrs WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let key: String = row.get(2);
        let value = parse_json(row.get(3), &format!("trial attribute '{key}'"))?;
        if let Some(t) = trials.get_mut(row.get::<_, i64>(0) as u64) {
            attr_map(&mut t.user_attrs, &mut t.system_attrs, row.get(1)).insert(key, value);
        }
    }
    Ok(trials.into_trials())
}

/// Creates a study row, its direction and system attributes.
fn create_study_in<C: GenericClient>(
    c: &mut C,
    name: &str,
    direction: Direction,
    system_attrs: &BTreeMap<String, Value>,
) -> PgResult<StudyInfo> {
    let id: i32 = match c.query_opt(
        "INSERT INTO studies (study_name) VALUES ($1)
         ON CONFLICT (study_name) DO NOTHING RETURNING study_id",
        &[&name],
    )? {
        Some(row) => row.get(0),
        None => {
            return Err(
                TuneError::StudyMismatch(format!("a study named '{name}' already exists")).into(),
            );
        }
    };
    c.execute(
        "INSERT INTO study_directions (direction, study_id, objective)
         VALUES ($1::text::studydirection, $2, 0)",
        &[&direction_name(direction), &id],
    )?;
    for (k, v) in system_attrs {
        c.execute(
            "INSERT INTO study_system_attributes (study_id, key, value_json) VALUES ($1, $2, $3)",
            &[&id, k, &json_text(v)],
        )?;
    }
    Ok(StudyInfo {
        id: id as u64,
        name: name.to_string(),
        direction,
        user_attrs: BTreeMap::new(),
        system_attrs: system_attrs.clone(),
    })
}

/// Studies (all, or the one with this name) with their attributes. The list leaves out a
/// study without a set direction (Optuna's `NOT_SET`, left by an interrupted `create_study`):
/// it cannot be opened and must not hide the others; asked for by name, it is an error.
fn load_studies<C: GenericClient>(c: &mut C, name: Option<&str>) -> PgResult<Vec<StudyInfo>> {
    let rows = c.query(
        "SELECT s.study_id, s.study_name::text, d.direction::text FROM studies s
         LEFT JOIN study_directions d ON d.study_id = s.study_id AND d.objective = 0
         WHERE ($1::text IS NULL AND d.direction::text IN ('MINIMIZE', 'MAXIMIZE'))
            OR s.study_name = $1
         ORDER BY s.study_id",
        &[&name],
    )?;
    let mut studies = Vec::with_capacity(rows.len());
    let mut index = BTreeMap::new();
    for row in rows {
        let id: i32 = row.get(0);
        let name: String = row.get(1);
        let dir: Option<String> = row.get(2);
        let direction = dir.as_deref().and_then(direction_from_name).ok_or_else(|| {
            TuneError::Corrupt(format!(
                "study '{name}' has direction {}: optimlab studies minimize or maximize one objective",
                dir.as_deref().unwrap_or("(none)")
            ))
        })?;
        index.insert(id, studies.len());
        studies.push(StudyInfo {
            id: id as u64,
            name,
            direction,
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
        });
    }
    if studies.is_empty() {
        return Ok(studies);
    }
    let ids: Vec<i32> = index.keys().copied().collect();
    for (table, system) in [
        ("study_user_attributes", false),
        ("study_system_attributes", true),
    ] {
        for row in c.query(
            &format!(
                "SELECT study_id, key::text, value_json FROM {table} WHERE study_id = ANY($1)"
            ),
            &[&ids],
        )? {
            let id: i32 = row.get(0);
            let key: String = row.get(1);
            let value = parse_json(row.get(2), &format!("study attribute '{key}'"))?;
            let s = &mut studies[index[&id]];
            attr_map(&mut s.user_attrs, &mut s.system_attrs, system).insert(key, value);
        }
    }
    Ok(studies)
}

/// Trials selected by `filter` (SQL on `trials t`, with `params`) with everything attached,
/// in number order.
fn load_trials<C: GenericClient>(
    c: &mut C,
    filter: &str,
    params: &[&(dyn ToSql + Sync)],
) -> PgResult<Vec<FrozenTrial>> {
    let rows = c.query(
        &format!(
            "SELECT t.trial_id, t.number, t.state::text, v.value, v.value_type::text,
                    {}, {},
                    (extract(epoch FROM h.heartbeat::timestamptz) * 1000000)::int8
             FROM trials t
             LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0
             LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id
             WHERE {filter} ORDER BY t.number",
            dt_text("t.datetime_start"),
            dt_text("t.datetime_complete")
        ),
        params,
    )?;
    let mut trials = TrialRows::default();
    let mut heartbeats = BTreeMap::new();
    for row in rows {
        let id: i32 = row.get(0);
        let number: Option<i32> = row.get(1);
        let number =
            number.ok_or_else(|| TuneError::Corrupt(format!("trial #{id} has no number")))?;
        let name: String = row.get(2);
        let state = state_from_name(&name).ok_or_else(|| {
            TuneError::Corrupt(format!("trial {number} has an unknown state {name}"))
        })?;
        let value = match row.get::<_, Option<String>>(4) {
            Some(kind) => Some(value_from(row.get(3), &kind).ok_or_else(|| {
                TuneError::Corrupt(format!("trial {number} has a value of type {kind}"))
            })?),
            None => None,
        };
        let ds: Option<String> = row.get(5);
        let dc: Option<String> = row.get(6);
        trials.push(
            id as u64,
            number as u64,
            state,
            value,
            ds.as_deref().and_then(from_sql_datetime),
            dc.as_deref().and_then(from_sql_datetime),
        );
        heartbeats.insert(id as u64, row.get::<_, Option<i64>>(7));
    }
    if trials.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = trials.ids().map(|id| id as i32).collect();
    for row in c.query(
        "SELECT trial_id, param_name::text, distribution_json, param_value FROM trial_params
         WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let Some(t) = trials.get_mut(row.get::<_, i32>(0) as u64) else {
            continue;
        };
        let name: String = row.get(1);
        let text: &str = row.get(2);
        let dist =
            parse_json(text, &format!("trial {} parameter '{name}'", t.number)).and_then(|v| {
                Distribution::from_json(&v).ok_or_else(|| {
                    Fail::Tune(TuneError::Corrupt(format!(
                        "trial {} parameter '{name}' has an unknown distribution: {text}",
                        t.number
                    )))
                })
            })?;
        t.params.insert(name, (dist, row.get(3)));
    }
    for row in c.query(
        "SELECT trial_id, step, intermediate_value, intermediate_value_type::text
         FROM trial_intermediate_values WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let Some(t) = trials.get_mut(row.get::<_, i32>(0) as u64) else {
            continue;
        };
        let step: i32 = row.get(1);
        let kind: String = row.get(3);
        let value = value_from(row.get(2), &kind)
            .ok_or_else(|| TuneError::Corrupt(format!("an intermediate value has type {kind}")))?;
        t.intermediate.insert(step as u64, value);
    }
    for (table, system) in [
        ("trial_user_attributes", false),
        ("trial_system_attributes", true),
    ] {
        for row in c.query(
            &format!(
                "SELECT trial_id, key::text, value_json FROM {table} WHERE trial_id = ANY($1)"
            ),
            &[&ids],
        )? {
            let Some(t) = trials.get_mut(row.get::<_, i32>(0) as u64) else {
                continue;
            };
            let key: String = row.get(1);
            let value = parse_json(row.get(2), &format!("trial {} attribute '{key}'", t.number))?;
            attr_map(&mut t.user_attrs, &mut t.system_attrs, system).insert(key, value);
        }
    }
    Ok(trials
        .into_trials()
        .into_iter()
        .map(|mut t| {
            let hb = heartbeats.get(&t.id).copied().flatten();
            expose_lease(&mut t, hb);
            t
        })
        .collect())
}

fn load_ids<C: GenericClient>(c: &mut C, ids: &[i32]) -> PgResult<Vec<FrozenTrial>> {
    load_trials(c, "t.trial_id = ANY($1)", &[&ids])
}

/// Locks the study row as Optuna does while it numbers a new trial (until the transaction
/// ends); `NoStudy` if there is none.
fn lock_study<C: GenericClient>(c: &mut C, study: i32) -> PgResult<()> {
    if c.query_opt(
        "SELECT study_id FROM studies WHERE study_id = $1 FOR NO KEY UPDATE",
        &[&study],
    )?
    .is_none()
    {
        return Err(TuneError::NoStudy(format!("#{study}")).into());
    }
    Ok(())
}

/// Inserts a trial row under the study's next number (the count of its trials before it,
/// as Optuna numbers them). The caller holds the study row lock. Returns (id, number).
/// `start_now`: the trial starts now (server clock) rather than at `start`.
fn insert_head<C: GenericClient>(
    c: &mut C,
    study: i32,
    state: TrialState,
    (start, start_now): (Option<String>, bool),
    complete: Option<String>,
) -> PgResult<(i32, i32)> {
    let row = c.query_one(
        &format!(
            "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete)
             SELECT count(*), $1, $2::text::trialstate,
                    CASE WHEN $5 THEN {UTC_NOW} ELSE $3::text::timestamp END,
                    $4::text::timestamp
             FROM trials WHERE study_id = $1
             RETURNING trial_id, number"
        ),
        &[&study, &state_name(state), &start, &complete, &start_now],
    )?;
    Ok((row.get(0), row.get(1)))
}

/// Upserts a trial attribute.
fn set_attr<C: GenericClient>(
    c: &mut C,
    trial: i32,
    system: bool,
    key: &str,
    value: &str,
) -> PgResult<()> {
    let table = if system {
        "trial_system_attributes"
    } else {
        "trial_user_attributes"
    };
    c.execute(
        &format!(
            "INSERT INTO {table} (trial_id, key, value_json) VALUES ($1, $2, $3)
             ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json"
        ),
        &[&trial, &key, &value],
    )?;
    Ok(())
}

/// Sets a trial's heartbeat: the server's now, or the given unix microseconds, in
/// session-local time as Optuna's `record_heartbeat` writes it.
fn set_heartbeat<C: GenericClient>(c: &mut C, trial: i32, at: Option<i64>) -> PgResult<()> {
    c.execute(
        "INSERT INTO trial_heartbeats (trial_id, heartbeat)
         VALUES ($1, CASE WHEN $2::int8 IS NULL THEN LOCALTIMESTAMP
             ELSE (to_timestamp(0) + $2::int8 * interval '1 microsecond')
                 AT TIME ZONE current_setting('TimeZone') END)
         ON CONFLICT (trial_id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat",
        &[&trial, &at],
    )?;
    Ok(())
}

fn set_value<C: GenericClient>(c: &mut C, trial: i32, value: Option<f64>) -> PgResult<()> {
    if let Some((v, kind)) = value.and_then(value_repr) {
        c.execute(
            "INSERT INTO trial_values (trial_id, objective, value, value_type)
             VALUES ($1, 0, $2, $3::text::trialvaluetype)
             ON CONFLICT (trial_id, objective)
             DO UPDATE SET value = EXCLUDED.value, value_type = EXCLUDED.value_type",
            &[&trial, &v, &kind],
        )?;
    }
    Ok(())
}

/// Inserts `t` (state, values, parameters, attributes; its lease becomes the stored lease
/// and a heartbeat with the same expiry) into a study under the next number. Returns
/// (id, number).
fn insert_trial<C: GenericClient>(c: &mut C, study: i32, t: &FrozenTrial) -> PgResult<(i32, i32)> {
    lock_study(c, study)?;
    let (id, number) = insert_head(
        c,
        study,
        t.state,
        (t.datetime_start.as_deref().and_then(to_sql_datetime), false),
        t.datetime_complete.as_deref().and_then(to_sql_datetime),
    )?;
    set_value(c, id, t.value)?;
    if !t.params.is_empty() {
        let names: Vec<&str> = t.params.keys().map(String::as_str).collect();
        let dists: Vec<String> = t
            .params
            .values()
            .map(|(d, _)| json_text(&d.to_json()))
            .collect();
        let values: Vec<f64> = t.params.values().map(|(_, v)| *v).collect();
        c.execute(
            "INSERT INTO trial_params (trial_id, param_name, distribution_json, param_value)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::float8[])",
            &[&id, &names, &dists, &values],
        )?;
    }
    if !t.intermediate.is_empty() {
        let steps = t
            .intermediate
            .keys()
            .map(|&s| to_i32(s, "step"))
            .collect::<PgResult<Vec<i32>>>()?;
        let (values, kinds): (Vec<Option<f64>>, Vec<&str>) = t
            .intermediate
            .values()
            .map(|&v| intermediate_repr(v))
            .unzip();
        c.execute(
            "INSERT INTO trial_intermediate_values
                 (trial_id, step, intermediate_value, intermediate_value_type)
             SELECT $1, s, v, k::trialintermediatevaluetype
             FROM unnest($2::int4[], $3::float8[], $4::text[]) AS u(s, v, k)",
            &[&id, &steps, &values, &kinds],
        )?;
    }
    for (k, v) in &t.user_attrs {
        set_attr(c, id, false, k, &json_text(v))?;
    }
    for (k, v) in &t.system_attrs {
        if k == attrs::LEASE
            && let Some((lease, hb)) = rdb::import_lease(v)
        {
            set_attr(c, id, true, k, &json_text(&lease))?;
            set_heartbeat(c, id, Some(hb))?;
            continue;
        }
        set_attr(c, id, true, k, &json_text(v))?;
    }
    Ok((id, number))
}

/// The error for a fenced write that touched nothing: the lease is lost, or no such trial.
fn refused<C: GenericClient>(c: &mut C, trial: i32) -> Fail {
    match c.query_opt("SELECT number FROM trials WHERE trial_id = $1", &[&trial]) {
        Ok(Some(row)) => Fail::Tune(TuneError::LeaseLost {
            number: row.get::<_, Option<i32>>(0).unwrap_or(0) as u64,
        }),
        Ok(None) => Fail::Tune(TuneError::Storage(format!("no trial with id {trial}"))),
        Err(e) => Fail::Pg(e),
    }
}

/// Runs a fenced write: `sql` must touch rows only while trial `$1` is Running and leased to
/// worker `$2` (as `HELD` selects it); touching none is refused.
fn fenced(c: &mut Client, trial: i32, sql: &str, params: &[&(dyn ToSql + Sync)]) -> PgResult<()> {
    if c.execute(sql, params)? == 0 {
        return Err(refused(c, trial));
    }
    Ok(())
}

/// The trial `$1` while it is Running and its `optimlab:lease` names worker `$2`,
/// share-locked so that a reaper cannot fail it between this check and the write that
/// follows in the same statement.
const HELD: &str = "WITH held AS (SELECT t.trial_id FROM trials t
     JOIN trial_system_attributes a ON a.trial_id = t.trial_id AND a.key = 'optimlab:lease'
     WHERE t.trial_id = $1 AND t.state = 'RUNNING' AND (a.value_json::json ->> 'worker') = $2
     FOR SHARE OF t)";

impl Storage for PostgresStorage {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        self.with("creating a study", |c| {
            let mut tx = c.transaction()?;
            let info = create_study_in(&mut tx, name, direction, system_attrs)?;
            tx.commit()?;
            Ok(info)
        })
    }

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        self.with("reading a study", |c| {
            let mut tx = c.build_transaction().read_only(true).start()?;
            let s = load_studies(&mut tx, Some(name))?.into_iter().next();
            tx.commit()?;
            Ok(s)
        })
    }

    fn studies(&self) -> Result<Vec<StudyInfo>> {
        self.with("reading the studies", |c| {
            let mut tx = c.build_transaction().read_only(true).start()?;
            let s = load_studies(&mut tx, None)?;
            tx.commit()?;
            Ok(s)
        })
    }

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.set_study_attr(study, false, key, value)
    }

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.set_study_attr(study, true, key, value)
    }

    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        let lease_json = json_text(&stored_lease(worker, lease));
        self.with("claiming a trial", |c| {
            let study = to_i32(study, "study id")?;
            let budget = budget.map(|b| b.min(i64::MAX as u64) as i64);
            let mut tx = c.transaction()?;
            let waiting = tx.query_opt(
                "SELECT trial_id FROM trials WHERE study_id = $1 AND state = 'WAITING'
                 ORDER BY trial_id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&study],
            )?;
            let id: i32 = match waiting {
                Some(row) => {
                    let id: i32 = row.get(0);
                    tx.execute(
                        &format!(
                            "UPDATE trials SET state = 'RUNNING', datetime_start = {UTC_NOW}
                             WHERE trial_id = $1"
                        ),
                        &[&id],
                    )?;
                    id
                }
                None => {
                    // Holding the study row until commit serialises numbering and the budget
                    // check among all claimers, Optuna's included.
                    lock_study(&mut tx, study)?;
                    if let Some(budget) = budget {
                        let counted: i64 = tx
                            .query_one(
                                "SELECT count(*) FROM trials t WHERE t.study_id = $1
                                 AND NOT EXISTS (SELECT 1 FROM trial_system_attributes a
                                     WHERE a.trial_id = t.trial_id AND a.key = $2)",
                                &[&study, &attrs::REQUEUED_AS],
                            )?
                            .get(0);
                        if counted >= budget {
                            tx.commit()?;
                            return Ok(None);
                        }
                    }
                    insert_head(&mut tx, study, TrialState::Running, (None, true), None)?.0
                }
            };
            set_attr(&mut tx, id, true, attrs::LEASE, &lease_json)?;
            set_heartbeat(&mut tx, id, None)?;
            let trial = load_ids(&mut tx, &[id])?.pop();
            tx.commit()?;
            Ok(trial)
        })
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        let lease_json = json_text(&stored_lease(worker, lease));
        self.with("renewing a lease", |c| {
            let id = to_i32(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD}, renewed AS (UPDATE trial_system_attributes SET value_json = $3
                         WHERE trial_id IN (SELECT trial_id FROM held) AND key = 'optimlab:lease')
                     INSERT INTO trial_heartbeats (trial_id, heartbeat)
                     SELECT trial_id, LOCALTIMESTAMP FROM held
                     ON CONFLICT (trial_id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat"
                ),
                &[&id, &worker, &lease_json],
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
        let dist = json_text(&dist.to_json());
        self.with("setting a parameter", |c| {
            let id = to_i32(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO trial_params
                         (trial_id, param_name, distribution_json, param_value)
                     SELECT trial_id, $3, $4, $5 FROM held
                     ON CONFLICT (trial_id, param_name) DO UPDATE SET
                         distribution_json = EXCLUDED.distribution_json,
                         param_value = EXCLUDED.param_value"
                ),
                &[&id, &worker, &name, &dist, &internal],
            )
        })
    }

    /// One statement for all the parameters (arrays unnested), fenced once.
    fn set_params(
        &self,
        trial_id: u64,
        worker: &str,
        params: &[(&str, &Distribution, f64)],
    ) -> Result<()> {
        // One row per name (the last wins), as setting them one by one would leave them.
        let mut rows: BTreeMap<&str, (String, f64)> = BTreeMap::new();
        for &(name, dist, internal) in params {
            rows.insert(name, (json_text(&dist.to_json()), internal));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = rows.keys().map(|n| n.to_string()).collect();
        let dists: Vec<String> = rows.values().map(|(d, _)| d.clone()).collect();
        let values: Vec<f64> = rows.values().map(|(_, v)| *v).collect();
        self.with("setting parameters", |c| {
            let id = to_i32(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO trial_params
                         (trial_id, param_name, distribution_json, param_value)
                     SELECT held.trial_id, p.name, p.dist, p.value
                     FROM held, UNNEST($3::text[], $4::text[], $5::float8[]) AS p(name, dist, value)
                     ON CONFLICT (trial_id, param_name) DO UPDATE SET
                         distribution_json = EXCLUDED.distribution_json,
                         param_value = EXCLUDED.param_value"
                ),
                &[&id, &worker, &names, &dists, &values],
            )
        })
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        let (v, kind) = intermediate_repr(value);
        self.with("reporting a value", |c| {
            let id = to_i32(trial_id, "trial id")?;
            let step = to_i32(step, "step")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO trial_intermediate_values
                         (trial_id, step, intermediate_value, intermediate_value_type)
                     SELECT trial_id, $3, $4, $5::text::trialintermediatevaluetype FROM held
                     ON CONFLICT (trial_id, step) DO UPDATE SET
                         intermediate_value = EXCLUDED.intermediate_value,
                         intermediate_value_type = EXCLUDED.intermediate_value_type"
                ),
                &[&id, &worker, &step, &v, &kind],
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
        let value = json_text(value);
        self.with("setting a trial attribute", |c| {
            let id = to_i32(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO trial_user_attributes (trial_id, key, value_json)
                     SELECT trial_id, $3, $4 FROM held
                     ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json"
                ),
                &[&id, &worker, &key, &value],
            )
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
        let (v, kind) = match value.and_then(value_repr) {
            Some((v, k)) => (v, Some(k)),
            None => (None, None),
        };
        self.with("finishing a trial", |c| {
            let id = to_i32(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD}, valued AS (INSERT INTO trial_values
                             (trial_id, objective, value, value_type)
                         SELECT trial_id, 0, $4, $5::text::trialvaluetype FROM held
                         WHERE $5::text IS NOT NULL
                         ON CONFLICT (trial_id, objective) DO UPDATE SET
                             value = EXCLUDED.value, value_type = EXCLUDED.value_type)
                     UPDATE trials SET state = $3::text::trialstate, datetime_complete = {UTC_NOW}
                     WHERE trial_id IN (SELECT trial_id FROM held)"
                ),
                &[&id, &worker, &state_name(state), &v, &kind],
            )
        })
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        let foreign = FOREIGN_GRACE.as_secs_f64();
        self.with("re-queueing expired trials", |c| {
            let study = to_i32(study, "study id")?;
            let mut tx = c.transaction()?;
            // Rows another reaper (or a worker's write) holds are skipped: that reaper
            // handles them, or the worker is alive.
            let ids: Vec<i32> = tx
                .query(
                    "SELECT t.trial_id FROM trials t
                     JOIN trial_heartbeats h ON h.trial_id = t.trial_id
                     LEFT JOIN trial_system_attributes a
                         ON a.trial_id = t.trial_id AND a.key = 'optimlab:lease'
                     WHERE t.study_id = $1 AND t.state = 'RUNNING'
                       AND LOCALTIMESTAMP - h.heartbeat > make_interval(secs =>
                           COALESCE((a.value_json::json ->> 'seconds')::float8, $2))
                     ORDER BY t.trial_id FOR UPDATE OF t SKIP LOCKED",
                    &[&study, &foreign],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if ids.is_empty() {
                let exists = tx
                    .query_opt("SELECT 1 FROM studies WHERE study_id = $1", &[&study])?
                    .is_some();
                tx.commit()?;
                return if exists {
                    Ok(Vec::new())
                } else {
                    Err(TuneError::NoStudy(format!("#{study}")).into())
                };
            }
            tx.execute(
                &format!(
                    "UPDATE trials SET state = 'FAIL', datetime_complete = {UTC_NOW}
                     WHERE trial_id = ANY($1)"
                ),
                &[&ids],
            )?;
            let mut failed = Vec::with_capacity(ids.len());
            for old in load_ids(&mut tx, &ids)? {
                failed.push(old.number);
                if retries_of(&old) < u64::from(max_retries) {
                    let (_, number) = insert_trial(&mut tx, study, &requeue_copy(&old))?;
                    set_attr(
                        &mut tx,
                        old.id as i32,
                        true,
                        attrs::REQUEUED_AS,
                        &number.to_string(),
                    )?;
                }
            }
            tx.commit()?;
            Ok(failed)
        })
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.trials_since(study, &TrialsSeen::default())
            .map(|c| c.trials)
    }

    /// The trials with an id above the highest the reader holds (`seen.version`; within a
    /// study ids grow with numbers) and those it holds unfinished, by id: primary key
    /// lookups.
    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        self.with("reading trials", |c| {
            let study = to_i32(study, "study id")?;
            // One snapshot for all the reads, so a trial never shows half-written.
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let (trials, all) = match seen.version {
                Some(last) if seen.unfinished_ids.len() == seen.unfinished.len() => {
                    let last = last.min(i32::MAX as u64) as i32;
                    let ids: Vec<i32> = seen.unfinished_ids.iter().map(|&i| i as i32).collect();
                    (
                        load_trials(
                            &mut tx,
                            "t.study_id = $1 AND (t.trial_id > $2 OR t.trial_id = ANY($3))",
                            &[&study, &last, &ids],
                        )?,
                        false,
                    )
                }
                _ => (load_trials(&mut tx, "t.study_id = $1", &[&study])?, true),
            };
            if trials.is_empty()
                && tx
                    .query_opt("SELECT 1 FROM studies WHERE study_id = $1", &[&study])?
                    .is_none()
            {
                return Err(TuneError::NoStudy(format!("#{study}")).into());
            }
            tx.commit()?;
            let last = trials.iter().map(|t| t.id).max();
            Ok(TrialChanges {
                version: last.max(seen.version).or(Some(0)),
                trials,
                all,
            })
        })
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        self.with("importing a trial", |c| {
            let study = to_i32(study, "study id")?;
            let mut tx = c.transaction()?;
            let (_, number) = insert_trial(&mut tx, study, trial)?;
            tx.commit()?;
            Ok(number as u64)
        })
    }
}

impl PostgresStorage {
    fn set_study_attr(&self, study: u64, system: bool, key: &str, value: &Value) -> Result<()> {
        let value = json_text(value);
        let table = if system {
            "study_system_attributes"
        } else {
            "study_user_attributes"
        };
        self.with("setting a study attribute", |c| {
            let study = to_i32(study, "study id")?;
            let n = c.execute(
                &format!(
                    "INSERT INTO {table} (study_id, key, value_json)
                     SELECT study_id, $2, $3 FROM studies WHERE study_id = $1
                     ON CONFLICT (study_id, key) DO UPDATE SET value_json = EXCLUDED.value_json"
                ),
                &[&study, &key, &value],
            )?;
            if n == 0 {
                return Err(TuneError::NoStudy(format!("#{study}")).into());
            }
            Ok(())
        })
    }
}
