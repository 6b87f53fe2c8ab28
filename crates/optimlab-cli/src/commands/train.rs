//! `optimlab train`: train a network, write a run folder, resume it.
//!
//! The flags are the library's [`RunConfig`] (a `--config` TOML file has the same keys, with
//! `_` for `-`); flags override the file. [`Run`] does the work; this module shows progress.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use optimlab::train::{EpochRecord, IterRecord, Run, RunConfig, RunInfo, RunObserver};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "SIGINT/SIGTERM (Ctrl-C) finish the current step, write a checkpoint and exit 130/143;\n\
continue with --resume.\n\n\
Examples:\n  \
    optimlab train\n  \
    optimlab train --data fashion-mnist --hidden 100,100,100,100 --optimizer adam --epochs 1\n  \
    optimlab train --preset book --optimizer sgd --lr 0.1 --epochs 30 --out runs/sgd\n  \
    optimlab train --optimizer sgd --momentum 0.9 --nesterov --weight-decay 5e-4 --no-decay-on-bias-and-norm\n  \
    optimlab train --resume runs/sgd --epochs 40\n  \
    optimlab train --resume runs/sgd --restart     # killed before its first checkpoint: start again"
)]
pub struct Args {
    #[command(flatten)]
    settings: RunConfig,
    /// TOML file with any of the settings (keys as the flags, `_` for `-`); flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder (default runs/<data>-<optimizer>[-N])
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder up to the --epochs/--iters total given
    #[arg(long, conflicts_with_all = ["config", "out"])]
    resume: Option<PathBuf>,
    /// With --resume: start the run in that folder again from its config.toml, for a run
    /// stopped before its first checkpoint
    #[arg(long, requires = "resume")]
    restart: bool,
    /// No progress output
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let run = match &args.resume {
        Some(dir) if args.restart => Run::restart(dir)?.with_changes(&args.settings)?,
        Some(dir) => Run::resume(dir)?.with_changes(&args.settings)?,
        None => {
            let mut settings = match &args.config {
                Some(path) => RunConfig::from_path(path)?,
                None => RunConfig::default(),
            };
            settings.overlay(&args.settings)?;
            let out = match &args.out {
                Some(o) => o.clone(),
                None => default_out(&settings)?,
            };
            Run::start(settings, out)?
        }
    };
    // Subnormal arithmetic would otherwise dominate Adam's update late in training.
    let run = run
        .flush_denormals(true)
        .stop_flag(crate::signals::stop_flag());
    let out = run.dir().to_path_buf();
    if !args.quiet {
        super::data::note_csv_header(&run.resolved().config.data_config());
    }
    let mut progress = Progress::new(args.quiet);
    let summary = run.train(&mut progress)?;
    progress.finish();
    println!(
        "final: train acc {:.4}, test acc {:.4} after {} epochs ({} iterations, {:.2} s) → {}",
        summary.final_train_acc.unwrap_or(f64::NAN),
        summary.final_test_acc.unwrap_or(f64::NAN),
        summary.epochs,
        summary.iters,
        summary.seconds,
        out.display()
    );
    Ok(())
}

/// `runs/<data>-<optimizer>`, with `-2`, `-3`, … when taken.
fn default_out(settings: &RunConfig) -> Result<PathBuf> {
    let resolved = settings.resolve()?;
    let base = format!("{}-{}", resolved.data_name(), resolved.optimizer_name());
    Ok(optimlab::train::run::free_run_folder(
        Path::new("runs"),
        &base,
    ))
}

/// A progress bar on a terminal; otherwise epoch lines and, every few seconds, a plain
/// progress line on stderr (logs of long runs show they are alive); nothing with `--quiet`.
struct Progress {
    quiet: bool,
    bar: Option<ProgressBar>,
    last_accuracies: String,
    plain: Option<crate::commands::PlainProgress>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            bar: None,
            last_accuracies: String::new(),
            plain: None,
        }
    }

    fn println(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl RunObserver for Progress {
    fn started(&mut self, info: &RunInfo) {
        if self.quiet {
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(info.total_iters as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} it  {msg}  [{elapsed} < {eta}]")
                    .expect("valid template"),
            );
            bar.set_position(info.start_iter as u64);
            self.bar = Some(bar);
        } else {
            self.plain = Some(crate::commands::PlainProgress::new(
                info.start_iter as u64,
                info.total_iters as u64,
            ));
        }
        self.println(info.description.clone());
    }

    fn iteration(&mut self, r: &IterRecord) {
        if let Some(p) = &mut self.plain {
            p.update(r.iter as u64 + 1, || format!("loss {:.4}", r.loss));
        }
        if let Some(b) = &self.bar
            && r.iter % 20 == 0
        {
            b.set_position(r.iter as u64 + 1);
            b.set_message(format!("loss {:.4}{}", r.loss, self.last_accuracies));
        }
    }

    fn epoch(&mut self, r: &EpochRecord) {
        if self.quiet {
            return;
        }
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        self.println(format!(
            "epoch {:>3}  iter {:>6}  loss {:.4}  train acc {}  val acc {}  test acc {}  ({:.1} s)",
            r.epoch,
            r.iter,
            r.train_loss,
            fmt(r.train_acc),
            fmt(r.val_acc),
            fmt(r.test_acc),
            r.seconds
        ));
        self.last_accuracies = [("val", r.val_acc), ("test", r.test_acc)]
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("  {k} acc {v:.4}")))
            .collect();
    }
}
