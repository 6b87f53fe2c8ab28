//! `optimlab bench`: median time of one training step.

use anyhow::Result;
use optimlab::bench::{self, BenchConfig, Workload};
use optimlab::tensor::DType;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  optimlab bench --workload book\n  \
    optimlab bench --workload wide --threads 2 --json\n  optimlab bench --dtype f64")]
pub struct Args {
    /// book (784-100×4-10, batch 128) or wide (784-1024-1024-10, batch 256)
    #[arg(long, default_value = "book")]
    workload: Workload,
    /// Update rule (torch preset defaults, f32)
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Threads: 2 or more splits each batch across two threads (data-parallel)
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// f32 or f64
    #[arg(long, default_value = "f32")]
    dtype: DType,
    /// Do not time the GEMM sections (the GEMM share is then not reported)
    #[arg(long)]
    no_gemm_share: bool,
    /// Measured steps (after the warm-up)
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Unmeasured warm-up steps
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Seed of the weights and the batch
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut config = BenchConfig::new(args.workload);
    config.optimizer = args.optimizer;
    config.threads = args.threads;
    config.dtype = args.dtype;
    config.gemm_share = !args.no_gemm_share;
    config.steps = args.steps;
    config.warmup = args.warmup;
    config.seed = args.seed;
    let r = bench::run(&config)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        let share = match (r.gemm_ms, r.gemm_share) {
            (Some(ms), Some(f)) => format!(", GEMM sections {ms:.3} ms ({:.0} %)", f * 100.0),
            _ => String::new(),
        };
        println!(
            "{} workload, {}, {}, {} thread(s), batch {}: median {:.3} ms/step \
             (p10 {:.3}, p90 {:.3}, mean {:.3}; {} steps after {} warm-up), GEMM {:.1} GFLOP/s{share}",
            r.workload.name(),
            r.optimizer,
            r.dtype,
            r.threads,
            r.batch,
            r.ms_per_step,
            r.ms_p10,
            r.ms_p90,
            r.ms_mean,
            r.steps,
            r.warmup,
            r.gemm_gflops
        );
    }
    Ok(())
}
