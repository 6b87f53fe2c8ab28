//! Initial weight scales compared on one network (the book's `weight_init_compare.py`):
//! 784-100×4-10, ReLU, SGD lr 0.01, batch 128, 2000 iterations; std 0.01, Xavier and He.
//!
//! Under each seed every network draws the same standard-normal weights (scaled by its σ) and
//! sees the same batches, so the curves differ only by the scale.

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
    /// The initialisations to compare.
    pub inits: Vec<Init>,
    pub optimizer: OptimizerChoice,
    pub batch_size: usize,
    pub iterations: usize,
    /// Batch order; the preset's when unset (book: drawn with replacement).
    pub order: Option<BatchOrder>,
    /// Which loss is recorded; the preset's when unset (book: after the update, same batch).
    pub loss_record: Option<LossRecord>,
    /// Iterations at the end averaged for the key number of each initialisation.
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
            inits: vec![Init::Std(0.01), Init::BookXavier, Init::He],
            optimizer: OptimizerChoice::new("sgd", Some(0.01)),
            batch_size: 128,
            iterations: 2000,
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
        common::check_not_empty("inits", self.inits.len())?;
        for (i, init) in self.inits.iter().enumerate() {
            init.validate()?;
            if self.inits[..i].contains(init) {
                return Err(ExperimentError::invalid(
                    "inits",
                    common::init_label(*init),
                    "each initialisation once",
                ));
            }
        }
        self.optimizer.resolve(self.preset)?;
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitCurves {
    pub init: Init,
    #[serde(flatten)]
    pub curves: LossCurves,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub preset: Preset,
    pub dtype: DType,
    /// Layer sizes, e.g. `784-100-100-100-100-10`.
    pub network: String,
    pub optimizer: ResolvedOptimizer,
    pub batch_size: usize,
    pub iterations: usize,
    pub seeds: Vec<u64>,
    pub tail: usize,
    pub inits: Vec<InitCurves>,
}

impl Output {
    /// Mean loss over the last `tail` iterations per initialisation (averaged over seeds).
    pub fn summary(&self) -> Vec<Row> {
        common::tail_rows(self.inits.iter().map(|c| &c.curves), self.tail)
    }
}

pub fn run(
    config: &Config,
    data: &Splits,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Output, ExperimentError> {
    config.validate()?;
    common::check_data("training set", &data.train)?;
    let optimizer = config.optimizer.resolve(config.preset)?;
    let specs: Vec<RunSpec> = config
        .inits
        .iter()
        .map(|&init| RunSpec {
            label: common::init_label(init),
            net: common::network(
                config.preset,
                data.dim(),
                &config.hidden,
                data.classes(),
                config.activation,
                init,
            ),
            optimizer: optimizer.clone(),
        })
        .collect();
    let runs = config.study().run(&specs, &data.train, progress)?;
    Ok(Output {
        preset: config.preset,
        dtype: runs.dtype,
        network: common::layer_sizes(data.dim(), &config.hidden, data.classes()),
        optimizer,
        batch_size: config.batch_size,
        iterations: config.iterations,
        seeds: runs.seeds,
        tail: config.tail,
        inits: config
            .inits
            .iter()
            .zip(runs.curves)
            .map(|(&init, curves)| InitCurves { init, curves })
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
        assert!(bad(|c| c.inits.clear()).contains("inits"));
        assert!(bad(|c| c.inits.push(Init::He)).contains("each initialisation once"));
        assert!(bad(|c| c.inits[0] = Init::Std(-1.0)).contains("init std"));
        assert!(bad(|c| c.optimizer.lr = Some(f64::NAN)).contains("learning rate"));
        assert!(bad(|c| c.batch_size = 0).contains("batch size = 0"));
        Config::default().validate().unwrap();
    }
}
