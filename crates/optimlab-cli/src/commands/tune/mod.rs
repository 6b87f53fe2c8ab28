//! `optimlab tune`: hyperparameter search over training settings.
//!
//! A study lives in a storage (SQLite by default) with everything needed to run it, so
//! `tune run` can be re-run to resume and `tune worker` on any machine can join.

pub mod report;

use anyhow::{Context, Result, anyhow, bail};
use optimlab::tune::objective::{self, Final, Metric, Objective, ObjectiveSpec};
use optimlab::tune::study::importance::Evaluator;
use optimlab::tune::study::{self, Study, TrialOutcome, WorkerOptions};
use optimlab::tune::{FrozenTrial, Space, Storage, StudySettings, TrialState, TuneError};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create (or resume) a study and run its trials here, up to --trials in total.
    Run(RunArgs),
    /// Join a study as a worker: everything comes from the study as stored.
    Worker(WorkerArgs),
    /// Trials by state, the best so far, running trials and their leases.
    Status(StudyArgs),
    /// The best trial; --retrain trains its settings on the whole training set and tests once.
    Best(BestArgs),
    /// Copy a study (every trial, value, intermediate value and attribute) to another storage.
    Export(CopyArgs),
    /// The same copy as export, named from the receiving side.
    Import(CopyArgs),
    /// Write a study's report: results.json, pictures and an offline HTML page.
    Report(ReportArgs),
}

/// The default storage: a SQLite file in the current folder.
const DEFAULT_STORAGE: &str = "sqlite:optimlab-tune.db";

#[derive(clap::Args)]
struct StudyArgs {
    /// Study name
    #[arg(long)]
    study: String,
    /// memory, sqlite:PATH, postgres://… or journal:PATH
    #[arg(long, default_value = DEFAULT_STORAGE)]
    storage: String,
}

#[derive(clap::Args)]
pub struct LeaseArgs {
    /// Seconds a claimed trial stays ours without a heartbeat
    #[arg(long, default_value_t = 60.0, hide = true)]
    pub lease: f64,
    /// Seconds between heartbeats (default: a sixth of the lease)
    #[arg(long, hide = true)]
    pub heartbeat: Option<f64>,
    /// How often a trial whose worker died is retried
    #[arg(long, default_value_t = 1)]
    pub max_retries: u32,
    /// One line per finished trial unless set
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    optimlab tune run --study lr-wd --space space.toml --trials 50 --workers 2 --pruner median")]
struct RunArgs {
    #[command(flatten)]
    study: StudyArgs,
    /// Search-space file: [params] to search, [train] fixed settings (as `train --config`)
    #[arg(long)]
    space: PathBuf,
    /// Trials of the whole study (all workers, all runs); a re-run resumes up to this
    #[arg(long)]
    trials: u64,
    /// Trials run at once in this process (threads)
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// random, grid, sobol, halton, tpe[:options], cmaes
    #[arg(long, default_value = "tpe")]
    sampler: String,
    /// none, median, percentile:P, threshold, asha, hyperband
    #[arg(long, default_value = "none")]
    pruner: String,
    /// Seed of the sampler
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// What a trial is scored on (val_acc maximised, val_loss minimised)
    #[arg(long, value_enum, default_value = "val-acc")]
    metric: Metric,
    /// The trial's value: the last epoch's metric or the best epoch's
    #[arg(long = "final", value_enum, default_value = "last")]
    final_value: Final,
    /// Write the study's report into this folder when done
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    lease: LeaseArgs,
}

#[derive(clap::Args)]
struct WorkerArgs {
    #[command(flatten)]
    study: StudyArgs,
    /// Trials run at once in this process (threads)
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[command(flatten)]
    lease: LeaseArgs,
}

#[derive(clap::Args)]
struct BestArgs {
    #[command(flatten)]
    study: StudyArgs,
    /// Print {"value", "params", "number"} as JSON
    #[arg(long)]
    json: bool,
    /// Train the best settings on the whole training set (no validation split) and report
    /// the test accuracy
    #[arg(long)]
    retrain: bool,
}

#[derive(clap::Args)]
struct CopyArgs {
    #[arg(long)]
    study: String,
    /// The storage holding the study
    #[arg(long)]
    from: String,
    /// The storage to copy it into (the study must not exist there)
    #[arg(long)]
    to: String,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    study: StudyArgs,
    /// Folder to write into
    #[arg(long)]
    out: PathBuf,
    /// Curves of this many best trials
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Horizontal parameter of the scatter (default: the first float parameter)
    #[arg(long)]
    x: Option<String>,
    /// Vertical parameter of the scatter (default: the second float parameter)
    #[arg(long)]
    y: Option<String>,
    /// Parameter importance evaluator (Optuna's PED-ANOVA by default)
    #[arg(long, value_enum, default_value = "ped-anova")]
    importance: Importance,
}

/// The importance evaluators (`optimlab::tune::study::importance`).
#[derive(Clone, Copy, clap::ValueEnum)]
enum Importance {
    PedAnova,
    Fanova,
    Anova,
}

impl Importance {
    fn evaluator(self) -> Evaluator {
        let name = match self {
            Importance::PedAnova => "ped-anova",
            Importance::Fanova => "fanova",
            Importance::Anova => "anova",
        };
        Evaluator::from_name(name).expect("every value names an evaluator")
    }
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Run(a) => run_study(a),
        Command::Worker(a) => worker(a),
        Command::Status(a) => status(a),
        Command::Best(a) => best(a),
        Command::Export(a) | Command::Import(a) => copy(a),
        Command::Report(a) => {
            let storage = open_storage(&a.study.storage)?;
            let study = Study::open(storage, &a.study.study)?;
            report::write(
                &study,
                &a.out,
                a.top,
                a.x.as_deref(),
                a.y.as_deref(),
                &a.importance.evaluator(),
            )
        }
    }
}

