//! `optimlab experiment <name>`: runs one of the chapter's studies and writes a report folder
//! (`results.json`, PNG + SVG figures, `index.html`), or `all` of them with an index page.
//!
//! Settings come from the book's defaults, then `--config FILE` (TOML with the study's
//! settings), then flags. Everything is checked before anything is written; the report is
//! built in a staging folder and moved into place only when complete.

mod batch_norm;
mod init_activations;
mod init_compare;
mod optimizers;
mod overfit;
mod render;
mod trajectories;

pub use render::*;

use crate::report::{self, IndexEntry, Staging, Table};
use anyhow::{Context, Result, anyhow, bail};
use optimlab::Preset;
use optimlab::data::{DataConfig, Splits};
use optimlab::experiments::Progress;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(after_help = "Example:\n  optimlab experiment optimizers --iters 500 --seeds 3")]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
#[command(allow_external_subcommands = true)]
enum Which {
    /// Optimizer paths over the contour lines of f = x²/20 + y² (one panel per optimizer)
    #[command(
        after_help = "Example:\n  optimlab experiment trajectories --optimizers sgd:0.95,adam:0.3 --steps 30"
    )]
    Trajectories(Single<trajectories::Flags>),
    /// Training loss of SGD, Momentum, AdaGrad, Adam… on the same network and batches
    #[command(
        after_help = "Example:\n  optimlab experiment optimizers --iters 500 --optimizers sgd,momentum,adagrad,adam --seeds 3"
    )]
    Optimizers(Single<optimizers::Flags>),
    /// Histograms of hidden-layer activations per weight scale and activation function
    #[command(
        after_help = "Example:\n  optimlab experiment init-activations --inits 1,0.01,xavier,he"
    )]
    InitActivations(Single<init_activations::Flags>),
    /// Training loss with weights at std 0.01, Xavier and He
    #[command(after_help = "Example:\n  optimlab experiment init-compare --iters 500")]
    InitCompare(Single<init_compare::Flags>),
    /// Training accuracy with and without batch normalization, per weight scale (4 × 4 grid)
    #[command(after_help = "Example:\n  optimlab experiment batch-norm --epochs 10")]
    BatchNorm(Single<batch_norm::Flags>),
    /// Train and test accuracy of an overfitting network without and with weight decay
    #[command(after_help = "Example:\n  optimlab experiment weight-decay --weight-decay 0,0.1")]
    WeightDecay(Single<overfit::WeightDecayFlags>),
    /// Train and test accuracy of an overfitting network with several dropout ratios
    #[command(after_help = "Example:\n  optimlab experiment dropout --dropout 0,0.15,0.2")]
    Dropout(Single<overfit::DropoutFlags>),
    /// The book's hyperparameter search: random search of learning rate and weight decay on a
    /// validation split, the best 20 printed as the book does (`optimlab tune` for more)
    #[command(after_help = "Example:\n  optimlab experiment search --trials 20 --epochs 10")]
    Search(crate::commands::experiment_search::Args),
    /// Every experiment, with one index page linking the reports
    #[command(after_help = "Example:\n  optimlab experiment all --out experiments")]
    All(Common),
    #[command(external_subcommand)]
    Unknown(Vec<String>),
}

/// The experiment names, in the order `all` runs them.
pub const NAMES: &[&str] = &[
    "trajectories",
    "optimizers",
    "init-activations",
    "init-compare",
    "batch-norm",
    "weight-decay",
    "dropout",
];

/// Flags every experiment takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Common {
    /// book (the book's formulas, f64; default) or torch (PyTorch's, f32)
    #[arg(long)]
    pub preset: Option<Preset>,
    /// Seed of the first run (default 0)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Repeat over this many seeds; plots show the mean with a min–max band
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Report folder (default experiments/<name>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// TOML file with the experiment's settings (for `all`: one [table] per experiment)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// fashion-mnist (default when installed), digits, mnist, or a folder of MNIST-format files
    #[arg(long)]
    pub data: Option<String>,
    /// Train on the first N training samples only
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Test on the first N test samples only
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// No progress bar and no key-number table on the terminal
    #[arg(long)]
    pub quiet: bool,
}

/// One experiment's flags: the common ones and its own.
#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Single<F: clap::Args> {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    flags: F,
}

