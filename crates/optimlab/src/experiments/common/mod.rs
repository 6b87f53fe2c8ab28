//! What the chapter's experiments share: the error type, progress reports, setting checks,
//! statistics over seeds, and the two kinds of run (a loss per iteration; accuracies every few
//! iterations), both trained by [`crate::train::Trainer`]. Every run builds its own network,
//! optimizer and seeded streams and uses one GEMM thread, so runs go in parallel and give the
//! same numbers whatever the thread count.

mod checks;
mod stats;

use crate::Preset;
use crate::data::Dataset;
use crate::nn::{Activation, Init, Network, NetworkConfig, NnError};
use crate::optim::{OptimError, OptimizerConfig, ResolvedOptimizer};
use crate::tensor::{DType, Scalar, Threads};
use crate::train::{
    BatchOrder, EvalAt, IterRecord, LossRecord, OnDivergence, Progress as TrainProgress,
    TrainConfig, TrainData, TrainError, Trainer,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows per forward pass when measuring accuracy.
const EVAL_CHUNK: usize = 1000;

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

/// One network to train: what the result is called, its architecture and its optimizer.
#[derive(Clone, Debug)]
pub(crate) struct RunSpec {
    pub label: String,
    pub net: NetworkConfig,
    pub optimizer: ResolvedOptimizer,
}

/// How the training loop draws batches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    pub batch_size: usize,
    pub order: BatchOrder,
}

impl RunSpec {
    /// A trainer for this run under `seed`: the network (one GEMM thread), the optimizer and
    /// the batch stream all seeded from it, training `iterations` updates.
    fn trainer<T: Scalar>(
        &self,
        seed: u64,
        train: &Dataset,
        schedule: Schedule,
        options: RunOptions,
    ) -> Result<Trainer<T>, ExperimentError> {
        let mut config = TrainConfig::new(Preset::Book);
        config.iters = Some(options.iterations);
        config.batch_size = schedule.batch_size;
        config.order = schedule.order;
        config.seed = seed;
        config.loss_record = options.loss_record;
        config.eval_at = options.eval_at;
        config.eval_batch = EVAL_CHUNK;
        config.on_divergence = options.on_divergence;
        // The studies reproduce the chapter at full speed; the trainer scopes the mode to each
        // of its calls, on whichever worker thread the run lands.
        config.flush_denormals = true;
        let net = Network::build_with_threads(&self.net, seed, Threads(1))?;
        Trainer::new(net, self.optimizer.build()?, None, config, train.len())
            .map_err(|e| self.error(e))
    }

    /// A training error, a divergence naming this run.
    fn error(&self, e: TrainError) -> ExperimentError {
        match e {
            TrainError::Diverged { loss, iter } => ExperimentError::Diverged {
                run: self.label.clone(),
                loss,
                iter,
            },
            TrainError::Nn(e) => ExperimentError::Nn(e),
            TrainError::Optim(e) => ExperimentError::Optim(e),
            e => ExperimentError::Train(e),
        }
    }

    /// Trains to the end of the budget, reporting every iteration to `on_iter`.
    fn train<T: Scalar>(
        &self,
        trainer: &mut Trainer<T>,
        data: &TrainData<'_>,
        mut on_iter: impl FnMut(&IterRecord),
    ) -> Result<(), ExperimentError> {
        loop {
            let (_, progress) = trainer
                .run_epoch(data, &mut on_iter)
                .map_err(|e| self.error(e))?;
            if progress != TrainProgress::Continue {
                return Ok(());
            }
        }
    }
}

/// What the two kinds of study ask of the trainer beyond the batches.
#[derive(Clone, Copy, Debug)]
struct RunOptions {
    iterations: usize,
    loss_record: LossRecord,
    eval_at: EvalAt,
    on_divergence: OnDivergence,
}

