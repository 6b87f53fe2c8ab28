//! Commands on a trained model file: `eval`, `predict`, `export`, and `gradcheck` on fresh nets.

use super::settings::{Resolved, TrainSettings};
use anyhow::{Context, Result, anyhow, bail};
use optimlab::data::DataConfig;
use optimlab::data::csv::{self, LabelColumn};
use optimlab::nn::{Mode, Network, NetworkConfig, grad_check};
use optimlab::rng::{Purpose, stream};
use optimlab::tensor::{DType, Matrix, Scalar};
use optimlab::train::checkpoint::{Weights, load_weights};
use optimlab::train::{evaluate, export};
use rand::RngExt;
use std::path::{Path, PathBuf};

/// The settings a model was trained with (stored in the file by `train`).
fn model_settings(path: &Path) -> Result<(TrainSettings, DType)> {
    let w = load_weights::<f64>(path)?;
    let text = w.config().ok_or_else(|| {
        anyhow!(
            "{}: no training configuration inside (not written by optimlab train)",
            path.display()
        )
    })?;
    let settings: TrainSettings = toml::from_str(text).map_err(|e| {
        anyhow!(
            "{}: unreadable configuration: {}",
            path.display(),
            e.message()
        )
    })?;
    let dtype = settings.dtype.unwrap_or(DType::F32);
    Ok((settings, dtype))
}

/// Rebuilds the network a model file describes and loads its weights.
fn load_network<T: Scalar>(path: &Path, settings: &TrainSettings) -> Result<Network<T>> {
    let resolved = Resolved::new(settings.clone())?;
    let weights: Weights<T> = load_weights(path)?;
    let last = settings.hidden.as_ref().map_or(3, |h| h.len() + 1);
    let dim = |name: &str, axis: usize| {
        weights
            .tensors
            .get(name)
            .and_then(|t| t.shape.get(axis).copied())
            .ok_or_else(|| anyhow!("{}: no tensor {name}", path.display()))
    };
    let mut config: NetworkConfig = resolved.network.clone();
    config.input = dim("W1", 0)?;
    config.output = dim(&format!("W{last}"), 1)?;
    let mut net = Network::<T>::build(&config, 0)?;
    weights.apply_to_network(&mut net)?;
    Ok(net)
}

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
    let (settings, dtype) = model_settings(&args.model)?;
    match dtype {
        DType::F32 => eval_typed::<f32>(&args, &settings),
        DType::F64 => eval_typed::<f64>(&args, &settings),
    }
}

fn eval_typed<T: Scalar>(args: &EvalArgs, settings: &TrainSettings) -> Result<()> {
    let mut net = load_network::<T>(&args.model, settings)?;
    let data_name = args
        .data
        .clone()
        .or(settings.data.clone())
        .unwrap_or("digits".into());
    let splits = DataConfig {
        data: data_name.clone(),
        label_column: settings.label_column.clone(),
        ..Default::default()
    }
    .prepare()?;
    let set = if args.train_split {
        &splits.train
    } else {
        &splits.test
    };
    if set.dim != net.input_size() {
        bail!(
            "{data_name} has {} features per sample; the model expects {}",
            set.dim,
            net.input_size()
        );
    }
    let e = evaluate(&mut net, set, None, 1000)?;
    let classes = net.output_size();
    let pred = net.predict(&set.to_matrix::<T>(), 1000)?;
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&p, &t) in pred.iter().zip(&set.labels) {
        if t < classes {
            confusion[t][p] += 1;
        }
    }
    let per_class: Vec<f64> = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "data": data_name, "split": if args.train_split { "train" } else { "test" },
                "samples": e.samples, "loss": e.loss, "accuracy": e.accuracy,
                "per_class_accuracy": per_class, "confusion": confusion,
            })
        );
    } else {
        println!(
            "{data_name}: {} samples, loss {:.4}, accuracy {:.4}",
            e.samples, e.loss, e.accuracy
        );
        println!("class  accuracy   confusion row (true class → predicted counts)");
        for (c, row) in confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|n| format!("{n:>5}")).collect();
            println!("{c:>5}  {:>8.4}  {}", per_class[c], cells.join(""));
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
    let (settings, dtype) = model_settings(&args.model)?;
    match dtype {
        DType::F32 => predict_typed::<f32>(&args, &settings),
        DType::F64 => predict_typed::<f64>(&args, &settings),
    }
}

fn predict_typed<T: Scalar>(args: &PredictArgs, settings: &TrainSettings) -> Result<()> {
    let mut net = load_network::<T>(&args.model, settings)?;
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
    if set.dim != net.input_size() {
        bail!(
            "{source}: {} features per sample; the model expects {}",
            set.dim,
            net.input_size()
        );
    }
    let x: Matrix<T> = set.to_matrix();
    let labels = vec![0; x.rows()];
    net.loss(&x, &labels, Mode::Eval)?;
    let probs = net.probabilities();
    println!(
        "sample,class,{}",
        (0..probs.cols())
            .map(|c| format!("p{c}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for r in 0..probs.rows() {
        let row = probs.row(r);
        let best = (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        let ps: Vec<String> = row.iter().map(|p| format!("{:.6}", p.as_f64())).collect();
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
    /// Output file (default: the model's name with the format's extension)
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn export(args: ExportArgs) -> Result<()> {
    let (settings, dtype) = model_settings(&args.model)?;
    match dtype {
        DType::F32 => export_typed::<f32>(&args, &settings),
        DType::F64 => export_typed::<f64>(&args, &settings),
    }
}

fn export_typed<T: Scalar>(args: &ExportArgs, settings: &TrainSettings) -> Result<()> {
    let net = load_network::<T>(&args.model, settings)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.model.with_extension(&args.format));
    match args.format.as_str() {
        "npz" => export::export_npz(&out, &net)?,
        _ => export::export_safetensors(&out, &net, None)?,
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
