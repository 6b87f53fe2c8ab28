//! The storage conformance suite: the behaviour every `Storage` back end must share.
//!
//! Use from a test file of the back end:
//!
//! ```ignore
//! mod storage_conformance;
//! use storage_conformance::{Caps, Fixture};
//!
//! fn fixture() -> Fixture {
//!     let dir = tempfile::tempdir().unwrap();
//!     let url = format!("sqlite:{}", dir.path().join("s.db").display());
//!     Fixture::new(move || optimlab::tune::storage::open(&url).unwrap(), dir)
//! }
//!
//! #[test]
//! fn conformance() {
//!     storage_conformance::run_all(&fixture, Caps { persistent: true });
//! }
//! ```
//!
//! `make` gives a fresh, empty store for each case; `Fixture::open` opens one more handle on
//! that same store (a new connection / file handle, as another worker process would). Every
//! case is also a `pub fn` of the same shape (`fn(&dyn Fn() -> Fixture, &Caps)`), so a back end
//! may run them as separate `#[test]`s (see [`CASES`]).
//!
//! `Caps::persistent`: the store survives its handles being dropped (a crash) and is reopened
//! by `open`; false for the memory storage, whose handles share one object instead.

#![allow(dead_code)]

use optimlab::tune::distribution::{Distribution, ParamValue};
use optimlab::tune::error::TuneError;
use optimlab::tune::storage::{Storage, attrs};
use optimlab::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::json;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// One fresh store: `open` gives a new handle on it; `keep` holds what must outlive the handles
/// (a temporary folder, a database name to drop).
pub struct Fixture {
    pub open: Arc<dyn Fn() -> Box<dyn Storage> + Send + Sync>,
    pub keep: Box<dyn Any>,
}

impl Fixture {
    pub fn new(
        open: impl Fn() -> Box<dyn Storage> + Send + Sync + 'static,
        keep: impl Any,
    ) -> Self {
        Fixture {
            open: Arc::new(open),
            keep: Box::new(keep),
        }
    }

    pub fn open(&self) -> Box<dyn Storage> {
        (self.open)()
    }
}

/// What a back end can do beyond the common behaviour.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// The store survives dropping every handle, and `open` reopens it.
    pub persistent: bool,
}

pub type Case = fn(&dyn Fn() -> Fixture, &Caps);

/// Every case by name, in the order `run_all` runs them.
pub const CASES: &[(&str, Case)] = &[
    ("studies", studies),
    ("lifecycle", lifecycle),
    ("numbering_concurrent", numbering_concurrent),
    ("budget_concurrent", budget_concurrent),
    ("one_winner_for_waiting", one_winner_for_waiting),
    ("reap_and_requeue", reap_and_requeue),
    ("fencing", fencing),
    ("reopen_after_crash", reopen_after_crash),
    ("import_round_trip", import_round_trip),
];

/// The case named `name`.
pub fn case(name: &str) -> Case {
    CASES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| panic!("no conformance case {name}"))
}

/// `conformance_tests!(module, run)`: a module of one `#[test]` per case, each calling
/// `run(name)` (a path or closure, resolved inside the module), plus a test that every case of
/// [`CASES`] is in this list. Back ends name their runner only; the list lives here, beside
/// `CASES`.
macro_rules! conformance_tests {
    ($module:ident, $run:expr) => {
        $crate::storage_conformance::conformance_tests!(
            @module $module,
            $run,
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
    };
    (@module $module:ident, $run:expr, [$($case:ident),*]) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    ($run)(stringify!($case));
                }
            )*

            /// Every case of the suite has a test here.
            #[test]
            fn covers_every_case() {
                let here = [$(stringify!($case)),*];
                for (name, _) in $crate::storage_conformance::CASES {
                    assert!(here.contains(name), "case {name} is not run");
                }
            }
        }
    };
}
pub(crate) use conformance_tests;

