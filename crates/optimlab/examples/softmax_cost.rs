use optimlab::nn::{CrossEntropy, SoftmaxCrossEntropy};
use optimlab::tensor::{Matrix, Op, Threads, gemm};
use std::time::Instant;
fn main() {
    let logits = Matrix::<f32>::from_vec(
        128,
        10,
        (0..1280)
            .map(|i| ((i * 7919) % 100) as f32 / 10.0 - 5.0)
            .collect(),
    )
    .unwrap();
    let t: Vec<usize> = (0..128).map(|i| i % 10).collect();
    let mut ce = SoftmaxCrossEntropy::<f32>::new(CrossEntropy::Exact);
    let a = Matrix::<f32>::from_vec(128, 784, vec![0.5; 128 * 784]).unwrap();
    let b = Matrix::<f32>::from_vec(784, 100, vec![0.01; 78400]).unwrap();
    let mut c = Matrix::<f32>::zeros(128, 100);
    let n = 2000;
    let t0 = Instant::now();
    let mut s = 0.0;
    for _ in 0..n {
        s += ce.forward(&logits, &t);
    }
    let alone = t0.elapsed().as_secs_f64() / n as f64 * 1e6;
    let mut g = 0.0;
    let mut sm = 0.0;
    for _ in 0..n {
        let t1 = Instant::now();
        gemm(&mut c, &a, Op::N, &b, Op::N, 1.0, false, Threads(1));
        let t2 = Instant::now();
        s += ce.forward(&logits, &t);
        let t3 = Instant::now();
        g += (t2 - t1).as_secs_f64();
        sm += (t3 - t2).as_secs_f64();
    }
    println!(
        "softmax alone {alone:.1} us; after gemm: gemm {:.1} us softmax {:.1} us ({s})",
        g / n as f64 * 1e6,
        sm / n as f64 * 1e6
    );
}
