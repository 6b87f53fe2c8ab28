//! The PostgreSQL storage against a real server: the behaviours every storage shares, plus
//! what only PostgreSQL does (SKIP LOCKED claims, leases on the server's clock, reconnecting
//! after the server drops the connection, concurrent first connections).
//!
//! Needs `OPTIMLAB_TEST_POSTGRES=postgres://user@host:port/db` (`scripts/with_postgres.sh`
//! starts a throwaway server and sets it); without it every test says it skipped and passes.
//! Each test works in a schema of its own (`search_path` in the URL's `options`), so tests run
//! in parallel without seeing each other's studies.

mod storage_conformance;

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
use storage_conformance::{Caps, Fixture, conformance_tests};

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

/// A new, empty schema for one test: `url` works in it; dropped with everything in it when the
/// test ends.
struct Scratch {
    base: String,
    schema: String,
    url: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

fn fresh(base: &str) -> Scratch {
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
    admin(base)
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    Scratch {
        base: base.to_string(),
        url: with_param(base, "options", &format!("-csearch_path%3D{schema}")),
        schema,
    }
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
fn trial_lifecycle_reads_back_everything() {
    let Some(url) = server() else { return };
    let scratch = fresh(&url);
    let s = open(&scratch.url);
    let st = s
        .create_study("life", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    let t = s.claim_trial(st.id, "w1", LONG, None).unwrap().unwrap();
    assert_eq!((t.number, t.state), (0, TrialState::Running));
    assert_eq!(t.system_attrs[attrs::LEASE]["worker"], json!("w1"));
    let start = t.datetime_start.clone().unwrap();
    assert_eq!(start.len(), 32, "{start}");
    assert!(start.ends_with("+00:00"), "{start}");
    assert_eq!(&start[10..11], "T");
    let cat = Distribution::Categorical {
        choices: [json!("relu"), json!(3), json!(null)]
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

/// A lease runs out by the server's clock; the reaper fails the trial and re-queues it with
/// the same parameters; the old worker is fenced off; retries are bounded.
#[test]
fn lease_expires_by_server_clock_and_is_requeued() {
    let Some(url) = server() else { return };
    let scratch = fresh(&url);
    let url = scratch.url.clone();
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
    let scratch = fresh(&url);
    let url = scratch.url.clone();
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
    let locked: i32 = tx
        .query_one(
            "SELECT number FROM trials WHERE state = 'WAITING' FOR UPDATE",
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

/// Two reapers at once fail each expired trial once and re-queue it once.
#[test]
fn racing_reapers_requeue_once() {
    let Some(url) = server() else { return };
    let scratch = fresh(&url);
    let url = scratch.url.clone();
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
    let scratch = fresh(&url);
    let base = scratch.url.clone();
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
    let scratch = fresh(&url);
    let url = scratch.url.clone();
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
    let (versions, revisions): (i64, i64) = admin(&url)
        .query_one(
            "SELECT (SELECT count(*) FROM version_info), (SELECT count(*) FROM alembic_version)",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((versions, revisions), (1, 1));
}

#[test]
fn import_copies_a_trial_as_it_is() {
    let Some(url) = server() else { return };
    let scratch = fresh(&url);
    let s = open(&scratch.url);
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
    // An imported Running trial keeps its lease (a heartbeat and the lease's length, shown
    // as the attribute with its expiry):
    // an expired one is reaped like any other, a live one is not.
    let mut running = src.clone();
    running.state = TrialState::Running;
    running.system_attrs.insert(
        attrs::LEASE.into(),
        json!({"worker": "gone", "expires": 1_000_000_000.5}),
    );
    assert_eq!(s.import_trial(b.id, &running).unwrap(), 2);
    running.system_attrs.insert(
        attrs::LEASE.into(),
        json!({"worker": "alive", "expires": 4_000_000_000.0}),
    );
    assert_eq!(s.import_trial(b.id, &running).unwrap(), 3);
    let back = s.trials(b.id).unwrap();
    let lease = &back[2].system_attrs[attrs::LEASE];
    assert_eq!(
        (&lease["worker"], &lease["expires"]),
        (&json!("gone"), &json!(1_000_000_000.5))
    );
    assert_eq!(s.reap_expired(b.id, 0).unwrap(), [2]);
    assert!(s.heartbeat(back[3].id, "alive", LONG).is_ok());
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

/// A database at another Optuna schema revision is refused rather than misread.
#[test]
fn other_schema_revision_is_refused() {
    let Some(url) = server() else { return };
    let scratch = fresh(&url);
    let url = scratch.url.clone();
    drop(open(&url));
    admin(&url)
        .batch_execute("UPDATE alembic_version SET version_num = 'v9.9.9'")
        .unwrap();
    let err = PostgresStorage::connect(&url).err().unwrap().to_string();
    assert!(err.contains("v9.9.9") && !err.contains('\n'), "{err}");
}

/// The conformance suite: each case on a fresh schema, every handle a new connection.
fn run_case(name: &str) {
    let Some(base) = server() else { return };
    let make = || {
        let scratch = fresh(&base);
        let url = scratch.url.clone();
        Fixture::new(move || Box::new(open(&url)) as Box<dyn Storage>, scratch)
    };
    storage_conformance::case(name)(&make, &Caps { persistent: true });
}

conformance_tests!(conformance, super::run_case);
