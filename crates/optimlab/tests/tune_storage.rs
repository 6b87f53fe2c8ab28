//! The storage conformance suite on the memory, SQLite and journal storages, plus the tests
//! particular to each back end.

mod storage_conformance;

use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::storage::{self, Storage};
use optimlab::tune::trial::{Direction, TrialState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use storage_conformance::{CASES, Caps, Fixture};

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

fn run(make: &dyn Fn() -> Fixture, caps: Caps, name: &str) {
    let (_, case) = CASES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no conformance case {name}"));
    case(make, &caps);
}

/// One `#[test]` per conformance case and back end.
macro_rules! conformance {
    ($backend:ident, $make:expr, $caps:expr, [$($case:ident),*]) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    super::run(&$make, $caps, stringify!($case));
                }
            )*
        }
    };
}

conformance!(
    memory_conformance,
    super::memory,
    super::Caps { persistent: false },
    [
        studies,
        lifecycle,
        numbering_concurrent,
        budget_concurrent,
        one_winner_for_waiting,
        reap_and_requeue,
        fencing,
        reopen_after_crash,
        import_round_trip
    ]
);

conformance!(
    sqlite_conformance,
    super::sqlite,
    super::Caps { persistent: true },
    [
        studies,
        lifecycle,
        numbering_concurrent,
        budget_concurrent,
        one_winner_for_waiting,
        reap_and_requeue,
        fencing,
        reopen_after_crash,
        import_round_trip
    ]
);

conformance!(
    journal_conformance,
    super::journal,
    super::Caps { persistent: true },
    [
        studies,
        lifecycle,
        numbering_concurrent,
        budget_concurrent,
        one_winner_for_waiting,
        reap_and_requeue,
        fencing,
        reopen_after_crash,
        import_round_trip
    ]
);

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
    let study = storage::open(&url)
        .unwrap()
        .create_study("h", Direction::Minimize, &BTreeMap::new())
        .unwrap()
        .id;
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let s = storage::open(&url).unwrap();
                let worker = format!("w{w}");
                for _ in 0..50 {
                    let t = s
                        .claim_trial(study, &worker, Duration::from_secs(60), None)
                        .unwrap()
                        .unwrap();
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

    let newer = dir.path().join("newer.db");
    storage::open(&format!("sqlite:{}", newer.display())).unwrap();
    rusqlite_create(
        &newer,
        "UPDATE optimlab_meta SET value = '99' WHERE key = 'schema_version'",
    );
    let err = storage::open(&format!("sqlite:{}", newer.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("newer.db") && err.contains("newer optimlab"),
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
