//! The SQL storages in Optuna's RDB schema, checked with Optuna itself: Optuna 5.0 loads what
//! optimlab wrote (SQLite and PostgreSQL), Optuna and optimlab workers share one study and its
//! trial numbers, stale heartbeats are failed the same way by both, and databases written in
//! optimlab's former schema are converted without loss.
//!
//! Optuna runs as `python3` (or `OPTIMLAB_PYTHON`); PostgreSQL tests need
//! `OPTIMLAB_TEST_POSTGRES` (`scripts/with_postgres.sh`) and psycopg2. Each test says
//! "skipped" when what it needs is missing; `.ci/run` installs all of it.

use optimlab::tune::distribution::{Distribution, ParamValue};
use optimlab::tune::space::{ParamSpec, Space};
use optimlab::tune::storage::{self, Storage, attrs};
use optimlab::tune::study::Study;
use optimlab::tune::trial::{Direction, FrozenTrial, TrialState};
use optimlab::tune::{StudySettings, TuneError};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// ---- where Optuna and PostgreSQL come from -------------------------------------------------

/// A Python with Optuna (and psycopg2 if `postgres`), or `None` after saying "skipped".
fn python(postgres: bool) -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("OPTIMLAB_PYTHON") {
        candidates.push(p);
    }
    candidates.push("python3".into());
    let import = if postgres {
        "import optuna, psycopg2"
    } else {
        "import optuna"
    };
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", import])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        println!("skipped: no python3 with `{import}`");
    }
    found
}