/// What every run needs besides its settings: the data (loaded once, on first use).
pub struct Ctx<'a> {
    common: &'a Common,
    data: std::sync::OnceLock<Splits>,
    bar: Option<indicatif::ProgressBar>,
    /// Plain progress lines when stderr is not a terminal (and not `--quiet`).
    plain: bool,
}

impl Ctx<'_> {
    /// The training and test data named by `--data` (default: Fashion-MNIST when installed).
    pub fn data(&self) -> Result<&Splits> {
        if let Some(d) = self.data.get() {
            return Ok(d);
        }
        let name = self.data_name();
        let splits = DataConfig {
            data: name.clone(),
            label_column: None,
            val_fraction: 0.0,
            train_limit: self.common.train_limit,
            test_limit: self.common.test_limit,
            cache: None,
            header: Default::default(),
            classes: None,
        }
        .prepare()
        .with_context(|| format!("--data {name}"))?;
        Ok(self.data.get_or_init(|| splits))
    }

    fn data_name(&self) -> String {
        match &self.common.data {
            Some(d) => d.clone(),
            None if Path::new(optimlab::data::source::SYSTEM_FASHION_MNIST).is_dir() => {
                "fashion-mnist".into()
            }
            None => "digits".into(),
        }
    }

    /// A progress callback for the library that moves the bar (if any).
    pub fn progress(&self, label: &str) -> impl Fn(Progress) + Sync + use<> {
        let bar = self.bar.clone();
        if let Some(bar) = &bar {
            bar.set_position(0);
            bar.set_message(label.to_string());
        }
        let plain = self
            .plain
            .then(|| std::sync::Mutex::new(crate::commands::PlainProgress::new(0, 1)));
        let label = label.to_string();
        move |p: Progress| {
            if let Some(bar) = &bar {
                bar.set_length(p.total);
                bar.set_position(p.done);
            }
            if let Some(plain) = &plain {
                let mut plain = plain.lock().unwrap_or_else(|e| e.into_inner());
                plain.set_total(p.total);
                plain.update(p.done, || label.clone());
            }
        }
    }
}

/// What an experiment left in its folder, for the terminal and the index page.
pub struct Done {
    pub title: String,
    pub summary: String,
    pub key_numbers: Table,
    pub thumbnail: Option<String>,
}

/// A checked experiment, ready to run into a folder.
pub trait Experiment {
    fn name(&self) -> &'static str;
    /// Checks that the data it needs is there (before anything is written).
    fn needs_data(&self) -> bool;
    fn execute(&self, ctx: &Ctx<'_>, dir: &Path) -> Result<Done>;
}

/// How an experiment checks its settings: defaults, then the `--config` table, then its flags.
type Prepare<F> = fn(&Common, &F, Option<toml::Table>) -> Result<Box<dyn Experiment>>;

/// An experiment's `Prepare` with its default flags, as `all` runs it.
type PrepareDefault = fn(&Common, Option<toml::Table>) -> Result<Box<dyn Experiment>>;

impl<F: clap::Args> Single<F> {
    /// Prepares the experiment from this command line and runs it into its report folder.
    fn run(&self, prepare: Prepare<F>) -> Result<()> {
        single(
            &self.common,
            prepare(&self.common, &self.flags, file_table(&self.common)?)?,
        )
    }
}

impl Args {
    /// `experiment all`, which a signal stops between experiments.
    pub fn runs_all(&self) -> bool {
        matches!(self.which, Which::All(_))
    }
}

pub fn run(args: Args) -> Result<()> {
    match args.which {
        Which::Unknown(words) => bail!(
            "unknown experiment '{}' (expected {} or all)",
            words.first().map(String::as_str).unwrap_or(""),
            NAMES.join(", ")
        ),
        Which::Search(a) => crate::commands::experiment_search::run(a),
        Which::Trajectories(a) => a.run(trajectories::prepare),
        Which::Optimizers(a) => a.run(optimizers::prepare),
        Which::InitActivations(a) => a.run(init_activations::prepare),
        Which::InitCompare(a) => a.run(init_compare::prepare),
        Which::BatchNorm(a) => a.run(batch_norm::prepare),
        Which::WeightDecay(a) => a.run(overfit::prepare_weight_decay),
        Which::Dropout(a) => a.run(overfit::prepare_dropout),
        Which::All(common) => all(&common),
    }
}

/// The `--config` file as a TOML table (None without the flag).
fn file_table(common: &Common) -> Result<Option<toml::Table>> {
    let Some(path) = &common.config else {
        return Ok(None);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--config {}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        anyhow!("--config {}: {}", path.display(), one_line(&e.to_string()))
    })?;
    Ok(Some(table))
}

