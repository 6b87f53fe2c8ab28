//! Pruners on synthetic learning curves with hand-computed expectations (Optuna's semantics).

use optimlab::tune::pruner::hyperband::HyperbandPruner;
use optimlab::tune::pruner::median::PercentilePruner;
use optimlab::tune::pruner::successive_halving::SuccessiveHalvingPruner;
use optimlab::tune::pruner::threshold::ThresholdPruner;
use optimlab::tune::pruner::{self, PruneContext, Pruner};
use optimlab::tune::trial::{Direction, FrozenTrial, TrialState};
use std::collections::BTreeMap;

/// A trial with the given (step, value) intermediate values.
fn trial(number: u64, state: TrialState, curve: &[(u64, f64)]) -> FrozenTrial {
    FrozenTrial {
        id: number,
        number,
        state,
        value: (state == TrialState::Complete).then(|| curve.last().map_or(0.0, |c| c.1)),
        params: BTreeMap::new(),
        intermediate: curve.iter().copied().collect(),
        user_attrs: BTreeMap::new(),
        system_attrs: BTreeMap::new(),
        datetime_start: None,
        datetime_complete: None,
    }
}

/// A constant curve over steps `from..=to`.
fn flat(value: f64, from: u64, to: u64) -> Vec<(u64, f64)> {
    (from..=to).map(|s| (s, value)).collect()
}

/// Whether `pruner` stops `current` at its last reported step, among `others`.
fn decide(
    pruner: &dyn Pruner,
    others: &[FrozenTrial],
    current: &FrozenTrial,
    direction: Direction,
) -> bool {
    let mut trials = others.to_vec();
    trials.push(current.clone());
    let step = current.last_intermediate().expect("a reported step").0;
    pruner.prune(&PruneContext {
        trials: &trials,
        trial: current,
        step,
        direction,
    })
}

/// Runs trials one after the other, each reporting `curve(number)` step by step and asking
/// the pruner after every report; returns the step each trial was pruned at.
fn run_sequentially(
    pruner: &dyn Pruner,
    direction: Direction,
    n: u64,
    curve: impl Fn(u64) -> Vec<(u64, f64)>,
) -> Vec<Option<u64>> {
    let mut done: Vec<FrozenTrial> = Vec::new();
    let mut pruned_at = Vec::new();
    for number in 0..n {
        let mut current = trial(number, TrialState::Running, &[]);
        let mut pruned = None;
        for (step, value) in curve(number) {
            current.intermediate.insert(step, value);
            if decide(pruner, &done, &current, direction) {
                pruned = Some(step);
                break;
            }
        }
        current.state = if pruned.is_some() {
            TrialState::Pruned
        } else {
            TrialState::Complete
        };
        current.value = current.last_intermediate().map(|(_, v)| v);
        pruned_at.push(pruned);
        done.push(current);
    }
    pruned_at
}

const NINE: [f64; 9] = [5.0, 3.0, 8.0, 1.0, 7.0, 2.0, 9.0, 4.0, 6.0];

#[test]
fn asha_promotes_exactly_the_top_third_at_each_rung() {
    // η = 3, rungs at steps 1, 3, 9. Worked by hand (minimising; flat curves):
    // t0 alone → on; t1 best of {5,3} → on; t2 (8) not the best of 3 → pruned at 1;
    // t3 (1) best → on through every rung; t4 (7) of 5 → pruned at 1;
    // t5 (2): rung 1 of 6 values keeps the best 2 {1,2} → on; rung 3 among {5,3,1,2} keeps
    // only the best (1) → pruned at 3; t6 (9), t7 (4) outside the best 2 of 7/8, t8 (6)
    // outside the best 3 of 9 → pruned at 1.
    let asha = SuccessiveHalvingPruner::parse(Some("min_resource=1"), 9).unwrap();
    let expected = vec![
        None,
        None,
        Some(1),
        None,
        Some(1),
        Some(3),
        Some(1),
        Some(1),
        Some(1),
    ];
    let got = run_sequentially(&asha, Direction::Minimize, 9, |n| {
        flat(NINE[n as usize], 1, 9)
    });
    assert_eq!(got, expected);
    // Maximising the negated curves is the mirror image.
    let got = run_sequentially(&asha, Direction::Maximize, 9, |n| {
        flat(-NINE[n as usize], 1, 9)
    });
    assert_eq!(got, expected);
}

