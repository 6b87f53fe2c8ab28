//! The training loop: mini-batches, forward, backward, update, evaluation.

mod batches;
pub mod checkpoint;
pub mod export;
mod trainer;

pub use batches::{BatchOrder, Batches};
pub use trainer::{EpochRecord, TrainConfig, TrainError, Trainer};
