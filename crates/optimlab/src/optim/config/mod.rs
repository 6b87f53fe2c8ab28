//! Optimizer configuration: a name, optional hyperparameters and a preset that fills the rest.
//!
//! `--preset torch` fills every unset hyperparameter with torch.optim's default and uses
//! PyTorch's formulas; `--preset book` uses the book's reference code for SGD, Momentum,
//! Nesterov, AdaGrad, RMSprop and Adam and PyTorch's formulas and defaults for the rest.

mod defaults;
mod fields;
mod resolved;
#[cfg(test)]
mod tests;

pub use resolved::{ResolvedOptimizer, Rule};

use super::{Clip, Flavour, OptimError, Optimizer, ParamGroup, WeightDecay};
use crate::Preset;
use crate::tensor::Scalar;
use defaults::contradiction;
use fields::accepted;
use serde::{Deserialize, Serialize};

/// What a user asks for: every hyperparameter is optional; [`OptimizerConfig::build`] fills
/// unset ones from the preset and rejects invalid or inapplicable ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// One of [`super::OPTIMIZER_NAMES`].
    pub name: String,
    #[serde(default)]
    pub preset: Preset,
    /// Overrides the preset's form of momentum / Nesterov / Adam.
    #[serde(default)]
    pub flavour: Option<Flavour>,
    #[serde(default)]
    pub lr: Option<f64>,
    #[serde(default)]
    pub momentum: Option<f64>,
    #[serde(default)]
    pub dampening: Option<f64>,
    #[serde(default)]
    pub nesterov: Option<bool>,
    #[serde(default)]
    pub beta1: Option<f64>,
    #[serde(default)]
    pub beta2: Option<f64>,
    #[serde(default)]
    pub eps: Option<f64>,
    /// RMSprop's smoothing (torch's `alpha`) or Adadelta's `rho`.
    #[serde(default, alias = "alpha")]
    pub rho: Option<f64>,
    #[serde(default)]
    pub centered: Option<bool>,
    #[serde(default)]
    pub amsgrad: Option<bool>,
    #[serde(default)]
    pub lr_decay: Option<f64>,
    #[serde(default)]
    pub initial_accumulator_value: Option<f64>,
    #[serde(default)]
    pub momentum_decay: Option<f64>,
    /// λ; L2 (coupled) except for adamw and lion, or with `decoupled_weight_decay`.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// torch's flag of Adam, NAdam and RAdam.
    #[serde(default)]
    pub decoupled_weight_decay: Option<bool>,
    /// Exclude biases and batch-norm parameters from weight decay (book default: yes, as the
    /// book decays weights only; torch default: no, as with `model.parameters()`).
    #[serde(default)]
    pub no_decay_on_bias_and_norm: Option<bool>,
    #[serde(default)]
    pub clip: Option<Clip>,
}

impl OptimizerConfig {
    pub fn new(name: impl Into<String>, preset: Preset) -> Self {
        OptimizerConfig {
            name: name.into(),
            preset,
            ..Default::default()
        }
    }

    /// Builds the optimizer, filling unset hyperparameters from the preset.
    pub fn build<T: Scalar>(&self) -> Result<Optimizer<T>, OptimError> {
        self.resolve()?.build()
    }

    /// Fills defaults and checks every value; see the module docs for the presets.
    pub fn resolve(&self) -> Result<ResolvedOptimizer, OptimError> {
        let name = self.name.as_str();
        if !super::OPTIMIZER_NAMES.contains(&name) {
            return Err(OptimError::UnknownOptimizer(self.name.clone()));
        }
        let ok = accepted(name);
        if let Some((field, value)) = self.set_fields().into_iter().find(|(f, _)| !ok.contains(f)) {
            return Err(OptimError::Invalid {
                name: field,
                value,
                expected: "unset: not a hyperparameter of this optimizer",
            });
        }
        let book = self.preset == Preset::Book;
        let flavour = self.flavour.unwrap_or(self.preset.into());
        let (rule, lr) = self.preset_rule(name, book, flavour)?;
        rule.validate()?;

        let always_decoupled = matches!(name, "adamw" | "lion");
        if always_decoupled {
            contradiction(
                "decoupled_weight_decay",
                self.decoupled_weight_decay,
                true,
                "true or unset: adamw and lion decay weights decoupled",
            )?;
        }
        let lambda = self
            .weight_decay
            .unwrap_or(if name == "adamw" { 0.01 } else { 0.0 });
        let weight_decay = if lambda == 0.0 {
            WeightDecay::None
        } else if always_decoupled || self.decoupled_weight_decay == Some(true) {
            WeightDecay::Decoupled(lambda)
        } else {
            WeightDecay::L2(lambda)
        };
        let groups = if self.no_decay_on_bias_and_norm.unwrap_or(book) && lambda != 0.0 {
            vec![ParamGroup::no_decay_on_bias_and_norm()]
        } else {
            vec![]
        };
        let resolved = ResolvedOptimizer {
            name: self.name.clone(),
            rule,
            lr: self.lr.unwrap_or(lr),
            weight_decay,
            groups,
            clip: self.clip,
        };
        resolved.build::<f64>()?; // validates lr, weight decay and clip
        Ok(resolved)
    }
}
