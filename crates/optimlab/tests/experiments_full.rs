//! Every experiment once at the book's full settings on Fashion-MNIST, with wall times:
//! `cargo test --release -p optimlab --test experiments_full -- --ignored --nocapture`.
//! Ignored by default (minutes, not seconds); the numbers go to docs/performance.md.

mod experiments_support;

use experiments_support::{fashion_mnist, quiet};
use optimlab::experiments::{Row, batch_norm, init_activations, init_compare, optimizers, overfit};
use std::time::Instant;

fn report(name: &str, seconds: f64, rows: &[Row]) {
    eprintln!("== {name}: {seconds:.1} s");
    for r in rows {
        eprintln!("   {:<55} {:.4}", r.name, r.value);
    }
}

#[test]
#[ignore = "minutes at full settings; run by hand for docs/performance.md"]
fn all_experiments_at_book_settings() {
    let Some(data) = fashion_mnist() else { return };
    let total = Instant::now();

    let t = Instant::now();
    let out = optimizers::run(&optimizers::Config::default(), &data, &quiet).unwrap();
    report("optimizers", t.elapsed().as_secs_f64(), &out.summary());

    let t = Instant::now();
    let out = init_activations::run(&init_activations::Config::default(), &quiet).unwrap();
    report(
        "init_activations",
        t.elapsed().as_secs_f64(),
        &out.summary(),
    );

    let t = Instant::now();
    let out = init_compare::run(&init_compare::Config::default(), &data, &quiet).unwrap();
    report("init_compare", t.elapsed().as_secs_f64(), &out.summary());

    let t = Instant::now();
    let out = batch_norm::run(&batch_norm::Config::default(), &data, &quiet).unwrap();
    report("batch_norm", t.elapsed().as_secs_f64(), &out.summary());

    let t = Instant::now();
    let config = overfit::weight_decay::Config::default();
    let out = overfit::weight_decay::run(&config, &data, &quiet).unwrap();
    report("weight_decay", t.elapsed().as_secs_f64(), &out.summary());

    let t = Instant::now();
    let out = overfit::dropout::run(&overfit::dropout::Config::default(), &data, &quiet).unwrap();
    report("dropout", t.elapsed().as_secs_f64(), &out.summary());

    eprintln!("== all: {:.1} s", total.elapsed().as_secs_f64());
}