/// Opens a storage by URL, with the URL in any error.
pub fn open_storage(url: &str) -> Result<Arc<dyn Storage>> {
    let storage =
        optimlab::tune::storage::open(url).map_err(|e| anyhow!("--storage {url}: {e}"))?;
    Ok(Arc::from(storage))
}

/// The study settings stored with it: the sampler, pruner, seed, budget and the objective.
pub fn study_settings(
    sampler: &str,
    pruner: &str,
    seed: u64,
    budget: u64,
    epochs: u64,
    spec: &ObjectiveSpec,
) -> Result<StudySettings> {
    let Value::Object(extra) = serde_json::to_value(spec)? else {
        unreachable!("a struct serialises to an object")
    };
    Ok(StudySettings {
        sampler: Some(sampler.into()),
        pruner: Some(pruner.into()),
        seed: Some(seed),
        budget: Some(budget),
        max_resource: Some(epochs),
        extra,
    })
}

fn run_study(a: RunArgs) -> Result<()> {
    if a.trials == 0 {
        bail!("--trials 0: give the number of trials of the study (at least 1)");
    }
    if a.workers == 0 {
        bail!("--workers 0: at least one worker");
    }
    // Everything is checked before the storage is touched.
    let text = std::fs::read_to_string(&a.space)
        .with_context(|| format!("cannot read --space {}", a.space.display()))?;
    let origin = a.space.display().to_string();
    let (space, train) = Space::from_toml_str(&text, &origin)?;
    if space.params.is_empty() {
        bail!("{origin}: [params] names no parameter to search");
    }
    optimlab::tune::sampler::parse(&a.sampler, a.seed).map_err(|e| anyhow!("--sampler: {e}"))?;
    let spec = ObjectiveSpec {
        train,
        metric: a.metric,
        final_value: a.final_value,
    };
    let epochs = spec.check(&space).with_context(|| origin.clone())?;
    optimlab::tune::pruner::parse(&a.pruner, epochs).map_err(|e| anyhow!("--pruner: {e}"))?;
    let settings = study_settings(&a.sampler, &a.pruner, a.seed, a.trials, epochs, &spec)?;
    let storage = open_storage(&a.study.storage)?;
    let study = Study::create_or_open(
        storage,
        &a.study.study,
        a.metric.direction(),
        &space,
        &settings,
    )?;
    let mut objective = Objective::new(spec, &space)?;
    objective.flush_denormals = true;
    work(&study, &objective, a.workers, &a.lease)?;
    if let Some(dir) = &a.report {
        report::write(&study, dir, 5, None, None, &Evaluator::default())?;
    }
    Ok(())
}