/// The settings of `name`: defaults, overlaid with `table` (from `--config`).
pub fn settings_from<C: serde::de::DeserializeOwned + Default>(
    table: Option<toml::Table>,
    common: &Common,
) -> Result<C> {
    match table {
        None => Ok(C::default()),
        Some(t) => toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| {
                let file = common
                    .config
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
                    .to_string();
                anyhow!("--config {file}: {}", one_line(&e.to_string()))
            }),
    }
}

/// Joins a multi-line message (TOML errors quote the line) into one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn new_ctx(common: &Common) -> Ctx<'_> {
    let bar = (!common.quiet).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(1),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>16} [{bar:40}] {percent:>3}% {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    Ctx {
        common,
        data: std::sync::OnceLock::new(),
        bar,
        plain: !common.quiet && !std::io::IsTerminal::is_terminal(&std::io::stderr()),
    }
}

fn default_out(name: &str) -> PathBuf {
    Path::new("experiments").join(name)
}

fn note_data(ctx: &Ctx<'_>) {
    if ctx.common.data.is_none() && ctx.data_name() == "digits" && !ctx.common.quiet {
        eprintln!(
            "note: Fashion-MNIST is not installed ({}); using the embedded 8x8 digits (apt-get install dataset-fashion-mnist, or --data)",
            optimlab::data::source::SYSTEM_FASHION_MNIST
        );
    }
}

/// Loads the data the experiments need (before anything is written) and opens the staging
/// folder of the report at `--out` (default `experiments/<default_name>`).
fn start<'a>(
    common: &'a Common,
    exps: &[Box<dyn Experiment>],
    default_name: &str,
) -> Result<(Ctx<'a>, PathBuf, Staging)> {
    let ctx = new_ctx(common);
    if exps.iter().any(|e| e.needs_data()) {
        note_data(&ctx);
        ctx.data()?;
    }
    let out = common
        .out
        .clone()
        .unwrap_or_else(|| default_out(default_name));
    let staging = Staging::new(&out).with_context(|| format!("--out {}", out.display()))?;
    Ok((ctx, out, staging))
}

/// Clears the progress bar and moves the complete report into place.
fn commit(ctx: &Ctx<'_>, staging: Staging, out: &Path) -> Result<()> {
    if let Some(bar) = &ctx.bar {
        bar.finish_and_clear();
    }
    staging
        .commit()
        .with_context(|| format!("--out {}", out.display()))
}

fn single(common: &Common, exp: Box<dyn Experiment>) -> Result<()> {
    let (ctx, out, staging) = start(common, std::slice::from_ref(&exp), exp.name())?;
    let done = exp.execute(&ctx, staging.path())?;
    commit(&ctx, staging, &out)?;
    if !common.quiet {
        println!("{}", done.title);
        print!("{}", done.key_numbers.to_text());
        println!("report: {}", out.join("index.html").display());
    }
    Ok(())
}

