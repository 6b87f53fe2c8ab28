//! The two kinds of training run the studies are made of (a loss per iteration; accuracies
//! every few iterations), each run by [`crate::train::Trainer`] with its own network,
//! optimizer and seeded streams on one GEMM thread, and what they return.

use super::checks::*;
use super::{Band, ExperimentError, Progress, Row, Spread, Tracker, dtype, order};
use crate::Preset;
use crate::data::Dataset;
use crate::nn::{Network, NetworkConfig};
use crate::optim::ResolvedOptimizer;
use crate::tensor::{DType, Scalar, Threads};
use crate::train::{
    BatchOrder, EvalAt, IterRecord, LossRecord, OnDivergence, Progress as TrainProgress,
    TrainConfig, TrainData, TrainError, Trainer,
};
use serde::{Deserialize, Serialize};

/// Rows per forward pass when measuring accuracy.
const EVAL_CHUNK: usize = 1000;

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
    /// [`super::super::smoothing::smooth_curve`] of each curve.
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
            .map(|c| super::super::smoothing::smooth_curve(c))
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
