//! A training *run*: settings → data → network → [`Trainer`] → a run folder on disk.
//!
//! A run folder holds `config.toml` (the [`RunConfig`], with a `[resolved]` table),
//! `history.jsonl` (one line per iteration and per epoch), `summary.json`, the resumable
//! `checkpoint.safetensors` and, when training finished, `model.safetensors` (see
//! `docs/formats.md`). [`Run::resume`] continues a run bit-identically from its checkpoint.
//!
//! ```no_run
//! use optimlab::train::{Run, RunConfig, NoObserver};
//!
//! let config = RunConfig { epochs: Some(2), ..RunConfig::default() };
//! let summary = Run::start(config, "runs/example")?.train(&mut NoObserver)?;
//! println!("test accuracy {:?}", summary.final_test_acc);
//! // Later: two more epochs, bit-identical to a 4-epoch run.
//! Run::resume("runs/example")?.epochs(4)?.train(&mut NoObserver)?;
//! # Ok::<(), optimlab::train::RunError>(())
//! ```

mod config;
mod folder;
mod resolve;

pub use config::RunConfig;
pub use folder::{
    CHECKPOINT_FILE, CONFIG_FILE, FolderLock, HISTORY_FILE, LOCK_FILE, MODEL_FILE, SUMMARY_FILE,
    free_run_folder,
};
pub use resolve::ResolvedRun;

use crate::data::DataError;
use crate::nn::NnError;
use crate::optim::{OptimError, ScheduleError};
use crate::tensor::{DType, Scalar};
use crate::train::checkpoint::CheckpointError;
use crate::train::{EpochRecord, IterRecord, Progress, TrainData, TrainError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a run could not start, go on or finish. Every message names the file or setting.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting is invalid, or the folder does not suit the request.
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The loss became NaN or infinite. The summary is written (status `diverged`) and the
    /// last good checkpoint, if any, is intact.
    #[error("{message}")]
    Diverged {
        message: String,
        /// The run folder.
        dir: PathBuf,
        /// Whether a checkpoint from before the divergence is in the folder.
        checkpoint_intact: bool,
        summary: Box<RunSummary>,
    },
    /// The stop flag ([`Run::stop_flag`]) was raised: the current step finished and a
    /// checkpoint was written, so the run can be resumed.
    #[error("stopped at iteration {iter}; a checkpoint is in {}", dir.display())]
    Interrupted { dir: PathBuf, iter: usize },
}

impl RunError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RunError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        }
    }

    pub(crate) fn io_with(context: String, source: std::io::Error) -> Self {
        RunError::Io { context, source }
    }
}

/// `summary.json`: how a run ended and its final numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `completed`, `early_stopped` or `diverged`.
    pub status: String,
    pub data: String,
    pub dtype: String,
    pub preset: String,
    pub optimizer: String,
    pub epochs: usize,
    pub iters: usize,
    pub train_samples: usize,
    pub val_samples: Option<usize>,
    pub test_samples: usize,
    pub final_train_loss: Option<f64>,
    pub final_train_acc: Option<f64>,
    pub final_val_acc: Option<f64>,
    pub final_test_acc: Option<f64>,
    pub best_val_acc: Option<f64>,
    pub seconds: f64,
    pub ms_per_iter: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a run tells its caller as it goes (progress bars, logs). Every method has a no-op
/// default; [`NoObserver`] ignores everything.
pub trait RunObserver {
    /// Training is about to start: what it trains on, with what.
    fn started(&mut self, _info: &RunInfo) {}
    /// After every iteration (called in the hot loop: keep it cheap).
    fn iteration(&mut self, _record: &IterRecord) {}
    /// After every epoch's evaluation.
    fn epoch(&mut self, _record: &EpochRecord) {}
}

/// Observes nothing.
pub struct NoObserver;
impl RunObserver for NoObserver {}

/// What [`RunObserver::started`] reports.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// One line: data sizes, network, optimizer, preset, element type and folder.
    pub description: String,
    /// The iteration training starts from (non-zero on resume) and the total it goes to.
    pub start_iter: usize,
    pub total_iters: usize,
}

/// A run about to train: made by [`Run::start`] or [`Run::resume`], consumed by
/// [`Run::train`].
pub struct Run {
    resolved: ResolvedRun,
    dir: PathBuf,
    resume: bool,
    flush_denormals: bool,
    stop: Option<Arc<AtomicBool>>,
}

