//! Training: mini-batches, the one training loop ([`Trainer`]) with its config, early stopping
//! and records, runs with their folders ([`Run`], [`RunConfig`]), checkpoints, trained models
//! ([`Model`]) and export.

mod batches;
pub mod checkpoint;
mod config;
mod early_stop;
mod error;
mod evaluate;
pub mod export;
mod model;
mod records;
pub mod run;
mod trainer;

pub use batches::{BatchOrder, Batches, BatchesState};
pub use config::{EvalAt, LossRecord, OnDivergence, ScheduleUnit, TrainConfig};
pub use early_stop::{EarlyStopState, EarlyStopping, Monitor};
pub use error::TrainError;
pub use evaluate::evaluate;
pub use model::{Model, ModelEvaluation, ModelNetwork};
pub use records::{EpochRecord, Evaluation, Evaluations, IterRecord};
pub use run::{
    FolderLock, NoObserver, ResolvedRun, Run, RunConfig, RunError, RunInfo, RunObserver, RunSummary,
};
pub use trainer::{Progress, TrainData, Trainer, TrainerState};
