//! What the chapter's experiments share: the error type, progress reports, setting checks,
//! statistics over seeds, and the two kinds of run (a loss per iteration; accuracies every few
//! iterations), both trained by [`crate::train::Trainer`]. Every run builds its own network,
//! optimizer and seeded streams and uses one GEMM thread, so runs go in parallel and give the
//! same numbers whatever the thread count.

mod checks;
mod runs;
mod stats;

use crate::Preset;
use crate::nn::{Activation, Init, NetworkConfig, NnError};
use crate::optim::{OptimError, OptimizerConfig, ResolvedOptimizer};
use crate::tensor::DType;
use crate::train::{BatchOrder, TrainError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors of an experiment; each is one line naming the setting or run at fault.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("invalid {setting} = {value}: expected {expected}")]
    Invalid {
        setting: &'static str,
        value: String,
        expected: String,
    },
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error(transparent)]
    Train(TrainError),
    #[error(
        "{run}: the loss diverged (became {loss}) at iteration {iter}; lower the learning rate"
    )]
    Diverged { run: String, loss: f64, iter: usize },
}

impl ExperimentError {
    pub(crate) fn invalid(
        setting: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        ExperimentError::Invalid {
            setting,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// How far an experiment has got: `done` of `total` work units (training iterations and
/// evaluations over all runs); `run` names the run that just advanced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub run: String,
}

/// Counts work units across parallel runs and reports them.
pub(crate) struct Tracker<'a> {
    done: AtomicU64,
    total: u64,
    report: &'a (dyn Fn(Progress) + Sync),
}

impl<'a> Tracker<'a> {
    pub(crate) fn new(total: u64, report: &'a (dyn Fn(Progress) + Sync)) -> Self {
        Self {
            done: AtomicU64::new(0),
            total,
            report,
        }
    }

    pub(crate) fn advance(&self, units: u64, run: &str) {
        let done = self.done.fetch_add(units, Ordering::Relaxed) + units;
        (self.report)(Progress {
            done,
            total: self.total,
            run: run.to_string(),
        });
    }
}

pub(crate) use self::checks::*;
pub use self::runs::{AccuracyCurves, LossCurves};
pub(crate) use self::runs::{EvalPlan, LossStudy, RunSpec, Schedule, accuracy_curves, tail_rows};
pub use self::stats::{Band, Row, Spread};

/// An optimizer by name, with the preset's hyperparameters or the given learning rate
/// (`sgd`, `adam:0.001`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerChoice {
    pub name: String,
    #[serde(default)]
    pub lr: Option<f64>,
}

impl OptimizerChoice {
    pub fn new(name: &str, lr: Option<f64>) -> Self {
        OptimizerChoice {
            name: name.to_string(),
            lr,
        }
    }

    /// `name` or `name:lr` on a line (for lists of optimizers).
    pub fn label(&self) -> String {
        match self.lr {
            Some(lr) => format!("{}:{lr}", self.name),
            None => self.name.clone(),
        }
    }

    /// Every hyperparameter filled from `preset`, the learning rate from here when given.
    pub fn resolve(&self, preset: Preset) -> Result<ResolvedOptimizer, ExperimentError> {
        if let Some(lr) = self.lr {
            check_positive("learning rate", lr)?;
        }
        let mut config = OptimizerConfig::new(self.name.parse()?, preset);
        config.lr = self.lr;
        Ok(config.resolve()?)
    }
}

impl std::str::FromStr for OptimizerChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, lr) = match s.split_once(':') {
            Some((name, lr)) => {
                let lr: f64 = lr.trim().parse().map_err(|_| {
                    format!("invalid optimizer '{s}': the learning rate after ':' is not a number")
                })?;
                (name.trim(), Some(lr))
            }
            None => (s.trim(), None),
        };
        if name.is_empty() {
            return Err(format!("invalid optimizer '{s}': expected NAME or NAME:LR"));
        }
        Ok(OptimizerChoice::new(name, lr))
    }
}

/// The element type: the preset's unless overridden.
pub(crate) fn dtype(preset: Preset, dtype: Option<DType>) -> DType {
    dtype.unwrap_or(preset.dtype())
}

/// The batch order: the preset's (book: with replacement) unless overridden.
pub(crate) fn order(preset: Preset, order: Option<BatchOrder>) -> BatchOrder {
    order.unwrap_or(match preset {
        Preset::Book => BatchOrder::Replacement,
        Preset::Torch => BatchOrder::Shuffle,
    })
}

/// `784-100-100-10`.
pub(crate) fn layer_sizes(input: usize, hidden: &[usize], output: usize) -> String {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(output))
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// A legend name for an initialisation, as the book writes them (`std=0.01`, `Xavier`, `He`).
pub(crate) fn init_label(init: Init) -> String {
    match init {
        Init::Std(s) => format!("std={s}"),
        Init::BookXavier => "Xavier".into(),
        Init::Glorot => "Glorot".into(),
        Init::He => "He".into(),
    }
}

/// The network every study starts from: the preset's layers with the given hidden sizes,
/// activation and initialisation; each study then changes what it compares.
pub(crate) fn network(
    preset: Preset,
    input: usize,
    hidden: &[usize],
    output: usize,
    activation: Activation,
    init: Init,
) -> NetworkConfig {
    let mut net = NetworkConfig::new(preset, input, hidden.to_vec(), output);
    net.activation = activation;
    net.init = init;
    net
}

/// The error `validate` gives for a default config changed by `change`: the studies' setting
/// tests each check which message a bad value produces.
#[cfg(test)]
pub(crate) fn rejection<C: Default>(
    change: impl FnOnce(&mut C),
    validate: impl FnOnce(&C) -> Result<(), ExperimentError>,
) -> String {
    let mut config = C::default();
    change(&mut config);
    validate(&config).unwrap_err().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_and_spread() {
        let b = Band::of(&[vec![1.0, 4.0], vec![3.0, 2.0]]).unwrap();
        assert_eq!(b.mean, vec![2.0, 3.0]);
        assert_eq!(b.min, vec![1.0, 2.0]);
        assert_eq!(b.max, vec![3.0, 4.0]);
        assert!(Band::of(&[vec![1.0]]).is_none());
        let s = Spread::of([0.5, 1.5, 1.0]);
        assert_eq!((s.mean, s.min, s.max), (1.0, 0.5, 1.5));
    }

    #[test]
    fn optimizer_choices_parse() {
        let c: OptimizerChoice = "adam:0.001".parse().unwrap();
        assert_eq!(c, OptimizerChoice::new("adam", Some(0.001)));
        assert_eq!("sgd".parse::<OptimizerChoice>().unwrap().lr, None);
        assert!("adam:x".parse::<OptimizerChoice>().is_err());
        assert!(":0.1".parse::<OptimizerChoice>().is_err());
        let e = OptimizerChoice::new("sgd", Some(-1.0))
            .resolve(Preset::Book)
            .unwrap_err()
            .to_string();
        assert!(e.contains("learning rate = -1"), "{e}");
        let e = OptimizerChoice::new("sdg", None)
            .resolve(Preset::Book)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sdg"), "{e}");
    }

    #[test]
    fn eval_plan_matches_the_books_loop() {
        let p = EvalPlan {
            evaluations: 20,
            every: 10,
        };
        assert_eq!(p.iterations(), 191);
        assert_eq!(p.eval_iters()[..3], [0, 10, 20]);
        assert_eq!(*p.eval_iters().last().unwrap(), 190);
    }
}
