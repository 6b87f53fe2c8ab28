//! The study's own cost per trial: ask/tell with an instant objective (the 5-D sphere on
//! [−5, 5]⁵), so all the time measured is the sampler's and the storage's. Prints one JSON
//! line: best value, total seconds, and the mean milliseconds per trial over the first and
//! the last 100 trials.
//!
//!     cargo run --release -p optimlab --example tune_overhead -- SAMPLER STORAGE TRIALS [SEED]
//!
//! STORAGE is `memory`, `sqlite:PATH` or `journal:PATH` (a fresh file: the study is created).
//! `scripts/bench_tune_overhead.py` runs it against Optuna and Rustuna.

use optimlab::tune::distribution::Distribution;
use optimlab::tune::space::{ParamSpec, Space};
use optimlab::tune::study::Study;
use optimlab::tune::{Direction, StudySettings};
use std::sync::Arc;
use std::time::Instant;

/// What one run measured.
struct Measured {
    best: f64,
    total_s: f64,
    per_trial_ms: Vec<f64>,
}

fn run(
    sampler: &str,
    storage: &str,
    trials: u64,
    seed: u64,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let space = Space {
        params: (0..5)
            .map(|i| {
                ParamSpec::new(
                    format!("x{i}"),
                    Distribution::Float {
                        low: -5.0,
                        high: 5.0,
                        step: None,
                        log: false,
                    },
                )
            })
            .collect(),
    };
    let settings = StudySettings {
        sampler: Some(sampler.into()),
        seed: Some(seed),
        budget: Some(trials),
        ..StudySettings::default()
    };
    let start = Instant::now();
    let storage = Arc::from(optimlab::tune::storage::open(storage)?);
    let study = Study::create_or_open(storage, "overhead", Direction::Minimize, &space, &settings)?;
    let mut per_trial_ms = Vec::with_capacity(trials as usize);
    let mut best = f64::INFINITY;
    loop {
        let t0 = Instant::now();
        let Some(trial) = study.ask()? else { break };
        let value: f64 = (0..5)
            .map(|i| trial.float(&format!("x{i}")).unwrap().powi(2))
            .sum();
        let outcome = study.tell(trial, Ok(value))?;
        per_trial_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        best = outcome.best.unwrap_or(best);
    }
    Ok(Measured {
        best,
        total_s: start.elapsed().as_secs_f64(),
        per_trial_ms,
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sampler = args.first().map_or("random", String::as_str);
    let storage = args.get(1).map_or("memory", String::as_str);
    let trials: u64 = args.get(2).map_or(Ok(200), |s| s.parse())?;
    let seed: u64 = args.get(3).map_or(Ok(0), |s| s.parse())?;
    let m = run(sampler, storage, trials, seed)?;
    let k = m.per_trial_ms.len().min(100);
    println!(
        "{}",
        serde_json::json!({
            "library": "optimlab",
            "sampler": sampler,
            "storage": storage,
            "trials": m.per_trial_ms.len(),
            "best": m.best,
            "total_s": m.total_s,
            "first100_ms": mean(&m.per_trial_ms[..k]),
            "last100_ms": mean(&m.per_trial_ms[m.per_trial_ms.len() - k..]),
        })
    );
    Ok(())
}

#[test]
fn runs() {
    for sampler in ["random", "tpe", "sobol", "cmaes"] {
        let m = run(sampler, "memory", 30, 1).unwrap();
        assert_eq!(m.per_trial_ms.len(), 30);
        assert!(m.best.is_finite() && m.best < 75.0, "{sampler}: {}", m.best);
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = format!("journal:{}", dir.path().join("j.jsonl").display());
    let sqlite = format!("sqlite:{}", dir.path().join("s.db").display());
    for storage in [journal, sqlite] {
        assert_eq!(run("tpe", &storage, 20, 1).unwrap().per_trial_ms.len(), 20);
    }
}
