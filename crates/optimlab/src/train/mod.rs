//! The training loop: mini-batches, forward, backward, update, evaluation.

mod batches;
pub mod checkpoint;
pub mod export;
mod trainer;

pub use batches::{BatchOrder, Batches, BatchesState};
pub use trainer::{
    EarlyStopState, EarlyStopping, EpochRecord, Evaluation, IterRecord, LossRecord, Monitor,
    Progress, ScheduleUnit, TrainConfig, TrainData, TrainError, Trainer, TrainerState, evaluate,
};
