//! Criterion benchmarks of the pieces of a training step: the GEMMs of the book workload, a
//! whole step (forward, backward, update) and the optimizer update alone.
//! Run: cargo bench -p optimlab --bench kernels

use criterion::{Criterion, criterion_group, criterion_main};
use optimlab::Preset;
use optimlab::nn::{Mode, Network, NetworkConfig};
use optimlab::optim::OptimizerConfig;
use optimlab::tensor::{Matrix, Op, Threads, gemm};
use std::hint::black_box;

fn filled(rows: usize, cols: usize, seed: usize) -> Matrix<f32> {
    let v = (0..rows * cols)
        .map(|i| ((i * 2654435761 + seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    Matrix::from_vec(rows, cols, v).unwrap()
}

fn gemms(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm_book_workload");
    // (name, m, k, n, op_a, op_b): the first layer's forward and weight gradient dominate.
    let shapes = [
        ("fwd_784x100", 128, 784, 100, Op::N, Op::N),
        ("dw_784x100", 784, 128, 100, Op::T, Op::N),
        ("fwd_100x100", 128, 100, 100, Op::N, Op::N),
        ("dw_100x100", 100, 128, 100, Op::T, Op::N),
        ("dx_100x100", 128, 100, 100, Op::N, Op::T),
    ];
    for (name, m, k, n, op_a, op_b) in shapes {
        let a = if op_a == Op::N {
            filled(m, k, 1)
        } else {
            filled(k, m, 1)
        };
        let b = if op_b == Op::N {
            filled(k, n, 2)
        } else {
            filled(n, k, 2)
        };
        let mut out = Matrix::zeros(m, n);
        g.bench_function(name, |bench| {
            bench.iter(|| {
                gemm(&mut out, &a, op_a, &b, op_b, 1.0, false, Threads(1));
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn training_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_step_book_workload");
    for name in ["sgd", "adam"] {
        let cfg = NetworkConfig::new(Preset::Torch, 784, vec![100; 4], 10);
        let mut net = Network::<f32>::build(&cfg, 0).unwrap();
        let mut opt = OptimizerConfig::new(name.parse().unwrap(), Preset::Torch)
            .build::<f32>()
            .unwrap();
        let x = filled(128, 784, 3);
        let t: Vec<usize> = (0..128).map(|i| (i * 7) % 10).collect();
        g.bench_function(name, |bench| {
            bench.iter(|| {
                net.loss(&x, &t, Mode::Train).unwrap();
                net.backward(&x, &t).unwrap();
                opt.step(&mut net).unwrap();
            })
        });
        g.bench_function(format!("{name}_update_only"), |bench| {
            bench.iter(|| opt.step(&mut net).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, gemms, training_step);
criterion_main!(benches);
