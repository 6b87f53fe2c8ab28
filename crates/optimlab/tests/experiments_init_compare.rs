//! Initial weight scales on Fashion-MNIST: std 0.01 does not learn, He beats Xavier.

mod experiments_support;

use experiments_support::{fashion_mnist, quiet};
use optimlab::experiments::init_compare::{Config, run};

#[test]
fn tiny_weights_stall_and_he_beats_xavier() {
    let Some(data) = fashion_mnist() else { return };
    let config = Config {
        iterations: 500,
        ..Config::default()
    };
    let out = run(&config, &data, &quiet).unwrap();
    let tail: Vec<(String, f64)> = out
        .inits
        .iter()
        .map(|c| (c.curves.label.clone(), c.curves.tail_mean.mean))
        .collect();
    eprintln!("{tail:?}");
    assert_eq!(tail[0].0, "std=0.01");
    // Signals vanish through four layers of σ = 0.01: the loss stays at ln 10 ≈ 2.30.
    assert!((tail[0].1 - 2.302).abs() < 0.02, "{tail:?}");
    let (xavier, he) = (tail[1].1, tail[2].1);
    assert!(he < xavier, "{tail:?}");
    assert!(xavier < 1.5, "{tail:?}");
}
