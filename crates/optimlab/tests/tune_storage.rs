//! The storage conformance suite on the memory, SQLite and journal storages, plus the tests
//! particular to each back end.

mod storage_conformance;

use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::storage::{self, Storage};
use optimlab::tune::trial::{Direction, FrozenTrial, TrialState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use storage_conformance::{Caps, Fixture, conformance_tests};

fn memory() -> Fixture {
    let shared = Arc::new(MemoryStorage::new());
    Fixture::new(move || Box::new(shared.clone()) as Box<dyn Storage>, ())
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("study.db").display());
    Fixture::new(move || storage::open(&url).unwrap(), dir)
}

fn journal() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("journal:{}", dir.path().join("study.log").display());
    Fixture::new(move || storage::open(&url).unwrap(), dir)
}

/// Creates study `name` (no attributes) in `s`; its id.
fn new_study(s: &dyn Storage, name: &str, direction: Direction) -> u64 {
    s.create_study(name, direction, &BTreeMap::new())
        .unwrap()
        .id
}

/// The trial `worker` claims in `study` with a minute's lease and no budget.
fn claim(s: &dyn Storage, study: u64, worker: &str) -> FrozenTrial {
    s.claim_trial(study, worker, Duration::from_secs(60), None)
        .unwrap()
        .unwrap()
}

/// Runs conformance case `name` on a back end.
fn run(make: fn() -> Fixture, caps: Caps, name: &str) {
    storage_conformance::case(name)(&make, &caps);
}

conformance_tests!(memory_conformance, |name| super::run(
    super::memory,
    super::Caps { persistent: false },
    name
));
conformance_tests!(sqlite_conformance, |name| super::run(
    super::sqlite,
    super::Caps { persistent: true },
    name
));
conformance_tests!(journal_conformance, |name| super::run(
    super::journal,
    super::Caps { persistent: true },
    name
));

#[test]
fn unknown_url_is_one_line_error() {
    let err = storage::open("redis://x")
        .err()
        .expect("unknown URL")
        .to_string();
    assert!(err.contains("redis://x") && !err.contains('\n'), "{err}");
}

/// Four threads, each with its own connection, hammer claims and writes on one file: no
/// "database is locked", numbers 0..N exactly.
#[test]
fn sqlite_four_writers_never_see_locked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("hammer.db").display());
    let study = new_study(&*storage::open(&url).unwrap(), "h", Direction::Minimize);
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let s = storage::open(&url).unwrap();
                let worker = format!("w{w}");
                for _ in 0..50 {
                    let t = claim(&*s, study, &worker);
                    s.report(t.id, &worker, 0, 1.0).unwrap();
                    s.heartbeat(t.id, &worker, Duration::from_secs(60)).unwrap();
                    s.finish(t.id, &worker, TrialState::Complete, Some(0.5))
                        .unwrap();
                    s.reap_expired(study, 1).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let trials = storage::open(&url).unwrap().trials(study).unwrap();
    assert_eq!(trials.len(), 200);
    assert!(trials.iter().enumerate().all(|(i, t)| t.number == i as u64));
    eprintln!(
        "sqlite: 4 writers x 50 trials (5 writes each) in {:?}",
        start.elapsed()
    );
}

