//! Early stopping: stop when a validation metric has not improved for a few epochs.

use super::{EpochRecord, TrainError};
use serde::{Deserialize, Serialize};

/// What early stopping watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    ValAcc,
    ValLoss,
}

impl std::str::FromStr for Monitor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "val_acc" | "val-acc" => Ok(Monitor::ValAcc),
            "val_loss" | "val-loss" => Ok(Monitor::ValLoss),
            other => Err(format!(
                "unknown metric '{other}' (expected val_acc or val_loss)"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    pub monitor: Monitor,
    /// The smallest change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
}

impl EarlyStopping {
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.patience == 0 {
            return Err(TrainError::Zero("early-stopping patience"));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(TrainError::Invalid(format!(
                "early-stopping min_delta = {}: expected a finite number ≥ 0",
                self.min_delta
            )));
        }
        Ok(())
    }
}

/// Early-stopping bookkeeping, saved in checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopState {
    pub best: Option<f64>,
    pub bad_epochs: usize,
    /// Whether early stopping ended the run.
    #[serde(default)]
    pub stopped: bool,
}

impl EarlyStopState {
    /// Takes a completed epoch into account; returns whether to stop.
    pub(crate) fn update(
        &mut self,
        es: &EarlyStopping,
        record: &EpochRecord,
    ) -> Result<bool, TrainError> {
        // Compare as "larger is better".
        let value = match es.monitor {
            Monitor::ValAcc => record.val_acc,
            Monitor::ValLoss => record.val_loss.map(|l| -l),
        }
        .ok_or(TrainError::NoValidation)?;
        let improved = self.best.is_none_or(|best| value > best + es.min_delta);
        if improved {
            self.best = Some(value);
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        self.stopped = self.bad_epochs >= es.patience;
        Ok(self.stopped)
    }
}
