//! What a run is configured with: batches, the recorded loss, evaluation, schedules, early
//! stopping, and what a diverged loss does.

use super::{BatchOrder, EarlyStopping, TrainError};
use crate::Preset;
use serde::{Deserialize, Serialize};

/// Which loss the history records for an iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossRecord {
    /// The loss of the forward pass that produced the gradient (PyTorch scripts).
    Forward,
    /// The loss after the update, on the same batch, in evaluation mode (the book's scripts).
    AfterUpdate,
}

impl LossRecord {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Book => LossRecord::AfterUpdate,
            Preset::Torch => LossRecord::Forward,
        }
    }
}

/// When a time-based LR schedule advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleUnit {
    Iter,
    Epoch,
}

impl std::str::FromStr for ScheduleUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "iter" => Ok(ScheduleUnit::Iter),
            "epoch" => Ok(ScheduleUnit::Epoch),
            other => Err(format!(
                "unknown schedule unit '{other}' (expected iter or epoch)"
            )),
        }
    }
}

/// When the trainer measures loss and accuracy on its data sets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalAt {
    /// After each epoch (and after a partial epoch that ends the iteration budget); the
    /// measurements fill the [`super::EpochRecord`].
    #[default]
    EpochEnd,
    /// After the update of every iteration `i` (counted from 0) with `i % n == 0`: the book's
    /// `if i % iter_per_epoch == 0` loop. The measurements go with that iteration's
    /// [`super::IterRecord`]; epoch records then carry none.
    Every(usize),
    /// Never (studies that only need the training loss).
    Never,
}

/// What a non-finite loss does to a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDivergence {
    /// Fail with [`TrainError::Diverged`]: nothing useful can come of the run.
    #[default]
    Stop,
    /// Keep training, as the book's loops do (the weights turn NaN and every prediction is
    /// class 0), and remember the first such iteration ([`super::Trainer::diverged_at`]):
    /// for studies where a diverged run is a result, not a failure.
    Record,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs to train (ignored when `iters` is set).
    pub epochs: usize,
    /// Total iterations, when training by iterations rather than epochs.
    pub iters: Option<usize>,
    pub batch_size: usize,
    pub order: BatchOrder,
    pub seed: u64,
    pub loss_record: LossRecord,
    /// Evaluate on only the first N samples of each set (the book's
    /// `evaluate_sample_num_per_epoch`); all when unset.
    pub eval_limit: Option<usize>,
    /// Rows per forward pass when evaluating.
    pub eval_batch: usize,
    #[serde(default)]
    pub eval_at: EvalAt,
    pub schedule_unit: ScheduleUnit,
    pub early_stopping: Option<EarlyStopping>,
    #[serde(default)]
    pub on_divergence: OnDivergence,
    /// Flush subnormal floats to zero while [`super::Trainer::run_epoch`] runs (see
    /// [`crate::tensor::FlushDenormals`]): avoids slow subnormal arithmetic on x86. Off by
    /// default, since it changes the floating-point mode a library user may rely on.
    pub flush_denormals: bool,
}

impl TrainConfig {
    pub fn new(preset: Preset) -> Self {
        Self {
            epochs: 20,
            iters: None,
            batch_size: 32,
            order: match preset {
                Preset::Book => BatchOrder::Replacement,
                Preset::Torch => BatchOrder::Shuffle,
            },
            seed: 0,
            loss_record: LossRecord::preset(preset),
            eval_limit: None,
            eval_batch: 1000,
            eval_at: EvalAt::EpochEnd,
            schedule_unit: ScheduleUnit::Iter,
            early_stopping: None,
            on_divergence: OnDivergence::Stop,
            flush_denormals: false,
        }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        if self.iters.is_none() && self.epochs == 0 {
            return Err(TrainError::Zero("epochs"));
        }
        if self.iters == Some(0) {
            return Err(TrainError::Zero("iters"));
        }
        if self.batch_size == 0 {
            return Err(TrainError::Zero("batch size"));
        }
        if self.eval_batch == 0 {
            return Err(TrainError::Zero("evaluation batch size"));
        }
        if self.eval_limit == Some(0) {
            return Err(TrainError::Zero("evaluation sample limit"));
        }
        if self.eval_at == EvalAt::Every(0) {
            return Err(TrainError::Zero("evaluation interval"));
        }
        if let Some(es) = &self.early_stopping {
            es.validate()?;
            if self.eval_at != EvalAt::EpochEnd {
                return Err(TrainError::Invalid(format!(
                    "evaluation at {:?} with early stopping: early stopping needs an evaluation \
                     after each epoch",
                    self.eval_at
                )));
            }
        }
        Ok(())
    }
}
