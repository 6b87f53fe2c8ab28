//! Training with two threads (large dense layers and optimizer updates split across them) gives
//! the same numbers every time, and the same as one thread up to rounding; with and without
//! batch norm, in f32 and f64.

use optimlab::Preset;
use optimlab::nn::{BatchNormConfig, Mode, Network, NetworkConfig, Parameters};
use optimlab::optim::OptimizerConfig;
use optimlab::tensor::{Matrix, Scalar, Threads};

/// Parameters after `steps` SGD steps on fixed batches, and the losses on the way. (Not Adam:
/// with batch norm, the biases before it have a zero gradient up to rounding, and Adam scales
/// that rounding noise up to full-size steps, which differ with the order of additions.)
fn train<T: Scalar>(threads: usize, batch_norm: bool, steps: usize) -> (Vec<f64>, Vec<f64>) {
    // Large enough that the first two dense layers' products are split across threads.
    let mut config = NetworkConfig::new(Preset::Torch, 300, vec![256, 128], 10);
    if batch_norm {
        config.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
    }
    let mut net = Network::<T>::build_with_threads(&config, 7, Threads(threads)).unwrap();
    let mut opt = OptimizerConfig::new("sgd".parse().unwrap(), Preset::Torch)
        .build::<T>()
        .unwrap();
    let batch = 131; // odd: the two shards differ in size
    let mut losses = Vec::new();
    for step in 0..steps {
        let x: Vec<f64> = (0..batch * 300)
            .map(|i| (((i * 7919 + step * 104_729) % 1000) as f64 / 1000.0).sin())
            .collect();
        let x = Matrix::<T>::from_f64(batch, 300, &x).unwrap();
        let labels: Vec<usize> = (0..batch).map(|i| (i * 3 + step) % 10).collect();
        let loss = net.loss(&x, &labels, Mode::Train).unwrap();
        net.backward(&x, &labels).unwrap();
        opt.step(&mut net).unwrap();
        losses.push(loss.to_f64().unwrap());
    }
    let mut params = Vec::new();
    net.visit_params(&mut |p| params.extend(p.value.iter().map(|v| v.to_f64().unwrap())));
    (params, losses)
}

fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1.0))
        .fold(0.0, f64::max)
}

fn check<T: Scalar>(batch_norm: bool, tol: f64) {
    let one = train::<T>(1, batch_norm, 5);
    let two = train::<T>(2, batch_norm, 5);
    let two_again = train::<T>(2, batch_norm, 5);
    assert_eq!(
        two, two_again,
        "two threads: not bit-identical between runs"
    );
    let dp = max_rel_diff(&one.0, &two.0);
    let dl = max_rel_diff(&one.1, &two.1);
    assert!(
        dp < tol && dl < tol,
        "1 vs 2 threads: params {dp:e}, losses {dl:e}"
    );
    // The split sums every element in the same order as one thread, so the bits may well be
    // equal: check instead that the work really went to the library's helper thread.
    if let Some(ran) = helper_thread_exists() {
        assert!(
            ran,
            "two threads did not hand any work to the helper thread"
        );
    }
}

/// Whether the library's join helper thread (`optimlab-join`) exists in this process, when
/// the platform lists threads (Linux's `/proc/self/task`); it is started by the first split.
fn helper_thread_exists() -> Option<bool> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "optimlab-join")
    }))
}

#[test]
fn two_threads_match_one_f32() {
    check::<f32>(false, 1e-4);
}

#[test]
fn two_threads_match_one_f32_batch_norm() {
    check::<f32>(true, 1e-4);
}

#[test]
fn two_threads_match_one_f64() {
    check::<f64>(false, 1e-12);
}

#[test]
fn two_threads_match_one_f64_batch_norm() {
    check::<f64>(true, 1e-12);
}