/// Runs every case, naming the failing one.
pub fn run_all(make: &dyn Fn() -> Fixture, caps: Caps) {
    for (name, case) in CASES {
        eprintln!("storage conformance: {name}");
        case(make, &caps);
    }
}

const LONG: Duration = Duration::from_secs(600);

fn float_log() -> Distribution {
    Distribution::Float {
        low: 1e-5,
        high: 1e-1,
        step: None,
        log: true,
    }
}

fn int_step() -> Distribution {
    Distribution::Int {
        low: 16,
        high: 256,
        step: 16,
        log: false,
    }
}

fn categorical() -> Distribution {
    Distribution::Categorical {
        choices: vec![
            ParamValue::Str("sgd".into()),
            ParamValue::Str("adam".into()),
            ParamValue::Int(3),
            ParamValue::Null,
        ],
    }
}

fn new_study(s: &dyn Storage, name: &str) -> u64 {
    s.create_study(name, Direction::Minimize, &BTreeMap::new())
        .unwrap()
        .id
}

fn claim(s: &dyn Storage, study: u64, worker: &str, lease: Duration) -> FrozenTrial {
    s.claim_trial(study, worker, lease, None)
        .unwrap()
        .expect("a trial without budget")
}

fn is_lease_lost<T: std::fmt::Debug>(r: Result<T, TuneError>) -> bool {
    matches!(r, Err(TuneError::LeaseLost { .. }))
}

/// Waits until a lease given with `Duration::ZERO` has certainly expired.
fn let_leases_expire() {
    std::thread::sleep(Duration::from_millis(20));
}

/// Studies: create, find by name, list, refuse a duplicate name, attributes read back.
pub fn studies(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let s = fx.open();
    assert!(s.find_study("a").unwrap().is_none());
    let mut sys = BTreeMap::new();
    sys.insert(attrs::SPACE.to_string(), json!({"lr": [1, 2]}));
    let a = s.create_study("a", Direction::Maximize, &sys).unwrap();
    let b = s
        .create_study("b", Direction::Minimize, &BTreeMap::new())
        .unwrap();
    assert_ne!(a.id, b.id);
    assert!(
        s.create_study("a", Direction::Minimize, &BTreeMap::new())
            .is_err(),
        "a duplicate study name must be refused"
    );
    s.set_study_user_attr(a.id, "note", &json!("hello"))
        .unwrap();
    s.set_study_system_attr(a.id, "k", &json!(3)).unwrap();
    let other = fx.open();
    let found = other.find_study("a").unwrap().expect("study a");
    assert_eq!(found.id, a.id);
    assert_eq!(found.direction, Direction::Maximize);
    assert_eq!(found.user_attrs["note"], json!("hello"));
    assert_eq!(found.system_attrs[attrs::SPACE], json!({"lr": [1, 2]}));
    assert_eq!(found.system_attrs["k"], json!(3));
    let names: Vec<String> = other
        .studies()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"a".into()) && names.contains(&"b".into()));
    assert!(other.trials(b.id).unwrap().is_empty());
}