/// Runs every (spec, seed) pair in parallel; results come back grouped by spec, in seed order.
fn per_spec_and_seed<R: Send>(
    specs: &[RunSpec],
    seeds: &[u64],
    job: impl Fn(&RunSpec, u64) -> Result<R, ExperimentError> + Sync,
) -> Result<Vec<Vec<R>>, ExperimentError> {
    let jobs: Vec<(usize, u64)> = (0..specs.len())
        .flat_map(|s| seeds.iter().map(move |&seed| (s, seed)))
        .collect();
    let results: Vec<R> = crate::parallel::try_map(&jobs, |&(s, seed)| job(&specs[s], seed))?;
    let mut grouped: Vec<Vec<R>> = specs.iter().map(|_| Vec::new()).collect();
    for ((s, _), r) in jobs.iter().zip(results) {
        grouped[*s].push(r);
    }
    Ok(grouped)
}

/// The recorded training loss of every iteration, for each spec and seed.
// Each argument is one independent choice of the experiment calling it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn loss_curves(
    dtype: DType,
    specs: &[RunSpec],
    seeds: &[u64],
    train: &Dataset,
    schedule: Schedule,
    iterations: usize,
    record: LossRecord,
    tracker: &Tracker<'_>,
) -> Result<Vec<Vec<Vec<f64>>>, ExperimentError> {
    fn curve<T: Scalar>(
        spec: &RunSpec,
        seed: u64,
        train: &Dataset,
        schedule: Schedule,
        iterations: usize,
        record: LossRecord,
        tracker: &Tracker<'_>,
    ) -> Result<Vec<f64>, ExperimentError> {
        let options = RunOptions {
            iterations,
            loss_record: record,
            eval_at: EvalAt::Never,
            on_divergence: OnDivergence::Stop,
        };
        let mut trainer = spec.trainer::<T>(seed, train, schedule, options)?;
        let mut losses = Vec::with_capacity(iterations);
        const REPORT_EVERY: usize = 50;
        let data = TrainData {
            train,
            val: None,
            test: None,
        };
        spec.train(&mut trainer, &data, |r| {
            losses.push(r.loss);
            let i = r.iter;
            if (i + 1) % REPORT_EVERY == 0 || i + 1 == iterations {
                let units = (i % REPORT_EVERY + 1) as u64;
                tracker.advance(units, &spec.label);
            }
        })?;
        Ok(losses)
    }
    per_spec_and_seed(specs, seeds, |spec, seed| match dtype {
        DType::F32 => curve::<f32>(spec, seed, train, schedule, iterations, record, tracker),
        DType::F64 => curve::<f64>(spec, seed, train, schedule, iterations, record, tracker),
    })
}

/// When accuracies are measured: after the update of every iteration `i` with
/// `i % every == 0`, `evaluations` times (the book's loops: the first after iteration 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EvalPlan {
    pub evaluations: usize,
    pub every: usize,
}

impl EvalPlan {
    /// `evaluations` measurements, `every` iterations apart: `eval_every` when given, else
    /// one epoch's worth of batches (`max(train_len / batch_size, 1)`, the book's N/B).
    pub(crate) fn new(
        evaluations: usize,
        eval_every: Option<usize>,
        train_len: usize,
        batch_size: usize,
    ) -> Self {
        EvalPlan {
            evaluations,
            every: eval_every.unwrap_or((train_len / batch_size).max(1)),
        }
    }
    /// Iterations trained in all: `(evaluations − 1)·every + 1`.
    pub(crate) fn iterations(self) -> usize {
        (self.evaluations - 1) * self.every + 1
    }
    /// The iteration (from 0) after whose update each evaluation happens.
    pub(crate) fn eval_iters(self) -> Vec<usize> {
        (0..self.evaluations).map(|k| k * self.every).collect()
    }
}

/// Train (and test) accuracy at each evaluation of one run.
pub(crate) struct AccuracyRun {
    pub train: Vec<f64>,
    pub test: Option<Vec<f64>>,
    pub diverged_at: Option<usize>,
}