/// Runs a Python script with arguments; its stdout. Panics with its stderr on failure.
fn py(python: &str, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One database for one test: the URL optimlab opens and the one SQLAlchemy opens.
struct Db {
    url: String,
    python_url: String,
    /// Keeps the temporary folder or drops the PostgreSQL schema.
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema { base: String, schema: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Schema { base, schema } = self
            && let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optimlab-tune.db");
    Db {
        url: format!("sqlite:{}", path.display()),
        python_url: format!("sqlite:///{}", path.display()),
        _guard: Guard::Dir(dir),
    }
}

/// A fresh schema on the test server, or `None` after saying "skipped".
fn postgres_db() -> Option<Db> {
    let base = match std::env::var("OPTIMLAB_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            println!("skipped: OPTIMLAB_TEST_POSTGRES not set");
            return None;
        }
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "rdb{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    postgres::Client::connect(&base, postgres::NoTls)
        .unwrap()
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let python_url = url
        .replacen("postgres://", "postgresql+psycopg2://", 1)
        .replacen("postgresql://", "postgresql+psycopg2://", 1);
    Some(Db {
        url,
        python_url,
        _guard: Guard::Schema { base, schema },
    })
}

// ---- Optuna loads what optimlab wrote --------------------------------------------------------

fn float_x() -> Distribution {
    Distribution::Float {
        low: -5.0,
        high: 5.0,
        step: None,
        log: false,
    }
}

/// What Python should find: each trial's number, state, value, external parameters with
/// their distributions, intermediate values and user attributes.
fn expected_json(trials: &[FrozenTrial]) -> Value {
    let num = |v: f64| {
        if v.is_nan() {
            json!("nan")
        } else if v.is_infinite() {
            json!(if v > 0.0 { "inf" } else { "-inf" })
        } else {
            json!(v)
        }
    };
    Value::Array(
        trials
            .iter()
            .map(|t| {
                json!({
                    "number": t.number,
                    "state": t.state.name(),
                    "value": t.value.map(num),
                    "params": t.params.iter().map(|(k, (d, v))| (k.clone(), d.to_external(*v).to_json())).collect::<BTreeMap<_, _>>(),
                    "distributions": t.params.iter().map(|(k, (d, _))| (k.clone(), d.to_json())).collect::<BTreeMap<_, _>>(),
                    "intermediate": t.intermediate.iter().map(|(s, v)| (s.to_string(), num(*v))).collect::<BTreeMap<_, _>>(),
                    "user_attrs": t.user_attrs,
                })
            })
            .collect(),
    )
}

const CHECK_LOAD: &str = r#"
import json, math, sys
import optuna
from optuna.distributions import json_to_distribution
optuna.logging.set_verbosity(optuna.logging.ERROR)
url, name, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
study = optuna.load_study(study_name=name, storage=url)
assert study.direction == optuna.study.StudyDirection.MAXIMIZE, study.direction
assert study.user_attrs == {"owner": "optimlab"}, study.user_attrs
def num(v):
    return v if not isinstance(v, str) else float(v)
def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b
trials = study.get_trials(deepcopy=False)
assert len(trials) == len(expected), (len(trials), len(expected))
for t, e in zip(trials, expected):
    assert t.number == e["number"], (t.number, e)
    assert t.state.name == e["state"], (t.state, e)
    if e["value"] is None:
        assert t.value is None, (t.number, t.value)
    else:
        assert same(t.value, num(e["value"])), (t.number, t.value, e["value"])
    assert t.params == e["params"], (t.number, t.params, e["params"])
    for k, d in e["distributions"].items():
        assert t.distributions[k] == json_to_distribution(json.dumps(d)), (k, t.distributions[k], d)
    iv = {str(k): v for k, v in t.intermediate_values.items()}
    assert iv.keys() == e["intermediate"].keys(), (iv, e["intermediate"])
    for k, v in e["intermediate"].items():
        assert same(iv[k], num(v)), (t.number, k, iv[k], v)
    assert t.user_attrs == e["user_attrs"], (t.user_attrs, e["user_attrs"])
best = study.best_trial
print(json.dumps({"best": best.number, "n": len(trials)}))
"#;

/// optimlab writes every kind of trial; Optuna 5.0's `load_study` reads the same study.
fn optuna_loads_what_optimlab_wrote(db: &Db, python: &str) {
    let s = storage::open(&db.url).unwrap();
    let st = s
        .create_study("written", Direction::Maximize, &BTreeMap::new())
        .unwrap();
    s.set_study_user_attr(st.id, "owner", &json!("optimlab"))
        .unwrap();
    let lease = Duration::from_secs(600);
    let n = Distribution::Int {
        low: 1,
        high: 64,
        step: 1,
        log: true,
    };
    let c = Distribution::Categorical {
        choices: vec![
            ParamValue::Str("relu".into()),
            ParamValue::Null,
            ParamValue::Float(0.5),
            ParamValue::Bool(true),
        ],
    };
    let step = Distribution::Float {
        low: 0.0,
        high: 1.0,
        step: Some(0.25),
        log: false,
    };
    // 0: complete, every kind of parameter, NaN and infinite intermediate values.
    let t = s.claim_trial(st.id, "w", lease, None).unwrap().unwrap();
    s.set_param(t.id, "w", "x", &float_x(), 1.25).unwrap();
    s.set_param(t.id, "w", "n", &n, 16.0).unwrap();
    s.set_param(t.id, "w", "c", &c, 1.0).unwrap();
    s.set_param(t.id, "w", "q", &step, 0.75).unwrap();
    s.report(t.id, "w", 0, 3.5).unwrap();
    s.report(t.id, "w", 1, f64::NAN).unwrap();
    s.report(t.id, "w", 2, f64::NEG_INFINITY).unwrap();
    s.set_trial_user_attr(t.id, "w", "note", &json!({"a": [1, 2.5, null], "b": "é"}))
        .unwrap();
    s.finish(t.id, "w", TrialState::Complete, Some(0.125))
        .unwrap();
    // 1: pruned with its last value; 2: complete and best; 3: failed.
    let t = s.claim_trial(st.id, "w", lease, None).unwrap().unwrap();
    s.set_param(t.id, "w", "x", &float_x(), -4.0).unwrap();
    s.report(t.id, "w", 0, 9.0).unwrap();
    s.finish(t.id, "w", TrialState::Pruned, Some(9.0)).unwrap();
    let t = s.claim_trial(st.id, "w", lease, None).unwrap().unwrap();
    s.set_param(t.id, "w", "x", &float_x(), 2.0).unwrap();
    s.finish(t.id, "w", TrialState::Complete, Some(1e300))
        .unwrap();
    let t = s.claim_trial(st.id, "w", lease, None).unwrap().unwrap();
    s.finish(t.id, "w", TrialState::Fail, None).unwrap();
    // 4: running, expired and reaped into 5 (waiting, same parameters); 6: running.
    let t = s
        .claim_trial(st.id, "w", Duration::from_millis(1), None)
        .unwrap()
        .unwrap();
    s.set_param(t.id, "w", "x", &float_x(), 0.5).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(s.reap_expired(st.id, 2).unwrap(), vec![4]);
    s.import_trial(
        st.id,
        &FrozenTrial {
            state: TrialState::Running,
            value: None,
            datetime_complete: None,
            ..s.trials(st.id).unwrap()[0].clone()
        },
    )
    .unwrap();
    let trials = s.trials(st.id).unwrap();
    assert_eq!(trials.len(), 7);
    assert_eq!(trials[5].state, TrialState::Waiting);
    let out = py(
        python,
        CHECK_LOAD,
        &[
            &db.python_url,
            "written",
            &expected_json(&trials).to_string(),
        ],
    );
    let got: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(got, json!({"best": 2, "n": 7}));
}

#[test]
fn optuna_loads_an_optimlab_sqlite_study() {
    let Some(python) = python(false) else { return };
    optuna_loads_what_optimlab_wrote(&sqlite_db(), &python);
}

#[test]
fn optuna_loads_an_optimlab_postgres_study() {
    let Some(python) = python(true) else { return };
    let Some(db) = postgres_db() else { return };
    optuna_loads_what_optimlab_wrote(&db, &python);
}

// ---- Optuna and optimlab workers on one study ------------------------------------------------

/// An Optuna worker: joins study `name` (creating it if `create`) and runs `n` trials of
/// the same objective the optimlab workers run; prints the numbers of its trials.
const OPTUNA_WORKER: &str = r#"
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
url, name, n, create = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "create"
if create:
    study = optuna.create_study(study_name=name, storage=url, direction="minimize")
else:
    study = optuna.load_study(study_name=name, storage=url)
numbers = []
def objective(t):
    numbers.append(t.number)
    x = t.suggest_float("x", -5.0, 5.0)
    t.report(x * x, 0)
    return (x - 1.0) ** 2
study.optimize(objective, n_trials=n)
print(" ".join(map(str, numbers)))
"#;

const OPTUNA_NUMBERS: &str = r#"
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name=sys.argv[2], storage=sys.argv[1])
ts = study.get_trials(deepcopy=False)
assert all(t.state.name == "COMPLETE" for t in ts), [t.state for t in ts]
assert all(-5.0 <= t.params["x"] <= 5.0 for t in ts)
print(" ".join(str(t.number) for t in ts))
"#;

fn x_space() -> Space {
    Space {
        params: vec![ParamSpec::new("x", float_x())],
    }
}

/// Opens (or adopts) study `name` and runs `n` trials of (x − 1)² with ask/tell.
fn optimlab_worker(url: &str, name: &str, n: usize) -> Vec<u64> {
    let storage: Arc<dyn Storage> = Arc::from(storage::open(url).unwrap());
    let study = Study::create_or_open(
        storage,
        name,
        Direction::Minimize,
        &x_space(),
        &StudySettings::default(),
    )
    .unwrap();
    let mut numbers = Vec::new();
    for _ in 0..n {
        let mut t = study.ask().unwrap().unwrap();
        numbers.push(t.number());
        let x = t.float("x").unwrap();
        t.report(0, x * x).unwrap();
        study.tell(t, Ok((x - 1.0) * (x - 1.0))).unwrap();
    }
    numbers
}

fn spawn_optuna(python: &str, db: &Db, name: &str, n: usize, create: bool) -> std::process::Child {
    Command::new(python)
        .arg("-c")
        .arg(OPTUNA_WORKER)
        .args([
            db.python_url.as_str(),
            name,
            &n.to_string(),
            if create { "create" } else { "join" },
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn numbers_of(child: std::process::Child) -> Vec<u64> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Optuna worker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect()
}

/// Checks that optimlab and Optuna both see trials numbered 0..n−1, each once.
fn assert_numbers_shared(db: &Db, python: &str, name: &str, n: usize) {
    let s = storage::open(&db.url).unwrap();
    let st = s.find_study(name).unwrap().unwrap();
    let trials = s.trials(st.id).unwrap();
    let ours: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(ours, (0..n as u64).collect::<Vec<_>>());
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    let theirs = py(python, OPTUNA_NUMBERS, &[&db.python_url, name]);
    let theirs: Vec<u64> = theirs
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(theirs, ours);
}

fn workers_share_one_study(db: &Db, python: &str) {
    // An optimlab study joined by an Optuna worker while two optimlab workers run.
    optimlab_worker(&db.url, "ours", 2);
    let optuna = spawn_optuna(python, db, "ours", 12, false);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || optimlab_worker(&url, "ours", 12))
        })
        .collect();
    let mut all: Vec<u64> = (0..2).collect();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    all.extend(numbers_of(optuna));
    // Then taking turns.
    all.extend(numbers_of(spawn_optuna(python, db, "ours", 3, false)));
    all.extend(optimlab_worker(&db.url, "ours", 3));
    all.sort_unstable();
    assert_eq!(
        all,
        (0..44).collect::<Vec<_>>(),
        "each number handed out once"
    );
    assert_numbers_shared(db, python, "ours", 44);

    // A study Optuna created, joined by optimlab workers, then by Optuna again.
    let first = numbers_of(spawn_optuna(python, db, "theirs", 4, true));
    assert_eq!(first, [0, 1, 2, 3]);
    assert_eq!(optimlab_worker(&db.url, "theirs", 4), [4, 5, 6, 7]);
    assert_eq!(
        numbers_of(spawn_optuna(python, db, "theirs", 2, false)),
        [8, 9]
    );
    assert_numbers_shared(db, python, "theirs", 10);
}