#[test]
fn asha_judges_a_rung_by_the_first_value_reported_at_or_past_it() {
    let asha = SuccessiveHalvingPruner::parse(Some("min_resource=2,reduction_factor=2"), 0)
        .expect("valid options");
    // Rungs at 2, 4, 8. Trial 0 reported only at odd steps: its rung-2 value is the one at
    // step 3 (10.0), not its later 0.0.
    let t0 = trial(0, TrialState::Complete, &[(1, 10.0), (3, 10.0), (5, 0.0)]);
    // Trial 1 at step 2 with 9.0: among {10, 9} the best ⌊2/2⌋ = 1 is itself → goes on.
    let t1 = trial(1, TrialState::Running, &[(2, 9.0)]);
    assert!(!decide(
        &asha,
        std::slice::from_ref(&t0),
        &t1,
        Direction::Minimize
    ));
    // With 11.0 it is not the best → pruned.
    let t1 = trial(1, TrialState::Running, &[(2, 11.0)]);
    assert!(decide(
        &asha,
        std::slice::from_ref(&t0),
        &t1,
        Direction::Minimize
    ));
    // Between rungs nothing is decided, however bad the value.
    let t1 = trial(1, TrialState::Running, &[(2, 9.0), (3, 1e9)]);
    assert!(!decide(
        &asha,
        std::slice::from_ref(&t0),
        &t1,
        Direction::Minimize
    ));
    // A NaN at a rung is pruned; a NaN between rungs is left to the next rung.
    let t1 = trial(1, TrialState::Running, &[(2, f64::NAN)]);
    assert!(decide(
        &asha,
        std::slice::from_ref(&t0),
        &t1,
        Direction::Minimize
    ));
    let t1 = trial(1, TrialState::Running, &[(2, 9.0), (3, f64::NAN)]);
    assert!(!decide(&asha, &[t0], &t1, Direction::Minimize));
}

#[test]
fn asha_min_resource_auto_follows_the_full_length_or_optunas_estimate() {
    let known = SuccessiveHalvingPruner::parse(None, 300).unwrap();
    assert_eq!(known.min_resource, Some(3));
    let short = SuccessiveHalvingPruner::parse(None, 20).unwrap();
    assert_eq!(short.min_resource, Some(1));
    let unknown = SuccessiveHalvingPruner::parse(None, 0).unwrap();
    assert_eq!(unknown.min_resource, None);
    // Unknown length and nothing completed: no pruning, even for a terrible value.
    let running = trial(0, TrialState::Running, &flat(1.0, 1, 5));
    let bad = trial(1, TrialState::Running, &flat(1e9, 1, 1));
    assert!(!decide(&unknown, &[running], &bad, Direction::Minimize));
    // Once a trial has completed (last step 5 → min_resource 1) the rung at step 1 counts.
    let done = trial(0, TrialState::Complete, &flat(1.0, 1, 5));
    assert!(decide(&unknown, &[done], &bad, Direction::Minimize));
}

#[test]
fn asha_bootstrap_prunes_until_enough_trials_reached_the_rung() {
    let asha = SuccessiveHalvingPruner::parse(Some("min_resource=1,bootstrap_count=2"), 9)
        .expect("valid options");
    let good = trial(1, TrialState::Running, &flat(0.0, 1, 1));
    let first = trial(0, TrialState::Complete, &flat(5.0, 1, 9));
    // 2 values at the rung (≤ bootstrap_count): pruned even though the best.
    assert!(decide(
        &asha,
        std::slice::from_ref(&first),
        &good,
        Direction::Minimize
    ));
    let second = trial(2, TrialState::Complete, &flat(6.0, 1, 9));
    assert!(!decide(&asha, &[first, second], &good, Direction::Minimize));
}

