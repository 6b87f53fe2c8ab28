//! The PostgreSQL storage against a real server: the behaviours every storage shares, plus
//! what only PostgreSQL does (SKIP LOCKED claims, leases on the server's clock, reconnecting
//! after the server drops the connection, concurrent first connections).
//!
//! Needs `OPTIMLAB_TEST_POSTGRES=postgres://user@host:port/db` (`scripts/with_postgres.sh`
//! starts a throwaway server and sets it); without it every test says it skipped and passes.
//! Each test works in a schema of its own (`search_path` in the URL's `options`), so tests run
//! in parallel without seeing each other's studies.

use optimlab::tune::TuneError;
use optimlab::tune::distribution::Distribution;
use optimlab::tune::storage::postgres::PostgresStorage;
use optimlab::tune::storage::{Storage, attrs};
use optimlab::tune::trial::{Direction, TrialState};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn server() -> Option<String> {
    match std::env::var("OPTIMLAB_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: OPTIMLAB_TEST_POSTGRES not set");
            None
        }
    }
}

fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("the test server accepts connections")
}

/// `url` with `key=value` added to its query string.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}

/// A URL whose connections work in a new, empty schema.
fn fresh(url: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "t{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    admin(url)
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    with_param(url, "options", &format!("-csearch_path%3D{schema}"))
}

fn open(url: &str) -> PostgresStorage {
    PostgresStorage::connect(url).unwrap_or_else(|e| panic!("connect: {e}"))
}

const LONG: Duration = Duration::from_secs(600);

fn float() -> Distribution {
    Distribution::Float {
        low: 1e-5,
        high: 1.0,
        step: None,
        log: true,
    }
}

