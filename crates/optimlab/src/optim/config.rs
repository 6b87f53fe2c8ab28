//! Optimizer configuration: a name, optional hyperparameters and a preset that fills the rest.
//!
//! `--preset torch` fills every unset hyperparameter with torch.optim's default and uses
//! PyTorch's formulas; `--preset book` uses the book's reference code for SGD, Momentum,
//! Nesterov, AdaGrad, RMSprop and Adam and PyTorch's formulas and defaults for the rest.

use super::{
    Adadelta, Adagrad, Adam, Clip, Flavour, Lion, Momentum, MomentumKind, NAdam, OptimError,
    Optimizer, ParamGroup, RAdam, RmsProp, Sgd, UpdateRule, WeightDecay,
};
use crate::Preset;
use crate::tensor::Scalar;
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

/// One update rule with its hyperparameters, as resolved from a config.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Rule {
    Sgd(Sgd),
    Momentum(Momentum),
    Adagrad(Adagrad),
    RmsProp(RmsProp),
    Adam(Adam),
    NAdam(NAdam),
    RAdam(RAdam),
    Adadelta(Adadelta),
    Lion(Lion),
}

impl Rule {
    pub fn validate(&self) -> Result<(), OptimError> {
        match self {
            Rule::Sgd(_) => Ok(()),
            Rule::Momentum(r) => r.validate(),
            Rule::Adagrad(r) => r.validate(),
            Rule::RmsProp(r) => r.validate(),
            Rule::Adam(r) => r.validate(),
            Rule::NAdam(r) => r.validate(),
            Rule::RAdam(r) => r.validate(),
            Rule::Adadelta(r) => r.validate(),
            Rule::Lion(r) => r.validate(),
        }
    }

    pub fn boxed<T: Scalar>(self) -> Box<dyn UpdateRule<T>> {
        match self {
            Rule::Sgd(r) => Box::new(r),
            Rule::Momentum(r) => Box::new(r),
            Rule::Adagrad(r) => Box::new(r),
            Rule::RmsProp(r) => Box::new(r),
            Rule::Adam(r) => Box::new(r),
            Rule::NAdam(r) => Box::new(r),
            Rule::RAdam(r) => Box::new(r),
            Rule::Adadelta(r) => Box::new(r),
            Rule::Lion(r) => Box::new(r),
        }
    }
}

/// Everything a config resolves to, with every default filled in (serialisable, for reports).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedOptimizer {
    pub name: String,
    pub rule: Rule,
    pub lr: f64,
    pub weight_decay: WeightDecay,
    pub groups: Vec<ParamGroup>,
    pub clip: Option<Clip>,
}

impl ResolvedOptimizer {
    pub fn build<T: Scalar>(&self) -> Result<Optimizer<T>, OptimError> {
        self.rule.validate()?;
        Optimizer::new(self.rule.boxed(), self.lr)?
            .with_weight_decay(self.weight_decay)?
            .with_groups(self.groups.clone())?
            .with_clip(self.clip)
    }
}

/// Which optional fields each optimizer accepts (besides lr, weight decay, groups and clip).
fn accepted(name: &str) -> &'static [&'static str] {
    const ADAM: &[&str] = &[
        "flavour",
        "beta1",
        "beta2",
        "eps",
        "amsgrad",
        "decoupled_weight_decay",
    ];
    match name {
        "sgd" | "momentum" | "nesterov" => &["flavour", "momentum", "dampening", "nesterov"],
        "adagrad" => &["eps", "lr_decay", "initial_accumulator_value"],
        "rmsprop" => &["rho", "eps", "momentum", "centered"],
        "adam" | "adamw" | "amsgrad" => ADAM,
        "nadam" => &[
            "beta1",
            "beta2",
            "eps",
            "momentum_decay",
            "decoupled_weight_decay",
        ],
        "radam" => &["beta1", "beta2", "eps", "decoupled_weight_decay"],
        "adadelta" => &["rho", "eps"],
        "lion" => &["beta1", "beta2", "decoupled_weight_decay"],
        _ => &[],
    }
}