#[test]
fn optuna_and_optimlab_workers_share_an_sqlite_study() {
    let Some(python) = python(false) else { return };
    workers_share_one_study(&sqlite_db(), &python);
}

#[test]
fn optuna_and_optimlab_workers_share_a_postgres_study() {
    let Some(python) = python(true) else { return };
    let Some(db) = postgres_db() else { return };
    workers_share_one_study(&db, &python);
}

// ---- heartbeats: Optuna's stale-trial handling and optimlab's reaping agree -----------------

/// Optuna with heartbeats (interval 10 s, grace period 30 s: what agrees with optimlab's
/// lease of 30 s) fails the stale trials of a study and prints the states of all its trials.
const OPTUNA_FAIL_STALE: &str = r#"
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
storage = optuna.storages.RDBStorage(sys.argv[1], heartbeat_interval=10, grace_period=30)
study = optuna.load_study(study_name=sys.argv[2], storage=storage)
optuna.storages.fail_stale_trials(study)
print(" ".join(t.state.name for t in study.get_trials(deepcopy=False)))
"#;

/// An Optuna worker that starts two trials and dies: the first with a heartbeat recorded
/// (as `optimize` with `heartbeat_interval` does), the second without.
const OPTUNA_DIES: &str = r#"
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
storage = optuna.storages.RDBStorage(sys.argv[1], heartbeat_interval=1)
study = optuna.create_study(study_name=sys.argv[2], storage=storage)
t = study.ask({"x": optuna.distributions.FloatDistribution(-5.0, 5.0)})
storage.record_heartbeat(t._trial_id)
study.ask({"x": optuna.distributions.FloatDistribution(-5.0, 5.0)})
"#;

