//! Update rules compared on one network (the book's `optimizer_compare_mnist.py`):
//! 784-100×4-10, ReLU, He init, batch 128, 2000 iterations; SGD, Momentum, AdaGrad and Adam.
//!
//! Under each seed every optimizer starts from the same initial weights and sees the same
//! batches, so the curves differ only by the update rule.

use super::common::{
    self, ExperimentError, LossCurves, LossStudy, OptimizerChoice, Progress, Row, RunSpec,
};
use crate::Preset;
use crate::data::Splits;
use crate::nn::{Activation, Init};
use crate::optim::ResolvedOptimizer;
use crate::tensor::DType;
use crate::train::{BatchOrder, LossRecord};
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
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub init: Init,
    pub batch_size: usize,
    pub iterations: usize,
    /// The optimizers to compare, each with the preset's hyperparameters or a given lr.
    pub optimizers: Vec<OptimizerChoice>,
    /// Batch order; the preset's when unset (book: drawn with replacement).
    pub order: Option<BatchOrder>,
    /// Which loss is recorded; the preset's when unset (book: after the update, same batch).
    pub loss_record: Option<LossRecord>,
    /// Iterations at the end averaged for the key number of each optimizer.
    pub tail: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: Preset::Book,
            dtype: None,
            seed: 0,
            seeds: 1,
            hidden: vec![100; 4],
            activation: Activation::Relu,
            init: Init::He,
            batch_size: 128,
            iterations: 2000,
            optimizers: vec![
                OptimizerChoice::new("sgd", Some(0.01)),
                OptimizerChoice::new("momentum", Some(0.01)),
                OptimizerChoice::new("adagrad", Some(0.01)),
                OptimizerChoice::new("adam", Some(0.001)),
            ],
            order: None,
            loss_record: None,
            tail: 100,
        }
    }
}

impl Config {
    fn study(&self) -> LossStudy<'_> {
        LossStudy {
            preset: self.preset,
            dtype: self.dtype,
            seed: self.seed,
            seeds: self.seeds,
            hidden: &self.hidden,
            batch_size: self.batch_size,
            iterations: self.iterations,
            order: self.order,
            loss_record: self.loss_record,
            tail: self.tail,
        }
    }

    pub fn validate(&self) -> Result<(), ExperimentError> {
        self.study().validate()?;
        self.init.validate()?;
        common::check_not_empty("optimizers", self.optimizers.len())?;
        for (i, o) in self.optimizers.iter().enumerate() {
            if self.optimizers[..i].iter().any(|p| p.label() == o.label()) {
                return Err(ExperimentError::invalid(
                    "optimizers",
                    o.label(),
                    "each optimizer once",
                ));
            }
            o.resolve(self.preset)?;
        }
        Ok(())
    }
}

/// One optimizer's curves, with the hyperparameters it ran with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerCurves {
    pub optimizer: ResolvedOptimizer,
    #[serde(flatten)]
    pub curves: LossCurves,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub preset: Preset,
    pub dtype: DType,
    /// Layer sizes, e.g. `784-100-100-100-100-10`.
    pub network: String,
    pub batch_size: usize,
    pub iterations: usize,
    pub seeds: Vec<u64>,
    pub tail: usize,
    pub optimizers: Vec<OptimizerCurves>,
}

impl Output {
    /// Mean loss over the last `tail` iterations per optimizer (averaged over seeds).
    pub fn summary(&self) -> Vec<Row> {
        common::tail_rows(self.optimizers.iter().map(|o| &o.curves), self.tail)
    }
}

pub fn run(
    config: &Config,
    data: &Splits,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Output, ExperimentError> {
    config.validate()?;
    common::check_data("training set", &data.train)?;
    let net = common::network(
        config.preset,
        data.dim(),
        &config.hidden,
        data.classes(),
        config.activation,
        config.init,
    );
    let specs = config
        .optimizers
        .iter()
        .map(|o| {
            // Plain names unless one optimizer appears with several learning rates.
            let repeated = config
                .optimizers
                .iter()
                .filter(|p| p.name == o.name)
                .count()
                > 1;
            Ok(RunSpec {
                label: if repeated { o.label() } else { o.name.clone() },
                net: net.clone(),
                optimizer: o.resolve(config.preset)?,
            })
        })
        .collect::<Result<Vec<_>, ExperimentError>>()?;
    let runs = config.study().run(&specs, &data.train, progress)?;
    Ok(Output {
        preset: config.preset,
        dtype: runs.dtype,
        network: common::layer_sizes(data.dim(), &config.hidden, data.classes()),
        batch_size: config.batch_size,
        iterations: config.iterations,
        seeds: runs.seeds,
        tail: config.tail,
        optimizers: specs
            .into_iter()
            .zip(runs.curves)
            .map(|(spec, curves)| OptimizerCurves {
                curves,
                optimizer: spec.optimizer,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::common::rejection;

    #[test]
    fn settings_are_checked() {
        let bad = |f: fn(&mut Config)| rejection(f, Config::validate);
        assert!(bad(|c| c.seeds = 0).contains("seeds = 0"));
        assert!(bad(|c| c.iterations = 0).contains("iterations = 0"));
        assert!(bad(|c| c.optimizers.clear()).contains("optimizers"));
        assert!(
            bad(|c| c.optimizers[0].lr = Some(0.0)).contains("learning rate = 0"),
            "{}",
            bad(|c| c.optimizers[0].lr = Some(0.0))
        );
        assert!(
            bad(|c| c.optimizers.push(OptimizerChoice::new("adam", Some(0.001))))
                .contains("each optimizer once")
        );
        assert!(bad(|c| c.hidden = vec![100, 0]).contains("hidden sizes"));
        Config::default().validate().unwrap();
    }
}