#[test]
fn hyperband_brackets_are_deterministic_and_weighted_by_budget() {
    let hb = HyperbandPruner::parse(None, 27).unwrap();
    assert_eq!(hb.n_brackets(27), 4);
    assert_eq!(hb.n_brackets(26), 3);
    // Optuna's floating-point log gives 5 brackets here; ⌊log_3 243⌋ + 1 = 6.
    assert_eq!(hb.n_brackets(243), 6);
    assert_eq!(hb.budgets(4), vec![27, 12, 6, 4]);
    let again = HyperbandPruner::parse(None, 27).unwrap();
    let mut counts = [0usize; 4];
    for n in 0..4900 {
        let b = hb.bracket(n, 4);
        assert_eq!(b, again.bracket(n, 4));
        counts[b as usize] += 1;
    }
    // Expected 2700, 1200, 600, 400.
    for (count, expect) in counts.iter().zip([2700.0, 1200.0, 600.0, 400.0]) {
        assert!((*count as f64 - expect).abs() < 0.15 * expect, "{counts:?}");
    }
    // Another seed assigns differently.
    let other = HyperbandPruner::parse(Some("seed=7"), 27).unwrap();
    assert!((0..100).any(|n| other.bracket(n, 4) != hb.bracket(n, 4)));
}

#[test]
fn hyperband_compares_only_within_a_bracket() {
    let hb = HyperbandPruner::parse(Some("min_resource=1"), 27).unwrap();
    let hb_ref = &hb;
    let in_bracket = move |b: u64| (0..u64::MAX).filter(move |n| hb_ref.bracket(*n, 4) == b);
    let b0: Vec<u64> = in_bracket(0).take(2).collect();
    // Many excellent trials in bracket 1; in bracket 0 one earlier trial at 20.
    let mut others: Vec<FrozenTrial> = in_bracket(1)
        .take(6)
        .map(|n| trial(n, TrialState::Complete, &flat(0.0, 1, 27)))
        .collect();
    others.push(trial(b0[0], TrialState::Complete, &flat(20.0, 1, 27)));
    // Bracket 0 (rung at step 1): 10 beats its only rival 20 → goes on ...
    let current = trial(b0[1], TrialState::Running, &flat(10.0, 1, 1));
    assert!(!decide(&hb, &others, &current, Direction::Minimize));
    // ... while plain ASHA over all trials prunes it (it is not in the best third).
    let asha = SuccessiveHalvingPruner::parse(Some("min_resource=1"), 27).unwrap();
    assert!(decide(&asha, &others, &current, Direction::Minimize));
    // Bracket 1 judges first at step 3 (min_resource · η¹), against bracket 1 only.
    let late = in_bracket(1).nth(6).unwrap();
    let current = trial(late, TrialState::Running, &flat(10.0, 1, 2));
    assert!(!decide(&hb, &others, &current, Direction::Minimize));
    let current = trial(late, TrialState::Running, &flat(10.0, 1, 3));
    assert!(decide(&hb, &others, &current, Direction::Minimize));
}

/// Five completed trials at 1, 2, 3, 4, 5 over steps 0..=4.
fn five_completed() -> Vec<FrozenTrial> {
    (0..5)
        .map(|i| trial(i, TrialState::Complete, &flat((i + 1) as f64, 0, 4)))
        .collect()
}