#[test]
fn studies_by_unique_name_with_attributes() {
    let Some(url) = server() else { return };
    let s = open(&fresh(&url));
    let mut sys = BTreeMap::new();
    sys.insert(attrs::SPACE.to_string(), json!({"lr": "float"}));
    let a = s.create_study("a", Direction::Maximize, &sys).unwrap();
    assert_eq!(a.system_attrs, sys);
    let err = s
        .create_study("a", Direction::Minimize, &BTreeMap::new())
        .unwrap_err();
    assert!(matches!(err, TuneError::StudyMismatch(_)), "{err}");
    s.create_study("b", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    s.set_study_user_attr(a.id, "note", &json!("hello"))
        .unwrap();
    s.set_study_user_attr(a.id, "note", &json!("again"))
        .unwrap();
    let found = s.find_study("a").unwrap().unwrap();
    assert_eq!(found.direction, Direction::Maximize);
    assert_eq!(found.user_attrs["note"], json!("again"));
    assert_eq!(found.system_attrs, sys);
    assert!(s.find_study("zzz").unwrap().is_none());
    let names: Vec<String> = s.studies().unwrap().into_iter().map(|x| x.name).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(matches!(
        s.set_study_user_attr(999_999, "k", &json!(1)),
        Err(TuneError::NoStudy(_))
    ));
}

#[test]
fn trial_lifecycle_reads_back_everything() {
    let Some(url) = server() else { return };
    let s = open(&fresh(&url));
    let st = s
        .create_study("life", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let t = s.claim_trial(st.id, "w1", LONG, None).unwrap().unwrap();
    assert_eq!((t.number, t.state), (0, TrialState::Running));
    assert_eq!(t.system_attrs[attrs::LEASE]["worker"], json!("w1"));
    let start = t.datetime_start.clone().unwrap();
    assert_eq!(start.len(), 26, "{start}");
    assert_eq!(&start[10..11], "T");
    let cat = Distribution::Categorical {
        choices: vec![json!("relu"), json!(3), json!(null)]
            .iter()
            .map(|v| optimlab::tune::ParamValue::from_json(v).unwrap())
            .collect(),
    };
    s.set_param(t.id, "w1", "lr", &float(), 0.003).unwrap();
    s.set_param(t.id, "w1", "act", &cat, 1.0).unwrap();
    s.report(t.id, "w1", 0, 0.9).unwrap();
    s.report(t.id, "w1", 1, 0.5).unwrap();
    s.report(t.id, "w1", 1, 0.4).unwrap();
    s.report(t.id, "w1", 2, f64::NAN).unwrap();
    s.set_trial_user_attr(t.id, "w1", "epochs", &json!(3))
        .unwrap();
    s.heartbeat(t.id, "w1", LONG).unwrap();
    assert!(matches!(
        s.report(t.id, "w2", 3, 0.1),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    s.finish(t.id, "w1", TrialState::Complete, Some(0.25))
        .unwrap();
    assert!(matches!(
        s.finish(t.id, "w1", TrialState::Complete, Some(0.1)),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    assert!(s.finish(t.id, "w1", TrialState::Running, None).is_err());
    let back = s.trials(st.id).unwrap();
    assert_eq!(back.len(), 1);
    let b = &back[0];
    assert_eq!(b.state, TrialState::Complete);
    assert_eq!(b.value, Some(0.25));
    assert_eq!(b.params["lr"], (float(), 0.003));
    assert_eq!(b.params["act"], (cat, 1.0));
    assert_eq!(b.intermediate[&0], 0.9);
    assert_eq!(b.intermediate[&1], 0.4);
    assert!(b.intermediate[&2].is_nan());
    assert_eq!(b.user_attrs["epochs"], json!(3));
    assert!(b.datetime_complete.as_deref().unwrap() >= start.as_str());
    assert!(matches!(
        s.heartbeat(123_456_789, "w1", LONG),
        Err(TuneError::Storage(_))
    ));
}

/// Claims from 8 connections at once: numbers 0..199 with no gap or repeat.
#[test]
fn numbering_under_concurrent_claims() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let st = open(&url)
        .create_study("n", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let s = open(&url);
                barrier.wait();
                (0..25)
                    .map(|_| {
                        let t = s
                            .claim_trial(st.id, &format!("w{w}"), LONG, None)
                            .unwrap()
                            .unwrap();
                        s.finish(t.id, &format!("w{w}"), TrialState::Complete, Some(1.0))
                            .unwrap();
                        t.number
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut numbers: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (0..200).collect::<Vec<_>>());
}

/// A budget of 50 with 8 racing connections: exactly 50 trials.
#[test]
fn budget_holds_under_concurrent_claims() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let st = open(&url)
        .create_study("b", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let s = open(&url);
                barrier.wait();
                let mut got = 0;
                while let Some(t) = s
                    .claim_trial(st.id, &format!("w{w}"), LONG, Some(50))
                    .unwrap()
                {
                    s.finish(t.id, &format!("w{w}"), TrialState::Complete, Some(0.0))
                        .unwrap();
                    got += 1;
                }
                got
            })
        })
        .collect();
    let total: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 50);
    assert_eq!(open(&url).trials(st.id).unwrap().len(), 50);
}

/// A lease runs out by the server's clock; the reaper fails the trial and re-queues it with
/// the same parameters; the old worker is fenced off; retries are bounded.
#[test]
fn lease_expires_by_server_clock_and_is_requeued() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let s = open(&url);
    let st = s
        .create_study("lease", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let t = s
        .claim_trial(st.id, "old", Duration::from_millis(400), None)
        .unwrap()
        .unwrap();
    let server_now: f64 = admin(&url)
        .query_one("SELECT extract(epoch FROM now())::float8", &[])
        .unwrap()
        .get(0);
    let expires = t.system_attrs[attrs::LEASE]["expires"].as_f64().unwrap();
    assert!(
        (expires - (server_now + 0.4)).abs() < 0.3,
        "lease expires at {expires}, server time {server_now}"
    );
    s.set_param(t.id, "old", "lr", &float(), 0.01).unwrap();
    assert!(s.reap_expired(st.id, 1).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(s.reap_expired(st.id, 1).unwrap(), [0]);
    assert!(s.reap_expired(st.id, 1).unwrap().is_empty());
    // The old worker comes back late: every write is refused.
    assert!(matches!(
        s.report(t.id, "old", 1, 0.5),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    assert!(matches!(
        s.finish(t.id, "old", TrialState::Complete, Some(0.5)),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    assert!(matches!(
        s.heartbeat(t.id, "old", LONG),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    let trials = s.trials(st.id).unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0].state, TrialState::Fail);
    assert!(trials[0].datetime_complete.is_some());
    assert_eq!(trials[0].system_attrs[attrs::REQUEUED_AS], json!(1));
    assert_eq!(trials[1].state, TrialState::Waiting);
    assert_eq!(trials[1].params["lr"], (float(), 0.01));
    assert_eq!(trials[1].system_attrs[attrs::RETRY_OF], json!(0));
    assert_eq!(trials[1].system_attrs[attrs::RETRIES], json!(1));
    // The retry is claimed first, expires too, and is not re-queued again (max 1 retry).
    let r = s
        .claim_trial(st.id, "new", Duration::from_millis(100), Some(1))
        .unwrap()
        .unwrap();
    assert_eq!((r.number, r.params["lr"].1), (1, 0.01));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.reap_expired(st.id, 1).unwrap(), [1]);
    let trials = s.trials(st.id).unwrap();
    assert_eq!(trials.len(), 2);
    assert!(!trials[1].system_attrs.contains_key(attrs::REQUEUED_AS));
    // Budget 1: the re-queued failure does not count, its retry does.
    assert!(
        s.claim_trial(st.id, "new", LONG, Some(1))
            .unwrap()
            .is_none()
    );
    assert!(
        s.claim_trial(st.id, "new", LONG, Some(2))
            .unwrap()
            .is_some()
    );
}

/// A Waiting trial locked by another transaction is skipped, not waited for.
#[test]
fn claims_skip_a_locked_waiting_trial() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let s = open(&url);
    let st = s
        .create_study("skip", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let t = s
        .claim_trial(st.id, "w", Duration::from_millis(50), None)
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    s.reap_expired(st.id, 3).unwrap();
    let mut other = admin(&url);
    let mut tx = other.transaction().unwrap();
    let locked: i64 = tx
        .query_one(
            "SELECT number FROM optimlab_trials WHERE state = 4 FOR UPDATE",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(locked, 1);
    let started = Instant::now();
    let c = s.claim_trial(st.id, "w2", LONG, None).unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(c.number, 2, "the locked Waiting trial 1 is skipped");
    tx.rollback().unwrap();
    let c = s.claim_trial(st.id, "w3", LONG, None).unwrap().unwrap();
    assert_eq!(c.number, 1, "once unlocked, the Waiting trial is claimed");
    assert_ne!(c.id, t.id);
}

/// K connections race for one Waiting trial: exactly one gets it.
#[test]
fn one_winner_for_one_waiting_trial() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let s = open(&url);
    let st = s
        .create_study("race", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    s.claim_trial(st.id, "w", Duration::from_millis(50), None)
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(s.reap_expired(st.id, 3).unwrap(), [0]);
    let k = 6;
    let barrier = Arc::new(Barrier::new(k));
    let handles: Vec<_> = (0..k)
        .map(|w| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let s = open(&url);
                barrier.wait();
                s.claim_trial(st.id, &format!("k{w}"), LONG, None)
                    .unwrap()
                    .unwrap()
                    .number
            })
        })
        .collect();
    let numbers: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        numbers.iter().filter(|&&n| n == 1).count(),
        1,
        "{numbers:?}"
    );
    let set: BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(set, (1..=k as u64).collect());
}

/// Two reapers at once fail each expired trial once and re-queue it once.
#[test]
fn racing_reapers_requeue_once() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let s = open(&url);
    let st = s
        .create_study("reap", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    for i in 0..20 {
        let t = s
            .claim_trial(st.id, "w", Duration::from_millis(50), None)
            .unwrap()
            .unwrap();
        s.set_param(t.id, "w", "lr", &float(), 0.001 * f64::from(i + 1))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(150));
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let s = open(&url);
                barrier.wait();
                s.reap_expired(st.id, 3).unwrap()
            })
        })
        .collect();
    let mut failed: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    failed.sort();
    assert_eq!(failed, (0..20).collect::<Vec<_>>());
    let trials = s.trials(st.id).unwrap();
    assert_eq!(trials.len(), 40);
    let retried: BTreeSet<u64> = trials[20..]
        .iter()
        .map(|t| t.system_attrs[attrs::RETRY_OF].as_u64().unwrap())
        .collect();
    assert_eq!(retried, (0..20).collect());
    for t in &trials[20..] {
        let of = t.system_attrs[attrs::RETRY_OF].as_u64().unwrap() as usize;
        assert_eq!(t.params, trials[of].params);
        assert_eq!(trials[of].system_attrs[attrs::REQUEUED_AS], json!(t.number));
    }
}

