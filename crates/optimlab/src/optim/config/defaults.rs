//! The preset defaults per optimizer: the [`Rule`] and base lr a config resolves to.

use super::{OptimizerConfig, Rule};
use crate::optim::{
    Adadelta, Adagrad, Adam, Flavour, Lion, Momentum, MomentumKind, NAdam, OptimError, RAdam,
    RmsProp, Sgd,
};

/// An error unless a boolean field is unset or `wanted` (e.g. `nesterov = false` for 'nesterov').
pub(super) fn contradiction(
    field: &'static str,
    value: Option<bool>,
    wanted: bool,
    expected: &'static str,
) -> Result<(), OptimError> {
    match value {
        Some(v) if v != wanted => Err(OptimError::Invalid {
            name: field,
            value: v as u8 as f64,
            expected,
        }),
        _ => Ok(()),
    }
}

impl OptimizerConfig {
    /// The rule of optimizer `name` with unset hyperparameters filled from the preset (`book`,
    /// `flavour`), and the preset's lr for it.
    pub(super) fn preset_rule(
        &self,
        name: &str,
        book: bool,
        flavour: Flavour,
    ) -> Result<(Rule, f64), OptimError> {
        let rule_lr = match name {
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
        Ok(rule_lr)
    }
}