fn all(common: &Common) -> Result<()> {
    let mut file = file_table(common)?;
    let mut section = |name: &str| -> Result<Option<toml::Table>> {
        let Some(t) = file.as_mut() else {
            return Ok(None);
        };
        match t.remove(name) {
            None => Ok(None),
            Some(toml::Value::Table(s)) => Ok(Some(s)),
            Some(_) => bail!("--config: [{name}] must be a table of that experiment's settings"),
        }
    };
    // `all` runs each experiment with its default flags; in the order of NAMES.
    let prepares: [PrepareDefault; 7] = [
        |c, t| trajectories::prepare(c, &Default::default(), t),
        |c, t| optimizers::prepare(c, &Default::default(), t),
        |c, t| init_activations::prepare(c, &Default::default(), t),
        |c, t| init_compare::prepare(c, &Default::default(), t),
        |c, t| batch_norm::prepare(c, &Default::default(), t),
        |c, t| overfit::prepare_weight_decay(c, &Default::default(), t),
        |c, t| overfit::prepare_dropout(c, &Default::default(), t),
    ];
    let exps = NAMES
        .iter()
        .zip(prepares)
        .map(|(name, prepare)| prepare(common, section(name)?))
        .collect::<Result<Vec<_>>>()?;
    if let Some(rest) = file.as_ref().and_then(|t| t.keys().next()) {
        bail!(
            "--config: unknown experiment table [{rest}] (expected {})",
            NAMES.join(", ")
        );
    }
    let (ctx, out, staging) = start(common, &exps, "all")?;
    let mut entries = Vec::new();
    let mut done_all = Vec::new();
    for e in &exps {
        // SIGINT/SIGTERM: the experiment under way finishes, the next ones do not start.
        if crate::signals::stop_requested() {
            break;
        }
        let dir = staging.path().join(e.name());
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let done = e.execute(&ctx, &dir)?;
        entries.push(IndexEntry {
            title: done.title.clone(),
            href: format!("{}/index.html", e.name()),
            summary: done.summary.clone(),
            thumbnail: done.thumbnail.as_ref().map(|t| format!("{}/{t}", e.name())),
        });
        done_all.push(done);
    }
    let finished = done_all.len();
    if finished == 0 {
        // Interrupted before the first experiment ended: the staging folder goes with `staging`.
        if let Some(bar) = &ctx.bar {
            bar.finish_and_clear();
        }
        return Err(crate::signals::Interrupted(
            "interrupted before the first experiment finished: nothing written".into(),
        )
        .into());
    }
    let mut intro: String = if finished < exps.len() {
        format!(
            "Interrupted after {finished} of {} experiments; the others were not run.",
            exps.len()
        )
    } else {
        "The chapter's experiments on training: optimizers, weight initialisation and more. Each report shows its figures, the settings it ran with and its key numbers.".into()
    };
    // The interactive page goes with the reports, so the index can link it.
    match crate::commands::playground::page() {
        Ok(page) => {
            let dir = staging.path().join("playground");
            std::fs::create_dir(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(dir.join("index.html"), page)
                .with_context(|| format!("cannot write {}", dir.display()))?;
            entries.push(IndexEntry {
                title: "Playground: the chapter, interactive".into(),
                href: "playground/index.html".into(),
                summary: "Race optimizers on 2-D functions, train networks live on the digits or 2-D sets, watch the initialisation's activations: the library in the browser, offline".into(),
                thumbnail: None,
            });
        }
        Err(e) => intro.push_str(&format!(" (No interactive playground: {e}.)")),
    }
    report::write_index(staging.path(), "optimlab experiments", &intro, &entries)?;
    commit(&ctx, staging, &out)?;
    if !common.quiet {
        for d in &done_all {
            println!("{}", d.title);
            println!("{}", d.key_numbers.to_text());
        }
        println!("index: {}", out.join("index.html").display());
    }
    if finished < exps.len() {
        let names =
            |es: &[Box<dyn Experiment>]| es.iter().map(|e| e.name()).collect::<Vec<_>>().join(", ");
        return Err(crate::signals::Interrupted(format!(
            "interrupted after {finished} of {} experiments: wrote {} (reports of {}); not run: {}",
            exps.len(),
            out.display(),
            names(&exps[..finished]),
            names(&exps[finished..])
        ))
        .into());
    }
    Ok(())
}

/// Sets the optimizer from `--optimizer`, then its learning rate from `--lr` (which wins over
/// a rate given as `name:lr`).
pub fn overlay_optimizer(
    setting: &mut optimlab::experiments::OptimizerChoice,
    optimizer: &Option<optimlab::experiments::OptimizerChoice>,
    lr: Option<f64>,
) {
    overlay(setting, optimizer);
    if let Some(v) = lr {
        setting.lr = Some(v);
    }
}

/// Replaces a setting with its flag's value when the flag was given.
pub fn overlay<T: Clone>(setting: &mut T, flag: &Option<T>) {
    if let Some(v) = flag {
        *setting = v.clone();
    }
}

/// Sets the preset, seed and seed count of `config` from the common flags.
macro_rules! apply_common {
    ($c:expr, $common:expr) => {
        if let Some(p) = $common.preset {
            $c.preset = p;
        }
        if let Some(s) = $common.seed {
            $c.seed = s;
        }
        if let Some(s) = $common.seeds {
            $c.seeds = s;
        }
    };
}
pub(crate) use apply_common;