#[test]
fn median_prunes_worse_than_the_median_after_startup() {
    let median = pruner::parse("median", 5).unwrap();
    let done = five_completed();
    let at = |v: f64| trial(5, TrialState::Running, &[(0, v)]);
    assert!(decide(
        median.as_ref(),
        &done,
        &at(3.5),
        Direction::Minimize
    ));
    assert!(!decide(
        median.as_ref(),
        &done,
        &at(3.0),
        Direction::Minimize
    ));
    // Maximising mirrors it.
    assert!(decide(
        median.as_ref(),
        &done,
        &at(2.5),
        Direction::Maximize
    ));
    assert!(!decide(
        median.as_ref(),
        &done,
        &at(3.0),
        Direction::Maximize
    ));
    // Four completed trials: still in the start-up phase (default startup=5).
    assert!(!decide(
        median.as_ref(),
        &done[..4],
        &at(100.0),
        Direction::Minimize
    ));
    let eager = pruner::parse("median:startup=2", 5).unwrap();
    assert!(decide(
        eager.as_ref(),
        &done[..2],
        &at(100.0),
        Direction::Minimize
    ));
    // Running and pruned trials do not count as completed.
    let mut not_done = done.clone();
    not_done[0].state = TrialState::Pruned;
    assert!(!decide(
        median.as_ref(),
        &not_done,
        &at(100.0),
        Direction::Minimize
    ));
}

#[test]
fn median_uses_the_trials_best_value_so_far() {
    let median = pruner::parse("median", 5).unwrap();
    let done = five_completed();
    // Worse than the median at step 1, but its step-0 value 1.0 is its best: not pruned.
    let recovered = trial(5, TrialState::Running, &[(0, 1.0), (1, 4.0)]);
    assert!(!decide(
        median.as_ref(),
        &done,
        &recovered,
        Direction::Minimize
    ));
    // Only NaN reported: pruned.
    let nan = trial(5, TrialState::Running, &[(0, f64::NAN)]);
    assert!(decide(median.as_ref(), &done, &nan, Direction::Minimize));
}

#[test]
fn percentile_and_min_trials() {
    let p25 = pruner::parse("percentile:25", 5).unwrap();
    let done = five_completed();
    let at = |v: f64| trial(5, TrialState::Running, &[(0, v)]);
    // 25th percentile of 1..5 is 2; when maximising, the 75th (4).
    assert!(decide(p25.as_ref(), &done, &at(2.5), Direction::Minimize));
    assert!(!decide(p25.as_ref(), &done, &at(2.0), Direction::Minimize));
    assert!(decide(p25.as_ref(), &done, &at(3.5), Direction::Maximize));
    assert!(!decide(p25.as_ref(), &done, &at(4.0), Direction::Maximize));
    // At step 7 only one completed trial has a value; min_trials=2 holds off.
    let mut long = done.clone();
    long[0].intermediate.insert(7, 1.0);
    let late = trial(5, TrialState::Running, &[(7, 50.0)]);
    assert!(decide(p25.as_ref(), &long, &late, Direction::Minimize));
    let careful = pruner::parse("percentile:25,min_trials=2", 5).unwrap();
    assert!(!decide(careful.as_ref(), &long, &late, Direction::Minimize));
}

#[test]
fn median_warmup_and_interval() {
    let done = five_completed();
    let bad = |to: u64| trial(5, TrialState::Running, &flat(9.0, 0, to));
    let warm = pruner::parse("median:warmup=2", 5).unwrap();
    assert!(!decide(warm.as_ref(), &done, &bad(0), Direction::Minimize));
    assert!(!decide(warm.as_ref(), &done, &bad(1), Direction::Minimize));
    assert!(decide(warm.as_ref(), &done, &bad(2), Direction::Minimize));
    // Checked at steps 0, 2, 4 only.
    let every2 = pruner::parse("median:interval=2", 5).unwrap();
    let decisions: Vec<bool> = (0..5)
        .map(|s| decide(every2.as_ref(), &done, &bad(s), Direction::Minimize))
        .collect();
    assert_eq!(decisions, vec![true, false, true, false, true]);
    // A trial that skipped step 2 is checked at step 3, the first report past it.
    let skipped = trial(5, TrialState::Running, &[(1, 9.0), (3, 9.0)]);
    assert!(decide(
        every2.as_ref(),
        &done,
        &skipped,
        Direction::Minimize
    ));
}

