//! Ask/tell on a plain function: the study's trials without a worker loop.

use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::study::{Decision, Study, TrialStop};
use optimlab::tune::{
    Direction, Distribution, ParamSpec, Space, Storage, StudySettings, TrialState, TuneError,
};
use std::sync::Arc;
use std::time::Duration;

fn quadratic_study(storage: Arc<dyn Storage>, sampler: &str, pruner: &str, budget: u64) -> Study {
    let space = Space {
        params: vec![ParamSpec::new(
            "x",
            Distribution::Float {
                low: -10.0,
                high: 10.0,
                step: None,
                log: false,
            },
        )],
    };
    let settings = StudySettings {
        sampler: Some(sampler.into()),
        pruner: Some(pruner.into()),
        seed: Some(5),
        budget: Some(budget),
        max_resource: Some(4),
        ..StudySettings::default()
    };
    Study::create_or_open(storage, "q", Direction::Minimize, &space, &settings).unwrap()
}

#[test]
fn ask_tell_minimises_a_quadratic_with_trial_numbers_in_order() {
    for sampler in ["random", "tpe"] {
        let study = quadratic_study(Arc::new(MemoryStorage::new()), sampler, "none", 60);
        let mut numbers = Vec::new();
        while let Some(trial) = study.ask().unwrap() {
            numbers.push(trial.number());
            let x = trial.float("x").unwrap();
            assert!((-10.0..=10.0).contains(&x));
            let outcome = study.tell(trial, Ok((x - 2.0).powi(2))).unwrap();
            assert_eq!(outcome.state, Some(TrialState::Complete));
        }
        assert_eq!(numbers, (0..60).collect::<Vec<u64>>(), "{sampler}");
        let trials = study.trials().unwrap();
        assert!(trials.iter().all(|t| t.state == TrialState::Complete));
        let best = study.best_trial().unwrap().unwrap();
        let x = best.param("x").unwrap().as_f64().unwrap();
        assert!(
            best.value.unwrap() < 0.25 && (x - 2.0).abs() < 0.5,
            "{sampler}: best x {x}"
        );
        // The budget is spent: nothing more to ask.
        assert!(study.ask().unwrap().is_none());
    }
}

#[test]
fn tell_stores_pruned_and_failed_trials_and_reports_reach_the_pruner() {
    let study = quadratic_study(
        Arc::new(MemoryStorage::new()),
        "random",
        "threshold:upper=50",
        3,
    );
    // Trial 0 reports a value above the threshold: the pruner says stop, tell prunes it
    // and keeps the last reported value.
    let mut t = study.ask().unwrap().unwrap();
    assert_eq!(t.report(0, 10.0).unwrap(), Decision::Continue);
    assert_eq!(t.report(1, 80.0).unwrap(), Decision::Prune);
    let o = study.tell(t, Err(TrialStop::Pruned)).unwrap();
    assert_eq!((o.state, o.value), (Some(TrialState::Pruned), Some(80.0)));
    // Trial 1 fails with its reason; trial 2 returns NaN, which fails it too.
    let t = study.ask().unwrap().unwrap();
    let o = study
        .tell(t, Err(TrialStop::Failed("no value".into())))
        .unwrap();
    assert_eq!(o.state, Some(TrialState::Fail));
    let t = study.ask().unwrap().unwrap();
    study.tell(t, Ok(f64::NAN)).unwrap();
    let trials = study.trials().unwrap();
    let states: Vec<_> = trials.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [TrialState::Pruned, TrialState::Fail, TrialState::Fail]
    );
    assert_eq!(
        trials[1].user_attrs.get("fail_reason"),
        Some(&serde_json::json!("no value"))
    );
    assert!(study.best_trial().unwrap().is_none());
}

