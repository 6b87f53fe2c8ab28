//! The book's hyperparameter search as a preset: a random search of the learning rate and
//! the weight decay of a 784-100×6-10 network trained with SGD on the first 500 training
//! images, scored on a 20 % validation split (never the test set).

use super::tune::objective::{Final, Metric, Objective, ObjectiveSpec};
use super::tune::{LeaseArgs, open_storage, report, study_settings, work};
use anyhow::{Result, bail};
use optimlab::tune::study::Study;
use optimlab::tune::{Distribution, ParamSpec, Space, TrialState};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// fashion-mnist (default when installed, else the embedded digits), digits, mnist (the
    /// book's) or an MNIST-format folder
    #[arg(long)]
    data: Option<String>,
    /// Training images used (the first N); 20 % of them validate
    #[arg(long, default_value_t = 500)]
    train_limit: usize,
    /// Epochs per trial
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Trials
    #[arg(long, default_value_t = 100)]
    trials: u64,
    /// Trials run at once (threads)
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// random (the book's), tpe, sobol, …
    #[arg(long, default_value = "random")]
    sampler: String,
    /// none (the book's), median, hyperband, …
    #[arg(long, default_value = "none")]
    pruner: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the study lives (in memory: gone when the command ends)
    #[arg(long, default_value = "memory")]
    storage: String,
    #[arg(long, default_value = "book-search")]
    study: String,
    /// Report folder
    #[arg(long, default_value = "experiments/search")]
    out: PathBuf,
    /// Best trials printed
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// No line per trial
    #[arg(long)]
    quiet: bool,
}

/// The book's space: lr = 10^U(−6, −2), weight decay = 10^U(−8, −4).
pub fn book_space() -> Space {
    let log = |low: f64, high: f64| Distribution::Float {
        low,
        high,
        step: None,
        log: true,
    };
    Space {
        params: vec![
            ParamSpec::new("lr", log(1e-6, 1e-2)),
            ParamSpec::new("weight_decay", log(1e-8, 1e-4)),
        ],
    }
}

/// The book's fixed settings (`[train]`).
pub fn book_train(data: &str, train_limit: usize, epochs: usize) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("data".into(), data.into());
    t.insert("train_limit".into(), (train_limit as i64).into());
    t.insert("val_fraction".into(), 0.2.into());
    t.insert(
        "hidden".into(),
        toml::Value::Array(vec![toml::Value::Integer(100); 6]),
    );
    t.insert("activation".into(), "relu".into());
    t.insert("init".into(), "he".into());
    t.insert("preset".into(), "book".into());
    t.insert("optimizer".into(), "sgd".into());
    t.insert("batch_size".into(), 100.into());
    t.insert("epochs".into(), (epochs as i64).into());
    t
}

pub fn run(args: Args) -> Result<()> {
    if args.trials == 0 || args.workers == 0 {
        bail!("--trials and --workers must be at least 1");
    }
    let space = book_space();
    let data = match &args.data {
        Some(d) => d.clone(),
        None if std::path::Path::new(optimlab::data::source::SYSTEM_FASHION_MNIST).is_dir() => {
            "fashion-mnist".into()
        }
        None => {
            eprintln!(
                "note: Fashion-MNIST is not installed ({}); using the embedded digits \
                 (apt-get install dataset-fashion-mnist, or --data)",
                optimlab::data::source::SYSTEM_FASHION_MNIST
            );
            "digits".into()
        }
    };
    let spec = ObjectiveSpec {
        train: book_train(&data, args.train_limit, args.epochs),
        metric: Metric::ValAcc,
        final_value: Final::Last,
    };
    let epochs = spec.check(&space)?;
    optimlab::tune::sampler::parse(&args.sampler, args.seed)
        .map_err(|e| anyhow::anyhow!("--sampler: {e}"))?;
    optimlab::tune::pruner::parse(&args.pruner, epochs)
        .map_err(|e| anyhow::anyhow!("--pruner: {e}"))?;
    let settings = study_settings(
        &args.sampler,
        &args.pruner,
        args.seed,
        args.trials,
        epochs,
        &spec,
    )?;
    let storage = open_storage(&args.storage)?;
    let study = Study::create_or_open(
        storage,
        &args.study,
        Metric::ValAcc.direction(),
        &space,
        &settings,
    )?;
    let objective = Objective::new(spec, &space)?;
    let lease = LeaseArgs {
        lease: 60.0,
        heartbeat: None,
        max_retries: 1,
        quiet: args.quiet,
    };
    work(&study, &objective, args.workers, &lease)?;

    let mut done: Vec<_> = study
        .trials()?
        .into_iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    done.sort_by(|a, b| {
        b.value
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.value.unwrap_or(f64::NEG_INFINITY))
            .then(a.number.cmp(&b.number))
    });
    println!("=========== Hyper-Parameter Optimization Result ===========");
    for (i, t) in done.iter().take(args.top).enumerate() {
        let p = |k: &str| t.param(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
        println!(
            "Best-{}(val acc:{}) | lr:{}, weight decay:{}",
            i + 1,
            py_repr(t.value.unwrap_or(f64::NAN)),
            py_repr(p("lr")),
            py_repr(p("weight_decay"))
        );
    }
    report::write(&study, &args.out, 20, Some("lr"), Some("weight_decay"))
}

/// A float as Python's `repr` prints it (the book's output): the shortest text that reads back
/// exactly, in exponent form (`1e-07`) below 1e-4 or from 1e16 on.
fn py_repr(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}").to_lowercase();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').expect("exponent form");
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn floats_print_as_python_repr_does() {
        assert_eq!(py_repr(9.895374315506144e-7), "9.895374315506144e-07");
        assert_eq!(py_repr(0.007558446922567203), "0.007558446922567203");
        assert_eq!(py_repr(0.77), "0.77");
        assert_eq!(py_repr(1.0), "1.0");
        assert_eq!(py_repr(1e-4), "0.0001");
        assert_eq!(py_repr(2.5e-5), "2.5e-05");
    }
}
