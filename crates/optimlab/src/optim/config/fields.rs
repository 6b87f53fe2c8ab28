//! Which optional hyperparameters each optimizer accepts, and which ones a config sets.

use super::OptimizerConfig;
use crate::optim::Flavour;

/// Which optional fields each optimizer accepts (besides lr, weight decay, groups and clip).
pub(super) fn accepted(name: &str) -> &'static [&'static str] {
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
    /// The set optional fields, by name (booleans as 0/1, flavour book = 0, torch = 1).
    pub(super) fn set_fields(&self) -> Vec<(&'static str, f64)> {
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
}
