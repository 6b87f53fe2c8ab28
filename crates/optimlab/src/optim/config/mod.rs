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

use super::{Clip, Flavour, OptimError, Optimizer, OptimizerName, ParamGroup, WeightDecay};
use crate::Preset;
use crate::tensor::Scalar;
use defaults::contradiction;
use fields::accepted;
use serde::{Deserialize, Serialize};

/// What a user asks for: every hyperparameter is optional; [`OptimizerConfig::build`] fills
/// unset ones from the preset and rejects invalid or inapplicable ones.
///
/// The keys are those of `optimlab train`'s flags and `--config` TOML (the run config flattens
/// this struct in), so every option of every update rule can be set from either.
///
/// ```
/// use optimlab::Preset;
/// use optimlab::optim::{OptimizerConfig, OptimizerName};
///
/// let config = OptimizerConfig {
///     lr: Some(0.1),
///     nesterov: Some(true),
///     momentum: Some(0.9),
///     ..OptimizerConfig::new(OptimizerName::Sgd, Preset::Torch)
/// };
/// let resolved = config.resolve().unwrap();
/// assert_eq!(resolved.lr, 0.1);
/// let optimizer = resolved.build::<f32>().unwrap();
/// # let _ = optimizer;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct OptimizerConfig {
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam (default), adamw, amsgrad, nadam, radam,
    /// adadelta or lion
    #[serde(default, rename = "optimizer", alias = "name")]
    #[cfg_attr(feature = "clap", arg(long = "optimizer", value_name = "NAME"))]
    pub name: Option<OptimizerName>,
    /// Whose defaults fill unset values: set by the caller (a run config's `preset`), not a key.
    #[serde(skip)]
    #[cfg_attr(feature = "clap", arg(skip))]
    pub preset: Preset,
    /// Overrides the preset's form of momentum / Nesterov / Adam: book or torch
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub flavour: Option<Flavour>,
    /// Learning rate, e.g. 0.01 (default: the preset's for this optimizer)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub lr: Option<f64>,
    /// Momentum factor of sgd/momentum/nesterov/rmsprop, e.g. 0.9
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub momentum: Option<f64>,
    /// SGD momentum's dampening (torch), e.g. 0.1
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub dampening: Option<f64>,
    /// Nesterov momentum for sgd/momentum (true/false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub nesterov: Option<bool>,
    /// Adam-family β₁ (first-moment decay), e.g. 0.9
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub beta1: Option<f64>,
    /// Adam-family β₂ (second-moment decay), e.g. 0.999
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub beta2: Option<f64>,
    /// ε added to the denominator, e.g. 1e-8
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub eps: Option<f64>,
    /// RMSprop's smoothing (torch's `alpha`) or Adadelta's decay rate ρ, e.g. 0.99
    #[serde(default, alias = "alpha", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub rho: Option<f64>,
    /// Centered RMSprop: divide by the gradient's variance, not its second moment (true/false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub centered: Option<bool>,
    /// AMSGrad's running maximum of the second moment for adam/adamw (true/false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub amsgrad: Option<bool>,
    /// AdaGrad's learning-rate decay per step, e.g. 0.01
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub lr_decay: Option<f64>,
    /// AdaGrad's starting accumulator value, e.g. 0.1
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub initial_accumulator_value: Option<f64>,
    /// NAdam's momentum decay ψ, e.g. 0.004
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub momentum_decay: Option<f64>,
    /// λ: the book's ½λ‖W‖² in the loss (book preset) or the optimizer's weight decay (L2,
    /// decoupled for adamw and lion)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long))]
    pub weight_decay: Option<f64>,
    /// Decoupled (AdamW-style) weight decay for adam, nadam and radam (true/false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub decoupled_weight_decay: Option<bool>,
    /// Exclude biases and batch-norm parameters from weight decay (book default: yes, as the
    /// book decays weights only; torch default: no, as with `model.parameters()`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub no_decay_on_bias_and_norm: Option<bool>,
    /// Gradient clipping (a run config sets it with `clip_norm` / `clip_value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(skip))]
    pub clip: Option<Clip>,
}

impl OptimizerConfig {
    pub fn new(name: OptimizerName, preset: Preset) -> Self {
        OptimizerConfig {
            name: Some(name),
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
        let optimizer = self.name.unwrap_or_default();
        let name = optimizer.as_str();
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
            name: optimizer,
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