#[test]
fn sqlite_refuses_foreign_and_newer_files_with_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not a database at all, just some text.....").unwrap();
    let err = storage::open(&format!("sqlite:{}", text.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("notes.txt") && !err.contains('\n'), "{err}");

    let foreign = dir.path().join("other.db");
    rusqlite_create(&foreign, "CREATE TABLE people (name TEXT)");
    let err = storage::open(&format!("sqlite:{}", foreign.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("other.db") && err.contains("not an optimlab"),
        "{err}"
    );

    // A file of optimlab's former schema with a version this build does not know.
    let newer = dir.path().join("newer.db");
    rusqlite_create(
        &newer,
        "CREATE TABLE optimlab_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO optimlab_meta VALUES ('schema_version', '99')",
    );
    let err = storage::open(&format!("sqlite:{}", newer.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("newer.db") && err.contains("newer optimlab"),
        "{err}"
    );

    // Optuna's schema at a revision other than Optuna 5.0's head.
    let other = dir.path().join("other-revision.db");
    storage::open(&format!("sqlite:{}", other.display())).unwrap();
    rusqlite_create(&other, "UPDATE alembic_version SET version_num = 'v9.9.9'");
    let err = storage::open(&format!("sqlite:{}", other.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("other-revision.db") && err.contains("v9.9.9") && !err.contains('\n'),
        "{err}"
    );

    let missing = dir.path().join("no/such/dir/s.db");
    let err = storage::open(&format!("sqlite:{}", missing.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("no/such/dir/s.db") && !err.contains('\n'),
        "{err}"
    );
}

#[test]
fn sqlite_reopen_keeps_rows_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    let s = storage::open(&url).unwrap();
    let st = s
        .create_study("k", Direction::Maximize, &BTreeMap::new())
        .unwrap();
    drop(s);
    let s = storage::open(&url).unwrap();
    assert_eq!(s.find_study("k").unwrap().unwrap(), st);
    assert!(
        s.create_study("k", Direction::Maximize, &BTreeMap::new())
            .is_err()
    );
}

fn rusqlite_create(path: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(sql).unwrap();
}

// ---- journal: file-level behaviour -------------------------------------------------------

fn journal_path(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let path = dir.path().join("j.log");
    let url = format!("journal:{}", path.display());
    (path, url)
}

/// A crash mid-write leaves a torn last line: it is ignored, and the next append cuts it off
/// under the lock, so the file holds whole lines only (as Optuna needs) and both the earlier
/// and the later operations read back.
#[test]
fn journal_torn_tail_is_ignored_and_cut_off_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let s = storage::open(&url).unwrap();
    let st = new_study(&*s, "torn", Direction::Minimize);
    let t = claim(&*s, st, "w");
    drop(s);
    let torn = format!(
        r#"{{"op_code":7,"worker_id":"x","trial_id":{},"step":5,"intermediate_val"#,
        t.id
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, torn.as_bytes()).unwrap();
    drop(f);
    let s = storage::open(&url).unwrap();
    let trials = s.trials(st).unwrap();
    assert!(
        trials[0].intermediate.is_empty(),
        "the torn report is not applied"
    );
    s.report(t.id, "w", 1, 0.5).unwrap();
    s.finish(t.id, "w", TrialState::Complete, Some(0.5))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("intermediate_val\""),
        "the torn line was cut off: {text}"
    );
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("{line:?} is not a whole operation: {e}"));
    }
    let again = storage::open(&url).unwrap().trials(st).unwrap();
    assert_eq!(again[0].intermediate.len(), 1);
    assert_eq!(again[0].intermediate[&1], 0.5);
    assert_eq!(again[0].state, TrialState::Complete);
}

#[test]
fn journal_unreachable_path_is_one_line_error() {
    let err = storage::open("journal:/no/such/dir/study.log")
        .err()
        .expect("missing folder")
        .to_string();
    assert!(
        err.contains("/no/such/dir/study.log") && !err.contains('\n'),
        "{err}"
    );
}

