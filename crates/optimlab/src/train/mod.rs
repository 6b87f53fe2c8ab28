//! The training loop: mini-batches, forward, backward, update, evaluation.

mod batches;
pub mod checkpoint;
mod config;
mod early_stop;
mod error;
mod evaluate;
pub mod export;
mod records;
mod trainer;

pub use batches::{BatchOrder, Batches, BatchesState};
pub use config::{EvalAt, LossRecord, OnDivergence, ScheduleUnit, TrainConfig};
pub use early_stop::{EarlyStopState, EarlyStopping, Monitor};
pub use error::TrainError;
pub use evaluate::evaluate;
pub use records::{EpochRecord, Evaluation, Evaluations, IterRecord};
pub use trainer::{Progress, TrainData, Trainer, TrainerState};
