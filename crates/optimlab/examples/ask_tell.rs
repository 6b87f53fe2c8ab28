//! Ask/tell: tune a plain Rust function (no network) with TPE and the median pruner.
//!
//! `cargo run --release -p optimlab --example ask_tell`

use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::study::{Decision, Study, TrialStop};
use optimlab::tune::{Direction, Distribution, ParamSpec, Space, StudySettings, TuneError};
use std::sync::Arc;

fn main() -> Result<(), TuneError> {
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
        sampler: Some("tpe".into()),
        pruner: Some("median".into()),
        budget: Some(100),
        max_resource: Some(10),
        ..StudySettings::default()
    };
    let storage = Arc::new(MemoryStorage::new());
    let study = Study::create_or_open(storage, "q", Direction::Minimize, &space, &settings)?;
    while let Some(mut trial) = study.ask()? {
        let x = trial.float("x").unwrap();
        let mut stop = None;
        for step in 0..10 {
            // One step of work; report what it reached so the pruner can stop a bad trial.
            let reached = (x - 2.0).powi(2) + 1.0 / (step + 1) as f64;
            if trial.report(step, reached)? == Decision::Prune {
                stop = Some(TrialStop::Pruned);
                break;
            }
        }
        study.tell(trial, stop.map_or(Ok((x - 2.0).powi(2)), Err))?;
    }
    let best = study.best_trial()?.expect("a complete trial");
    println!(
        "best: trial {} x = {:.4} value {:.6}; {:?}",
        best.number,
        best.param("x").and_then(|v| v.as_f64()).unwrap_or(f64::NAN),
        best.value.unwrap_or(f64::NAN),
        study.status()?
    );
    // 100 trials of TPE find the minimum at x = 2 closely.
    assert!(best.value.unwrap_or(f64::INFINITY) < 0.25, "{best:?}");
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