#[test]
fn journal_corrupt_middle_line_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let s = storage::open(&url).unwrap();
    s.create_study("a", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    s.create_study("b", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    drop(s);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    lines.insert(1, r#"{"op_code":2,"worker_id":"x",]"study_id":0}"#);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = storage::open(&url).err().expect("corrupt line").to_string();
    assert!(err.contains("line 2") && err.contains("j.log"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn journal_unknown_op_code_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    std::fs::write(
        &path,
        concat!(
            r#"{"op_code":0,"worker_id":"x","study_name":"s","directions":[1]}"#,
            "\n",
            r#"{"op_code":42,"worker_id":"x","study_id":0}"#,
            "\n"
        ),
    )
    .unwrap();
    let err = storage::open(&url).err().expect("unknown op").to_string();
    assert!(
        err.contains("line 2") && err.contains("op_code 42"),
        "{err}"
    );
    // Growing past a good reopen: a later unknown op is caught by the incremental read.
    std::fs::write(
        &path,
        concat!(
            r#"{"op_code":0,"worker_id":"x","study_name":"s","directions":[1]}"#,
            "\n"
        ),
    )
    .unwrap();
    let s = storage::open(&url).unwrap();
    assert!(s.find_study("s").unwrap().is_some());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"op_code\":99,\"worker_id\":\"x\"}\n").unwrap();
    let err = s.find_study("s").expect_err("unknown op").to_string();
    assert!(
        err.contains("line 2") && err.contains("op_code 99"),
        "{err}"
    );
}

/// A copied trial (export/import: create-trial with a template) carries its value as Optuna
/// writes a single objective's: `value` set and `values` null. Both set, Optuna's replay
/// fails with "Specify only one of value and values".
#[test]
fn journal_create_trial_with_a_template_writes_value_not_values() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let s = storage::open(&url).unwrap();
    let st = new_study(&*s, "copy", Direction::Minimize);
    let t = claim(&*s, st, "w");
    s.report(t.id, "w", 0, 1.5).unwrap();
    s.finish(t.id, "w", TrialState::Complete, Some(0.25))
        .unwrap();
    let done = s.trials(st).unwrap().remove(0);
    assert_eq!(s.import_trial(st, &done).unwrap(), 1);
    let text = std::fs::read_to_string(&path).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["op_code"], 4);
    assert_eq!(last["value"], 0.25);
    assert!(last["values"].is_null(), "{last}");
    assert_eq!(last["intermediate_values"]["0"], 1.5);
    let back = storage::open(&url).unwrap().trials(st).unwrap();
    assert_eq!(back[1].value, Some(0.25));
    assert_eq!(back[1].state, TrialState::Complete);
}

/// What we write is what Optuna writes: compact lines, distributions as JSON strings,
/// `NaN`/`Infinity` literals, and a lock file that is gone after each write.
#[test]
fn journal_lines_follow_optunas_format() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let s = storage::open(&url).unwrap();
    let st = new_study(&*s, "f", Direction::Maximize);
    let t = claim(&*s, st, "w");
    let d = optimlab::tune::Distribution::Int {
        low: 1,
        high: 9,
        step: 2,
        log: false,
    };
    s.set_param(t.id, "k", "w", &d, 3.0).unwrap_err();
    s.set_param(t.id, "w", "k", &d, 3.0).unwrap();
    s.report(t.id, "w", 0, f64::NAN).unwrap();
    s.report(t.id, "w", 1, f64::NEG_INFINITY).unwrap();
    s.finish(t.id, "w", TrialState::Complete, Some(2.0))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(r#""op_code":0"#) && lines[0].contains(r#""directions":[2]"#));
    assert!(
        lines.iter().all(|l| !l.contains(": ") && !l.contains(", ")),
        "compact: {text}"
    );
    assert!(
        text.contains(r#""distribution":"{\"attributes\":{"#),
        "{text}"
    );
    assert!(text.contains(r#""intermediate_value":NaN"#), "{text}");
    assert!(text.contains(r#""intermediate_value":-Infinity"#), "{text}");
    assert!(text.contains(r#""values":[2.0]"#), "{text}");
    assert!(text.contains(r#""state":1"#));
    assert!(!dir.path().join("j.log.lock").exists());
    let back = storage::open(&url).unwrap().trials(st).unwrap();
    assert!(back[0].intermediate[&0].is_nan());
    assert_eq!(back[0].intermediate[&1], f64::NEG_INFINITY);
}

/// A lock held by another writer (the symlink Optuna creates) makes a write wait until it is
/// released.
#[test]
fn journal_write_waits_for_optunas_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let s = storage::open(&url).unwrap();
    let lock = dir.path().join("j.log.lock");
    std::os::unix::fs::symlink(&path, &lock).unwrap();
    let releaser = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::remove_file(lock).unwrap();
        })
    };
    let start = std::time::Instant::now();
    s.create_study("waited", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    releaser.join().unwrap();
    assert!(!lock.exists());
}

// ---- journal: Optuna interoperability ----------------------------------------------------

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optuna")
}

fn expect_f64(v: &serde_json::Value) -> Option<f64> {
    v.as_str().map(|s| s.parse::<f64>().expect("a repr float"))
}

fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A journal written by Optuna reads back exactly as Optuna reads it.
#[test]
fn journal_reads_optuna_fixture_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optuna.log");
    std::fs::copy(fixture_dir().join("optuna_study.log"), &path).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("optuna_study.expected.json")).unwrap(),
    )
    .unwrap();
    let s = storage::open(&format!("journal:{}", path.display())).unwrap();
    let studies = s.studies().unwrap();
    let want_studies = expected["studies"].as_array().unwrap();
    assert_eq!(studies.len(), want_studies.len());
    let mut checked_trials = 0;
    for ws in want_studies {
        let name = ws["name"].as_str().unwrap();
        let info = s.find_study(name).unwrap().expect(name);
        assert_eq!(info.id, ws["study_id"].as_u64().unwrap());
        assert_eq!(info.direction.code(), ws["direction"].as_i64().unwrap());
        assert_eq!(
            serde_json::to_value(&info.user_attrs).unwrap(),
            ws["user_attrs"]
        );
        assert_eq!(
            serde_json::to_value(&info.system_attrs).unwrap(),
            ws["system_attrs"]
        );
        let trials = s.trials(info.id).unwrap();
        let want = ws["trials"].as_array().unwrap();
        assert_eq!(trials.len(), want.len(), "{name}");
        for (t, w) in trials.iter().zip(want) {
            let ctx = format!("{name} trial {}", t.number);
            assert_eq!(t.number, w["number"].as_u64().unwrap(), "{ctx}");
            assert_eq!(t.id, w["trial_id"].as_u64().unwrap(), "{ctx}");
            assert_eq!(t.state.code(), w["state"].as_i64().unwrap(), "{ctx}");
            match (t.value, expect_f64(&w["value"])) {
                (None, None) => {}
                (Some(a), Some(b)) => assert!(same_f64(a, b), "{ctx}: {a} vs {b}"),
                other => panic!("{ctx}: value {other:?}"),
            }
            let wp = w["params"].as_object().unwrap();
            assert_eq!(t.params.len(), wp.len(), "{ctx}");
            for (k, wv) in wp {
                let got = t.param(k).unwrap();
                match expect_f64(&wv["float"]) {
                    Some(x) => assert_eq!(got, optimlab::tune::ParamValue::Float(x), "{ctx} {k}"),
                    None => assert_eq!(
                        Some(got),
                        optimlab::tune::ParamValue::from_json(&wv["value"]),
                        "{ctx} {k}"
                    ),
                }
                let wd = optimlab::tune::Distribution::from_json(&w["distributions"][k]).unwrap();
                assert_eq!(t.params[k].0, wd, "{ctx} {k}");
            }
            let wi = w["intermediate"].as_object().unwrap();
            assert_eq!(t.intermediate.len(), wi.len(), "{ctx}");
            for (step, wv) in wi {
                let got = t.intermediate[&step.parse::<u64>().unwrap()];
                assert!(same_f64(got, expect_f64(wv).unwrap()), "{ctx} step {step}");
            }
            assert_eq!(
                serde_json::to_value(&t.user_attrs).unwrap(),
                w["user_attrs"],
                "{ctx}"
            );
            assert_eq!(
                serde_json::to_value(&t.system_attrs).unwrap(),
                w["system_attrs"],
                "{ctx}"
            );
            assert_eq!(
                t.datetime_start.is_some(),
                w["has_start"].as_bool().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                t.datetime_complete.is_some(),
                w["has_complete"].as_bool().unwrap(),
                "{ctx}"
            );
            checked_trials += 1;
        }
    }
    assert!(checked_trials >= 7);
    // The enqueued trial waits, and we claim it with the parameters Optuna fixed.
    let st = s.find_study("fixture").unwrap().unwrap().id;
    let t = claim(&*s, st, "us");
    assert_eq!(t.number, 4);
    assert_eq!(
        t.system_attrs["fixed_params"]["opt"],
        serde_json::json!("adam")
    );
}

/// A Python that has Optuna: `OPTIMLAB_PYTHON`, the peers' virtualenv, or `python3`.
fn python_with_optuna() -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("OPTIMLAB_PYTHON") {
        candidates.push(p);
    }
    candidates.push("/work/.venv-peers/bin/python".into());
    candidates.push("python3".into());
    candidates.into_iter().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import optuna"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

const OPTUNA_RESUME: &str = r#"
import math, sys
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState as S

optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="rt", storage=JournalStorage(JournalFileBackend(sys.argv[1])))
assert study.direction == optuna.study.StudyDirection.MINIMIZE
assert study.user_attrs == {"owner": "optimlab"}, study.user_attrs
ts = study.get_trials()
assert [t.state for t in ts] == [S.COMPLETE, S.PRUNED, S.FAIL, S.WAITING], [t.state for t in ts]
assert ts[0].value == 0.5 and ts[0].params == {"lr": 0.001, "width": 64, "opt": "adam"}, ts[0]
assert ts[0].user_attrs == {"epochs": 2}
assert ts[0].intermediate_values == {0: 0.75, 1: 0.5}
assert math.isnan(ts[1].intermediate_values[1]) and ts[1].intermediate_values[0] == 2.0
assert ts[2].system_attrs["optimlab:requeued_as"] == 3
assert ts[3].params == {"lr": 0.01, "width": 128, "opt": 3}, ts[3].params
assert study.best_trial.number == 0
assert ts[0].datetime_complete >= ts[0].datetime_start

def objective(t):
    lr = t.suggest_float("lr", 1e-5, 1e-1, log=True)
    w = t.suggest_int("width", 16, 256, step=16)
    o = t.suggest_categorical("opt", ["sgd", "adam", 3, None])
    t.report(0.25, 0)
    return lr + w

study.optimize(objective, n_trials=2)
print("resumed", len(study.trials))
"#;

/// We write a journal; Optuna loads it, checks it, resumes with 2 trials (taking our re-queued
/// trial first); we read Optuna's trials back and go on numbering after them.
#[test]
fn journal_round_trip_through_optuna() {
    let Some(python) = python_with_optuna() else {
        eprintln!("skipped: optuna not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let s = storage::open(&url).unwrap();
    let lr = optimlab::tune::Distribution::Float {
        low: 1e-5,
        high: 1e-1,
        step: None,
        log: true,
    };
    let width = optimlab::tune::Distribution::Int {
        low: 16,
        high: 256,
        step: 16,
        log: false,
    };
    use optimlab::tune::ParamValue as P;
    let opt = optimlab::tune::Distribution::Categorical {
        choices: vec![
            P::Str("sgd".into()),
            P::Str("adam".into()),
            P::Int(3),
            P::Null,
        ],
    };
    let st = s
        .create_study("rt", Direction::Minimize, &BTreeMap::new())
        .unwrap()
        .id;
    s.set_study_user_attr(st, "owner", &serde_json::json!("optimlab"))
        .unwrap();
    let long = Duration::from_secs(600);
    let a = s.claim_trial(st, "w", long, None).unwrap().unwrap();
    s.set_param(a.id, "w", "lr", &lr, 0.001).unwrap();
    s.set_param(a.id, "w", "width", &width, 64.0).unwrap();
    s.set_param(a.id, "w", "opt", &opt, 1.0).unwrap();
    s.report(a.id, "w", 0, 0.75).unwrap();
    s.report(a.id, "w", 1, 0.5).unwrap();
    s.set_trial_user_attr(a.id, "w", "epochs", &serde_json::json!(2))
        .unwrap();
    s.finish(a.id, "w", TrialState::Complete, Some(0.5))
        .unwrap();
    let b = s.claim_trial(st, "w", long, None).unwrap().unwrap();
    s.set_param(b.id, "w", "lr", &lr, 0.02).unwrap();
    s.report(b.id, "w", 0, 2.0).unwrap();
    s.report(b.id, "w", 1, f64::NAN).unwrap();
    s.finish(b.id, "w", TrialState::Pruned, None).unwrap();
    let c = s
        .claim_trial(st, "w", Duration::ZERO, None)
        .unwrap()
        .unwrap();
    s.set_param(c.id, "w", "lr", &lr, 0.01).unwrap();
    s.set_param(c.id, "w", "width", &width, 128.0).unwrap();
    s.set_param(c.id, "w", "opt", &opt, 2.0).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(s.reap_expired(st, 1).unwrap(), vec![2]);

    let out = std::process::Command::new(&python)
        .args(["-c", OPTUNA_RESUME])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "optuna failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed 5"));

    let trials = s.trials(st).unwrap();
    assert_eq!(trials.len(), 5);
    let retried = &trials[3];
    assert_eq!(
        retried.state,
        TrialState::Complete,
        "Optuna ran our waiting retry"
    );
    assert_eq!(retried.param("opt"), Some(P::Int(3)));
    assert_eq!(retried.value, Some(0.01 + 128.0));
    let fresh = &trials[4];
    assert_eq!(fresh.state, TrialState::Complete);
    let (lr4, w4) = (
        fresh.param("lr").unwrap().as_f64().unwrap(),
        fresh.param("width").unwrap().as_f64().unwrap(),
    );
    assert_eq!(fresh.value, Some(lr4 + w4));
    assert_eq!(fresh.intermediate[&0], 0.25);
    assert_eq!(fresh.params["width"].0, width);
    let next = s.claim_trial(st, "w", long, None).unwrap().unwrap();
    assert_eq!(next.number, 5);
}

const OPTUNA_WRITER: &str = r#"
import sys
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

optuna.logging.set_verbosity(optuna.logging.ERROR)
storage = JournalStorage(JournalFileBackend(sys.argv[1]))
study = optuna.load_study(study_name="shared", storage=storage)
def objective(t):
    x = t.suggest_float("x", -1.0, 1.0)
    t.report(x, 0)
    return x * x
study.optimize(objective, n_trials=int(sys.argv[2]))
again = JournalStorage(JournalFileBackend(sys.argv[1]))
print("optuna sees", len(again.get_all_trials(again.get_study_id_from_name("shared"))))
"#;

/// Optuna and two optimlab workers write one journal at the same time: the shared lock keeps
/// every line whole, numbers are 0..N with no gap or repeat, and Optuna reads the result.
#[test]
fn journal_shared_with_concurrent_optuna_writer() {
    let Some(python) = python_with_optuna() else {
        eprintln!("skipped: optuna not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let st = new_study(
        &*storage::open(&url).unwrap(),
        "shared",
        Direction::Minimize,
    );
    let optuna = std::process::Command::new(&python)
        .args(["-c", OPTUNA_WRITER])
        .arg(&path)
        .arg("40")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Start once Optuna writes, so that both really write at the same time.
    let initial = std::fs::metadata(&path).unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&path).unwrap().len() == initial {
        assert!(std::time::Instant::now() < deadline, "optuna never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    let x = optimlab::tune::Distribution::Float {
        low: -1.0,
        high: 1.0,
        step: None,
        log: false,
    };
    let ours: Vec<_> = (0..2)
        .map(|w| {
            let (url, x) = (url.clone(), x.clone());
            std::thread::spawn(move || {
                let s = storage::open(&url).unwrap();
                let worker = format!("w{w}");
                for i in 0..40 {
                    let t = claim(&*s, st, &worker);
                    s.set_param(t.id, &worker, "x", &x, 0.5).unwrap();
                    s.report(t.id, &worker, 0, 0.5).unwrap();
                    s.finish(t.id, &worker, TrialState::Complete, Some(i as f64))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in ours {
        h.join().unwrap();
    }
    let out = optuna.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "optuna failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("optuna sees 120"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let trials = storage::open(&url).unwrap().trials(st).unwrap();
    assert_eq!(trials.len(), 120);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete, "trial {i}");
        assert_eq!(t.intermediate.len(), 1, "trial {i}");
        assert!(t.params.contains_key("x"));
    }
    let ours = trials
        .iter()
        .filter(|t| t.system_attrs.contains_key("optimlab:lease"))
        .count();
    assert_eq!(ours, 80);
    let interleaved = trials
        .windows(2)
        .filter(|w| {
            w[0].system_attrs.contains_key("optimlab:lease")
                != w[1].system_attrs.contains_key("optimlab:lease")
        })
        .count();
    eprintln!("optuna and optimlab trials alternate {interleaved} times");
    assert!(interleaved >= 2, "the writers overlapped in time");
}

// ---- several processes -------------------------------------------------------------------

/// The body of a worker process: runs only when `multi_process_claims` starts this test
/// binary again with `OPTIMLAB_STORAGE_CHILD` = "URL STUDY WORKER".
#[test]
fn child_worker_process() {
    let Ok(spec) = std::env::var("OPTIMLAB_STORAGE_CHILD") else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let (url, study, worker) = (parts[0], parts[1].parse::<u64>().unwrap(), parts[2]);
    let s = storage::open(url).unwrap();
    while let Some(t) = s
        .claim_trial(study, worker, Duration::from_secs(60), Some(90))
        .unwrap()
    {
        s.report(t.id, worker, 0, 1.0).unwrap();
        s.finish(t.id, worker, TrialState::Complete, Some(t.number as f64))
            .unwrap();
    }
}

/// Three worker processes share one study through each persistent storage: the budget of 90
/// is met exactly, numbers are 0..89, every trial finished by the process that claimed it.
#[test]
fn multi_process_claims() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("sqlite:{}", dir.path().join("mp.db").display()),
        format!("journal:{}", dir.path().join("mp.log").display()),
    ] {
        let study = new_study(&*storage::open(&url).unwrap(), "mp", Direction::Minimize);
        let start = std::time::Instant::now();
        let children: Vec<_> = (0..3)
            .map(|w| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "child_worker_process", "--test-threads=1"])
                    .env("OPTIMLAB_STORAGE_CHILD", format!("{url} {study} p{w}"))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect::<Vec<_>>();
        let children: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for c in &children {
            assert!(
                c.status.success(),
                "{url}: {}",
                String::from_utf8_lossy(&c.stdout)
            );
        }
        let trials = storage::open(&url).unwrap().trials(study).unwrap();
        assert_eq!(trials.len(), 90, "{url}");
        for (i, t) in trials.iter().enumerate() {
            assert_eq!(t.number, i as u64);
            assert_eq!(t.state, TrialState::Complete);
            assert_eq!(t.value, Some(i as f64));
        }
        eprintln!("{url}: 3 processes, 90 trials in {:?}", start.elapsed());
    }
}

// ---- per-trial write paths ---------------------------------------------------------------

fn float01() -> optimlab::tune::Distribution {
    optimlab::tune::Distribution::Float {
        low: 0.0,
        high: 1.0,
        step: None,
        log: false,
    }
}

/// A claimed trial is the trial as stored (SQLite builds a new one without reading it back);
/// `set_params` stores every parameter at once, and a worker without the lease stores none.
#[test]
fn claim_answers_the_stored_trial_and_set_params_is_fenced() {
    for make in [memory as fn() -> Fixture, sqlite, journal] {
        let fx = make();
        let s = fx.open();
        let st = new_study(&*s, "p", Direction::Minimize);
        let t = claim(&*s, st, "w");
        let stored = fx.open().trials(st).unwrap();
        assert_eq!(stored, vec![t.clone()]);
        let d = float01();
        s.set_params(t.id, "w", &[("a", &d, 0.25), ("b", &d, 0.5)])
            .unwrap();
        let err = s.set_params(t.id, "intruder", &[("c", &d, 0.75)]);
        assert!(
            matches!(err, Err(optimlab::tune::TuneError::LeaseLost { .. })),
            "{err:?}"
        );
        let read = fx.open().trials(st).unwrap().remove(0);
        let names: Vec<&str> = read.params.keys().map(String::as_str).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(read.params["b"].1, 0.5);
    }
}

/// A connection that claims keeps the study's counts between claims; trials another
/// connection creates in between (new ones, a re-queued retry) are seen by its next claim.
#[test]
fn sqlite_claims_follow_another_connections_writes() {
    let fx = sqlite();
    let (a, b) = (fx.open(), fx.open());
    let st = new_study(&*a, "c", Direction::Minimize);
    assert_eq!(claim(&*a, st, "a").number, 0);
    assert_eq!(claim(&*a, st, "a").number, 1);
    assert_eq!(claim(&*b, st, "b").number, 2);
    let dead = b
        .claim_trial(st, "b", Duration::ZERO, None)
        .unwrap()
        .unwrap();
    assert_eq!(dead.number, 3);
    b.set_params(dead.id, "b", &[("x", &float01(), 0.5)])
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(b.reap_expired(st, 1).unwrap(), vec![3]);
    // a's next claim takes b's re-queued retry (number 4), then creates number 5.
    let retry = claim(&*a, st, "a");
    assert_eq!(retry.number, 4);
    assert_eq!(retry.params["x"].1, 0.5);
    assert_eq!(claim(&*a, st, "a").number, 5);
    // The budget counts b's trials too: 0, 1, 2, 4, 5 (3 was re-queued) and one more.
    assert_eq!(
        a.claim_trial(st, "a", Duration::from_secs(60), Some(6))
            .unwrap()
            .unwrap()
            .number,
        6
    );
    assert!(
        a.claim_trial(st, "a", Duration::from_secs(60), Some(6))
            .unwrap()
            .is_none()
    );
    let numbers: Vec<u64> = fx
        .open()
        .trials(st)
        .unwrap()
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6]);
}

/// `journal:PATH?sync=full` names the file PATH (fsynced on every append); without the
/// suffix every append still reaches the file before the call returns.
#[test]
fn journal_sync_modes_write_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = journal_path(&dir);
    let normal = storage::open(&url).unwrap();
    let st = new_study(&*normal, "j", Direction::Minimize);
    let t = claim(&*normal, st, "w");
    normal
        .finish(t.id, "w", TrialState::Complete, Some(1.0))
        .unwrap();
    // Another reader sees the append while the writer is still open.
    let full = storage::open_existing(&format!("{url}?sync=full")).unwrap();
    assert_eq!(full.trials(st).unwrap()[0].value, Some(1.0));
    let t = claim(&*full, st, "v");
    assert_eq!(t.number, 1);
    assert_eq!(normal.trials(st).unwrap().len(), 2);
    assert!(path.is_file());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains('?')), "{names:?}");
    let err = storage::open_existing(&format!(
        "journal:{}?sync=full",
        dir.path().join("none").display()
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("no journal file"), "{err}");
}
