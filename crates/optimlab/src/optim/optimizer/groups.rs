//! Parameter groups: per-parameter learning-rate scale and weight decay, chosen by kind or name.

use super::decay::{WeightDecay, check_weight_decay};
use crate::optim::OptimError;
use crate::param::ParamKind;
use serde::{Deserialize, Serialize};

/// Which parameters a [`ParamGroup`] applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Select {
    Kinds(Vec<ParamKind>),
    Names(Vec<String>),
}

impl Select {
    pub(super) fn matches(&self, name: &str, kind: ParamKind) -> bool {
        match self {
            Select::Kinds(kinds) => kinds.contains(&kind),
            Select::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

/// Per-group overrides, like torch.optim's param groups. The first group that selects a
/// parameter applies; parameters no group selects use the optimizer's own settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup {
    pub select: Select,
    /// Multiplies the learning rate for these parameters.
    #[serde(default = "one")]
    pub lr_scale: f64,
    /// Replaces the optimizer's weight decay for these parameters.
    #[serde(default)]
    pub weight_decay: Option<WeightDecay>,
}

fn one() -> f64 {
    1.0
}

impl ParamGroup {
    /// The usual group: no weight decay on biases and batch-norm parameters.
    pub fn no_decay_on_bias_and_norm() -> Self {
        ParamGroup {
            select: Select::Kinds(vec![
                ParamKind::Bias,
                ParamKind::NormScale,
                ParamKind::NormShift,
            ]),
            lr_scale: 1.0,
            weight_decay: Some(WeightDecay::None),
        }
    }

    pub(super) fn check(&self) -> Result<(), OptimError> {
        if !(self.lr_scale.is_finite() && self.lr_scale >= 0.0) {
            return Err(OptimError::Invalid {
                name: "lr_scale",
                value: self.lr_scale,
                expected: "a finite number ≥ 0",
            });
        }
        if let Some(wd) = self.weight_decay {
            check_weight_decay(wd)?;
        }
        Ok(())
    }
}
