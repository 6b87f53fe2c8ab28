//! What the trainer reports: one record per iteration and per epoch, and evaluations.

use serde::{Deserialize, Serialize};

/// Loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub samples: usize,
}

/// One evaluation of each data set the run has.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluations {
    pub train: Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val: Option<Evaluation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<Evaluation>,
}

/// One iteration, as the history records it (`iter` counts from 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IterRecord {
    pub iter: usize,
    pub loss: f64,
    pub lr: f64,
    /// Measured after this iteration's update, when [`super::EvalAt::Every`] asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval: Option<Evaluations>,
}

/// What one epoch measured; unmeasured fields are `None` and left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Whether the iteration budget ended inside this epoch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Iterations completed so far.
    pub iter: usize,
    pub train_loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_acc: Option<f64>,
    pub lr: f64,
    /// Wall time since training started (this process).
    pub seconds: f64,
}
