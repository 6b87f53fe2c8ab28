//! Stop a run after 2 epochs, resume it to 4, and check that the result is bit-identical to
//! an uninterrupted 4-epoch run: checkpoints hold the weights, the optimizer state, every
//! random stream and the trainer's position.
//!
//! `cargo run --release -p optimlab --example resume_run`

use optimlab::train::{NoObserver, Run, RunConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = tempfile::tempdir()?;
    let config = RunConfig {
        hidden: Some(vec![50, 50]),
        dropout: Some(0.1),
        batch_norm: Some(true),
        epochs: Some(2),
        ..RunConfig::default()
    };

    let interrupted = root.path().join("interrupted");
    Run::start(config.clone(), &interrupted)?.train(&mut NoObserver)?;
    let resumed = Run::resume(&interrupted)?
        .epochs(4)?
        .train(&mut NoObserver)?;

    let straight = root.path().join("straight");
    let once = Run::start(
        RunConfig {
            epochs: Some(4),
            ..config
        },
        &straight,
    )?
    .train(&mut NoObserver)?;

    println!(
        "2 + 2 epochs: test acc {:.4}; 4 epochs: test acc {:.4}",
        resumed.final_test_acc.unwrap_or(f64::NAN),
        once.final_test_acc.unwrap_or(f64::NAN)
    );
    let a = std::fs::read(interrupted.join("model.safetensors"))?;
    let b = std::fs::read(straight.join("model.safetensors"))?;
    assert!(
        a == b,
        "the resumed model differs from the uninterrupted one"
    );
    println!("model.safetensors is byte-identical ({} bytes)", a.len());
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
