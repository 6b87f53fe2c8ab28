//! Commands on a trained model file: `eval`, `predict`, `export`, and `gradcheck` on fresh nets.

use anyhow::{Context, Result, anyhow, bail};
use optimlab::data::csv::{self, CsvHeader, LabelColumn};
use optimlab::data::{DataConfig, DataSource};
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
    /// A model.safetensors written by `optimlab train`, or its run folder
    #[arg(long)]
    model: PathBuf,
    /// Data to evaluate on: every row of a CSV file given here, else the data set's test
    /// split; default: the test split of the data the model was trained on
    #[arg(long)]
    data: Option<String>,
    /// Evaluate on the training split instead of the test split (of a CSV file too)
    #[arg(long)]
    train_split: bool,
    /// CSV only: whether the first row is a header: auto, yes or no
    #[arg(long, default_value = "auto")]
    header: CsvHeader,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

/// A run folder stands for its `model.safetensors`.
fn model_path(path: &std::path::Path) -> PathBuf {
    if path.is_dir() {
        path.join(optimlab::train::run::MODEL_FILE)
    } else {
        path.to_path_buf()
    }
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let mut model = Model::load(model_path(&args.model))?;
    let data_name = args
        .data
        .clone()
        .or(model.config().data.clone())
        .unwrap_or("digits".into());
    let config = DataConfig {
        data: data_name.clone(),
        label_column: model.config().label_column.clone(),
        header: args.header,
        ..Default::default()
    };
    // A CSV file named with --data is evaluated whole: its hidden 80/20 split is a training
    // matter, and evaluating a fifth of the rows given would pass silently.
    let whole = match (&args.data, args.train_split, config.source()?) {
        (
            Some(_),
            false,
            DataSource::Csv {
                path,
                label,
                header,
            },
        ) => Some(csv::load_with(&path, &label, header)?),
        _ => None,
    };
    let splits = match whole {
        Some(_) => None,
        None => Some(config.prepare()?),
    };
    super::data::note_csv_header(&config);
    let (set, split) = match (&whole, &splits) {
        (Some(all), _) => (all, "all"),
        (None, Some(s)) if args.train_split => (&s.train, "train"),
        (None, Some(s)) => (&s.test, "test"),
        (None, None) => unreachable!("either the whole file or the splits are loaded"),
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
                "data": data_name, "split": split,
                "samples": e.samples, "loss": e.loss, "accuracy": e.accuracy,
                "per_class_accuracy": e.per_class_accuracy, "confusion": e.confusion,
            })
        );
    } else {
        println!(
            "{data_name} ({split} rows): {} samples, loss {:.4}, accuracy {:.4}",
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
    /// A model.safetensors written by `optimlab train`, or its run folder
    #[arg(long)]
    model: PathBuf,
    /// CSV file: one sample per line, features only (in the model's scale, e.g. [0, 1])
    #[arg(long)]
    input: PathBuf,
    /// Whether the first row is a header: auto (when none of its fields is a number), yes or no
    #[arg(long, default_value = "auto")]
    header: CsvHeader,
}

pub fn predict(args: PredictArgs) -> Result<()> {
    let mut model = Model::load(model_path(&args.model))?;
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // Features only: append a dummy label column so the CSV reader validates the numbers
    // (a header row gets a name). Blank lines stay, so errors give the file's line numbers.
    // Ragged rows counted here, without the dummy label column the reader would count.
    let mut width = None;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let n = l.split(',').count();
        match width {
            None => width = Some((n, i + 1)),
            Some((w, first)) if n != w => bail!(
                "{}:{}: {n} fields, expected {w} as in line {first} (ragged rows)",
                args.input.display(),
                i + 1
            ),
            Some(_) => {}
        }
    }
    let mut first = true;
    let with_labels: String = text
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                return "\n".to_string();
            }
            let is_first = std::mem::replace(&mut first, false);
            let no_number = l
                .split(',')
                .all(|f| f.trim().parse::<f64>().map_or(true, |v| !v.is_finite()));
            let header = match args.header {
                CsvHeader::Yes => is_first,
                CsvHeader::No => false,
                CsvHeader::Auto => is_first && no_number,
            };
            format!(
                "{},{}\n",
                l.strip_suffix('\r').unwrap_or(l),
                if header { "label" } else { "0" }
            )
        })
        .collect();
    let source = args.input.display().to_string();
    let set = csv::parse_with(
        &with_labels,
        &LabelColumn::parse("last"),
        args.header,
        &source,
    )?;
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
    /// The model.safetensors to export
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
    /// Input features of the checked network
    #[arg(long, default_value_t = 20)]
    input: usize,
    /// Hidden layer sizes, comma-separated (at most a million parameters in all)
    #[arg(long, default_value = "10,10", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Classes (output units)
    #[arg(long, default_value_t = 5)]
    output: usize,
    /// relu, sigmoid or tanh
    #[arg(long, default_value = "relu")]
    activation: optimlab::nn::Activation,
    /// Batch normalisation after every hidden dense layer
    #[arg(long)]
    batch_norm: bool,
    /// Dropout ratio after every hidden activation, in [0, 1) (masks frozen during the check)
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// The book's L2 weight decay λ in the loss
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Weight initialisation: he, xavier or a standard deviation such as 0.01
    #[arg(long, default_value = "he")]
    init: String,
    /// book or torch: the defaults of the layers (f64 either way)
    #[arg(long, default_value = "torch")]
    preset: optimlab::Preset,
    /// Samples in the checked batch
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Central-difference step
    #[arg(long, default_value_t = 1e-5)]
    step: f64,
    /// Seed of the weights and the random batch
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON array instead of a table
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
