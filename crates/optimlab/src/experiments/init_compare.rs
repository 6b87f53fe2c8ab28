//! Initial weight scales compared on one network (the book's `weight_init_compare.py`):
//! 784-100×4-10, ReLU, SGD lr 0.01, batch 128, 2000 iterations; std 0.01, Xavier and He.
//!
//! Under each seed every network draws the same standard-normal weights (scaled by its σ) and
//! sees the same batches, so the curves differ only by the scale.

use super::common::{
    self, ExperimentError, LossCurves, OptimizerChoice, Progress, Row, RunSpec, Schedule, Tracker,
};
use crate::Preset;
use crate::data::Splits;
use crate::nn::{Activation, Init, NetworkConfig};
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
    pub fn validate(&self) -> Result<(), ExperimentError> {
        common::check_at_least_one("seeds", self.seeds)?;
        common::check_at_least_one("batch size", self.batch_size)?;
        common::check_at_least_one("iterations", self.iterations)?;
        common::check_at_least_one("tail", self.tail)?;
        common::check_hidden("hidden sizes", &self.hidden)?;
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
        self.inits
            .iter()
            .map(|c| {
                Row::new(
                    format!(
                        "{} loss, mean of last {} iterations",
                        c.curves.label, self.tail
                    ),
                    c.curves.tail_mean.mean,
                )
            })
            .collect()
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
        .map(|&init| {
            let mut net = NetworkConfig::new(
                config.preset,
                data.dim(),
                config.hidden.clone(),
                data.classes(),
            );
            net.activation = config.activation;
            net.init = init;
            RunSpec {
                label: common::init_label(init),
                net,
                optimizer: optimizer.clone(),
            }
        })
        .collect();
    let seeds = common::seed_list(config.seed, config.seeds);
    let dtype = common::dtype(config.preset, config.dtype);
    let tracker = Tracker::new(
        (specs.len() * seeds.len() * config.iterations) as u64,
        progress,
    );
    let schedule = Schedule {
        batch_size: config.batch_size,
        order: common::order(config.preset, config.order),
    };
    let record = config
        .loss_record
        .unwrap_or(LossRecord::preset(config.preset));
    let curves = common::loss_curves(
        dtype,
        &specs,
        &seeds,
        &data.train,
        schedule,
        config.iterations,
        record,
        &tracker,
    )?;
    Ok(Output {
        preset: config.preset,
        dtype,
        network: common::layer_sizes(data.dim(), &config.hidden, data.classes()),
        optimizer,
        batch_size: config.batch_size,
        iterations: config.iterations,
        seeds,
        tail: config.tail,
        inits: config
            .inits
            .iter()
            .zip(specs)
            .zip(curves)
            .map(|((&init, spec), loss)| InitCurves {
                init,
                curves: LossCurves::new(spec.label, loss, config.tail),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.inits.clear()).contains("inits"));
        assert!(bad(|c| c.inits.push(Init::He)).contains("each initialisation once"));
        assert!(bad(|c| c.inits[0] = Init::Std(-1.0)).contains("init std"));
        assert!(bad(|c| c.optimizer.lr = Some(f64::NAN)).contains("learning rate"));
        assert!(bad(|c| c.batch_size = 0).contains("batch size = 0"));
        Config::default().validate().unwrap();
    }
}
