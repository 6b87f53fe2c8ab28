use optimlab::Preset;
use optimlab::nn::{Mode, Network, NetworkConfig};
use optimlab::optim::OptimizerConfig;
use optimlab::tensor::Matrix;
use std::time::Instant;
#[allow(deprecated)]
fn main() {
    if std::env::var("FTZ").is_ok() {
        unsafe { std::arch::x86_64::_mm_setcsr(std::arch::x86_64::_mm_getcsr() | 0x8040) }
    }
    let cfg = NetworkConfig::new(Preset::Torch, 784, vec![100; 4], 10);
    let mut net = Network::<f32>::build(&cfg, 0).unwrap();
    let name = std::env::args().nth(1).unwrap_or("adam".into());
    let mut opt = OptimizerConfig::new(&name, Preset::Torch)
        .build::<f32>()
        .unwrap();
    let x = Matrix::<f32>::from_vec(
        128,
        784,
        (0..128 * 784)
            .map(|i| ((i as u64).wrapping_mul(2654435761) % 1000) as f32 / 1000.0)
            .collect(),
    )
    .unwrap();
    let t: Vec<usize> = (0..128).map(|i| i % 10).collect();
    let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
    for it in 0..1000 {
        let t0 = Instant::now();
        net.loss(&x, &t, Mode::Train).unwrap();
        let t1 = Instant::now();
        net.backward(&x, &t).unwrap();
        let t2 = Instant::now();
        opt.step(&mut net).unwrap();
        let t3 = Instant::now();
        if it >= 100 {
            a += (t1 - t0).as_secs_f64();
            b += (t2 - t1).as_secs_f64();
            c += (t3 - t2).as_secs_f64();
        }
    }
    println!(
        "{name}: fwd {:.1} us, bwd {:.1} us, step {:.1} us",
        a / 900.0 * 1e6,
        b / 900.0 * 1e6,
        c / 900.0 * 1e6
    );
}
