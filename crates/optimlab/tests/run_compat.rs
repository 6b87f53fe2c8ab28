//! Run folders and models written by earlier versions still open and resume.

use optimlab::data::DataConfig;
use optimlab::train::checkpoint::load_weights;
use optimlab::train::{Model, NoObserver, Run};
use std::path::Path;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

#[test]
fn a_run_folder_from_before_runconfig_resumes_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for entry in std::fs::read_dir(fixtures().join("run_before_runconfig")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    let summary = Run::resume(&run)
        .unwrap()
        .epochs(4)
        .unwrap()
        .train(&mut NoObserver)
        .unwrap();
    assert_eq!((summary.epochs, summary.status.as_str()), (4, "completed"));

    let resumed = load_weights::<f32>(&run.join("model.safetensors")).unwrap();
    let expected =
        load_weights::<f32>(&fixtures().join("run_before_runconfig_4_epochs.model.safetensors"))
            .unwrap();
    assert_eq!(
        resumed.tensors.keys().collect::<Vec<_>>(),
        expected.tensors.keys().collect::<Vec<_>>()
    );
    for (name, t) in &expected.tensors {
        let r = &resumed.tensors[name];
        assert_eq!(r.shape, t.shape, "{name}");
        let same = r
            .values
            .iter()
            .zip(&t.values)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name} differs from the uninterrupted 4-epoch run");
    }
}

#[test]
fn a_model_from_before_runconfig_loads_and_evaluates() {
    let mut model = Model::load(fixtures().join("run_before_runconfig/model.safetensors")).unwrap();
    assert_eq!((model.input_size(), model.output_size()), (64, 10));
    let test = DataConfig {
        test_limit: Some(100),
        ..DataConfig::default()
    }
    .prepare()
    .unwrap()
    .test;
    let e = model.evaluate(&test).unwrap();
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("run_before_runconfig/summary.json")).unwrap(),
    )
    .unwrap();
    // The same network and weights: the accuracy the old run reported.
    assert_eq!(Some(e.accuracy), summary["final_test_acc"].as_f64());
}
