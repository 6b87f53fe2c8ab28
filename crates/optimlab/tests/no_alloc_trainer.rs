//! The trainer's epochs allocate nothing once its buffers exist: counted with a global
//! allocator. One test in this binary, so the test harness's own output is not counted.

use optimlab::Preset;
use optimlab::data::{Dataset, Features};
use optimlab::nn::{BatchNormConfig, Network, NetworkConfig};
use optimlab::optim::OptimizerConfig;
use optimlab::train::{EvalAt, LossRecord, Progress, TrainConfig, TrainData, Trainer};
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

/// The trainer's own loop adds nothing: after a first epoch has sized every buffer, whole
/// epochs (batches, steps, the book's after-update loss, scoped subnormal flushing and the
/// evaluations) allocate nothing.
#[test]
fn trainer_epochs_do_not_allocate() {
    let n = 600;
    let train = Dataset {
        name: "pattern".into(),
        features: Features::F32(
            (0..n * 784)
                .map(|i| ((i * 37) % 255) as f32 / 255.0)
                .collect(),
        ),
        labels: (0..n).map(|i| i % 10).collect(),
        dim: 784,
        classes: 10,
    };
    let data = TrainData {
        train: &train,
        val: Some(&train),
        test: None,
    };
    for (eval_at, loss_record) in [
        (EvalAt::EpochEnd, LossRecord::Forward),
        (EvalAt::Every(2), LossRecord::AfterUpdate),
    ] {
        let mut net_config = NetworkConfig::new(Preset::Torch, 784, vec![100; 2], 10);
        net_config.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
        let net = Network::<f32>::build(&net_config, 1).unwrap();
        let opt = OptimizerConfig::new(optimlab::optim::OptimizerName::Adam, Preset::Torch)
            .build::<f32>()
            .unwrap();
        let mut config = TrainConfig::new(Preset::Torch);
        config.batch_size = 128;
        config.epochs = 4;
        config.eval_batch = 256;
        config.eval_at = eval_at;
        config.loss_record = loss_record;
        config.flush_denormals = true;
        let mut trainer = Trainer::new(net, opt, None, config, n).unwrap();
        trainer.run_epoch(&data, |_| {}).unwrap();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let mut progress = Progress::Continue;
        while progress == Progress::Continue {
            progress = trainer.run_epoch(&data, |_| {}).unwrap().1;
        }
        assert_eq!(
            ALLOCATIONS.load(Ordering::Relaxed) - before,
            0,
            "{eval_at:?}, {loss_record:?}"
        );
    }
}
