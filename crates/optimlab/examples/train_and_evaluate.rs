//! Train a network on the embedded digits, write a run folder, then load the saved model and
//! evaluate it: what `optimlab train` and `optimlab eval` do, in a few lines.
//!
//! `cargo run --release -p optimlab --example train_and_evaluate`

use optimlab::data::DataConfig;
use optimlab::train::{Model, NoObserver, Run, RunConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let config = RunConfig::from_toml_str(
        r#"
        hidden = [100, 100]
        optimizer = "adam"
        lr = 0.001
        batch_size = 32
        epochs = 5
        seed = 1
        "#,
        "example",
    )?;
    let summary = Run::start(config, dir.path())?.train(&mut NoObserver)?;
    println!(
        "trained {} epochs in {:.2} s: train acc {:.4}, test acc {:.4}",
        summary.epochs,
        summary.seconds,
        summary.final_train_acc.unwrap_or(f64::NAN),
        summary.final_test_acc.unwrap_or(f64::NAN)
    );

    let mut model = Model::load(dir.path().join("model.safetensors"))?;
    let test = DataConfig::default().prepare()?.test;
    let e = model.evaluate(&test)?;
    println!(
        "reloaded model: {} test samples, accuracy {:.4}",
        e.samples, e.accuracy
    );
    assert_eq!(
        Some(e.accuracy),
        summary.final_test_acc,
        "the model file is the trained net"
    );
    assert!(e.accuracy > 0.9, "the digits are learnt in 5 epochs");
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
