//! Parameter importance: which settings of a study mattered, by PED-ANOVA (Optuna's default),
//! fANOVA and a one-way ANOVA, on a plain Rust function tuned by random search.
//!
//! `cargo run --release -p optimlab --example importance`

use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::study::Study;
use optimlab::tune::study::importance::{Evaluator, param_importances};
use optimlab::tune::{Direction, Distribution, ParamSpec, ParamValue, Space, StudySettings};
use optimlab::tune::{TrialState, TuneError};
use std::sync::Arc;

fn main() -> Result<(), TuneError> {
    let space = Space {
        params: vec![
            ParamSpec::new(
                "lr",
                Distribution::Float {
                    low: 1e-5,
                    high: 1e-1,
                    step: None,
                    log: true,
                },
            ),
            ParamSpec::new(
                "dropout",
                Distribution::Float {
                    low: 0.0,
                    high: 0.5,
                    step: None,
                    log: false,
                },
            ),
            ParamSpec::new(
                "layers",
                Distribution::Int {
                    low: 1,
                    high: 4,
                    step: 1,
                    log: false,
                },
            ),
            ParamSpec::new(
                "optimizer",
                Distribution::Categorical {
                    choices: vec![
                        ParamValue::Str("sgd".into()),
                        ParamValue::Str("adam".into()),
                    ],
                },
            ),
        ],
    };
    let settings = StudySettings {
        sampler: Some("random".into()),
        budget: Some(150),
        seed: Some(7),
        ..StudySettings::default()
    };
    let study = Study::create_or_open(
        Arc::new(MemoryStorage::new()),
        "importance",
        Direction::Minimize,
        &space,
        &settings,
    )?;
    while let Some(trial) = study.ask()? {
        // A loss surface where the learning rate matters most, dropout a little, the rest hardly.
        let lr = trial.float("lr").unwrap_or(f64::NAN);
        let dropout = trial.float("dropout").unwrap_or(f64::NAN);
        let layers = trial.int("layers").unwrap_or(0) as f64;
        let adam = trial.param("optimizer") == Some(ParamValue::Str("adam".into()));
        let loss = (lr.log10() + 3.0).powi(2)
            + 0.5 * dropout
            + 0.02 * (layers - 2.0).abs()
            + if adam { 0.0 } else { 0.05 };
        study.tell(trial, Ok(loss))?;
    }
    let trials = study.trials()?;
    let complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    println!("{complete} complete trials");
    for name in ["ped-anova", "fanova", "anova"] {
        let evaluator = Evaluator::from_name(name).expect("a known evaluator");
        let shares = param_importances(&trials, study.direction(), &evaluator);
        let line: Vec<String> = shares.iter().map(|(p, s)| format!("{p} {s:.3}")).collect();
        println!("{name:>9}: {}", line.join(", "));
        // Every evaluator finds the learning rate first.
        assert_eq!(shares[0].0, "lr", "{name}: {shares:?}");
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
