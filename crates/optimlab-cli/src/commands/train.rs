//! `optimlab train`: train a network, write a run folder, resume it.
//!
//! Settings come from flags, or a TOML file (`--config`) whose keys are the flags' names with
//! `_` for `-`; flags override the file. The run folder gets the fully resolved `config.toml`,
//! `history.jsonl`, `summary.json`, `model.safetensors` and the resumable checkpoint.

use super::settings::{Resolved, TrainSettings};
use anyhow::{Context, Result, bail};
use optimlab::tensor::{DType, Scalar};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:\n  \
    optimlab train\n  \
    optimlab train --data fashion-mnist --hidden 100,100,100,100 --optimizer adam --epochs 1\n  \
    optimlab train --preset book --optimizer sgd --lr 0.1 --epochs 30 --out runs/sgd\n  \
    optimlab train --resume runs/sgd --epochs 40"
)]
pub struct Args {
    #[command(flatten)]
    settings: TrainSettings,
    /// TOML file with any of the settings (keys as the flags, `_` for `-`); flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder (default runs/<data>-<optimizer>[-N])
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder up to the --epochs/--iters total given
    #[arg(long, conflicts_with_all = ["config", "out"])]
    resume: Option<PathBuf>,
    /// No progress output
    #[arg(long)]
    quiet: bool,
}

/// Exit code of a run stopped because the loss diverged.
pub const EXIT_DIVERGED: u8 = 3;

pub fn run(args: Args) -> Result<()> {
    let (resolved, out, resume) = match &args.resume {
        Some(dir) => {
            let mut settings = read_settings(&dir.join("config.toml"))?;
            // A resumed run keeps its settings; only the budget (and thread count) may change.
            let mut changed = args.settings.clone();
            changed.epochs = None;
            changed.iters = None;
            changed.threads = None;
            let changed = changed.set_keys();
            if !changed.is_empty() {
                bail!(
                    "--resume keeps the run's settings; only --epochs, --iters and --threads can be given (not {})",
                    changed
                        .iter()
                        .map(|k| format!("--{}", k.replace('_', "-")))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if args.settings.epochs.is_some() || args.settings.iters.is_some() {
                settings.epochs = args.settings.epochs;
                settings.iters = args.settings.iters;
            }
            settings.threads = args.settings.threads.or(settings.threads);
            (Resolved::new(settings)?, dir.clone(), true)
        }
        None => {
            let mut settings = match &args.config {
                Some(path) => read_settings(path)?,
                None => TrainSettings::default(),
            };
            settings.overlay(&args.settings);
            let resolved = Resolved::new(settings)?;
            let out = match &args.out {
                Some(o) => o.clone(),
                None => default_out(&resolved),
            };
            (resolved, out, false)
        }
    };
    match resolved.dtype {
        DType::F32 => super::run::train::<f32>(resolved, &out, resume, args.quiet),
        DType::F64 => super::run::train::<f64>(resolved, &out, resume, args.quiet),
    }
}

fn read_settings(path: &Path) -> Result<TrainSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        // toml's message spans lines (with a source excerpt); keep it to one.
        let msg = e.message().trim().to_string();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        anyhow::anyhow!("{}{at}: {msg}", path.display())
    })
}

fn default_out(resolved: &Resolved) -> PathBuf {
    let base = format!("{}-{}", resolved.data_name(), resolved.optimizer.name);
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut path = PathBuf::from("runs").join(&base);
    let mut k = 2;
    while path.exists() {
        path = PathBuf::from("runs").join(format!("{base}-{k}"));
        k += 1;
    }
    path
}

#[allow(dead_code)]
fn _assert_scalar<T: Scalar>() {}

pub fn ensure_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the run folder {}", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").with_context(|| format!("cannot write to {}", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    Ok(())
}