fn worker(a: WorkerArgs) -> Result<()> {
    if a.workers == 0 {
        bail!("--workers 0: at least one worker");
    }
    let storage = open_storage(&a.study.storage)?;
    let study = Study::open(storage, &a.study.study)?;
    let spec = stored_spec(&study)?;
    let mut objective = Objective::new(spec, &study.space)?;
    objective.flush_denormals = true;
    work(&study, &objective, a.workers, &a.lease)
}

/// The objective's settings as the study stored them.
pub fn stored_spec(study: &Study) -> Result<ObjectiveSpec> {
    let mut obj = serde_json::Map::new();
    for key in ["train", "metric", "final"] {
        let v = study.settings.extra.get(key).cloned().ok_or_else(|| {
            anyhow!(
                "study '{}' has no '{key}' setting: it was not created by `optimlab tune run`",
                study.name()
            )
        })?;
        obj.insert(key.into(), v);
    }
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| anyhow!("study '{}': stored settings: {e}", study.name()))
}

pub fn work(study: &Study, objective: &Objective, workers: usize, lease: &LeaseArgs) -> Result<()> {
    if !(lease.lease.is_finite() && lease.lease > 0.0) {
        bail!(
            "--lease {}: must be a positive number of seconds",
            lease.lease
        );
    }
    let beat = lease.heartbeat.unwrap_or(lease.lease / 6.0);
    if !(beat.is_finite() && beat > 0.0 && beat < lease.lease) {
        bail!("--heartbeat {beat}: must be positive and shorter than --lease");
    }
    let quiet = lease.quiet;
    let direction = study.direction();
    let on_trial: Arc<dyn Fn(&TrialOutcome) + Send + Sync> = Arc::new(move |o: &TrialOutcome| {
        if !quiet {
            eprintln!("{}", progress_line(o, direction));
        }
    });
    let options = WorkerOptions {
        lease: Duration::from_secs_f64(lease.lease),
        heartbeat: Duration::from_secs_f64(beat),
        max_retries: lease.max_retries,
        on_trial: Some(on_trial),
        ..WorkerOptions::default()
    };
    let prefix = study::default_worker_prefix();
    let started = std::time::Instant::now();
    let report = study::run_workers(study, workers, &prefix, &options, &|t| objective.run(t))?;
    if !quiet {
        let best = study.best_trial()?;
        eprintln!(
            "{} complete, {} pruned, {} failed here in {:.1} s; best: {}",
            report.complete,
            report.pruned,
            report.failed,
            started.elapsed().as_secs_f64(),
            best.map_or("none yet".to_string(), |t| format!(
                "{} (trial {})",
                fmt_value(t.value),
                t.number
            ))
        );
    }
    Ok(())
}

