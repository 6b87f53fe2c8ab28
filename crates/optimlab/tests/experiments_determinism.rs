//! Experiment results do not depend on the number of threads: every run has its own seeded
//! streams and one GEMM thread.

use optimlab::data::DataConfig;
use optimlab::experiments::{batch_norm, optimizers, overfit::dropout};

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn one_thread_and_three_threads_agree() {
    // The embedded 8×8 digits: small enough for a few dozen iterations per run.
    let data = DataConfig::default().prepare().unwrap();
    let opt = optimizers::Config {
        iterations: 40,
        seeds: 2,
        hidden: vec![32, 32],
        ..optimizers::Config::default()
    };
    let a = in_pool(1, || optimizers::run(&opt, &data, &|_| {}).unwrap());
    let b = in_pool(3, || optimizers::run(&opt, &data, &|_| {}).unwrap());
    assert_eq!(a, b);
    assert!(a.optimizers[0].curves.loss_band.is_some());
    // The two seeds differ (they are repeats, not copies).
    assert_ne!(
        a.optimizers[0].curves.loss[0],
        a.optimizers[0].curves.loss[1]
    );

    let drop = dropout::Config {
        train_size: 200,
        test_size: Some(100),
        hidden: vec![32, 32],
        evaluations: 4,
        seeds: 2,
        ..dropout::Config::default()
    };
    let a = in_pool(1, || dropout::run(&drop, &data, &|_| {}).unwrap());
    let b = in_pool(3, || dropout::run(&drop, &data, &|_| {}).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.eval_iters, vec![0, 2, 4, 6]);

    let bn = batch_norm::Config {
        train_size: 200,
        hidden: vec![16, 16],
        evaluations: 3,
        scales: vec![1.0, 0.01],
        ..batch_norm::Config::default()
    };
    let a = in_pool(1, || batch_norm::run(&bn, &data, &|_| {}).unwrap());
    let b = in_pool(3, || batch_norm::run(&bn, &data, &|_| {}).unwrap());
    assert_eq!(a, b);
}

#[test]
fn progress_reaches_the_total() {
    let data = DataConfig::default().prepare().unwrap();
    let config = optimizers::Config {
        iterations: 120,
        hidden: vec![16],
        ..optimizers::Config::default()
    };
    let last = std::sync::Mutex::new((0u64, 0u64));
    optimizers::run(&config, &data, &|p| {
        let mut l = last.lock().unwrap();
        l.0 = l.0.max(p.done);
        l.1 = p.total;
    })
    .unwrap();
    let (done, total) = *last.lock().unwrap();
    assert_eq!(total, 4 * 120);
    assert_eq!(done, total);
}
