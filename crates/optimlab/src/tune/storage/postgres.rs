//! A study in PostgreSQL (`postgres://user@host:port/db`), shared by workers on many
//! machines.
//!
//! The rules are the other storages' (see [`Storage`]), enforced by the server:
//! - a claim takes the lowest-numbered Waiting trial with `FOR UPDATE SKIP LOCKED`, so racing
//!   workers never wait on each other nor take the same trial;
//! - a new trial's number comes from the study row's counter, read and bumped under a lock on
//!   that row, in the same transaction that checks the budget: numbers run 0, 1, 2, … with no
//!   gap and the budget holds however many workers race;
//! - leases are timed by the server's clock (`now()`), so workers with skewed clocks agree on
//!   when a lease ran out; the `optimlab:lease` attribute that [`Storage::trials`] shows is
//!   made from the `lease_worker`/`lease_expires` columns;
//! - every write to a trial names its worker and checks, in the same statement, that the trial
//!   is Running and leased to it (fencing): zero rows touched means the lease was lost;
//! - expired trials are failed and re-queued in one transaction that locks them with
//!   `SKIP LOCKED`, so two reapers never re-queue the same trial twice.
//!
//! Tables are prefixed `optimlab_` so that they can live in a database that also holds other
//! things (Optuna's own tables are named `studies`, `trials`, …). A schema-version table guards
//! against opening a database written by a newer optimlab.
//!
//! The URL takes libpq's parameters: `connect_timeout` (10 s unless given), `application_name`
//! (`optimlab` unless given), and `options=-csearch_path%3DNAME` to keep the tables in an
//! existing schema NAME. Connections are unencrypted (`sslmode=require` is refused): reach a
//! remote server through a private network or a tunnel.

use super::model::{TrialRows, attr_map, blank_trial, check_final, requeue_copy, retries_of};
use super::{Storage, StudyInfo, attrs};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use postgres::error::SqlState;
use postgres::{Client, Config, GenericClient, NoTls};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The schema this code writes; a database with a larger version is refused.
const SCHEMA_VERSION: i32 = 1;

/// Key of the advisory lock held while creating the schema, so that workers connecting for the
/// first time at the same moment do not trip over each other's `CREATE TABLE`.
const SCHEMA_LOCK: i64 = 0x6f70_746c_6162_0001;

