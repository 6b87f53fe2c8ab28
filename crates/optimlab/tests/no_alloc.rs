//! A training step allocates nothing once its buffers exist: counted with a global allocator.

use optimlab::Preset;
use optimlab::nn::{BatchNormConfig, DropoutConfig, DropoutStyle, Mode, Network, NetworkConfig};
use optimlab::optim::{Clip, OPTIMIZER_NAMES, OptimizerConfig};
use optimlab::tensor::{Matrix, Threads};
use optimlab::train::{BatchOrder, Batches};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is global: the tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocations made by `steps` training steps after `warmup` steps, on the book workload shape.
fn allocations_per_run(net_config: &NetworkConfig, opt_config: &OptimizerConfig) -> usize {
    allocations_per_run_threads(net_config, opt_config, 1, 8)
}

/// As [`allocations_per_run`], with `threads` threads (two split each batch across threads),
/// counting `counted` steps.
fn allocations_per_run_threads(
    net_config: &NetworkConfig,
    opt_config: &OptimizerConfig,
    threads: usize,
    counted: usize,
) -> usize {
    let mut net = Network::<f32>::build_with_threads(net_config, 1, Threads(threads)).unwrap();
    let mut opt = opt_config.build::<f32>().unwrap();
    let n = 512;
    let data: Vec<f32> = (0..n * 784)
        .map(|i| ((i * 37) % 255) as f32 / 255.0)
        .collect();
    let pool = Matrix::from_vec(n, 784, data).unwrap();
    let pool_labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let mut batches = Batches::new(
        BatchOrder::Shuffle,
        n,
        128,
        optimlab::rng::stream(1, optimlab::rng::Purpose::Batches),
    );
    let mut idx = Vec::with_capacity(128);
    let mut labels = Vec::with_capacity(128);
    let mut x = Matrix::default();
    let mut step = |count: bool| {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        batches.next_into(&mut idx);
        x.gather_rows(&pool, &idx);
        labels.clear();
        labels.extend(idx.iter().map(|&i| pool_labels[i]));
        net.loss(&x, &labels, Mode::Train).unwrap();
        net.backward(&x, &labels).unwrap();
        opt.step(&mut net).unwrap();
        if count {
            ALLOCATIONS.load(Ordering::Relaxed) - before
        } else {
            0
        }
    };
    // Two threads: the helper thread's GEMM kernels make their per-thread buffers on its
    // first product of each kind, and when the helper was slow to pick up early jobs the
    // caller ran them itself; a longer warm-up lets the helper see every kind first.
    let warmup = if threads > 1 { 30 } else { 3 };
    for _ in 0..warmup {
        step(false);
    }
    (0..counted).map(|_| step(true)).sum()
}

#[test]
fn training_steps_do_not_allocate() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let plain = NetworkConfig::new(Preset::Torch, 784, vec![100; 4], 10);
    let mut full = plain.clone();
    full.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
    full.dropout = Some(DropoutConfig {
        p: 0.2,
        style: DropoutStyle::Inverted,
    });
    full.weight_decay = 1e-4;
    for name in OPTIMIZER_NAMES {
        let mut opt = OptimizerConfig::new(name.parse().unwrap(), Preset::Torch);
        opt.weight_decay = Some(1e-4);
        opt.clip = Some(Clip::Norm(1.0));
        for net in [&plain, &full] {
            assert_eq!(
                allocations_per_run(net, &opt),
                0,
                "{name}, batch norm {:?}",
                net.batch_norm.is_some()
            );
        }
    }
}

#[test]
fn two_thread_training_steps_do_not_allocate() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let plain = NetworkConfig::new(Preset::Torch, 784, vec![100; 4], 10);
    let mut bn = plain.clone();
    bn.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
    let opt = OptimizerConfig::new("adam".parse().unwrap(), Preset::Torch);
    for net in [&plain, &bn] {
        // Many steps: a queue that allocated one block every few dozen tasks would show.
        assert_eq!(allocations_per_run_threads(net, &opt, 2, 200), 0);
    }
}