/// The server drops the connection (an administrator, a restart, a failover): the next call
/// reconnects and works.
#[test]
fn reconnects_after_the_server_drops_the_connection() {
    let Some(url) = server() else { return };
    let name = format!("optimlab_drop_{}", std::process::id());
    let base = fresh(&url);
    let url = with_param(&base, "application_name", &name);
    let s = open(&url);
    let st = s
        .create_study("drop", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let t = s.claim_trial(st.id, "w", LONG, None).unwrap().unwrap();
    let kill = || {
        let killed: i64 = admin(&base)
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        assert_eq!(killed, 1);
    };
    kill();
    s.report(t.id, "w", 0, 0.5).unwrap();
    kill();
    s.finish(t.id, "w", TrialState::Complete, Some(0.5))
        .unwrap();
    kill();
    let trials = s.trials(st.id).unwrap();
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(trials[0].intermediate[&0], 0.5);
}

/// Workers connecting for the first time at once all create (or find) the schema.
#[test]
fn concurrent_first_connections_share_one_schema() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PostgresStorage::connect(&url).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let versions: i64 = admin(&url)
        .query_one("SELECT count(*) FROM optimlab_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
}

#[test]
fn reopened_storage_sees_everything() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    let (study, trial) = {
        let s = open(&url);
        let st = s
            .create_study("keep", Direction::Maximize, &BTreeMap::new())
            .unwrap();
        let t = s.claim_trial(st.id, "w", LONG, None).unwrap().unwrap();
        s.set_param(t.id, "w", "lr", &float(), 0.1).unwrap();
        s.report(t.id, "w", 0, 0.7).unwrap();
        (st.id, t.id)
    };
    let s = open(&url);
    assert_eq!(s.find_study("keep").unwrap().unwrap().id, study);
    let trials = s.trials(study).unwrap();
    assert_eq!(trials[0].id, trial);
    assert_eq!(trials[0].state, TrialState::Running);
    assert_eq!(trials[0].intermediate[&0], 0.7);
    s.finish(trial, "w", TrialState::Pruned, None).unwrap();
}

