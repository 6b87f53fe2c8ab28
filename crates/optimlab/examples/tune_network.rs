//! Tune a network's learning rate and weight decay with TPE and the median pruner: the same
//! objective `optimlab tune run` uses (train on a validation split, report every epoch), here
//! with an in-memory study.
//!
//! `cargo run --release -p optimlab --example tune_network`

use optimlab::tune::objective::{Final, Metric, Objective, ObjectiveSpec};
use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::study::{self, Study, WorkerOptions};
use optimlab::tune::{Space, StudySettings};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (space, train) = Space::from_toml_str(
        r#"
        [params]
        lr = { type = "float", low = 1e-4, high = 1e-1, log = true }
        weight_decay = { type = "float", low = 1e-8, high = 1e-3, log = true }

        [train]
        hidden = [50]
        epochs = 4
        optimizer = "adam"
        "#,
        "example space",
    )?;
    let spec = ObjectiveSpec {
        train,
        metric: Metric::ValAcc,
        final_value: Final::Best,
    };
    let objective = Objective::new(spec, &space)?;
    // The sampler, pruner, seed and budget are stored with the study, so any worker can join.
    let settings = StudySettings {
        sampler: Some("tpe".into()),
        pruner: Some("median".into()),
        seed: Some(1),
        budget: Some(16),
        max_resource: Some(4),
        ..StudySettings::default()
    };
    let storage: Arc<dyn optimlab::tune::Storage> = Arc::new(MemoryStorage::new());
    let study = Study::create_or_open(
        storage,
        "example",
        Metric::ValAcc.direction(),
        &space,
        &settings,
    )?;
    let options = WorkerOptions::default();
    let report = study::run_worker(&study, "example-worker", &options, &|t| objective.run(t))?;
    let best = study.best_trial()?.expect("a complete trial");
    println!(
        "{} complete, {} pruned; best validation accuracy {:.4} with {:?}",
        report.complete,
        report.pruned,
        best.value.unwrap_or(f64::NAN),
        best.params
    );
    assert!(best.value.unwrap_or(0.0) > 0.8);
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
