//! Overfitting on 300 images and two remedies (the book's `overfit_weight_decay.py` and
//! `overfit_dropout.py`): 784-100×6-10, He init, SGD lr 0.01, batch 100; train and test
//! accuracy measured after iteration 0 and every N/B = 3 iterations, on all 300 training
//! images and the whole test set.
//!
//! Under each seed every setting starts from the same weights and sees the same batches.

/// `fn shared(&self) -> Shared<'_>` for a study's config: both configs carry every [`Shared`]
/// field under the same name (kept flat so their TOML/JSON keys stay as they are).
macro_rules! impl_shared {
    ($config:ty) => {
        impl $config {
            fn shared(&self) -> super::Shared<'_> {
                super::Shared {
                    preset: self.preset,
                    dtype: self.dtype,
                    seed: self.seed,
                    seeds: self.seeds,
                    train_size: self.train_size,
                    test_size: self.test_size,
                    hidden: &self.hidden,
                    activation: self.activation,
                    init: self.init,
                    optimizer: &self.optimizer,
                    batch_size: self.batch_size,
                    evaluations: self.evaluations,
                    eval_every: self.eval_every,
                    order: self.order,
                }
            }
        }
    };
}

pub mod dropout;
pub mod weight_decay;

use super::common::{
    self, AccuracyCurves, EvalPlan, ExperimentError, OptimizerChoice, Progress, Row, RunSpec,
    Schedule, Tracker,
};
use crate::Preset;
use crate::data::Splits;
use crate::nn::{Activation, Init, NetworkConfig};
use crate::optim::ResolvedOptimizer;
use crate::tensor::DType;
use crate::train::BatchOrder;
use serde::{Deserialize, Serialize};

/// One setting of a study: its label, its value (λ, ratio) and how it changes the network.
type Setting<'a> = (String, f64, Box<dyn Fn(&mut NetworkConfig) + 'a>);

/// The settings both overfitting studies have.
struct Shared<'a> {
    preset: Preset,
    dtype: Option<DType>,
    seed: u64,
    seeds: usize,
    train_size: usize,
    test_size: Option<usize>,
    hidden: &'a [usize],
    activation: Activation,
    init: Init,
    optimizer: &'a OptimizerChoice,
    batch_size: usize,
    evaluations: usize,
    eval_every: Option<usize>,
    order: Option<BatchOrder>,
}

impl Shared<'_> {
    fn validate(&self) -> Result<(), ExperimentError> {
        common::check_at_least_one("seeds", self.seeds)?;
        common::check_at_least_one("train size", self.train_size)?;
        if let Some(t) = self.test_size {
            common::check_at_least_one("test size", t)?;
        }
        common::check_at_least_one("batch size", self.batch_size)?;
        common::check_at_least_one("evaluations", self.evaluations)?;
        if let Some(e) = self.eval_every {
            common::check_at_least_one("evaluation interval", e)?;
        }
        common::check_hidden("hidden sizes", self.hidden)?;
        self.init.validate()?;
        self.optimizer.resolve(self.preset)?;
        Ok(())
    }

    /// Trains one network per `(label, value, network change)` and measures train and test
    /// accuracy.
    fn run(
        &self,
        settings: Vec<Setting<'_>>,
        data: &Splits,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Output, ExperimentError> {
        self.validate()?;
        let train = data.train.take(self.train_size);
        let test = match self.test_size {
            Some(n) => data.test.take(n),
            None => data.test.clone(),
        };
        common::check_data("training set", &train)?;
        common::check_data("test set", &test)?;
        let optimizer = self.optimizer.resolve(self.preset)?;
        let mut values = Vec::with_capacity(settings.len());
        let specs: Vec<RunSpec> = settings
            .into_iter()
            .map(|(label, value, change)| {
                let mut net = common::network(
                    self.preset,
                    train.dim,
                    self.hidden,
                    train.classes,
                    self.activation,
                    self.init,
                );
                change(&mut net);
                values.push(value);
                RunSpec {
                    label,
                    net,
                    optimizer: optimizer.clone(),
                }
            })
            .collect();
        let seeds = common::seed_list(self.seed, self.seeds);
        let dtype = common::dtype(self.preset, self.dtype);
        let plan = EvalPlan::new(
            self.evaluations,
            self.eval_every,
            train.len(),
            self.batch_size,
        );
        let tracker = Tracker::new(
            (specs.len() * seeds.len() * plan.evaluations * plan.every) as u64,
            progress,
        );
        let schedule = Schedule {
            batch_size: self.batch_size,
            order: common::order(self.preset, self.order),
        };
        let runs = common::accuracy_curves(
            dtype,
            &specs,
            &seeds,
            &train,
            Some(&test),
            schedule,
            plan,
            &tracker,
        )?;
        Ok(Output {
            preset: self.preset,
            dtype,
            network: common::layer_sizes(train.dim, self.hidden, train.classes),
            optimizer,
            train_size: train.len(),
            test_size: test.len(),
            batch_size: self.batch_size,
            eval_iters: plan.eval_iters(),
            seeds,
            settings: specs
                .into_iter()
                .zip(values)
                .zip(runs)
                .map(|((spec, value), runs)| SettingResult {
                    value,
                    curves: AccuracyCurves::from_runs(spec.label, runs),
                })
                .collect(),
        })
    }
}

/// One setting (a λ, a dropout ratio) and its accuracy curves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingResult {
    /// λ or the dropout ratio.
    pub value: f64,
    pub curves: AccuracyCurves,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub preset: Preset,
    pub dtype: DType,
    /// Layer sizes, e.g. `784-100-100-100-100-100-100-10`.
    pub network: String,
    pub optimizer: ResolvedOptimizer,
    pub train_size: usize,
    pub test_size: usize,
    pub batch_size: usize,
    /// The iteration (from 0) after whose update each accuracy was measured.
    pub eval_iters: Vec<usize>,
    pub seeds: Vec<u64>,
    pub settings: Vec<SettingResult>,
}

impl Output {
    /// Final train accuracy, test accuracy and their gap per setting (means over seeds).
    pub fn summary(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for s in &self.settings {
            let c = &s.curves;
            rows.push(Row::new(
                format!("{} final train acc", c.label),
                c.final_train.mean,
            ));
            if let (Some(test), Some(gap)) = (c.final_test, c.final_gap) {
                rows.push(Row::new(format!("{} final test acc", c.label), test.mean));
                rows.push(Row::new(format!("{} train − test gap", c.label), gap.mean));
            }
        }
        rows
    }
}