/// How long a connection attempt may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS optimlab_schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS optimlab_studies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    direction SMALLINT NOT NULL,
    next_number BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS optimlab_study_attrs (
    study_id BIGINT NOT NULL REFERENCES optimlab_studies(id) ON DELETE CASCADE,
    system BOOLEAN NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (study_id, system, key)
);
CREATE TABLE IF NOT EXISTS optimlab_trials (
    id BIGSERIAL PRIMARY KEY,
    study_id BIGINT NOT NULL REFERENCES optimlab_studies(id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    state SMALLINT NOT NULL,
    value DOUBLE PRECISION,
    datetime_start TEXT,
    datetime_complete TEXT,
    lease_worker TEXT,
    lease_expires TIMESTAMPTZ,
    UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS optimlab_trials_by_state ON optimlab_trials (study_id, state, number);
CREATE TABLE IF NOT EXISTS optimlab_trial_params (
    trial_id BIGINT NOT NULL REFERENCES optimlab_trials(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    distribution TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (trial_id, name)
);
CREATE TABLE IF NOT EXISTS optimlab_trial_intermediate (
    trial_id BIGINT NOT NULL REFERENCES optimlab_trials(id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (trial_id, step)
);
CREATE TABLE IF NOT EXISTS optimlab_trial_attrs (
    trial_id BIGINT NOT NULL REFERENCES optimlab_trials(id) ON DELETE CASCADE,
    system BOOLEAN NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trial_id, system, key)
);
";

/// The server's current time as the other storages write datetimes (Optuna's form, UTC with
/// the zone: `%Y-%m-%dT%H:%M:%S.%f+00:00`).
const ISO_NOW: &str =
    "(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00')";

const RUNNING: i16 = TrialState::Running as i16;
const WAITING: i16 = TrialState::Waiting as i16;
const FAIL: i16 = TrialState::Fail as i16;

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

fn to_i64(x: u64, what: &str) -> PgResult<i64> {
    i64::try_from(x).map_err(|_| Fail::Tune(TuneError::Storage(format!("{what} {x} is too large"))))
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
    /// Connects and creates the schema if it is absent. A bad URL, an unreachable server or a
    /// refused login is a one-line [`TuneError::Storage`] naming the host.
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
        tx.batch_execute(SCHEMA)?;
        let version: Option<i32> = tx
            .query_one("SELECT max(version) FROM optimlab_schema_version", &[])?
            .get(0);
        match version {
            None => {
                tx.execute(
                    "INSERT INTO optimlab_schema_version (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(TuneError::Storage(format!(
                    "the database holds optimlab schema version {v}, newer than this build's {SCHEMA_VERSION}: upgrade optimlab"
                ))
                .into());
            }
            Some(_) => {}
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

/// Studies (all, or the one with this name) with their attributes.
fn load_studies<C: GenericClient>(c: &mut C, name: Option<&str>) -> PgResult<Vec<StudyInfo>> {
    let rows = c.query(
        "SELECT id, name, direction FROM optimlab_studies
         WHERE $1::text IS NULL OR name = $1 ORDER BY id",
        &[&name],
    )?;
    let mut studies = Vec::with_capacity(rows.len());
    let mut index = BTreeMap::new();
    for row in rows {
        let id: i64 = row.get(0);
        let code: i16 = row.get(2);
        let direction = Direction::from_code(i64::from(code)).ok_or_else(|| {
            TuneError::Corrupt(format!("study #{id} has an unknown direction code {code}"))
        })?;
        index.insert(id, studies.len());
        studies.push(StudyInfo {
            id: id as u64,
            name: row.get(1),
            direction,
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
        });
    }
    if studies.is_empty() {
        return Ok(studies);
    }
    let ids: Vec<i64> = index.keys().copied().collect();
    for row in c.query(
        "SELECT study_id, system, key, value FROM optimlab_study_attrs WHERE study_id = ANY($1)",
        &[&ids],
    )? {
        let id: i64 = row.get(0);
        let system: bool = row.get(1);
        let key: String = row.get(2);
        let value = parse_json(row.get(3), &format!("study attribute '{key}'"))?;
        let s = &mut studies[index[&id]];
        attr_map(&mut s.user_attrs, &mut s.system_attrs, system).insert(key, value);
    }
    Ok(studies)
}

/// Which trials [`load_trials`] reads.
enum Trials<'a> {
    Study(i64),
    Ids(&'a [i64]),
}

/// Trials with everything attached, in number order.
fn load_trials<C: GenericClient>(c: &mut C, which: Trials) -> PgResult<Vec<FrozenTrial>> {
    let (filter, study, ids): (&str, i64, Vec<i64>) = match which {
        Trials::Study(s) => ("t.study_id = $1", s, Vec::new()),
        Trials::Ids(ids) => ("t.id = ANY($1)", 0, ids.to_vec()),
    };
    let param: &(dyn postgres::types::ToSql + Sync) = match which {
        Trials::Study(_) => &study,
        Trials::Ids(_) => &ids,
    };
    let rows = c.query(
        &format!(
            "SELECT t.id, t.number, t.state, t.value, t.datetime_start, t.datetime_complete,
                    t.lease_worker, extract(epoch FROM t.lease_expires)::float8
             FROM optimlab_trials t WHERE {filter} ORDER BY t.number"
        ),
        &[param],
    )?;
    let mut trials = TrialRows::default();
    for row in rows {
        let id: i64 = row.get(0);
        let number: i64 = row.get(1);
        let code: i16 = row.get(2);
        let state = TrialState::from_code(i64::from(code)).ok_or_else(|| {
            TuneError::Corrupt(format!("trial {number} has an unknown state code {code}"))
        })?;
        let t = trials.push(
            id as u64,
            number as u64,
            state,
            row.get(3),
            row.get(4),
            row.get(5),
        );
        let worker: Option<String> = row.get(6);
        let expires: Option<f64> = row.get(7);
        if let (Some(worker), Some(expires)) = (worker, expires) {
            t.system_attrs.insert(
                attrs::LEASE.to_string(),
                json!({"worker": worker, "expires": expires}),
            );
        }
    }
    if trials.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = trials.ids().map(|id| id as i64).collect();
    for row in c.query(
        "SELECT trial_id, name, distribution, value FROM optimlab_trial_params
         WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let Some(t) = trials.get_mut(row.get::<_, i64>(0) as u64) else {
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
        "SELECT trial_id, step, value FROM optimlab_trial_intermediate WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let Some(t) = trials.get_mut(row.get::<_, i64>(0) as u64) else {
            continue;
        };
        let step: i64 = row.get(1);
        t.intermediate.insert(step as u64, row.get(2));
    }
    for row in c.query(
        "SELECT trial_id, system, key, value FROM optimlab_trial_attrs WHERE trial_id = ANY($1)",
        &[&ids],
    )? {
        let Some(t) = trials.get_mut(row.get::<_, i64>(0) as u64) else {
            continue;
        };
        let system: bool = row.get(1);
        let key: String = row.get(2);
        let value = parse_json(row.get(3), &format!("trial {} attribute '{key}'", t.number))?;
        attr_map(&mut t.user_attrs, &mut t.system_attrs, system).insert(key, value);
    }
    Ok(trials.into_trials())
}

/// Takes the study's next trial number (locking the study row until the transaction ends).
fn take_number<C: GenericClient>(c: &mut C, study: i64) -> PgResult<i64> {
    match c.query_opt(
        "UPDATE optimlab_studies SET next_number = next_number + 1 WHERE id = $1
         RETURNING next_number - 1",
        &[&study],
    )? {
        Some(row) => Ok(row.get(0)),
        None => Err(TuneError::NoStudy(format!("#{study}")).into()),
    }
}

/// Inserts `t` (state, values, parameters, attributes; its lease attribute becomes the lease
/// columns) into a study under the next number. Returns (id, number).
fn insert_trial<C: GenericClient>(c: &mut C, study: i64, t: &FrozenTrial) -> PgResult<(i64, i64)> {
    let number = take_number(c, study)?;
    let lease = t.system_attrs.get(attrs::LEASE);
    let worker = lease.and_then(|l| l.get("worker")).and_then(Value::as_str);
    let expires = lease.and_then(|l| l.get("expires")).and_then(Value::as_f64);
    let state = t.state.code() as i16;
    let id: i64 = c
        .query_one(
            "INSERT INTO optimlab_trials (study_id, number, state, value, datetime_start,
                 datetime_complete, lease_worker, lease_expires)
             VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8))
             RETURNING id",
            &[
                &study,
                &number,
                &state,
                &t.value,
                &t.datetime_start,
                &t.datetime_complete,
                &worker,
                &expires,
            ],
        )?
        .get(0);
    if !t.params.is_empty() {
        let names: Vec<&str> = t.params.keys().map(String::as_str).collect();
        let dists: Vec<String> = t
            .params
            .values()
            .map(|(d, _)| json_text(&d.to_json()))
            .collect();
        let values: Vec<f64> = t.params.values().map(|(_, v)| *v).collect();
        c.execute(
            "INSERT INTO optimlab_trial_params (trial_id, name, distribution, value)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::float8[])",
            &[&id, &names, &dists, &values],
        )?;
    }
    if !t.intermediate.is_empty() {
        let steps = t
            .intermediate
            .keys()
            .map(|&s| to_i64(s, "step"))
            .collect::<PgResult<Vec<i64>>>()?;
        let values: Vec<f64> = t.intermediate.values().copied().collect();
        c.execute(
            "INSERT INTO optimlab_trial_intermediate (trial_id, step, value)
             SELECT $1, * FROM unnest($2::int8[], $3::float8[])",
            &[&id, &steps, &values],
        )?;
    }
    let mut systems = Vec::new();
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (system, map) in [(false, &t.user_attrs), (true, &t.system_attrs)] {
        for (k, v) in map {
            if system && k == attrs::LEASE {
                continue;
            }
            systems.push(system);
            keys.push(k.as_str());
            values.push(json_text(v));
        }
    }
    if !keys.is_empty() {
        c.execute(
            "INSERT INTO optimlab_trial_attrs (trial_id, system, key, value)
             SELECT $1, * FROM unnest($2::bool[], $3::text[], $4::text[])",
            &[&id, &systems, &keys, &values],
        )?;
    }
    Ok((id, number))
}