impl Run {
    /// A new run of `config` in the folder `dir`, which must be absent or empty. Every
    /// setting is checked now; the folder is created only when training starts.
    pub fn start(config: RunConfig, dir: impl AsRef<Path>) -> Result<Run, RunError> {
        let dir = dir.as_ref().to_path_buf();
        let resolved = config.resolve()?;
        if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            return Err(RunError::Config(format!(
                "{} already holds files; choose another --out, or continue that run with --resume",
                dir.display()
            )));
        }
        Ok(Run {
            flush_denormals: resolved.train.flush_denormals,
            resolved,
            dir,
            resume: false,
            stop: None,
        })
    }

    /// The run in `dir` started again from scratch with its `config.toml`: for a run stopped
    /// before its first checkpoint was written, which [`Run::resume`] cannot continue. A
    /// folder with a checkpoint is refused (resume it instead).
    pub fn restart(dir: impl AsRef<Path>) -> Result<Run, RunError> {
        let dir = dir.as_ref().to_path_buf();
        if dir.join(CHECKPOINT_FILE).is_file() {
            return Err(RunError::Config(format!(
                "{} has a checkpoint: continue it with --resume (without --restart)",
                dir.display()
            )));
        }
        let config = RunConfig::from_path(&dir.join(CONFIG_FILE))?;
        let resolved = config.resolve()?;
        Ok(Run {
            flush_denormals: resolved.train.flush_denormals,
            resolved,
            dir,
            resume: false,
            stop: None,
        })
    }

    /// The run in `dir`, to be continued from its checkpoint with the settings in its
    /// `config.toml`; only the budget ([`Run::epochs`], [`Run::iters`]) and the thread count
    /// may change.
    pub fn resume(dir: impl AsRef<Path>) -> Result<Run, RunError> {
        let dir = dir.as_ref().to_path_buf();
        let config = RunConfig::from_path(&dir.join(CONFIG_FILE))?;
        let resolved = config.resolve()?;
        if !dir.join(CHECKPOINT_FILE).is_file() {
            return Err(RunError::Config(format!(
                "{} has no checkpoint (the run stopped before its first one); start it again with --resume {} --restart",
                dir.display(),
                dir.display()
            )));
        }
        Ok(Run {
            flush_denormals: resolved.train.flush_denormals,
            resolved,
            dir,
            resume: true,
            stop: None,
        })
    }

    /// Changes the settings a resumed run may change: `epochs`/`iters` (the new total) and
    /// `threads`; any other set key is refused.
    pub fn with_changes(mut self, changes: &RunConfig) -> Result<Run, RunError> {
        let mut other = changes.clone();
        other.epochs = None;
        other.iters = None;
        other.threads = None;
        let other = other.set_keys()?;
        if !other.is_empty() {
            return Err(RunError::Config(format!(
                "--resume keeps the run's settings; only --epochs, --iters and --threads can be given (not {})",
                other
                    .iter()
                    .map(|k| format!("--{}", k.replace('_', "-")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut config = self.resolved.config.clone();
        if changes.epochs.is_some() || changes.iters.is_some() {
            config.epochs = changes.epochs;
            config.iters = changes.iters;
        }
        config.threads = changes.threads.or(config.threads);
        self.resolved = config.resolve()?;
        Ok(self)
    }

    /// Train to `epochs` epochs in all (on resume: the new total).
    pub fn epochs(self, epochs: usize) -> Result<Run, RunError> {
        self.with_changes(&RunConfig {
            epochs: Some(epochs),
            ..RunConfig::default()
        })
    }

    /// Flush subnormal floats to zero during training steps (faster on x86; the CLI turns it
    /// on). Off unless the run's trainer config says otherwise.
    pub fn flush_denormals(mut self, on: bool) -> Run {
        self.flush_denormals = on;
        self
    }

    /// A flag checked after every training step (a signal handler sets it): when raised, the
    /// run finishes the step, writes a checkpoint and returns [`RunError::Interrupted`].
    pub fn stop_flag(mut self, flag: Arc<AtomicBool>) -> Run {
        self.stop = Some(flag);
        self
    }

    /// The resolved settings.
    pub fn resolved(&self) -> &ResolvedRun {
        &self.resolved
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Trains to the budget, writing the run folder as it goes; returns the summary. A loss
    /// that diverges is [`RunError::Diverged`] (with the summary, written too).
    pub fn train(self, observer: &mut dyn RunObserver) -> Result<RunSummary, RunError> {
        match self.resolved.dtype {
            DType::F32 => self.train_typed::<f32>(observer),
            DType::F64 => self.train_typed::<f64>(observer),
        }
    }

    fn train_typed<T: Scalar>(
        mut self,
        observer: &mut dyn RunObserver,
    ) -> Result<RunSummary, RunError> {
        let out = self.dir.clone();
        let splits = self.resolved.config.data_config().prepare()?;
        self.resolved.train.flush_denormals = self.flush_denormals;
        let mut trainer = self.resolved.trainer::<T>(&splits.train)?;
        let resolved = &self.resolved;
        folder::prepare(resolved, &out, self.resume, &mut trainer)?;
        // Everything is checked: only now is the run folder created.
        folder::ensure_writable(&out)?;
        // One process per folder; then what a killed writer left behind can go.
        let _lock = FolderLock::acquire(&out)?;
        folder::remove_stale_temps(&out);
        if trainer.early_stopped() {
            return Err(RunError::Config(format!(
                "nothing to do: {} was stopped early at epoch {} (no validation improvement)",
                out.display(),
                trainer.epoch()
            )));
        }
        if trainer.iter() >= trainer.total_iters() {
            return Err(RunError::Config(format!(
                "nothing to do: {} already completed {} of the {} iterations asked for (raise --epochs or --iters)",
                out.display(),
                trainer.iter(),
                trainer.total_iters()
            )));
        }
        if !self.resume {
            folder::write_atomic(&out.join(CONFIG_FILE), resolved.to_toml()?.as_bytes())?;
            // A restarted run (`Run::restart`) begins its history anew.
            match std::fs::remove_file(out.join(HISTORY_FILE)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RunError::io_with(
                        format!("cannot remove {}", out.join(HISTORY_FILE).display()),
                        e,
                    ));
                }
                _ => {}
            }
        }
        let mut history = folder::History::open(&out, self.resume, trainer.iter())?;
        observer.started(&RunInfo {
            description: format!(
                "{}: {} train / {} val / {} test; {}; {} ({} preset, {}) → {}",
                resolved.data_name(),
                splits.train.len(),
                splits.val.as_ref().map_or(0, |v| v.len()),
                splits.test.len(),
                trainer.net.describe(),
                resolved.optimizer.name,
                resolved.preset.name(),
                T::NAME,
                out.display()
            ),
            start_iter: trainer.iter(),
            total_iters: trainer.total_iters(),
        });
        let data = TrainData {
            train: &splits.train,
            val: splits.val.as_ref(),
            test: Some(&splits.test),
        };
        let started = crate::clock::Stopwatch::start();
        let iters_at_start = trainer.iter();
        let mut last: Option<EpochRecord> = None;
        let mut best_val: Option<f64> = None;
        let mut status = "completed";
        let mut error = None;
        let never = AtomicBool::new(false);
        let stop: &AtomicBool = self.stop.as_deref().unwrap_or(&never);
        loop {
            let result = trainer.run_epoch_until(
                &data,
                |r| {
                    history.iteration(r);
                    observer.iteration(r);
                },
                stop,
            );
            history.check()?;
            match result {
                Ok((record, progress)) => {
                    history.epoch(&record)?;
                    if let Some(v) = record.val_acc {
                        best_val = Some(best_val.map_or(v, |b: f64| b.max(v)));
                    }
                    observer.epoch(&record);
                    let finished = progress != Progress::Continue;
                    if finished || trainer.epoch() % resolved.checkpoint_every == 0 {
                        folder::save_checkpoint(resolved, &out, &mut trainer)?;
                    }
                    last = Some(record);
                    if progress == Progress::Stopped {
                        status = "early_stopped";
                    }
                    if finished {
                        break;
                    }
                    if stop.load(Ordering::Relaxed) {
                        folder::save_checkpoint(resolved, &out, &mut trainer)?;
                        history.finish()?;
                        return Err(RunError::Interrupted {
                            dir: out.clone(),
                            iter: trainer.iter(),
                        });
                    }
                }
                Err(TrainError::Diverged { loss, iter }) => {
                    status = "diverged";
                    error = Some(format!(
                        "the loss diverged (became {loss}) at iteration {iter}; lower the learning rate"
                    ));
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        history.finish()?;
        let seconds = started.seconds();
        let done = trainer.iter() - iters_at_start;
        let summary = RunSummary {
            status: status.into(),
            data: resolved.data_name().into(),
            dtype: T::NAME.into(),
            preset: resolved.preset.name().into(),
            optimizer: resolved.optimizer.name.to_string(),
            epochs: trainer.epoch(),
            iters: trainer.iter(),
            train_samples: splits.train.len(),
            val_samples: splits.val.as_ref().map(|v| v.len()),
            test_samples: splits.test.len(),
            final_train_loss: last.as_ref().map(|r| r.train_loss),
            final_train_acc: last.as_ref().and_then(|r| r.train_acc),
            final_val_acc: last.as_ref().and_then(|r| r.val_acc),
            final_test_acc: last.as_ref().and_then(|r| r.test_acc),
            best_val_acc: best_val,
            seconds,
            ms_per_iter: if done > 0 {
                seconds * 1e3 / done as f64
            } else {
                0.0
            },
            error: error.clone(),
        };
        folder::write_atomic(
            &out.join(SUMMARY_FILE),
            serde_json::to_string_pretty(&summary)
                .expect("a summary serialises")
                .as_bytes(),
        )?;
        if let Some(message) = error {
            return Err(RunError::Diverged {
                message,
                dir: out.clone(),
                checkpoint_intact: out.join(CHECKPOINT_FILE).is_file(),
                summary: Box::new(summary),
            });
        }
        folder::save_model(resolved, &out, &trainer)?;
        Ok(summary)
    }
}
