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

/// A copy of the fixture run folder in a temporary folder.
fn fixture_run(dir: &Path) -> std::path::PathBuf {
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    for entry in std::fs::read_dir(fixtures().join("run_before_runconfig")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    run
}

#[test]
fn a_resume_refuses_a_config_toml_changed_since_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = fixture_run(dir.path());
    let config = run.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited =
        text.replacen("lr = 0.05", "lr = 0.5", 1)
            .replacen("hidden = [16]", "hidden = [17]", 1);
    std::fs::write(&config, edited).unwrap();
    let before = std::fs::read(run.join("checkpoint.safetensors")).unwrap();
    let e = Run::resume(&run)
        .unwrap()
        .epochs(3)
        .unwrap()
        .train(&mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hidden, lr"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    assert_eq!(
        std::fs::read(run.join("checkpoint.safetensors")).unwrap(),
        before
    );
}

#[test]
fn a_resume_removes_stale_temp_files_and_takes_over_a_dead_lock() {
    let dir = tempfile::tempdir().unwrap();
    let run = fixture_run(dir.path());
    let temp = run.join(".checkpoint.safetensors.tmp-4242-0");
    std::fs::write(&temp, b"half a checkpoint").unwrap();
    // A lock left by a process that is gone (PIDs never reach u32::MAX).
    std::fs::write(
        run.join(optimlab::train::run::LOCK_FILE),
        u32::MAX.to_string(),
    )
    .unwrap();
    Run::resume(&run)
        .unwrap()
        .epochs(3)
        .unwrap()
        .train(&mut NoObserver)
        .unwrap();
    assert!(!temp.exists());
    assert!(!run.join(optimlab::train::run::LOCK_FILE).exists());
}

#[test]
fn a_run_folder_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = fixture_run(dir.path());
    let lock = optimlab::train::FolderLock::acquire(&run).unwrap();
    let e = Run::resume(&run)
        .unwrap()
        .epochs(3)
        .unwrap()
        .train(&mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(e.contains("in use by process"), "{e}");
    drop(lock);
}

#[test]
fn a_run_without_checkpoint_is_restarted_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let run = fixture_run(dir.path());
    for f in [
        "checkpoint.safetensors",
        "model.safetensors",
        "summary.json",
    ] {
        std::fs::remove_file(run.join(f)).unwrap();
    }
    let e = Run::resume(&run).err().unwrap().to_string();
    assert!(e.contains("--restart"), "{e}");
    let summary = Run::restart(&run).unwrap().train(&mut NoObserver).unwrap();
    assert_eq!((summary.epochs, summary.status.as_str()), (2, "completed"));
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert_eq!(
        history.matches("\"kind\":\"epoch\"").count(),
        2,
        "a fresh history"
    );
    assert!(Run::restart(&run).is_err(), "a checkpoint is there now");
}

#[test]
fn networks_too_large_to_allocate_are_refused_before_anything_is_loaded() {
    use optimlab::train::RunConfig;
    for (toml, needle) in [
        ("hidden = [200000, 200000]", "?-200000-200000-?"),
        ("hidden = [1000000000]", "1000000000 parameters"),
        (
            "hidden = [100]\nbatch_size = 100000000000",
            "batches of 100000000000",
        ),
    ] {
        let config = RunConfig::from_toml_str(toml, "run.toml").unwrap();
        let e = config.resolve().unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("bytes)"), "{e}");
        assert!(e.contains("limit of 16.0 GiB"), "{e}");
    }
    // Library users building a network directly get the same refusal.
    let net =
        optimlab::nn::NetworkConfig::new(optimlab::Preset::Torch, 784, vec![1 << 20, 1 << 20], 10);
    assert!(matches!(
        optimlab::nn::Network::<f32>::build(&net, 0).err(),
        Some(optimlab::nn::NnError::TooLarge { .. })
    ));
}