/// Claim → params → reports → finish; everything reads back from another handle.
pub fn lifecycle(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let s = fx.open();
    let st = new_study(&*s, "life");
    let t = claim(&*s, st, "w1", LONG);
    assert_eq!(t.number, 0);
    assert_eq!(t.state, TrialState::Running);
    assert!(t.datetime_start.is_some());
    assert_eq!(t.system_attrs[attrs::LEASE]["worker"], json!("w1"));
    s.set_param(t.id, "w1", "lr", &float_log(), 3e-4).unwrap();
    s.set_param(t.id, "w1", "width", &int_step(), 64.0).unwrap();
    s.set_param(t.id, "w1", "opt", &categorical(), 1.0).unwrap();
    s.report(t.id, "w1", 0, 0.9).unwrap();
    s.report(t.id, "w1", 1, 0.7).unwrap();
    s.report(t.id, "w1", 1, 0.6).unwrap(); // overwrites step 1
    s.report(t.id, "w1", 2, f64::NAN).unwrap();
    s.report(t.id, "w1", 3, f64::INFINITY).unwrap();
    s.set_trial_user_attr(t.id, "w1", "epochs", &json!(4))
        .unwrap();
    s.heartbeat(t.id, "w1", LONG).unwrap();
    assert!(
        s.finish(t.id, "w1", TrialState::Running, None).is_err(),
        "finishing as Running must be refused"
    );
    s.finish(t.id, "w1", TrialState::Complete, Some(0.25))
        .unwrap();
    assert!(is_lease_lost(s.report(t.id, "w1", 4, 0.1)));
    assert!(is_lease_lost(s.finish(
        t.id,
        "w1",
        TrialState::Complete,
        Some(0.1)
    )));

    let p = claim(&*s, st, "w2", LONG);
    assert_eq!(p.number, 1);
    s.report(p.id, "w2", 0, 2.0).unwrap();
    s.finish(p.id, "w2", TrialState::Pruned, None).unwrap();
    let f = claim(&*s, st, "w1", LONG);
    s.finish(f.id, "w1", TrialState::Fail, None).unwrap();

    let trials = fx.open().trials(st).unwrap();
    assert_eq!(trials.len(), 3);
    let t0 = &trials[0];
    assert_eq!(t0.number, 0);
    assert_eq!(t0.state, TrialState::Complete);
    assert_eq!(t0.state.code(), 1);
    assert_eq!(t0.value, Some(0.25));
    assert_eq!(t0.params["lr"], (float_log(), 3e-4));
    assert_eq!(t0.params["width"], (int_step(), 64.0));
    assert_eq!(t0.params["opt"], (categorical(), 1.0));
    assert_eq!(t0.param("opt"), Some(ParamValue::Str("adam".into())));
    assert_eq!(t0.intermediate[&0], 0.9);
    assert_eq!(t0.intermediate[&1], 0.6);
    assert!(t0.intermediate[&2].is_nan());
    assert_eq!(t0.intermediate[&3], f64::INFINITY);
    assert_eq!(t0.intermediate.len(), 4);
    assert_eq!(t0.user_attrs["epochs"], json!(4));
    assert!(t0.datetime_start.is_some() && t0.datetime_complete.is_some());
    assert_eq!(trials[1].state, TrialState::Pruned);
    assert_eq!(trials[1].state.code(), 2);
    assert_eq!(trials[1].intermediate[&0], 2.0);
    assert_eq!(trials[2].state, TrialState::Fail);
    assert_eq!(trials[2].state.code(), 3);
    assert_eq!(trials[2].value, None);
    let ids: std::collections::BTreeSet<u64> = trials.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), 3);
}

/// 8 threads, each with its own handle, claim 25 trials each: numbers are exactly 0..199.
pub fn numbering_concurrent(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let st = new_study(&*fx.open(), "numbers");
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let open = fx.open.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let s = open();
                let worker = format!("w{w}");
                barrier.wait();
                let mut got = Vec::new();
                for _ in 0..25 {
                    let t = s
                        .claim_trial(st, &worker, LONG, None)
                        .unwrap()
                        .expect("no budget");
                    s.finish(t.id, &worker, TrialState::Complete, Some(t.number as f64))
                        .unwrap();
                    got.push(t.number);
                }
                got
            })
        })
        .collect();
    let mut numbers: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..200).collect::<Vec<_>>());
    let trials = fx.open().trials(st).unwrap();
    assert_eq!(trials.len(), 200);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete);
        assert_eq!(t.value, Some(i as f64), "trial {i} finished by its claimer");
    }
}