#[test]
fn import_copies_a_trial_as_it_is() {
    let Some(url) = server() else { return };
    let s = open(&fresh(&url));
    let a = s
        .create_study("src", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let b = s
        .create_study("dst", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let t = s.claim_trial(a.id, "w", LONG, None).unwrap().unwrap();
    s.set_param(t.id, "w", "lr", &float(), 0.2).unwrap();
    s.report(t.id, "w", 3, 1.5).unwrap();
    s.set_trial_user_attr(t.id, "w", "note", &json!({"x": [1, 2]}))
        .unwrap();
    s.finish(t.id, "w", TrialState::Pruned, Some(1.5)).unwrap();
    let orig = s.trials(a.id).unwrap().remove(0);
    let mut sys = orig.system_attrs.clone();
    sys.insert("custom".into(), Value::from("kept"));
    let src = optimlab::tune::FrozenTrial {
        system_attrs: sys,
        ..orig.clone()
    };
    assert_eq!(s.import_trial(b.id, &src).unwrap(), 0);
    assert_eq!(s.import_trial(b.id, &src).unwrap(), 1);
    let copied = s.trials(b.id).unwrap();
    assert_eq!(copied.len(), 2);
    let c = &copied[1];
    assert_eq!(c.number, 1);
    assert_ne!(c.id, orig.id);
    assert_eq!(
        (c.state, c.value, &c.params, &c.intermediate, &c.user_attrs),
        (
            orig.state,
            orig.value,
            &orig.params,
            &orig.intermediate,
            &orig.user_attrs
        )
    );
    assert_eq!(c.system_attrs, src.system_attrs);
    assert_eq!(
        (&c.datetime_start, &c.datetime_complete),
        (&orig.datetime_start, &orig.datetime_complete)
    );
    assert!(matches!(
        s.import_trial(987_654, &src),
        Err(TuneError::NoStudy(_))
    ));
}

/// Unreachable servers and refused logins are one-line errors naming the host, never the
/// password, and come back within the connect timeout.
#[test]
fn connection_failures_are_one_line_and_name_the_host() {
    let Some(url) = server() else { return };
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let started = Instant::now();
    let err = PostgresStorage::connect(&format!(
        "postgres://me:s3cretpw@127.0.0.1:{port}/db?connect_timeout=3"
    ))
    .err()
    .unwrap();
    let msg = err.to_string();
    println!("{msg}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, TuneError::Storage(_)));
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("s3cretpw") && !msg.contains('\n'), "{msg}");

    let err = PostgresStorage::connect("postgres://me:s3cretpw@db.example:notaport/x")
        .err()
        .unwrap()
        .to_string();
    println!("{err}");
    assert!(err.contains("db.example"), "{err}");
    assert!(!err.contains("s3cretpw") && !err.contains('\n'), "{err}");

    // A role the server does not know (the test server trusts any password).
    let config: postgres::Config = url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        #[allow(unreachable_patterns)]
        _ => return,
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let err = PostgresStorage::connect(&format!(
        "postgres://nosuchrole:s3cretpw@{host}:{port}/{}",
        config.get_dbname().unwrap_or("postgres")
    ))
    .err()
    .unwrap()
    .to_string();
    println!("{err}");
    assert!(err.contains(&format!("{host}:{port}")), "{err}");
    assert!(err.contains("nosuchrole"), "{err}");
    assert!(!err.contains("s3cretpw") && !err.contains('\n'), "{err}");
}

/// A database written by a newer optimlab is refused rather than misread.
#[test]
fn newer_schema_is_refused() {
    let Some(url) = server() else { return };
    let url = fresh(&url);
    drop(open(&url));
    admin(&url)
        .batch_execute("UPDATE optimlab_schema_version SET version = 99")
        .unwrap();
    let err = PostgresStorage::connect(&url).err().unwrap().to_string();
    assert!(err.contains("version 99"), "{err}");
}
