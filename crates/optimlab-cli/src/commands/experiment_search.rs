//! `optimlab experiment search`: the book's hyperparameter search
//! ([`optimlab::experiments::search`]) run as a study, printed in the book's format, reported.

use super::tune::{LeaseArgs, open_storage, report, study_settings, work};
use anyhow::{Result, bail};
use optimlab::experiments::search::{self, SearchConfig};
use optimlab::tune::objective::{Metric, Objective};
use optimlab::tune::study::Study;
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
    /// Seed of the sampler and of every trial's training
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the study lives (in memory: gone when the command ends)
    #[arg(long, default_value = "memory")]
    storage: String,
    /// Name of the study in the storage
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

pub fn run(args: Args) -> Result<()> {
    if args.trials == 0 || args.workers == 0 {
        bail!("--trials and --workers must be at least 1");
    }
    let space = search::book_space();
    let data = match &args.data {
        Some(d) => d.clone(),
        None => {
            let d = search::default_data();
            if d != "fashion-mnist" {
                eprintln!(
                    "note: Fashion-MNIST is not installed ({}); using the embedded digits \
                     (apt-get install dataset-fashion-mnist, or --data)",
                    optimlab::data::source::SYSTEM_FASHION_MNIST
                );
            }
            d
        }
    };
    let config = SearchConfig {
        data,
        train_limit: args.train_limit,
        epochs: args.epochs,
    };
    let spec = config.objective_spec();
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
    let mut objective = Objective::new(spec, &space)?;
    objective.flush_denormals = true;
    let lease = LeaseArgs {
        lease: 60.0,
        heartbeat: None,
        max_retries: 1,
        quiet: args.quiet,
    };
    work(&study, &objective, args.workers, &lease, &args.storage)?;

    println!("=========== Hyper-Parameter Optimization Result ===========");
    for (i, r) in search::ranked(&study.trials()?)
        .iter()
        .take(args.top)
        .enumerate()
    {
        println!("{}", search::book_line(i + 1, r));
    }
    report::write(
        &study,
        &args.out,
        20,
        Some("lr"),
        Some("weight_decay"),
        &optimlab::tune::study::importance::Evaluator::default(),
    )
}