/// A budget of 50 with 8 racing threads gives exactly 50 trials.
pub fn budget_concurrent(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let st = new_study(&*fx.open(), "budget");
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let open = fx.open.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let s = open();
                let worker = format!("w{w}");
                barrier.wait();
                let mut n = 0;
                while let Some(t) = s.claim_trial(st, &worker, LONG, Some(50)).unwrap() {
                    s.finish(t.id, &worker, TrialState::Complete, Some(1.0))
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 50);
    let trials = fx.open().trials(st).unwrap();
    assert_eq!(trials.len(), 50);
    assert_eq!(trials.last().unwrap().number, 49);
    // Running trials count toward the budget too.
    let s = fx.open();
    let st2 = new_study(&*s, "budget-running");
    assert!(s.claim_trial(st2, "a", LONG, Some(2)).unwrap().is_some());
    assert!(s.claim_trial(st2, "b", LONG, Some(2)).unwrap().is_some());
    assert!(s.claim_trial(st2, "c", LONG, Some(2)).unwrap().is_none());
}

/// K workers race for one Waiting trial (a re-queued retry) with the budget spent: exactly one
/// gets it.
pub fn one_winner_for_waiting(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let s = fx.open();
    let st = new_study(&*s, "race");
    let t = s
        .claim_trial(st, "dead", Duration::ZERO, Some(1))
        .unwrap()
        .unwrap();
    s.set_param(t.id, "dead", "lr", &float_log(), 1e-3).unwrap();
    let_leases_expire();
    assert_eq!(s.reap_expired(st, 3).unwrap(), vec![0]);
    let k = 6;
    let barrier = Arc::new(Barrier::new(k));
    let handles: Vec<_> = (0..k)
        .map(|w| {
            let open = fx.open.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let s = open();
                barrier.wait();
                s.claim_trial(st, &format!("r{w}"), LONG, Some(1))
                    .unwrap()
                    .map(|t| (w, t))
            })
        })
        .collect();
    let winners: Vec<(usize, FrozenTrial)> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one worker gets the waiting trial"
    );
    let (w, won) = &winners[0];
    assert_eq!(won.number, 1);
    assert_eq!(won.params["lr"], (float_log(), 1e-3));
    let trials = fx.open().trials(st).unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[1].state, TrialState::Running);
    assert_eq!(
        trials[1].system_attrs[attrs::LEASE]["worker"],
        json!(format!("r{w}"))
    );
}

/// An expired lease is reaped: Fail + a Waiting copy with the same parameters, bounded retries;
/// live leases (and renewed ones) are left alone.
pub fn reap_and_requeue(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let s = fx.open();
    let st = new_study(&*s, "reap");
    let live = claim(&*s, st, "alive", LONG);
    assert_eq!(live.number, 0);
    let renewed = claim(&*s, st, "renews", Duration::ZERO);
    s.heartbeat(renewed.id, "renews", LONG).unwrap();
    let t = claim(&*s, st, "w", Duration::ZERO);
    assert_eq!(t.number, 2);
    s.set_param(t.id, "w", "lr", &float_log(), 2e-3).unwrap();
    s.set_param(t.id, "w", "opt", &categorical(), 0.0).unwrap();
    s.report(t.id, "w", 0, 0.5).unwrap();
    let_leases_expire();
    assert_eq!(s.reap_expired(st, 2).unwrap(), vec![2]);
    assert!(s.reap_expired(st, 2).unwrap().is_empty(), "reaping twice");

    let trials = fx.open().trials(st).unwrap();
    assert_eq!(trials.len(), 4);
    assert_eq!(trials[0].state, TrialState::Running);
    assert_eq!(trials[1].state, TrialState::Running);
    let old = &trials[2];
    assert_eq!(old.state, TrialState::Fail);
    assert!(old.datetime_complete.is_some());
    assert_eq!(old.system_attrs[attrs::REQUEUED_AS], json!(3));
    let retry = &trials[3];
    assert_eq!(retry.state, TrialState::Waiting);
    assert_eq!(retry.params, old.params);
    assert!(retry.intermediate.is_empty());
    assert_eq!(retry.system_attrs[attrs::RETRY_OF], json!(2));
    assert_eq!(retry.system_attrs[attrs::RETRIES], json!(1));

    // The failed, re-queued trial does not count toward the budget: budget 4 counts trials
    // 0, 1 and the retry 3, so one new trial is still allowed after the retry is taken.
    let r1 = s
        .claim_trial(st, "w", Duration::ZERO, Some(4))
        .unwrap()
        .unwrap();
    assert_eq!(r1.number, 3, "the waiting retry comes before a new trial");
    assert_eq!(r1.params, old.params);
    let_leases_expire();
    assert_eq!(s.reap_expired(st, 2).unwrap(), vec![3]);
    let r2 = s
        .claim_trial(st, "w", Duration::ZERO, Some(4))
        .unwrap()
        .unwrap();
    assert_eq!(r2.number, 4);
    assert_eq!(r2.system_attrs[attrs::RETRIES], json!(2));
    assert_eq!(r2.system_attrs[attrs::RETRY_OF], json!(3));
    let_leases_expire();
    assert_eq!(s.reap_expired(st, 2).unwrap(), vec![4]);
    let trials = s.trials(st).unwrap();
    assert_eq!(trials.len(), 5, "no retry past max_retries");
    assert_eq!(trials[4].state, TrialState::Fail);
    assert!(!trials[4].system_attrs.contains_key(attrs::REQUEUED_AS));
    // Counted: 0, 1, 4 (failed for good) → one more new trial fits the budget of 4.
    let n = s.claim_trial(st, "w", LONG, Some(4)).unwrap().unwrap();
    assert_eq!(n.number, 5);
    assert!(n.params.is_empty());
    assert!(s.claim_trial(st, "w", LONG, Some(4)).unwrap().is_none());
}