#[test]
fn a_leased_trial_not_renewed_is_taken_over_and_its_tell_is_dropped() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let study = quadratic_study(storage.clone(), "random", "none", 1);
    let slow = study
        .ask_leased("slow", Duration::from_millis(50), 1)
        .unwrap()
        .unwrap();
    let x = slow.float("x").unwrap();
    slow.heartbeat().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // Another worker reaps the expired lease and retries the same parameters.
    let retry = study
        .ask_leased("fast", Duration::from_secs(60), 1)
        .unwrap()
        .unwrap();
    assert_eq!(retry.number(), 1);
    assert_eq!(retry.float("x"), Some(x));
    assert!(matches!(
        slow.heartbeat(),
        Err(TuneError::LeaseLost { number: 0 })
    ));
    let late = study.tell(slow, Ok(1.0)).unwrap();
    assert_eq!(late.state, None);
    let done = study.tell(retry, Ok(2.0)).unwrap();
    assert_eq!(done.state, Some(TrialState::Complete));
    let trials = study.trials().unwrap();
    assert_eq!(trials[0].state, TrialState::Fail);
    assert_eq!(study.best_trial().unwrap().unwrap().number, 1);
}

/// The study reads only what changed since its last look and keeps the trials between asks;
/// a sampler is still a pure function of (seed, number, stored trials): every proposal equals,
/// bit for bit, what the sampler gives on a full fresh read of the storage. Two trials run at
/// once (constant liar), some are pruned or fail, and the storages read incrementally in
/// different ways (memory and journal: a change log; SQLite: new and unfinished trials).
#[test]
fn proposals_from_the_cached_trials_equal_those_from_a_full_read() {
    use optimlab::tune::sampler::SampleContext;
    let dir = tempfile::tempdir().unwrap();
    let urls = [
        "memory".to_string(),
        format!("journal:{}", dir.path().join("j.log").display()),
        format!("sqlite:{}", dir.path().join("s.db").display()),
    ];
    for url in &urls {
        for sampler in ["tpe", "tpe:independent", "cmaes"] {
            let storage: Arc<dyn Storage> = Arc::from(optimlab::tune::storage::open(url).unwrap());
            let mut study = quadratic_study(storage.clone(), sampler, "none", 40);
            // Each sampler its own study in the same storage.
            if !study.trials().unwrap().is_empty() {
                study = Study::create_or_open(
                    storage.clone(),
                    &format!("q-{sampler}"),
                    Direction::Minimize,
                    &study.space.clone(),
                    &study.settings.clone(),
                )
                .unwrap();
            }
            let mut held = None;
            let mut k = 0;
            while let Some(trial) = study.ask().unwrap() {
                let stored = storage.trials(study.info.id).unwrap();
                let fresh = study
                    .sampler()
                    .sample(&SampleContext {
                        space: &study.space,
                        trials: &stored,
                        number: trial.number(),
                        direction: study.direction(),
                        fixed: &Default::default(),
                    })
                    .unwrap();
                let got = trial.internal_params();
                assert_eq!(got.len(), fresh.len());
                for (name, v) in &got {
                    assert_eq!(
                        v.to_bits(),
                        fresh[name].to_bits(),
                        "{url} {sampler} trial {}",
                        trial.number()
                    );
                }
                let x = trial.float("x").unwrap();
                k += 1;
                let result = match k % 7 {
                    3 => Err(TrialStop::Failed("no".into())),
                    5 => Err(TrialStop::Pruned),
                    _ => Ok((x - 2.0).powi(2)),
                };
                // Every third trial waits while the next one is asked (it is Running then).
                if k % 3 == 0 && held.is_none() {
                    held = Some((trial, result));
                    continue;
                }
                study.tell(trial, result).unwrap();
                if let Some((t, r)) = held.take() {
                    study.tell(t, r).unwrap();
                }
            }
            let best = study.best_trial().unwrap().unwrap();
            let all = storage.trials(study.info.id).unwrap();
            assert_eq!(
                Some(&best),
                optimlab::tune::study::best_of(&all, Direction::Minimize)
            );
        }
    }
}
