//! Times each GEMM of the book workload's training step in isolation (a profiling aid).
//! Run: cargo run --release -p optimlab --example gemm_shapes
use optimlab::tensor::{Matrix, Op, Threads, gemm};
use std::time::Instant;

fn time(label: &str, m: usize, k: usize, n: usize, op_a: Op, op_b: Op) {
    let (ar, ac) = if op_a == Op::N { (m, k) } else { (k, m) };
    let (br, bc) = if op_b == Op::N { (k, n) } else { (n, k) };
    let a = Matrix::<f32>::from_vec(ar, ac, (0..ar * ac).map(|i| (i % 7) as f32 * 0.1).collect())
        .unwrap();
    let b = Matrix::<f32>::from_vec(br, bc, (0..br * bc).map(|i| (i % 5) as f32 * 0.1).collect())
        .unwrap();
    let mut c = Matrix::<f32>::zeros(m, n);
    for _ in 0..200 {
        gemm(&mut c, &a, op_a, &b, op_b, 1.0, false, Threads(1));
    }
    let reps = 2000;
    let t = Instant::now();
    for _ in 0..reps {
        gemm(&mut c, &a, op_a, &b, op_b, 1.0, false, Threads(1));
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
    let gf = 2.0 * (m * k * n) as f64 / (us * 1e-6) / 1e9;
    println!("{label:<28} {m:>5}x{k:<5}x{n:<5} {op_a:?}{op_b:?}  {us:8.1} us  {gf:6.1} GFLOP/s");
}

fn main() {
    time("fwd L1 x·W", 128, 784, 100, Op::N, Op::N);
    time("fwd hidden x·W", 128, 100, 100, Op::N, Op::N);
    time("dW L1 xᵀ·dout", 784, 128, 100, Op::T, Op::N);
    time("dW hidden xᵀ·dout", 100, 128, 100, Op::T, Op::N);
    time("dx hidden dout·Wᵀ", 128, 100, 100, Op::N, Op::T);
    time("fwd out x·W", 128, 100, 10, Op::N, Op::N);
    time("dW out", 100, 128, 10, Op::T, Op::N);
    time("dx out", 128, 10, 100, Op::N, Op::T);
    time("wide fwd L1", 256, 784, 1024, Op::N, Op::N);
    time("wide fwd L2", 256, 1024, 1024, Op::N, Op::N);
    time("wide dW L2", 1024, 256, 1024, Op::T, Op::N);
    time("wide dx L2", 256, 1024, 1024, Op::N, Op::T);
}
