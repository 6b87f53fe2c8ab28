//! Training: mini-batches, the training loop ([`Trainer`]), runs with their folders
//! ([`Run`], [`RunConfig`]), checkpoints, trained models ([`Model`]) and export.

mod batches;
pub mod checkpoint;
pub mod export;
mod model;
pub mod run;
mod trainer;

pub use batches::{BatchOrder, Batches, BatchesState};
pub use model::{Model, ModelEvaluation, ModelNetwork};
pub use run::{
    NoObserver, ResolvedRun, Run, RunConfig, RunError, RunInfo, RunObserver, RunSummary,
};
pub use trainer::{
    EarlyStopState, EarlyStopping, EpochRecord, Evaluation, IterRecord, LossRecord, Monitor,
    Progress, ScheduleUnit, TrainConfig, TrainData, TrainError, Trainer, TrainerState, evaluate,
};