fn fmt_value(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

fn fmt_params(params: &std::collections::BTreeMap<String, optimlab::tune::ParamValue>) -> String {
    params
        .iter()
        .map(|(k, v)| match v {
            optimlab::tune::ParamValue::Float(x) => format!("{k}={x:.4e}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn progress_line(o: &TrialOutcome, _direction: optimlab::tune::Direction) -> String {
    let state = o.state.map_or("LOST", |s| s.name());
    let mut line = format!(
        "trial {:>4} {:<8} value {}  {}  best {}",
        o.number,
        state,
        fmt_value(o.value),
        fmt_params(&o.params),
        fmt_value(o.best)
    );
    if let Some(e) = &o.error {
        line.push_str(&format!("  ({e})"));
    }
    line
}

fn status(a: StudyArgs) -> Result<()> {
    let storage = open_storage(&a.storage)?;
    let study = Study::open(storage, &a.study)?;
    let trials = study.trials()?;
    let counts = study::count_states(&trials);
    println!(
        "study '{}' ({}, sampler {}, pruner {}): {} trials of {}",
        study.name(),
        match study.direction() {
            optimlab::tune::Direction::Maximize => "maximize",
            optimlab::tune::Direction::Minimize => "minimize",
        },
        study.sampler().name(),
        study.pruner().name(),
        trials.len(),
        study
            .budget()
            .map_or("no budget".to_string(), |b| b.to_string())
    );
    println!(
        "{}",
        counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match study::best_of(&trials, study.direction()) {
        Some(b) => println!(
            "best: trial {} value {}  {}",
            b.number,
            fmt_value(b.value),
            fmt_params(&external(b))
        ),
        None => println!("best: none yet"),
    }
    let now = optimlab::tune::storage::unix_now();
    for t in trials.iter().filter(|t| t.state == TrialState::Running) {
        let lease = t.system_attrs.get(optimlab::tune::storage::attrs::LEASE);
        let worker = lease
            .and_then(|l| l.get("worker"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        let expires = lease
            .and_then(|l| l.get("expires"))
            .and_then(Value::as_f64)
            .map_or("?".to_string(), |e| {
                if e >= now {
                    format!("lease expires in {:.0} s", e - now)
                } else {
                    format!("lease expired {:.0} s ago", now - e)
                }
            });
        println!(
            "running: trial {} on {worker}, {} epochs reported, {expires}",
            t.number,
            t.intermediate.len()
        );
    }
    Ok(())
}

fn external(t: &FrozenTrial) -> std::collections::BTreeMap<String, optimlab::tune::ParamValue> {
    t.params
        .iter()
        .map(|(k, (d, v))| (k.clone(), d.to_external(*v)))
        .collect()
}

fn best(a: BestArgs) -> Result<()> {
    let storage = open_storage(&a.study.storage)?;
    let study = Study::open(storage, &a.study.study)?;
    let Some(best) = study.best_trial()? else {
        bail!("study '{}' has no complete trial yet", study.name());
    };
    let params: serde_json::Map<String, Value> = external(&best)
        .into_iter()
        .map(|(k, v)| (k, v.to_json()))
        .collect();
    if a.json {
        println!(
            "{}",
            json!({"value": best.value, "params": params, "number": best.number})
        );
    } else {
        println!(
            "best: trial {} value {}  {}",
            best.number,
            fmt_value(best.value),
            fmt_params(&external(&best))
        );
    }
    if a.retrain {
        let spec = stored_spec(&study)?;
        let mut base = spec.base_settings()?;
        base.val_fraction = Some(0.0);
        let settings = objective::overlay(&base, &external(&best))?;
        let acc = objective::retrain(&settings)?;
        if a.json {
            eprintln!("retrained on the whole training set: test acc {acc:.4}");
        } else {
            println!("retrained on the whole training set: test acc {acc:.4}");
        }
    }
    Ok(())
}

fn copy(a: CopyArgs) -> Result<()> {
    let from = open_storage(&a.from)?;
    let to = open_storage(&a.to)?;
    let copied =
        optimlab::tune::storage::copy_study(&*from, &*to, &a.study).map_err(|e| match e {
            TuneError::NoStudy(_) => anyhow!("--from {}: no study named '{}'", a.from, a.study),
            TuneError::StudyExists(_) => anyhow!(
                "--to {}: a study named '{}' exists there already; nothing was copied",
                a.to,
                a.study
            ),
            e => e.into(),
        })?;
    eprintln!(
        "copied study '{}' ({} trials) from {} to {}",
        copied.study, copied.trials, a.from, a.to
    );
    Ok(())
}