/// Makes every heartbeat of the database `secs` seconds older: a worker silent that long.
fn age_heartbeats(db: &Db, python: &str, secs: u32) {
    let sql = if db.url.starts_with("sqlite:") {
        format!("UPDATE trial_heartbeats SET heartbeat = datetime(heartbeat, '-{secs} seconds')")
    } else {
        format!("UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '{secs} seconds'")
    };
    py(
        python,
        "import sys, sqlalchemy\n\
         e = sqlalchemy.create_engine(sys.argv[1])\n\
         with e.begin() as c: c.execute(sqlalchemy.text(sys.argv[2]))",
        &[&db.python_url, &sql],
    );
}

fn heartbeats_agree(db: &Db, python: &str) {
    let s = storage::open(&db.url).unwrap();
    // optimlab's trial under a 30 s lease: its heartbeat row is written by the claim.
    let st = s
        .create_study("hb", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let lease = Duration::from_secs(30);
    let t = s.claim_trial(st.id, "w", lease, None).unwrap().unwrap();
    s.heartbeat(t.id, "w", lease).unwrap();
    let states = py(python, OPTUNA_FAIL_STALE, &[&db.python_url, "hb"]);
    assert_eq!(states.trim(), "RUNNING", "a fresh heartbeat is not stale");
    // The worker stops renewing: past the lease Optuna fails the trial, and the worker's
    // next write is refused (its lease is lost), as if optimlab had reaped it.
    age_heartbeats(db, python, 60);
    let states = py(python, OPTUNA_FAIL_STALE, &[&db.python_url, "hb"]);
    assert_eq!(states.trim(), "FAIL");
    assert!(matches!(
        s.report(t.id, "w", 0, 1.0),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    assert!(matches!(
        s.finish(t.id, "w", TrialState::Complete, Some(1.0)),
        Err(TuneError::LeaseLost { .. })
    ));

    // An Optuna worker dies with a trial running: optimlab reaps the trial whose heartbeat
    // went stale and re-queues its parameters; the one without heartbeats is left alone.
    py(python, OPTUNA_DIES, &[&db.python_url, "dead"]);
    let st = s.find_study("dead").unwrap().unwrap();
    assert_eq!(s.reap_expired(st.id, 1).unwrap(), Vec::<u64>::new());
    age_heartbeats(db, python, 600);
    assert_eq!(s.reap_expired(st.id, 1).unwrap(), vec![0]);
    let trials = s.trials(st.id).unwrap();
    let states: Vec<_> = trials.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [TrialState::Fail, TrialState::Running, TrialState::Waiting]
    );
    assert_eq!(trials[0].system_attrs[attrs::REQUEUED_AS], json!(2));
    assert_eq!(trials[2].params, trials[0].params);
    // Optuna agrees that trial 0 is failed and the re-queued one waits.
    let states = py(python, OPTUNA_FAIL_STALE, &[&db.python_url, "dead"]);
    assert_eq!(states.trim(), "FAIL RUNNING WAITING");
}

#[test]
fn heartbeats_agree_with_optuna_on_sqlite() {
    let Some(python) = python(false) else { return };
    heartbeats_agree(&sqlite_db(), &python);
}

#[test]
fn heartbeats_agree_with_optuna_on_postgres() {
    let Some(python) = python(true) else { return };
    let Some(db) = postgres_db() else { return };
    heartbeats_agree(&db, &python);
}

// ---- databases of optimlab's former schema ---------------------------------------------------

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/legacy_sql")
        .join(name)
}

/// (number, datetime_start, datetime_complete) of study "legacy"'s trials as the former
/// schema stored them.
type Times = Vec<(u64, Option<String>, Option<String>)>;

/// Checks the converted fixture study against what `make_fixture.rs` wrote (README.md).
fn check_legacy(s: &dyn Storage, times: &Times) {
    let studies = s.studies().unwrap();
    assert_eq!(
        studies.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["legacy", "legacy-max"]
    );
    let st = &studies[0];
    assert_eq!(st.direction, Direction::Minimize);
    assert_eq!(st.user_attrs["owner"], json!("fixture"));
    assert_eq!(st.system_attrs["optimlab:space"], json!({"x": "float"}));
    assert_eq!(st.system_attrs["optimlab:budget"], json!(6));
    let ts = s.trials(st.id).unwrap();
    use TrialState::*;
    assert_eq!(
        ts.iter().map(|t| t.state).collect::<Vec<_>>(),
        [Complete, Pruned, Fail, Complete, Fail, Running]
    );
    assert_eq!(
        ts.iter().map(|t| t.number).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(ts[0].value, Some(0.125));
    assert_eq!(ts[3].value, Some(f64::NEG_INFINITY));
    assert!(ts[1].value.is_none() && ts[2].value.is_none() && ts[4].value.is_none());
    let t = &ts[0];
    assert_eq!(t.params["x"], (float_x(), 1.25));
    assert_eq!(
        t.params["n"],
        (
            Distribution::Int {
                low: 1,
                high: 64,
                step: 1,
                log: true
            },
            16.0
        )
    );
    assert_eq!(t.param("c"), Some(ParamValue::Null));
    assert_eq!(t.intermediate.len(), 3);
    assert_eq!(t.intermediate[&0], 3.5);
    assert!(t.intermediate[&1].is_nan());
    assert_eq!(t.intermediate[&2], f64::INFINITY);
    assert_eq!(t.user_attrs["note"], json!({"a": [1, 2.5, null]}));
    assert_eq!(ts[1].intermediate[&0], 9.0);
    assert_eq!(ts[2].system_attrs[attrs::REQUEUED_AS], json!(3));
    assert_eq!(ts[3].system_attrs[attrs::RETRY_OF], json!(2));
    assert_eq!(ts[3].system_attrs[attrs::RETRIES], json!(1));
    assert_eq!(ts[3].system_attrs[attrs::FIXED_PARAMS], json!({"x": 2.0}));
    assert_eq!(ts[3].params["x"], (float_x(), 2.0));
    // The running trial keeps its ten-year lease.
    let lease = &ts[5].system_attrs[attrs::LEASE];
    assert_eq!(lease["worker"], json!("w3"));
    let now = storage::unix_now();
    assert!(lease["expires"].as_f64().unwrap() > now + 9.0 * 365.0 * 86400.0);
    assert_eq!(ts[5].params["x"], (float_x(), 0.0));
    let got: Times = ts
        .iter()
        .map(|t| {
            (
                t.number,
                t.datetime_start.clone(),
                t.datetime_complete.clone(),
            )
        })
        .collect();
    assert_eq!(&got, times);
    let max = &studies[1];
    assert_eq!(max.direction, Direction::Maximize);
    let ts = s.trials(max.id).unwrap();
    assert_eq!(ts.len(), 1);
    assert_eq!((ts[0].state, ts[0].value), (Complete, Some(0.75)));
    // The converted study goes on: the next trial is number 6.
    let t = s
        .claim_trial(st.id, "w9", Duration::from_secs(60), None)
        .unwrap()
        .unwrap();
    assert_eq!(t.number, 6);
}

#[test]
fn sqlite_file_of_the_former_schema_is_converted_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    std::fs::copy(fixture("optimlab-v1.db"), &path).unwrap();
    let times: Times = {
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut st = c
            .prepare(
                "SELECT number, datetime_start, datetime_complete FROM trials
                 WHERE study_id = 1 ORDER BY number",
            )
            .unwrap();
        st.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    assert_eq!(times.len(), 6);
    let url = format!("sqlite:{}", path.display());
    let s = storage::open(&url).unwrap();
    check_legacy(s.as_ref(), &times);
    drop(s);
    // The file is now Optuna's: reopening does not convert again, and Optuna reads it.
    let s = storage::open(&url).unwrap();
    assert_eq!(s.studies().unwrap().len(), 2);
    if let Some(python) = python(false) {
        let out = py(
            &python,
            "import sys, optuna\n\
             s = optuna.load_study(study_name='legacy', storage=sys.argv[1])\n\
             print(' '.join(t.state.name for t in s.trials), s.best_value, sorted(s.trials[0].params.items()))",
            &[&format!("sqlite:///{}", path.display())],
        );
        assert_eq!(
            out.trim(),
            "COMPLETE PRUNED FAIL COMPLETE FAIL RUNNING RUNNING -inf \
             [('c', None), ('n', 16), ('x', 1.25)]"
        );
    }
}

#[test]
fn postgres_tables_of_the_former_schema_are_converted_without_loss() {
    let Some(db) = postgres_db() else { return };
    let Guard::Schema { base, schema } = &db._guard else {
        unreachable!()
    };
    let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
    let sql = std::fs::read_to_string(fixture("optimlab-v1.postgres.sql")).unwrap();
    admin
        .batch_execute(&format!("SET search_path TO {schema};\n{sql}"))
        .unwrap();
    let times: Times = admin
        .query(
            &format!(
                "SELECT number, datetime_start, datetime_complete FROM {schema}.optimlab_trials
                 WHERE study_id = 1 ORDER BY number"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get(1), r.get(2)))
        .collect();
    assert_eq!(times.len(), 6);
    let s = storage::open(&db.url).unwrap();
    check_legacy(s.as_ref(), &times);
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = $1 AND table_name LIKE 'optimlab%'",
            &[schema],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the former tables are dropped");
}

// ---- A study Optuna left without a direction -----------------------------------------------

/// Optuna's `create_study` writes the study, then its direction; interrupted in between (or
/// called through `RDBStorage.create_new_study` with `NOT_SET`), it leaves a study optimlab
/// cannot open. Listing the studies leaves it out instead of failing for all of them, and
/// opening it by name says why in one line.
fn a_study_without_a_direction(db: &Db, python: &str) {
    optimlab_worker(&db.url, "kept", 2);
    py(
        python,
        "import sys, optuna\n\
         optuna.logging.set_verbosity(optuna.logging.WARNING)\n\
         s = optuna.storages.RDBStorage(sys.argv[1])\n\
         s.create_new_study([optuna.study.StudyDirection.NOT_SET], 'half')",
        &[&db.python_url],
    );
    let storage = storage::open(&db.url).unwrap();
    let names: Vec<String> = storage
        .studies()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["kept"]);
    assert!(storage.find_study("kept").unwrap().is_some());
    let err = storage.find_study("half").unwrap_err().to_string();
    assert!(err.contains("NOT_SET") && !err.contains('\n'), "{err}");
}

#[test]
fn a_study_without_a_direction_on_sqlite() {
    let Some(python) = python(false) else { return };
    a_study_without_a_direction(&sqlite_db(), &python);
}

#[test]
fn a_study_without_a_direction_on_postgres() {
    let Some(python) = python(true) else { return };
    let Some(db) = postgres_db() else { return };
    a_study_without_a_direction(&db, &python);
}
