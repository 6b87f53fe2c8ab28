//! Batch normalisation across initial weight scales (the book's `batch_norm_test.py`): the
//! first 1000 training images, 784-100×5-10, SGD lr 0.01, batch 100; for 16 weight σ from 1 to
//! 1e-4, training accuracy with and without batch norm, measured 20 times (after iteration 0
//! and every N/B = 10 iterations).
//!
//! Under each seed the two networks of a scale start from the same dense weights and see the
//! same batches, so they differ only by the batch-norm layers.

use super::common::{
    self, AccuracyCurves, EvalPlan, ExperimentError, OptimizerChoice, Progress, Row, RunSpec,
    Schedule, Tracker,
};
use crate::Preset;
use crate::data::Splits;
use crate::nn::{Activation, BatchNormConfig, Init};
use crate::optim::ResolvedOptimizer;
use crate::tensor::DType;
use crate::train::BatchOrder;
use serde::{Deserialize, Serialize};

/// `np.logspace(0, −4, 16)`: the book's 16 weight scales from 1 down to 1e-4.
pub fn book_scales() -> Vec<f64> {
    (0..16)
        .map(|i| 10f64.powf(-4.0 * i as f64 / 15.0))
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub preset: Preset,
    /// Element type; the preset's when unset.
    pub dtype: Option<DType>,
    pub seed: u64,
    /// Repeats, with seeds `seed, seed + 1, …`.
    pub seeds: usize,
    /// Train on (and measure accuracy on) the first this many training images.
    pub train_size: usize,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub optimizer: OptimizerChoice,
    pub batch_size: usize,
    pub evaluations: usize,
    /// Iterations between evaluations; `max(train_size / batch_size, 1)` when unset.
    pub eval_every: Option<usize>,
    /// Weight σ of every dense layer.
    pub scales: Vec<f64>,
    /// Batch-norm settings; the preset's when unset.
    pub batch_norm: Option<BatchNormConfig>,
    /// Batch order; the preset's when unset (book: drawn with replacement).
    pub order: Option<BatchOrder>,
    /// A final training accuracy above this counts as having left chance (the summary).
    pub chance_threshold: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: Preset::Book,
            dtype: None,
            seed: 0,
            seeds: 1,
            train_size: 1000,
            hidden: vec![100; 5],
            activation: Activation::Relu,
            optimizer: OptimizerChoice::new("sgd", Some(0.01)),
            batch_size: 100,
            evaluations: 20,
            eval_every: None,
            scales: book_scales(),
            batch_norm: None,
            order: None,
            chance_threshold: 0.2,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), ExperimentError> {
        common::check_at_least_one("seeds", self.seeds)?;
        common::check_at_least_one("train size", self.train_size)?;
        common::check_at_least_one("batch size", self.batch_size)?;
        common::check_at_least_one("evaluations", self.evaluations)?;
        if let Some(e) = self.eval_every {
            common::check_at_least_one("evaluation interval", e)?;
        }
        common::check_hidden("hidden sizes", &self.hidden)?;
        common::check_not_empty("scales", self.scales.len())?;
        for &s in &self.scales {
            common::check_positive("weight scale", s)?;
        }
        if let Some(bn) = &self.batch_norm {
            bn.validate()?;
        }
        if self.batch_size == 1 {
            return Err(ExperimentError::invalid(
                "batch size",
                1,
                "at least 2 (batch norm cannot normalise a single sample)",
            ));
        }
        if !(0.0..1.0).contains(&self.chance_threshold) {
            return Err(ExperimentError::invalid(
                "chance threshold",
                self.chance_threshold,
                "an accuracy in [0, 1)",
            ));
        }
        self.optimizer.resolve(self.preset)?;
        Ok(())
    }

    fn plan(&self, train_len: usize) -> EvalPlan {
        EvalPlan::new(
            self.evaluations,
            self.eval_every,
            train_len,
            self.batch_size,
        )
    }
}

/// One weight scale, with and without batch norm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleResult {
    pub weight_std: f64,
    pub with_bn: AccuracyCurves,
    pub without_bn: AccuracyCurves,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub preset: Preset,
    pub dtype: DType,
    /// Layer sizes, e.g. `784-100-100-100-100-100-10`.
    pub network: String,
    pub optimizer: ResolvedOptimizer,
    pub batch_norm: BatchNormConfig,
    pub train_size: usize,
    pub batch_size: usize,
    /// The iteration (from 0) after whose update each accuracy was measured.
    pub eval_iters: Vec<usize>,
    pub seeds: Vec<u64>,
    pub chance_threshold: f64,
    pub scales: Vec<ScaleResult>,
}

