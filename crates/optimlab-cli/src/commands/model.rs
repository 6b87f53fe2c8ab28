//! Commands on a trained model file: `eval`, `predict`, `export`, and `gradcheck` on fresh nets.

use anyhow::{Context, Result, anyhow, bail};
use optimlab::data::DataConfig;
use optimlab::data::csv::{self, LabelColumn};
use optimlab::nn::{Network, NetworkConfig, grad_check};
use optimlab::rng::{Purpose, stream};
use optimlab::tensor::Matrix;
use optimlab::train::Model;
use rand::RngExt;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  optimlab eval --model runs/digits-adam/model.safetensors --json"
)]
pub struct EvalArgs {
    /// A model.safetensors written by `optimlab train`
    #[arg(long)]
    model: PathBuf,
    /// Data to evaluate on (its test split); default: the data the model was trained on
    #[arg(long)]
    data: Option<String>,
    /// Evaluate on the training split instead of the test split
    #[arg(long)]
    train_split: bool,
    #[arg(long)]
    json: bool,
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let mut model = Model::load(&args.model)?;
    let data_name = args
        .data
        .clone()
        .or(model.config().data.clone())
        .unwrap_or("digits".into());
    let splits = DataConfig {
        data: data_name.clone(),
        label_column: model.config().label_column.clone(),
        ..Default::default()
    }
    .prepare()?;
    let set = if args.train_split {
        &splits.train
    } else {
        &splits.test
    };
    if set.dim != model.input_size() {
        bail!(
            "{data_name} has {} features per sample; the model expects {}",
            set.dim,
            model.input_size()
        );
    }
    let e = model.evaluate(set)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "data": data_name, "split": if args.train_split { "train" } else { "test" },
                "samples": e.samples, "loss": e.loss, "accuracy": e.accuracy,
                "per_class_accuracy": e.per_class_accuracy, "confusion": e.confusion,
            })
        );
    } else {
        println!(
            "{data_name}: {} samples, loss {:.4}, accuracy {:.4}",
            e.samples, e.loss, e.accuracy
        );
        println!("class  accuracy   confusion row (true class → predicted counts)");
        for (c, row) in e.confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|n| format!("{n:>5}")).collect();
            println!(
                "{c:>5}  {:>8.4}  {}",
                e.per_class_accuracy[c],
                cells.join("")
            );
        }
    }
    Ok(())
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  optimlab predict --model runs/digits-adam/model.safetensors --input samples.csv"
)]
pub struct PredictArgs {
    #[arg(long)]
    model: PathBuf,
    /// CSV file: one sample per line, features only (in the model's scale, e.g. [0, 1])
    #[arg(long)]
    input: PathBuf,
}

pub fn predict(args: PredictArgs) -> Result<()> {
    let mut model = Model::load(&args.model)?;
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    // Features only: append a dummy label column so the CSV reader validates the numbers.
    let with_labels: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l},0\n"))
        .collect();
    let source = args.input.display().to_string();
    let set = csv::parse(&with_labels, &LabelColumn::parse("last"), &source)?;
    if set.dim != model.input_size() {
        bail!(
            "{source}: {} features per sample; the model expects {}",
            set.dim,
            model.input_size()
        );
    }
    let probs = model.predict(&set)?;
    println!(
        "sample,class,{}",
        (0..model.output_size())
            .map(|c| format!("p{c}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (r, row) in probs.iter().enumerate() {
        let best = (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        let ps: Vec<String> = row.iter().map(|p| format!("{p:.6}")).collect();
        println!("{r},{best},{}", ps.join(","));
    }
    Ok(())
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  optimlab export --model runs/digits-adam/model.safetensors --format npz --out model.npz"
)]
pub struct ExportArgs {
    #[arg(long)]
    model: PathBuf,
    /// npz (NumPy, the book's names W1, b1, …) or safetensors
    #[arg(long, value_parser = ["npz", "safetensors"])]
    format: String,
    /// Output file (default: the model's name with .npz, or .export.safetensors)
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn export(args: ExportArgs) -> Result<()> {
    let model = Model::load(&args.model)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| match args.format.as_str() {
            "npz" => args.model.with_extension("npz"),
            // Never the model itself: `model.safetensors` → `model.export.safetensors`.
            _ => args.model.with_extension("export.safetensors"),
        });
    match args.format.as_str() {
        "npz" => model.export_npz(&out)?,
        // With the training configuration, so the copy still evaluates and predicts.
        _ => model.save(&out, true)?,
    }
    println!("wrote {}", out.display());
    Ok(())
}

#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Example:\n  \
    optimlab gradcheck --hidden 10,10 --activation tanh --batch-norm --preset book"
)]
pub struct GradcheckArgs {
    #[arg(long, default_value_t = 20)]
    input: usize,
    #[arg(long, default_value = "10,10", value_delimiter = ',')]
    hidden: Vec<usize>,
    #[arg(long, default_value_t = 5)]
    output: usize,
    #[arg(long, default_value = "relu")]
    activation: optimlab::nn::Activation,
    #[arg(long)]
    batch_norm: bool,
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// The book's L2 weight decay λ in the loss
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    #[arg(long, default_value = "he")]
    init: String,
    #[arg(long, default_value = "torch")]
    preset: optimlab::Preset,
    /// Samples in the checked batch
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Central-difference step
    #[arg(long, default_value_t = 1e-5)]
    step: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

pub fn gradcheck(args: GradcheckArgs) -> Result<()> {
    use optimlab::nn::{BatchNormConfig, DropoutConfig, DropoutStyle, Init};
    if args.batch < 2 && args.batch_norm {
        bail!(
            "invalid --batch {}: batch norm needs at least 2 samples to check",
            args.batch
        );
    }
    if args.batch == 0 || !(args.step.is_finite() && args.step > 0.0) {
        bail!(
            "invalid --batch {} / --step {}: need a batch ≥ 1 and a step > 0",
            args.batch,
            args.step
        );
    }
    let mut config = NetworkConfig::new(args.preset, args.input, args.hidden.clone(), args.output);
    config.activation = args.activation;
    config.init = Init::parse(&args.init, args.preset).map_err(|e| anyhow!(e))?;
    config.weight_decay = args.weight_decay;
    if args.batch_norm {
        config.batch_norm = Some(BatchNormConfig::preset(args.preset));
    }
    if args.dropout != 0.0 {
        config.dropout = Some(DropoutConfig {
            p: args.dropout,
            style: DropoutStyle::preset(args.preset),
        });
    }
    grad_check::check_size(&config)?;
    config.check_memory(args.batch, 8)?;
    let mut net = Network::<f64>::build(&config, args.seed)?;
    let mut rng = stream(args.seed, Purpose::Data);
    let values: Vec<f64> = (0..args.batch * args.input)
        .map(|_| rng.random::<f64>() * 2.0 - 1.0)
        .collect();
    let x = Matrix::from_vec(args.batch, args.input, values).expect("shape");
    let labels: Vec<usize> = (0..args.batch)
        .map(|_| rng.random_range(0..args.output))
        .collect();
    let checks = grad_check::check_network(&mut net, &x, &labels, args.step)?;
    if args.json {
        println!("{}", serde_json::to_string(&checks)?);
    } else {
        println!(
            "{:<10} {:>12} {:>12} {:>12}",
            "parameter", "mean |Δ|", "max |Δ|", "max rel"
        );
        for c in &checks {
            println!(
                "{:<10} {:>12.3e} {:>12.3e} {:>12.3e}",
                c.name, c.mean_abs, c.max_abs, c.max_rel
            );
        }
    }
    Ok(())
}