/// After its lease was reaped, the old worker's writes are refused; the retry completes once.
pub fn fencing(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let s = fx.open();
    let st = new_study(&*s, "fence");
    let a = claim(&*s, st, "A", Duration::ZERO);
    s.set_param(a.id, "A", "lr", &float_log(), 1e-2).unwrap();
    assert!(
        is_lease_lost(s.report(a.id, "B", 0, 1.0)),
        "another worker may not write"
    );
    let_leases_expire();
    s.reap_expired(st, 1).unwrap();
    let b_handle = fx.open();
    let b = claim(&*b_handle, st, "B", LONG);
    assert_eq!(b.number, 1);
    assert!(is_lease_lost(s.report(a.id, "A", 0, 1.0)));
    assert!(is_lease_lost(s.heartbeat(a.id, "A", LONG)));
    assert!(is_lease_lost(s.set_trial_user_attr(
        a.id,
        "A",
        "k",
        &json!(1)
    )));
    assert!(is_lease_lost(s.set_param(
        a.id,
        "A",
        "x",
        &float_log(),
        1e-3
    )));
    assert!(is_lease_lost(s.finish(
        a.id,
        "A",
        TrialState::Complete,
        Some(0.5)
    )));
    assert!(is_lease_lost(s.finish(
        b.id,
        "A",
        TrialState::Complete,
        Some(0.5)
    )));
    b_handle.report(b.id, "B", 0, 0.8).unwrap();
    b_handle
        .finish(b.id, "B", TrialState::Complete, Some(0.3))
        .unwrap();
    assert!(is_lease_lost(b_handle.finish(
        b.id,
        "B",
        TrialState::Complete,
        Some(0.1)
    )));
    let trials = s.trials(st).unwrap();
    let complete: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].value, Some(0.3));
    assert_eq!(trials[0].state, TrialState::Fail);
    assert!(trials[0].intermediate.is_empty());
    let err = s.report(a.id, "A", 0, 1.0).unwrap_err().to_string();
    assert!(err.contains("trial 0"), "{err}");
}