/// Train accuracy on `train` (and on `test` when given) during training, for each spec and seed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accuracy_curves(
    dtype: DType,
    specs: &[RunSpec],
    seeds: &[u64],
    train: &Dataset,
    test: Option<&Dataset>,
    schedule: Schedule,
    plan: EvalPlan,
    tracker: &Tracker<'_>,
) -> Result<Vec<Vec<AccuracyRun>>, ExperimentError> {
    fn run<T: Scalar>(
        spec: &RunSpec,
        seed: u64,
        train: &Dataset,
        test: Option<&Dataset>,
        schedule: Schedule,
        plan: EvalPlan,
        tracker: &Tracker<'_>,
    ) -> Result<AccuracyRun, ExperimentError> {
        let options = RunOptions {
            iterations: plan.iterations(),
            // The recorded loss is not used here: skip the book's after-update forward pass.
            loss_record: LossRecord::Forward,
            eval_at: EvalAt::Every(plan.every),
            // A diverged run is a result (chance accuracy), as in the book's loops.
            on_divergence: OnDivergence::Record,
        };
        let mut trainer = spec.trainer::<T>(seed, train, schedule, options)?;
        let mut out = AccuracyRun {
            train: Vec::with_capacity(plan.evaluations),
            test: test.map(|_| Vec::with_capacity(plan.evaluations)),
            diverged_at: None,
        };
        let data = TrainData {
            train,
            val: None,
            test,
        };
        spec.train(&mut trainer, &data, |r| {
            if let Some(eval) = r.eval {
                out.train.push(eval.train.accuracy);
                if let (Some(t), Some(curve)) = (eval.test, out.test.as_mut()) {
                    curve.push(t.accuracy);
                }
                tracker.advance(plan.every as u64, &spec.label);
            }
        })?;
        out.diverged_at = trainer.diverged_at();
        Ok(out)
    }
    per_spec_and_seed(specs, seeds, |spec, seed| match dtype {
        DType::F32 => run::<f32>(spec, seed, train, test, schedule, plan, tracker),
        DType::F64 => run::<f64>(spec, seed, train, test, schedule, plan, tracker),
    })
}

/// Accuracy curves of one setting over seeds, with what the plots and tables need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccuracyCurves {
    pub label: String,
    /// Training accuracy at each evaluation, one curve per seed.
    pub train: Vec<Vec<f64>>,
    /// Test accuracy at each evaluation, one curve per seed (empty without a test set).
    pub test: Vec<Vec<f64>>,
    pub train_band: Option<Band>,
    pub test_band: Option<Band>,
    pub final_train: Spread,
    pub final_test: Option<Spread>,
    /// Final train − test accuracy.
    pub final_gap: Option<Spread>,
    /// Per seed, the first iteration whose training loss was not finite (the run went on).
    pub diverged_at: Vec<Option<usize>>,
}

impl AccuracyCurves {
    pub(crate) fn from_runs(label: String, runs: Vec<AccuracyRun>) -> Self {
        let last = |c: &Vec<f64>| c.last().copied().unwrap_or(f64::NAN);
        let train: Vec<Vec<f64>> = runs.iter().map(|r| r.train.clone()).collect();
        let diverged_at = runs.iter().map(|r| r.diverged_at).collect();
        let test: Vec<Vec<f64>> = runs.into_iter().filter_map(|r| r.test).collect();
        let has_test = !test.is_empty();
        AccuracyCurves {
            label,
            train_band: Band::of(&train),
            test_band: Band::of(&test),
            final_train: Spread::of(train.iter().map(last)),
            final_test: has_test.then(|| Spread::of(test.iter().map(last))),
            final_gap: has_test
                .then(|| Spread::of(train.iter().zip(&test).map(|(a, b)| last(a) - last(b)))),
            train,
            test,
            diverged_at,
        }
    }
}