impl Output {
    /// How many scales end above chance with and without batch norm, then the final training
    /// accuracies per scale (means over seeds).
    pub fn summary(&self) -> Vec<Row> {
        let above = |f: fn(&ScaleResult) -> &AccuracyCurves| {
            self.scales
                .iter()
                .filter(|s| f(s).final_train.mean > self.chance_threshold)
                .count() as f64
        };
        let mut rows = vec![
            Row::new(
                format!("scales above {} with batch norm", self.chance_threshold),
                above(|s| &s.with_bn),
            ),
            Row::new(
                format!("scales above {} without", self.chance_threshold),
                above(|s| &s.without_bn),
            ),
        ];
        for s in &self.scales {
            rows.push(Row::new(
                format!("σ={:.3e} final train acc, batch norm", s.weight_std),
                s.with_bn.final_train.mean,
            ));
            rows.push(Row::new(
                format!("σ={:.3e} final train acc, plain", s.weight_std),
                s.without_bn.final_train.mean,
            ));
        }
        rows
    }
}

pub fn run(
    config: &Config,
    data: &Splits,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Output, ExperimentError> {
    config.validate()?;
    let train = data.train.take(config.train_size);
    common::check_data("training set", &train)?;
    let optimizer = config.optimizer.resolve(config.preset)?;
    let bn = config
        .batch_norm
        .unwrap_or(BatchNormConfig::preset(config.preset));
    let mut specs = Vec::with_capacity(2 * config.scales.len());
    for &scale in &config.scales {
        for with_bn in [true, false] {
            let mut net = common::network(
                config.preset,
                train.dim,
                &config.hidden,
                train.classes,
                config.activation,
                Init::Std(scale),
            );
            net.batch_norm = with_bn.then_some(bn);
            specs.push(RunSpec {
                label: format!("σ={scale:.3e}{}", if with_bn { " batch norm" } else { "" }),
                net,
                optimizer: optimizer.clone(),
            });
        }
    }
    let order = common::order(config.preset, config.order);
    if order == BatchOrder::Shuffle && train.len() % config.batch_size == 1 {
        return Err(ExperimentError::invalid(
            "batch size",
            config.batch_size,
            format!(
                "a size that does not leave one sample alone in the last shuffled batch of {} \
                 (batch norm cannot normalise a single sample)",
                train.len()
            ),
        ));
    }
    let seeds = common::seed_list(config.seed, config.seeds);
    let dtype = common::dtype(config.preset, config.dtype);
    let plan = config.plan(train.len());
    let tracker = Tracker::new(
        (specs.len() * seeds.len() * plan.evaluations * plan.every) as u64,
        progress,
    );
    let schedule = Schedule {
        batch_size: config.batch_size,
        order,
    };
    let runs = common::accuracy_curves(
        dtype, &specs, &seeds, &train, None, schedule, plan, &tracker,
    )?;
    let mut curves = specs
        .into_iter()
        .zip(runs)
        .map(|(spec, runs)| AccuracyCurves::from_runs(spec.label, runs));
    let scales = config
        .scales
        .iter()
        .map(|&weight_std| ScaleResult {
            weight_std,
            with_bn: curves.next().expect("two runs per scale"),
            without_bn: curves.next().expect("two runs per scale"),
        })
        .collect();
    Ok(Output {
        preset: config.preset,
        dtype,
        network: common::layer_sizes(train.dim, &config.hidden, train.classes),
        optimizer,
        batch_norm: bn,
        train_size: train.len(),
        batch_size: config.batch_size,
        eval_iters: plan.eval_iters(),
        seeds,
        chance_threshold: config.chance_threshold,
        scales,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::common::rejection;

    #[test]
    fn scales_are_numpys_logspace() {
        let s = book_scales();
        assert_eq!(s.len(), 16);
        assert_eq!(s[0], 1.0);
        assert!((s[15] - 1e-4).abs() < 1e-18);
        // np.logspace(0, -4, 16)[1]
        assert!((s[1] - 0.541_169_526_546_463_7).abs() < 1e-15, "{}", s[1]);
    }

    #[test]
    fn settings_are_checked() {
        let bad = |f: fn(&mut Config)| rejection(f, Config::validate);
        assert!(bad(|c| c.scales = vec![0.1, 0.0]).contains("weight scale = 0"));
        assert!(bad(|c| c.batch_size = 1).contains("batch size = 1"));
        assert!(bad(|c| c.evaluations = 0).contains("evaluations = 0"));
        assert!(bad(|c| c.eval_every = Some(0)).contains("evaluation interval = 0"));
        assert!(bad(|c| c.train_size = 0).contains("train size = 0"));
        Config::default().validate().unwrap();
    }

    #[test]
    fn a_lone_sample_in_a_shuffled_batch_is_refused() {
        let (train, test) = crate::data::digits::train_test().unwrap();
        let data = Splits {
            train: train.take(201),
            val: None,
            test,
        };
        let config = Config {
            preset: Preset::Torch,
            train_size: 201,
            ..Config::default()
        };
        let e = run(&config, &data, &|_| {}).unwrap_err().to_string();
        assert!(e.starts_with("invalid batch size = 100"), "{e}");
    }
}