fn bool_f(b: Option<bool>) -> Option<f64> {
    b.map(|b| if b { 1.0 } else { 0.0 })
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

    /// The set optional fields, by name (booleans as 0/1, flavour book = 0, torch = 1).
    fn set_fields(&self) -> Vec<(&'static str, f64)> {
        let fields = [
            (
                "flavour",
                self.flavour
                    .map(|f| if f == Flavour::Book { 0.0 } else { 1.0 }),
            ),
            ("momentum", self.momentum),
            ("dampening", self.dampening),
            ("nesterov", bool_f(self.nesterov)),
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("eps", self.eps),
            ("rho", self.rho),
            ("centered", bool_f(self.centered)),
            ("amsgrad", bool_f(self.amsgrad)),
            ("lr_decay", self.lr_decay),
            ("initial_accumulator_value", self.initial_accumulator_value),
            ("momentum_decay", self.momentum_decay),
            (
                "decoupled_weight_decay",
                bool_f(self.decoupled_weight_decay),
            ),
        ];
        fields
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v)))
            .collect()
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
        let contradiction = |field, value: Option<bool>, wanted: bool, expected| match value {
            Some(v) if v != wanted => Err(OptimError::Invalid {
                name: field,
                value: v as u8 as f64,
                expected,
            }),
            _ => Ok(()),
        };
        let (rule, lr) = match name {
            "sgd" | "momentum" | "nesterov" => {
                if name == "nesterov" {
                    contradiction(
                        "nesterov",
                        self.nesterov,
                        true,
                        "true or unset for 'nesterov'",
                    )?;
                }
                let nesterov = name == "nesterov" || self.nesterov == Some(true);
                let default_m = if name == "sgd" { 0.0 } else { 0.9 };
                let momentum = self.momentum.unwrap_or(default_m);
                let lr = if book { 0.01 } else { 1e-3 };
                if name == "sgd" && momentum == 0.0 && !nesterov {
                    (Rule::Sgd(Sgd), lr)
                } else {
                    let kind = if nesterov {
                        MomentumKind::Nesterov
                    } else {
                        MomentumKind::Classic
                    };
                    let mut m = Momentum::new(momentum, kind, flavour);
                    m.dampening = self.dampening.unwrap_or(0.0);
                    (Rule::Momentum(m), lr)
                }
            }
            "adagrad" => {
                let d = if book {
                    Adagrad::book()
                } else {
                    Adagrad::default()
                };
                let r = Adagrad {
                    eps: self.eps.unwrap_or(d.eps),
                    lr_decay: self.lr_decay.unwrap_or(d.lr_decay),
                    initial_accumulator_value: self
                        .initial_accumulator_value
                        .unwrap_or(d.initial_accumulator_value),
                };
                (Rule::Adagrad(r), 1e-2)
            }
            "rmsprop" => {
                let d = if book {
                    RmsProp::book()
                } else {
                    RmsProp::default()
                };
                let r = RmsProp {
                    rho: self.rho.unwrap_or(d.rho),
                    eps: self.eps.unwrap_or(d.eps),
                    momentum: self.momentum.unwrap_or(d.momentum),
                    centered: self.centered.unwrap_or(d.centered),
                };
                (Rule::RmsProp(r), 1e-2)
            }
            "adam" | "adamw" | "amsgrad" => {
                if name == "amsgrad" {
                    contradiction("amsgrad", self.amsgrad, true, "true or unset for 'amsgrad'")?;
                }
                // The book has only Adam; AdamW and AMSGrad are torch's in both presets.
                let flavour = if name == "adam" {
                    flavour
                } else {
                    self.flavour.unwrap_or_default()
                };
                let d = if flavour == Flavour::Book {
                    Adam::book()
                } else {
                    Adam::default()
                };
                let r = Adam {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    eps: self.eps.unwrap_or(d.eps),
                    amsgrad: name == "amsgrad" || self.amsgrad.unwrap_or(false),
                    flavour,
                };
                (Rule::Adam(r), 1e-3)
            }
            "nadam" => {
                let d = NAdam::default();
                let r = NAdam {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    eps: self.eps.unwrap_or(d.eps),
                    momentum_decay: self.momentum_decay.unwrap_or(d.momentum_decay),
                };
                (Rule::NAdam(r), 2e-3)
            }
            "radam" => {
                let d = RAdam::default();
                let r = RAdam {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    eps: self.eps.unwrap_or(d.eps),
                };
                (Rule::RAdam(r), 1e-3)
            }
            "adadelta" => {
                let d = Adadelta::default();
                let r = Adadelta {
                    rho: self.rho.unwrap_or(d.rho),
                    eps: self.eps.unwrap_or(d.eps),
                };
                (Rule::Adadelta(r), 1.0)
            }
            "lion" => {
                let d = Lion::default();
                let r = Lion {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                };
                (Rule::Lion(r), 1e-4)
            }
            _ => unreachable!("checked against OPTIMIZER_NAMES"),
        };
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