/// The error for a fenced write that touched nothing: the lease is lost, or no such trial.
fn refused<C: GenericClient>(c: &mut C, trial: i64) -> Fail {
    match c.query_opt(
        "SELECT number FROM optimlab_trials WHERE id = $1",
        &[&trial],
    ) {
        Ok(Some(row)) => Fail::Tune(TuneError::LeaseLost {
            number: row.get::<_, i64>(0) as u64,
        }),
        Ok(None) => Fail::Tune(TuneError::Storage(format!("no trial with id {trial}"))),
        Err(e) => Fail::Pg(e),
    }
}

/// Runs a fenced write: `sql` must touch rows only while trial `$1` is Running and leased to
/// worker `$2` (as `HELD` selects it); touching none is refused.
fn fenced(
    c: &mut Client,
    trial: i64,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> PgResult<()> {
    if c.execute(sql, params)? == 0 {
        return Err(refused(c, trial));
    }
    Ok(())
}

/// The trial `$1` while it is Running and leased to worker `$2`, share-locked so that a reaper
/// cannot fail it between this check and the write that follows in the same statement.
const HELD: &str = "WITH held AS (SELECT id FROM optimlab_trials
     WHERE id = $1 AND state = 0 AND lease_worker = $2 FOR SHARE)";

impl Storage for PostgresStorage {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        let direction_code = direction.code() as i16;
        self.with("creating a study", |c| {
            let mut tx = c.transaction()?;
            let id: i64 = match tx.query_opt(
                "INSERT INTO optimlab_studies (name, direction) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&name, &direction_code],
            )? {
                Some(row) => row.get(0),
                None => {
                    return Err(TuneError::StudyMismatch(format!(
                        "a study named '{name}' already exists"
                    ))
                    .into());
                }
            };
            for (k, v) in system_attrs {
                tx.execute(
                    "INSERT INTO optimlab_study_attrs (study_id, system, key, value)
                     VALUES ($1, true, $2, $3)",
                    &[&id, k, &json_text(v)],
                )?;
            }
            tx.commit()?;
            Ok(StudyInfo {
                id: id as u64,
                name: name.to_string(),
                direction,
                user_attrs: BTreeMap::new(),
                system_attrs: system_attrs.clone(),
            })
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
        let lease = lease.as_secs_f64();
        self.with("claiming a trial", |c| {
            let study = to_i64(study, "study id")?;
            let budget = budget.map(|b| to_i64(b, "budget")).transpose()?;
            let mut tx = c.transaction()?;
            let waiting = tx.query_opt(
                "SELECT id FROM optimlab_trials WHERE study_id = $1 AND state = $2
                 ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&study, &WAITING],
            )?;
            let id: i64 = match waiting {
                Some(row) => row.get(0),
                None => {
                    // Holding the study row until commit serialises number assignment and
                    // the budget check among all claimers.
                    if tx
                        .query_opt(
                            "SELECT id FROM optimlab_studies WHERE id = $1 FOR NO KEY UPDATE",
                            &[&study],
                        )?
                        .is_none()
                    {
                        return Err(TuneError::NoStudy(format!("#{study}")).into());
                    }
                    if let Some(budget) = budget {
                        let counted: i64 = tx
                            .query_one(
                                "SELECT count(*) FROM optimlab_trials t WHERE t.study_id = $1
                                 AND NOT EXISTS (SELECT 1 FROM optimlab_trial_attrs a
                                     WHERE a.trial_id = t.id AND a.system AND a.key = $2)",
                                &[&study, &attrs::REQUEUED_AS],
                            )?
                            .get(0);
                        if counted >= budget {
                            tx.commit()?;
                            return Ok(None);
                        }
                    }
                    // A new trial goes straight to Running: one statement takes the number
                    // and inserts it, and the trial is built from what it returns.
                    let row = tx.query_one(
                        &format!(
                            "WITH n AS (UPDATE optimlab_studies SET next_number = next_number + 1
                                 WHERE id = $1 RETURNING next_number - 1 AS number)
                             INSERT INTO optimlab_trials (study_id, number, state, lease_worker,
                                 lease_expires, datetime_start)
                             SELECT $1, number, $2, $3, now() + make_interval(secs => $4), {ISO_NOW}
                             FROM n
                             RETURNING id, number, datetime_start,
                                 extract(epoch FROM lease_expires)::float8"
                        ),
                        &[&study, &RUNNING, &worker, &lease],
                    )?;
                    tx.commit()?;
                    let mut t = blank_trial(TrialState::Running);
                    t.id = row.get::<_, i64>(0) as u64;
                    t.number = row.get::<_, i64>(1) as u64;
                    t.datetime_start = row.get(2);
                    t.system_attrs.insert(
                        attrs::LEASE.into(),
                        json!({"worker": worker, "expires": row.get::<_, f64>(3)}),
                    );
                    return Ok(Some(t));
                }
            };
            tx.execute(
                &format!(
                    "UPDATE optimlab_trials SET state = $2, lease_worker = $3,
                         lease_expires = now() + make_interval(secs => $4),
                         datetime_start = {ISO_NOW}
                     WHERE id = $1"
                ),
                &[&id, &RUNNING, &worker, &lease],
            )?;
            let trial = load_trials(&mut tx, Trials::Ids(&[id]))?.pop();
            tx.commit()?;
            Ok(trial)
        })
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        let lease = lease.as_secs_f64();
        self.with("renewing a lease", |c| {
            let id = to_i64(trial_id, "trial id")?;
            fenced(
                c,
                id,
                "UPDATE optimlab_trials SET lease_expires = now() + make_interval(secs => $3)
                 WHERE id = $1 AND state = 0 AND lease_worker = $2",
                &[&id, &worker, &lease],
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
            let id = to_i64(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO optimlab_trial_params (trial_id, name, distribution, value)
                     SELECT id, $3, $4, $5 FROM held
                     ON CONFLICT (trial_id, name)
                     DO UPDATE SET distribution = EXCLUDED.distribution, value = EXCLUDED.value"
                ),
                &[&id, &worker, &name, &dist, &internal],
            )
        })
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        self.with("reporting a value", |c| {
            let id = to_i64(trial_id, "trial id")?;
            let step = to_i64(step, "step")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO optimlab_trial_intermediate (trial_id, step, value)
                     SELECT id, $3, $4 FROM held
                     ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value"
                ),
                &[&id, &worker, &step, &value],
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
            let id = to_i64(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "{HELD} INSERT INTO optimlab_trial_attrs (trial_id, system, key, value)
                     SELECT id, false, $3, $4 FROM held
                     ON CONFLICT (trial_id, system, key) DO UPDATE SET value = EXCLUDED.value"
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
        let code = state.code() as i16;
        self.with("finishing a trial", |c| {
            let id = to_i64(trial_id, "trial id")?;
            fenced(
                c,
                id,
                &format!(
                    "UPDATE optimlab_trials SET state = $3, value = $4, datetime_complete = {ISO_NOW}
                     WHERE id = $1 AND state = 0 AND lease_worker = $2"
                ),
                &[&id, &worker, &code, &value],
            )
        })
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        self.with("re-queueing expired trials", |c| {
            let study = to_i64(study, "study id")?;
            let mut tx = c.transaction()?;
            // Rows another reaper (or a worker's write) holds are skipped: that reaper
            // handles them, or the worker is alive.
            let ids: Vec<i64> = tx
                .query(
                    "SELECT id FROM optimlab_trials
                     WHERE study_id = $1 AND state = $2 AND lease_expires < now()
                     ORDER BY number FOR UPDATE SKIP LOCKED",
                    &[&study, &RUNNING],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if ids.is_empty() {
                let exists = tx
                    .query_opt("SELECT 1 FROM optimlab_studies WHERE id = $1", &[&study])?
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
                    "UPDATE optimlab_trials SET state = $2, datetime_complete = {ISO_NOW}
                     WHERE id = ANY($1)"
                ),
                &[&ids, &FAIL],
            )?;
            let mut failed = Vec::with_capacity(ids.len());
            for old in load_trials(&mut tx, Trials::Ids(&ids))? {
                failed.push(old.number);
                if retries_of(&old) < u64::from(max_retries) {
                    let (_, number) = insert_trial(&mut tx, study, &requeue_copy(&old))?;
                    tx.execute(
                        "INSERT INTO optimlab_trial_attrs (trial_id, system, key, value)
                         VALUES ($1, true, $2, $3)
                         ON CONFLICT (trial_id, system, key) DO UPDATE SET value = EXCLUDED.value",
                        &[&(old.id as i64), &attrs::REQUEUED_AS, &number.to_string()],
                    )?;
                }
            }
            tx.commit()?;
            Ok(failed)
        })
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.with("reading trials", |c| {
            let study = to_i64(study, "study id")?;
            // One snapshot for the five reads, so a trial never shows half-written.
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let trials = load_trials(&mut tx, Trials::Study(study))?;
            if trials.is_empty()
                && tx
                    .query_opt("SELECT 1 FROM optimlab_studies WHERE id = $1", &[&study])?
                    .is_none()
            {
                return Err(TuneError::NoStudy(format!("#{study}")).into());
            }
            tx.commit()?;
            Ok(trials)
        })
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        self.with("importing a trial", |c| {
            let study = to_i64(study, "study id")?;
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
        self.with("setting a study attribute", |c| {
            let study = to_i64(study, "study id")?;
            let n = c.execute(
                "INSERT INTO optimlab_study_attrs (study_id, system, key, value)
                 SELECT id, $2, $3, $4 FROM optimlab_studies WHERE id = $1
                 ON CONFLICT (study_id, system, key) DO UPDATE SET value = EXCLUDED.value",
                &[&study, &system, &key, &value],
            )?;
            if n == 0 {
                return Err(TuneError::NoStudy(format!("#{study}")).into());
            }
            Ok(())
        })
    }
}
