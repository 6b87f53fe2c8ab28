//! `optimlab trajectory`: an optimizer's path on a 2-D function.

use super::parse_point;
use anyhow::Result;
use optimlab::Preset;
use optimlab::experiments::trajectory::{self, TestFunction, Trajectory};
use optimlab::optim::{OptimizerConfig, OptimizerName};
use optimlab::tensor::DType;

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
    /// The update rule (default sgd) and its hyperparameters (default: the preset's)
    #[command(flatten)]
    optimizer: OptimizerConfig,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    // The same request the playground page sends, so both compute the same path.
    let request = trajectory::Request {
        function: args.function,
        start: args.start,
        steps: args.steps,
        preset: args.preset,
        dtype: args.dtype,
        optimizer: args.optimizer.clone(),
    };
    let report = request.run()?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let path = Trajectory {
            function: report.function,
            optimizer: report.optimizer.to_string(),
            positions: report.positions,
            values: report.values,
        };
        print_table(&args, report.optimizer, &path, report.dtype);
    }
    Ok(())
}

fn print_table(args: &Args, name: OptimizerName, path: &Trajectory, dtype: DType) {
    println!(
        "{} on {} ({} preset, {})",
        name,
        args.function.name(),
        args.preset.name(),
        dtype.name()
    );
    println!("{:>5}  {:>18}  {:>18}  {:>14}", "step", "x", "y", "f(x, y)");
    for (k, (p, v)) in path.positions.iter().zip(&path.values).enumerate() {
        println!("{k:>5}  {:>18.10}  {:>18.10}  {v:>14.6e}", p[0], p[1]);
    }
}
