//! The update rules by name, as the command line, configs and checkpoints spell them.

use serde::{Deserialize, Serialize};

/// Every update rule optimlab implements; serialised in lower case (`adam`, `rmsprop`, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerName {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    Rmsprop,
    #[default]
    Adam,
    Adamw,
    Amsgrad,
    Nadam,
    Radam,
    Adadelta,
    Lion,
}

impl OptimizerName {
    /// Every name, in the order the book introduces them (then the modern ones).
    pub const ALL: [OptimizerName; 12] = [
        OptimizerName::Sgd,
        OptimizerName::Momentum,
        OptimizerName::Nesterov,
        OptimizerName::Adagrad,
        OptimizerName::Rmsprop,
        OptimizerName::Adam,
        OptimizerName::Adamw,
        OptimizerName::Amsgrad,
        OptimizerName::Nadam,
        OptimizerName::Radam,
        OptimizerName::Adadelta,
        OptimizerName::Lion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerName::Sgd => "sgd",
            OptimizerName::Momentum => "momentum",
            OptimizerName::Nesterov => "nesterov",
            OptimizerName::Adagrad => "adagrad",
            OptimizerName::Rmsprop => "rmsprop",
            OptimizerName::Adam => "adam",
            OptimizerName::Adamw => "adamw",
            OptimizerName::Amsgrad => "amsgrad",
            OptimizerName::Nadam => "nadam",
            OptimizerName::Radam => "radam",
            OptimizerName::Adadelta => "adadelta",
            OptimizerName::Lion => "lion",
        }
    }
}

impl std::fmt::Display for OptimizerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OptimizerName {
    type Err = super::OptimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OptimizerName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| super::OptimError::UnknownOptimizer(s.to_string()))
    }
}

impl PartialEq<&str> for OptimizerName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
