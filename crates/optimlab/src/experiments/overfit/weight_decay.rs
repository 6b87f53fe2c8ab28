//! Weight decay against overfitting (the book's `overfit_weight_decay.py`): λ = 0 and the
//! book's L2 λ = 0.1 (`½λ‖W‖²` on the loss, weights only), 201 evaluations.

pub use super::{Output, SettingResult};
use crate::Preset;
use crate::data::Splits;
use crate::experiments::common::{self, ExperimentError, OptimizerChoice, Progress};
use crate::nn::{Activation, Init};
use crate::tensor::DType;
use crate::train::BatchOrder;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub preset: Preset,
    /// Element type; the preset's when unset.
    pub dtype: Option<DType>,
    pub seed: u64,
    /// Repeats, with seeds `seed, seed + 1, …`.
    pub seeds: usize,
    /// Train on the first this many training images.
    pub train_size: usize,
    /// Test on the first this many test images; all when unset.
    pub test_size: Option<usize>,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub init: Init,
    pub optimizer: OptimizerChoice,
    pub batch_size: usize,
    pub evaluations: usize,
    /// Iterations between evaluations; `max(train_size / batch_size, 1)` when unset.
    pub eval_every: Option<usize>,
    /// The λ values of the network's L2 penalty to compare.
    pub lambdas: Vec<f64>,
    /// Batch order; the preset's when unset (book: drawn with replacement).
    pub order: Option<BatchOrder>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: Preset::Book,
            dtype: None,
            seed: 0,
            seeds: 1,
            train_size: 300,
            test_size: None,
            hidden: vec![100; 6],
            activation: Activation::Relu,
            init: Init::He,
            optimizer: OptimizerChoice::new("sgd", Some(0.01)),
            batch_size: 100,
            evaluations: 201,
            eval_every: None,
            lambdas: vec![0.0, 0.1],
            order: None,
        }
    }
}

impl_shared!(Config);

impl Config {
    pub fn validate(&self) -> Result<(), ExperimentError> {
        self.shared().validate()?;
        common::check_not_empty("lambdas", self.lambdas.len())?;
        for &l in &self.lambdas {
            if !(l.is_finite() && l >= 0.0) {
                return Err(ExperimentError::invalid("lambda", l, "a finite number ≥ 0"));
            }
        }
        Ok(())
    }
}

pub fn run(
    config: &Config,
    data: &Splits,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Output, ExperimentError> {
    config.validate()?;
    let settings = config
        .lambdas
        .iter()
        .map(|&lambda| {
            let change: Box<dyn Fn(&mut crate::nn::NetworkConfig)> =
                Box::new(move |net| net.weight_decay = lambda);
            (format!("λ={lambda}"), lambda, change)
        })
        .collect();
    config.shared().run(settings, data, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::common::rejection;

    #[test]
    fn settings_are_checked() {
        let bad = |f: fn(&mut Config)| rejection(f, Config::validate);
        assert!(bad(|c| c.lambdas = vec![-0.1]).contains("lambda = -0.1"));
        assert!(bad(|c| c.lambdas.clear()).contains("lambdas"));
        assert!(bad(|c| c.test_size = Some(0)).contains("test size = 0"));
        assert!(bad(|c| c.hidden.clear()).contains("hidden sizes"));
        Config::default().validate().unwrap();
    }
}
