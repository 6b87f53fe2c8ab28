//! Load a trained model from its `model.safetensors` alone and predict class probabilities:
//! the file's metadata holds everything that rebuilds the network (sizes, activation, batch
//! norm, dropout style, preset, element type).
//!
//! `cargo run --release -p optimlab --example load_and_predict`

use optimlab::data::DataConfig;
use optimlab::train::{Model, NoObserver, Run, RunConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let config = RunConfig {
        hidden: Some(vec![64]),
        epochs: Some(3),
        batch_norm: Some(true),
        ..RunConfig::default()
    };
    Run::start(config, dir.path())?.train(&mut NoObserver)?;

    let mut model = Model::load(dir.path().join("model.safetensors"))?;
    println!(
        "{} → {} classes, {:?}, trained with {}",
        model.input_size(),
        model.output_size(),
        model.dtype(),
        model
            .config()
            .optimizer
            .name
            .map_or("?".into(), |n| n.to_string())
    );
    let test = DataConfig::default().prepare()?.test.take(5);
    let probabilities = model.predict(&test)?;
    for (row, label) in probabilities.iter().zip(&test.labels) {
        let class = (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        println!("true {label}  predicted {class}  p = {:.3}", row[class]);
        let total: f64 = row.iter().sum();
        assert!((total - 1.0).abs() < 1e-5, "probabilities sum to 1");
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
