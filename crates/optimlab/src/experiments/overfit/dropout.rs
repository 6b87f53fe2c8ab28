//! Dropout against overfitting (the book's `overfit_dropout.py`): dropout off, 0.15 and 0.2
//! after every hidden activation (the preset's style: the book's non-inverted dropout or
//! PyTorch's inverted one), 301 evaluations.

pub use super::{Output, SettingResult};
use crate::Preset;
use crate::data::Splits;
use crate::experiments::common::{self, ExperimentError, OptimizerChoice, Progress};
use crate::nn::{Activation, DropoutConfig, DropoutStyle, Init};
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
    /// The dropout ratios to compare; 0 is no dropout.
    pub ratios: Vec<f64>,
    /// Dropout style; the preset's when unset.
    pub style: Option<DropoutStyle>,
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
            evaluations: 301,
            eval_every: None,
            ratios: vec![0.0, 0.15, 0.2],
            style: None,
            order: None,
        }
    }
}

impl_shared!(Config);

impl Config {
    pub fn validate(&self) -> Result<(), ExperimentError> {
        self.shared().validate()?;
        common::check_not_empty("ratios", self.ratios.len())?;
        for &p in &self.ratios {
            if !(0.0..1.0).contains(&p) {
                return Err(ExperimentError::invalid(
                    "dropout ratio",
                    p,
                    "a probability in [0, 1)",
                ));
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
    let style = config.style.unwrap_or(DropoutStyle::preset(config.preset));
    let settings = config
        .ratios
        .iter()
        .map(|&p| {
            let change: Box<dyn Fn(&mut crate::nn::NetworkConfig)> = Box::new(move |net| {
                net.dropout = (p > 0.0).then_some(DropoutConfig { p, style });
            });
            let label = if p > 0.0 {
                format!("dropout {p}")
            } else {
                "no dropout".to_string()
            };
            (label, p, change)
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
        assert!(bad(|c| c.ratios = vec![0.2, 1.0]).contains("dropout ratio = 1"));
        assert!(bad(|c| c.evaluations = 0).contains("evaluations = 0"));
        assert!(bad(|c| c.optimizer.lr = Some(0.0)).contains("learning rate = 0"));
        Config::default().validate().unwrap();
    }
}
