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
use std::path::{Path, PathBuf};
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
    /// the test accuracy; the model is saved as a training run
    #[arg(long)]
    retrain: bool,
    /// Run folder of the retrained model (default runs/tune-STUDY-trialN, -2, … when taken)
    #[arg(long, requires = "retrain")]
    out: Option<PathBuf>,
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

impl Args {
    /// `run` and `worker` stop gracefully on SIGINT/SIGTERM (the trial is given back).
    pub fn runs_trials(&self) -> bool {
        matches!(self.command, Command::Run(_) | Command::Worker(_))
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
            let storage = open_existing("--storage", &a.study.storage)?;
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

/// Opens a storage that must exist (read-only commands create no file).
pub fn open_existing(flag: &str, url: &str) -> Result<Arc<dyn Storage>> {
    let storage =
        optimlab::tune::storage::open_existing(url).map_err(|e| anyhow!("{flag} {url}: {e}"))?;
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
    work(&study, &objective, a.workers, &a.lease, &a.study.storage)?;
    if let Some(dir) = &a.report {
        report::write(&study, dir, 5, None, None, &Evaluator::default())?;
    }
    Ok(())
}

fn worker(a: WorkerArgs) -> Result<()> {
    if a.workers == 0 {
        bail!("--workers 0: at least one worker");
    }
    // A worker joins a study that exists: a mistyped path creates no file.
    let storage = open_existing("--storage", &a.study.storage)?;
    let study = Study::open(storage, &a.study.study)?;
    let spec = stored_spec(&study)?;
    let mut objective = Objective::new(spec, &study.space)?;
    objective.flush_denormals = true;
    work(&study, &objective, a.workers, &a.lease, &a.study.storage)
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

/// `tune run`/`tune worker` stopped by SIGINT/SIGTERM: the running trials were failed and
/// re-queued and their leases released; `main` prints this with the resume command and
/// exits 128 + the signal.
#[derive(Debug)]
pub struct Interrupted {
    pub study: String,
    pub storage: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted: the trial running here (if any) failed, was re-queued and its lease released; continue with: optimlab tune worker --study {} --storage {}",
            self.study, self.storage
        )
    }
}

impl std::error::Error for Interrupted {}

/// Prints what a worker with nothing left to claim waits for: when it changes, else every
/// 10 seconds (the threads of one process share the printer).
fn wait_printer(quiet: bool) -> study::WaitCallback {
    let last: std::sync::Mutex<Option<(std::time::Instant, u64, u64)>> = Default::default();
    Arc::new(move |w: &study::Waiting| {
        if quiet {
            return;
        }
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let same = last.is_some_and(|(t, r, q)| {
            r == w.running && q == w.waiting && t.elapsed() < Duration::from_secs(10)
        });
        if same {
            return;
        }
        *last = Some((std::time::Instant::now(), w.running, w.waiting));
        let mut line = format!(
            "budget claimed; waiting for {} trial{} running elsewhere",
            w.running,
            if w.running == 1 { "" } else { "s" }
        );
        if w.waiting > 0 {
            line.push_str(&format!(", {} waiting", w.waiting));
        }
        match w.next_expiry {
            Some(s) if s >= 0.0 => line.push_str(&format!("; next lease expiry in {s:.1} s")),
            Some(s) => line.push_str(&format!("; a lease expired {:.1} s ago: reaping it", -s)),
            None => {}
        }
        if w.unleased > 0 {
            line.push_str(&format!(
                " ({} without a lease, run by another tool)",
                w.unleased
            ));
        }
        eprintln!("{line}");
    })
}

pub fn work(
    study: &Study,
    objective: &Objective,
    workers: usize,
    lease: &LeaseArgs,
    storage_url: &str,
) -> Result<()> {
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
    let on_wait = wait_printer(quiet);
    let stop = crate::signals::stop_flag();
    let options = WorkerOptions {
        lease: Duration::from_secs_f64(lease.lease),
        heartbeat: Duration::from_secs_f64(beat),
        max_retries: lease.max_retries,
        on_trial: Some(on_trial),
        on_wait: Some(on_wait),
        stop: Some(stop.clone()),
        ..WorkerOptions::default()
    };
    let prefix = study::default_worker_prefix();
    let started = std::time::Instant::now();
    let report = study::run_workers(study, workers, &prefix, &options, &|t| objective.run(t))?;
    if stop.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Interrupted {
            study: study.name().to_string(),
            storage: storage_url.to_string(),
        }
        .into());
    }
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
    let storage = open_existing("--storage", &a.storage)?;
    let study = Study::open(storage, &a.study)?;
    let trials = study.trials()?;
    let counts = study::count_states(&trials);
    // Failed trials that were re-queued do not count toward the budget (their retry does).
    let requeued = study::requeued_count(&trials);
    let counted = trials.len() as u64 - requeued;
    let retried = if requeued > 0 {
        format!(" (+{requeued} failed and re-queued)")
    } else {
        String::new()
    };
    println!(
        "study '{}' ({}, sampler {}, pruner {}): {} trials of {}{retried}",
        study.name(),
        match study.direction() {
            optimlab::tune::Direction::Maximize => "maximize",
            optimlab::tune::Direction::Minimize => "minimize",
        },
        study.sampler().name(),
        study.pruner().name(),
        counted,
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
    let storage = open_existing("--storage", &a.study.storage)?;
    let study = Study::open(storage, &a.study.study)?;
    let Some(best) = study.best_trial()? else {
        bail!("study '{}' has no complete trial yet", study.name());
    };
    let params: serde_json::Map<String, Value> = external(&best)
        .into_iter()
        .map(|(k, v)| (k, v.to_json()))
        .collect();
    let mut answer = json!({"value": best.value, "params": params, "number": best.number});
    if !a.json {
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
        let dir = match &a.out {
            Some(d) => d.clone(),
            None => optimlab::train::run::free_run_folder(
                Path::new("runs"),
                &format!("tune-{}-trial{}", study.name(), best.number),
            ),
        };
        let acc = objective::retrain_into(&settings, &dir)?;
        answer["retrain"] = json!({"test_acc": acc, "model_dir": dir.display().to_string()});
        if !a.json {
            println!(
                "retrained on the whole training set: test acc {acc:.4}; model saved in {}",
                dir.display()
            );
        }
    }
    if a.json {
        println!("{answer}");
    }
    Ok(())
}

fn copy(a: CopyArgs) -> Result<()> {
    let from = open_existing("--from", &a.from)?;
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
