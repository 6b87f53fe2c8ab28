//! `optimlab trajectory`: an optimizer's path on a 2-D function.

use super::parse_point;
use anyhow::Result;
use optimlab::Preset;
use optimlab::experiments::trajectory::{self, TestFunction, Trajectory};
use optimlab::optim::OPTIMIZER_NAMES;
use optimlab::tensor::{DType, Scalar};

#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Example (the book's Adam path, Fig. 6-8):\n  \
    optimlab trajectory --function book --optimizer adam --lr 0.3 --steps 30 --start=-7,2 --preset book --json"
)]
pub struct Args {
    /// book (x²/20 + y²), rosenbrock, beale or saddle (x² − y²)
    #[arg(long, default_value = "book")]
    function: TestFunction,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, amsgrad, nadam, radam, adadelta, lion
    #[arg(long, default_value = "sgd", value_parser = parse_optimizer)]
    optimizer: String,
    /// Starting point X,Y (default: the function's customary start; (−7, 2) for book)
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    start: Option<[f64; 2]>,
    /// Number of updates
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// book (the book's formulas and defaults, f64) or torch (torch.optim's, f32)
    #[arg(long, default_value = "torch")]
    preset: Preset,
    /// f32 or f64 (default: the preset's)
    #[arg(long)]
    dtype: Option<DType>,
    /// Learning rate (default: the preset's for this optimizer)
    #[arg(long)]
    lr: Option<f64>,
    /// Momentum factor (momentum, nesterov, rmsprop)
    #[arg(long)]
    momentum: Option<f64>,
    #[arg(long)]
    beta1: Option<f64>,
    #[arg(long)]
    beta2: Option<f64>,
    #[arg(long)]
    eps: Option<f64>,
    /// Decay rate of RMSprop's / Adadelta's running average
    #[arg(long)]
    rho: Option<f64>,
    /// λ: L2 for most optimizers, decoupled for adamw and lion
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

fn parse_optimizer(s: &str) -> Result<String, String> {
    if OPTIMIZER_NAMES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown optimizer '{s}' (expected one of: {})",
            OPTIMIZER_NAMES.join(", ")
        ))
    }
}

pub fn run(args: Args) -> Result<()> {
    let dtype = args.dtype.unwrap_or(args.preset.dtype());
    match dtype {
        DType::F32 => run_typed::<f32>(&args, dtype),
        DType::F64 => run_typed::<f64>(&args, dtype),
    }
}

fn run_typed<T: Scalar>(args: &Args, dtype: DType) -> Result<()> {
    let mut config = super::Hyper {
        lr: args.lr,
        momentum: args.momentum,
        beta1: args.beta1,
        beta2: args.beta2,
        eps: args.eps,
        rho: args.rho,
    }
    .config(&args.optimizer, args.preset);
    config.weight_decay = args.weight_decay;
    let resolved = config.resolve()?;
    let mut optimizer = resolved.build::<T>()?;
    let start = args.start.unwrap_or(args.function.default_start());
    let path = trajectory::run(args.function, &mut optimizer, start, args.steps)?;
    if args.json {
        let out = serde_json::json!({
            "function": args.function.name(),
            "optimizer": args.optimizer,
            "preset": args.preset.name(),
            "dtype": dtype.name(),
            "steps": args.steps,
            "start": start,
            "config": resolved,
            "positions": path.positions,
            "values": path.values,
        });
        println!("{out}");
    } else {
        print_table(args, &path, dtype);
    }
    Ok(())
}

fn print_table(args: &Args, path: &Trajectory, dtype: DType) {
    println!(
        "{} on {} ({} preset, {})",
        args.optimizer,
        args.function.name(),
        args.preset.name(),
        dtype.name()
    );
    println!("{:>5}  {:>18}  {:>18}  {:>14}", "step", "x", "y", "f(x, y)");
    for (k, (p, v)) in path.positions.iter().zip(&path.values).enumerate() {
        println!("{k:>5}  {:>18.10}  {:>18.10}  {v:>14.6e}", p[0], p[1]);
    }
}
