//! The resolved form of a config: the [`Rule`] with its hyperparameters and [`ResolvedOptimizer`].

use crate::optim::{
    Adadelta, Adagrad, Adam, Clip, Lion, Momentum, NAdam, OptimError, Optimizer, OptimizerName,
    ParamGroup, RAdam, RmsProp, Sgd, UpdateRule, WeightDecay,
};
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

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
    pub name: OptimizerName,
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
