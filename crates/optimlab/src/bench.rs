//! Timing of one training step (forward, backward, update) on synthetic data of the right
//! shape, for the reference workloads of the performance targets.

use crate::Preset;
use crate::nn::{Mode, Network, NetworkConfig, NnError};
use crate::optim::{OptimError, OptimizerConfig};
use crate::rng::{self, Purpose};
use crate::tensor::{DType, Matrix, Scalar, Threads, gemm_clock};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A reference network and batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// 784-100-100-100-100-10, batch 128 (the book's optimizer comparison).
    Book,
    /// 784-1024-1024-10, batch 256.
    Wide,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Book => "book",
            Workload::Wide => "wide",
        }
    }
    pub fn hidden(self) -> Vec<usize> {
        match self {
            Workload::Book => vec![100; 4],
            Workload::Wide => vec![1024, 1024],
        }
    }
    pub fn batch(self) -> usize {
        match self {
            Workload::Book => 128,
            Workload::Wide => 256,
        }
    }
    /// Multiply-adds ×2 of the step's GEMMs (forward, weight gradients, and input gradients of
    /// every layer but the first, which are skipped).
    pub fn gemm_flops(self) -> f64 {
        let sizes: Vec<usize> = std::iter::once(784)
            .chain(self.hidden())
            .chain(std::iter::once(10))
            .collect();
        let b = self.batch() as f64;
        let mut flops = 0.0;
        for (i, w) in sizes.windows(2).enumerate() {
            let mk = (w[0] * w[1]) as f64;
            flops += 2.0 * b * mk * if i == 0 { 2.0 } else { 3.0 };
        }
        flops
    }
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "book" => Ok(Workload::Book),
            "wide" => Ok(Workload::Wide),
            other => Err(format!(
                "unknown workload '{other}' (expected book or wide)"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    pub workload: Workload,
    pub optimizer: String,
    pub threads: usize,
    pub dtype: DType,
    pub steps: usize,
    pub warmup: usize,
    pub seed: u64,
    /// Time the GEMM sections of every step (adds two clock reads per section).
    pub gemm_share: bool,
}

impl BenchConfig {
    pub fn new(workload: Workload) -> Self {
        Self {
            workload,
            optimizer: "adam".into(),
            threads: 1,
            dtype: DType::F32,
            steps: 300,
            warmup: 50,
            seed: 0,
            gemm_share: true,
        }
    }
}

/// Timings of the measured steps, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub workload: Workload,
    pub optimizer: String,
    pub dtype: &'static str,
    pub threads: usize,
    pub batch: usize,
    pub steps: usize,
    pub warmup: usize,
    pub ms_per_step: f64,
    pub ms_mean: f64,
    pub ms_p10: f64,
    pub ms_p90: f64,
    pub gemm_gflops: f64,
    /// Median time of the step's GEMM sections (all shards of a batch split counted once, as
    /// wall time), when measured.
    pub gemm_ms: Option<f64>,
    /// `gemm_ms / ms_per_step`: the rest is element-wise passes, the loss and the update.
    pub gemm_share: Option<f64>,
    pub final_loss: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error("invalid {0}: must be at least 1")]
    Zero(&'static str),
}

/// Times `warmup + steps` training steps of the workload (f32 or f64) with the torch preset, on
/// random inputs in [0, 1) and random labels, batches drawn with replacement from a pool of
/// 8192 samples. Returns the median and spread of the measured steps.
pub fn run(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    match config.dtype {
        DType::F32 => run_typed::<f32>(config),
        DType::F64 => run_typed::<f64>(config),
    }
}

fn run_typed<T: Scalar>(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    if config.steps == 0 {
        return Err(BenchError::Zero("steps"));
    }
    if config.threads == 0 {
        return Err(BenchError::Zero("threads"));
    }
    let w = config.workload;
    // As the trainer does: subnormal arithmetic would otherwise dominate Adam's update.
    let _flush = crate::tensor::FlushDenormals::new();
    let net_config = NetworkConfig::new(Preset::Torch, 784, w.hidden(), 10);
    let mut net =
        Network::<T>::build_with_threads(&net_config, config.seed, Threads(config.threads))?;
    let mut opt = OptimizerConfig::new(config.optimizer.parse()?, Preset::Torch).build::<T>()?;

    const POOL: usize = 8192;
    let mut data_rng = rng::stream(config.seed, Purpose::Data);
    let pool_x: Vec<T> = (0..POOL * 784)
        .map(|_| T::from_f64(data_rng.random::<f32>() as f64))
        .collect();
    let pool_x = Matrix::from_vec(POOL, 784, pool_x).expect("pool shape");
    let pool_t: Vec<usize> = (0..POOL).map(|_| data_rng.random_range(0..10)).collect();

    let batch = w.batch();
    let mut batch_rng = rng::stream(config.seed, Purpose::Batches);
    let mut idx = vec![0usize; batch];
    let mut labels = vec![0usize; batch];
    let mut x = Matrix::zeros(batch, 784);
    let mut times = Vec::with_capacity(config.steps);
    let mut gemm_times = Vec::with_capacity(config.steps);
    let mut loss = T::zero();
    gemm_clock::enable(config.gemm_share);
    for step in 0..config.warmup + config.steps {
        gemm_clock::take_nanos();
        let t0 = Instant::now();
        for (i, t) in idx.iter_mut().zip(labels.iter_mut()) {
            *i = batch_rng.random_range(0..POOL);
            *t = pool_t[*i];
        }
        x.gather_rows(&pool_x, &idx);
        loss = net.loss(&x, &labels, Mode::Train)?;
        net.backward(&x, &labels)?;
        opt.step(&mut net)?;
        let elapsed = t0.elapsed().as_secs_f64() * 1e3;
        if step >= config.warmup {
            times.push(elapsed);
            gemm_times.push(gemm_clock::take_nanos() as f64 * 1e-6);
        }
    }
    gemm_clock::enable(false);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    gemm_times.sort_by(f64::total_cmp);
    let q = |v: &[f64], f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    let median = q(&times, 0.5);
    let gemm_ms = config.gemm_share.then(|| q(&gemm_times, 0.5));
    Ok(BenchReport {
        workload: w,
        optimizer: config.optimizer.clone(),
        dtype: config.dtype.name(),
        threads: config.threads,
        batch,
        steps: config.steps,
        warmup: config.warmup,
        ms_per_step: median,
        ms_mean: mean,
        ms_p10: q(&times, 0.1),
        ms_p90: q(&times, 0.9),
        gemm_gflops: w.gemm_flops() / (median * 1e-3) / 1e9,
        gemm_ms,
        gemm_share: gemm_ms.map(|g| g / median),
        final_loss: loss.to_f64().unwrap_or(f64::NAN),
    })
}