/// The settings the loss-curve studies share (initialisations and optimizers compared on one
/// network), borrowed from their configs: both check, train and summarise them the same way
/// and differ only in which runs they compare.
pub(crate) struct LossStudy<'a> {
    pub preset: Preset,
    pub dtype: Option<DType>,
    pub seed: u64,
    pub seeds: usize,
    pub hidden: &'a [usize],
    pub batch_size: usize,
    pub iterations: usize,
    pub order: Option<BatchOrder>,
    pub loss_record: Option<LossRecord>,
    pub tail: usize,
}

/// What [`LossStudy::run`] gives back: the element type and seeds it ran with, and one
/// [`LossCurves`] per run, in the order of the specs.
pub(crate) struct LossStudyRuns {
    pub dtype: DType,
    pub seeds: Vec<u64>,
    pub curves: Vec<LossCurves>,
}

impl LossStudy<'_> {
    pub(crate) fn validate(&self) -> Result<(), ExperimentError> {
        check_at_least_one("seeds", self.seeds)?;
        check_at_least_one("batch size", self.batch_size)?;
        check_at_least_one("iterations", self.iterations)?;
        check_at_least_one("tail", self.tail)?;
        check_hidden("hidden sizes", self.hidden)?;
        NetworkConfig::new(self.preset, 0, self.hidden.to_vec(), 0)
            .check_memory(self.batch_size, 8)?;
        Ok(())
    }

    /// Trains every spec under every seed on `train` and records the loss of each iteration.
    pub(crate) fn run(
        &self,
        specs: &[RunSpec],
        train: &Dataset,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<LossStudyRuns, ExperimentError> {
        let seeds = seed_list(self.seed, self.seeds);
        let dtype = dtype(self.preset, self.dtype);
        let tracker = Tracker::new(
            (specs.len() * seeds.len() * self.iterations) as u64,
            progress,
        );
        let schedule = Schedule {
            batch_size: self.batch_size,
            order: order(self.preset, self.order),
        };
        let record = self.loss_record.unwrap_or(LossRecord::preset(self.preset));
        let losses = loss_curves(
            dtype,
            specs,
            &seeds,
            train,
            schedule,
            self.iterations,
            record,
            &tracker,
        )?;
        let curves = specs
            .iter()
            .zip(losses)
            .map(|(spec, loss)| LossCurves::new(spec.label.clone(), loss, self.tail))
            .collect();
        Ok(LossStudyRuns {
            dtype,
            seeds,
            curves,
        })
    }
}

/// Mean loss over the last `tail` iterations of each run (averaged over seeds): the key
/// numbers of a loss-curve study.
pub(crate) fn tail_rows<'a>(
    curves: impl IntoIterator<Item = &'a LossCurves>,
    tail: usize,
) -> Vec<Row> {
    curves
        .into_iter()
        .map(|c| {
            Row::new(
                format!("{} loss, mean of last {tail} iterations", c.label),
                c.tail_mean.mean,
            )
        })
        .collect()
}

/// Loss curves of one setting over seeds, raw and smoothed as the book plots them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossCurves {
    pub label: String,
    /// The recorded loss of every iteration, one curve per seed.
    pub loss: Vec<Vec<f64>>,
    /// [`super::smoothing::smooth_curve`] of each curve.
    pub smoothed: Vec<Vec<f64>>,
    pub loss_band: Option<Band>,
    pub smoothed_band: Option<Band>,
    /// Mean loss over the last `tail` iterations of each seed's run.
    pub tail_mean: Spread,
}

impl LossCurves {
    pub(crate) fn new(label: String, loss: Vec<Vec<f64>>, tail: usize) -> Self {
        let smoothed: Vec<Vec<f64>> = loss
            .iter()
            .map(|c| super::smoothing::smooth_curve(c))
            .collect();
        let tail_mean = Spread::of(loss.iter().map(|c| {
            let t = &c[c.len() - tail.min(c.len())..];
            t.iter().sum::<f64>() / t.len().max(1) as f64
        }));
        LossCurves {
            label,
            loss_band: Band::of(&loss),
            smoothed_band: Band::of(&smoothed),
            smoothed,
            loss,
            tail_mean,
        }
    }
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