#[test]
fn threshold_bounds_and_divergence() {
    let t = pruner::parse("threshold:lower=0.2,upper=1", 5).unwrap();
    let at = |v: f64| trial(0, TrialState::Running, &[(0, v)]);
    assert!(decide(t.as_ref(), &[], &at(0.1), Direction::Maximize));
    assert!(!decide(t.as_ref(), &[], &at(0.2), Direction::Maximize));
    assert!(!decide(t.as_ref(), &[], &at(1.0), Direction::Maximize));
    assert!(decide(t.as_ref(), &[], &at(1.5), Direction::Maximize));
    // One bound is enough; NaN and ±∞ are pruned whatever the bounds.
    let guard = pruner::parse("threshold:upper=1e300", 5).unwrap();
    assert!(!decide(
        guard.as_ref(),
        &[],
        &at(1e300),
        Direction::Minimize
    ));
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(decide(guard.as_ref(), &[], &at(v), Direction::Minimize));
    }
    // Without any bound it would prune almost nothing: refused, naming what to give.
    for name in ["threshold", "threshold:warmup=2"] {
        let e = pruner::parse(name, 5).err().expect(name).to_string();
        assert!(e.contains("lower=L, upper=U"), "{e}");
    }
    // Warm-up: nothing before step 3.
    let warm = ThresholdPruner::parse(Some("upper=1,warmup=3")).unwrap();
    let late = |s: u64| trial(0, TrialState::Running, &[(s, 5.0)]);
    assert!(!decide(&warm, &[], &late(2), Direction::Minimize));
    assert!(decide(&warm, &[], &late(3), Direction::Minimize));
}

#[test]
fn nop_never_prunes() {
    let none = pruner::parse("none", 5).unwrap();
    let nan = trial(0, TrialState::Running, &[(0, f64::NAN)]);
    assert!(!decide(
        none.as_ref(),
        &five_completed(),
        &nan,
        Direction::Minimize
    ));
    assert_eq!(none.name(), "none");
}

#[test]
fn parse_names_and_errors() {
    for name in ["none", "median", "asha", "hyperband"] {
        assert_eq!(pruner::parse(name, 10).unwrap().name(), name);
    }
    assert_eq!(
        pruner::parse("threshold:lower=0", 10).unwrap().name(),
        "threshold"
    );
    assert_eq!(
        pruner::parse("percentile:25", 10).unwrap().name(),
        "percentile:25"
    );
    let p = PercentilePruner::parse("10,startup=1,warmup=2,interval=3,min_trials=4").unwrap();
    assert_eq!(
        (
            p.percentile,
            p.n_startup_trials,
            p.n_warmup_steps,
            p.interval_steps,
            p.n_min_trials
        ),
        (10.0, 1, 2, 3, 4)
    );
    for (bad, mentions) in [
        ("bogus", "bogus"),
        ("none:x=1", "none:x=1"),
        ("percentile", "percentile"),
        ("percentile:120", "120"),
        ("percentile:abc", "abc"),
        ("median:startup=-1", "startup"),
        ("median:speed=2", "speed"),
        ("median:warmup", "warmup"),
        ("asha:reduction_factor=1", "reduction_factor"),
        ("asha:min_resource=0", "min_resource"),
        ("asha:eta=3", "eta"),
        ("threshold:lower=2,upper=1", "lower"),
        ("threshold:upper=inf", "upper"),
        ("hyperband:min_resource=10,max_resource=5", "max_resource"),
        ("hyperband:seed=x", "seed"),
        ("median:startup=1,startup=2", "twice"),
    ] {
        let err = match pruner::parse(bad, 10) {
            Ok(p) => panic!("'{bad}' was accepted as {}", p.name()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(mentions), "'{bad}': {err}");
        assert!(!err.contains('\n'), "'{bad}': {err}");
    }
}