/// Drop every handle mid-trial (a crash), reopen: everything is there and the trial is reaped.
pub fn reopen_after_crash(make: &dyn Fn() -> Fixture, caps: &Caps) {
    if !caps.persistent {
        return;
    }
    let fx = make();
    let (st, id) = {
        let s = fx.open();
        let st = new_study(&*s, "crash");
        s.set_study_user_attr(st, "u", &json!([1, 2])).unwrap();
        let done = claim(&*s, st, "w", LONG);
        s.set_param(done.id, "w", "lr", &float_log(), 1e-4).unwrap();
        s.finish(done.id, "w", TrialState::Complete, Some(1.5))
            .unwrap();
        let t = claim(&*s, st, "w", Duration::ZERO);
        s.set_param(t.id, "w", "width", &int_step(), 128.0).unwrap();
        s.report(t.id, "w", 0, 0.4).unwrap();
        (st, t.id)
    };
    let s = fx.open();
    let info = s.find_study("crash").unwrap().expect("study after reopen");
    assert_eq!(info.id, st);
    assert_eq!(info.user_attrs["u"], json!([1, 2]));
    let trials = s.trials(st).unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0].value, Some(1.5));
    assert_eq!(trials[0].params["lr"], (float_log(), 1e-4));
    assert_eq!(trials[1].id, id);
    assert_eq!(trials[1].state, TrialState::Running);
    assert_eq!(trials[1].intermediate[&0], 0.4);
    let_leases_expire();
    assert_eq!(s.reap_expired(st, 1).unwrap(), vec![1]);
    let retry = claim(&*s, st, "w2", LONG);
    assert_eq!(retry.number, 2);
    assert_eq!(retry.params["width"], (int_step(), 128.0));
    drop(s);
    let trials = fx.open().trials(st).unwrap();
    assert_eq!(trials.len(), 3);
    assert_eq!(trials[2].state, TrialState::Running);
}

/// `import_trial` copies a trial exactly (state, value, params, intermediates, attributes,
/// times) under the next number.
pub fn import_round_trip(make: &dyn Fn() -> Fixture, _: &Caps) {
    let fx = make();
    let s = fx.open();
    let st = new_study(&*s, "target");
    let existing = claim(&*s, st, "w", LONG);
    s.finish(existing.id, "w", TrialState::Complete, Some(9.0))
        .unwrap();
    let mut t = FrozenTrial {
        id: 12345,
        number: 77,
        state: TrialState::Pruned,
        value: None,
        params: BTreeMap::new(),
        intermediate: BTreeMap::new(),
        user_attrs: BTreeMap::new(),
        system_attrs: BTreeMap::new(),
        datetime_start: Some("2024-05-01T10:00:00.123456+00:00".into()),
        datetime_complete: Some("2024-05-01T10:05:00.000001+00:00".into()),
    };
    t.params.insert("lr".into(), (float_log(), 0.0123));
    t.params.insert("width".into(), (int_step(), 32.0));
    t.params.insert("opt".into(), (categorical(), 3.0));
    t.intermediate.insert(0, 1.25);
    t.intermediate.insert(5, -0.5);
    t.user_attrs.insert("note".into(), json!({"a": [1, "x"]}));
    t.system_attrs.insert("custom".into(), json!("v"));
    let number = s.import_trial(st, &t).unwrap();
    assert_eq!(number, 1);
    let mut c = t.clone();
    c.state = TrialState::Complete;
    c.value = Some(-3.5);
    c.datetime_complete = None;
    assert_eq!(s.import_trial(st, &c).unwrap(), 2);
    let mut w = t.clone();
    w.state = TrialState::Waiting;
    w.intermediate.clear();
    w.datetime_start = None;
    w.datetime_complete = None;
    assert_eq!(s.import_trial(st, &w).unwrap(), 3);

    let back = fx.open().trials(st).unwrap();
    assert_eq!(back.len(), 4);
    for (got, want) in back[1..].iter().zip([&t, &c, &w]) {
        let mut got = got.clone();
        assert_ne!(got.id, existing.id);
        got.id = want.id;
        got.number = want.number;
        assert_eq!(&got, want);
    }
    // An imported Waiting trial is claimed like a re-queued one, with its parameters.
    let claimed = s.claim_trial(st, "w", LONG, None).unwrap().unwrap();
    assert_eq!(claimed.number, 3);
    assert_eq!(claimed.params, w.params);
}
