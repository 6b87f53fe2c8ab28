//! The chapter's studies. Each returns plain serde data; rendering is the caller's business.
//!
//! Every study has a `Config` (serde, defaults = the book's settings) and a `run` that takes
//! the data and a progress callback and returns an `Output` with every number a plot needs
//! and a `summary()` of the key numbers.

pub mod batch_norm;
mod common;
pub mod init_activations;
pub mod init_compare;
pub mod optimizers;
pub mod overfit;
pub mod search;
pub mod smoothing;
pub mod trajectory;

pub use common::{
    AccuracyCurves, Band, ExperimentError, LossCurves, OptimizerChoice, Progress, Row, Spread,
};
