//! Four update rules from one initialisation, on the same mini-batches: the chapter's
//! optimizer comparison, driving the training loop (`Trainer`) directly.
//!
//! `cargo run --release -p optimlab --example compare_optimizers`

use optimlab::Preset;
use optimlab::data::DataConfig;
use optimlab::nn::{Network, NetworkConfig};
use optimlab::optim::{OptimizerConfig, OptimizerName};
use optimlab::train::{Progress, TrainConfig, TrainData, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let preset = Preset::Book;
    let splits = DataConfig::default().prepare()?;
    let net_config = NetworkConfig::new(preset, splits.dim(), vec![100, 100], splits.classes());
    let mut train = TrainConfig::new(preset);
    train.epochs = 3;
    train.batch_size = 64;
    train.seed = 7;
    let data = TrainData {
        train: &splits.train,
        val: None,
        test: Some(&splits.test),
    };
    let mut results = Vec::new();
    for (name, lr) in [
        (OptimizerName::Sgd, 0.01),
        (OptimizerName::Momentum, 0.01),
        (OptimizerName::Adagrad, 0.01),
        (OptimizerName::Adam, 0.001),
    ] {
        let optimizer = OptimizerConfig {
            lr: Some(lr),
            ..OptimizerConfig::new(name, preset)
        }
        .build::<f64>()?;
        // One seed: every optimizer starts from the same weights and sees the same batches.
        let initial = Network::<f64>::build(&net_config, 7)?;
        let mut trainer =
            Trainer::new(initial, optimizer, None, train.clone(), splits.train.len())?;
        let mut losses = Vec::new();
        let record = loop {
            let (record, progress) = trainer.run_epoch(&data, |r| losses.push(r.loss))?;
            if progress != Progress::Continue {
                break record;
            }
        };
        let tail = &losses[losses.len() - 20..];
        let mean_tail = tail.iter().sum::<f64>() / tail.len() as f64;
        println!(
            "{name:>9}  lr {lr:<6}  loss over the last 20 iterations {mean_tail:.4}  test acc {:.4}",
            record.test_acc.unwrap_or(f64::NAN)
        );
        results.push((name, mean_tail));
    }
    // The chapter's finding: the adaptive and momentum methods beat plain SGD at these rates.
    let sgd = results[0].1;
    assert!(
        results[1..].iter().all(|&(_, loss)| loss < sgd),
        "{results:?}"
    );
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
