//! The trainer: mini-batch updates, evaluation, schedules, early stopping, divergence checks.
//!
//! It runs one epoch per [`Trainer::run_epoch`] call so that the caller can checkpoint, report
//! and decide to stop between epochs; the hot loop itself allocates nothing.

use super::{BatchOrder, Batches, BatchesState};
use crate::Preset;
use crate::clock::Stopwatch;
use crate::data::Dataset;
use crate::nn::{Mode, Network, NnError, ParamKind, Parameters, argmax_rows};
use crate::optim::{OptimError, Optimizer, Scheduler};
use crate::rng::{self, Purpose};
use crate::tensor::{Matrix, Scalar};
use serde::{Deserialize, Serialize};

/// Which loss the history records for an iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossRecord {
    /// The loss of the forward pass that produced the gradient (PyTorch scripts).
    Forward,
    /// The loss after the update, on the same batch, in evaluation mode (the book's scripts).
    AfterUpdate,
}

impl LossRecord {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Book => LossRecord::AfterUpdate,
            Preset::Torch => LossRecord::Forward,
        }
    }
}

/// When a time-based LR schedule advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleUnit {
    Iter,
    Epoch,
}

/// What early stopping watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    ValAcc,
    ValLoss,
}

impl std::str::FromStr for ScheduleUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "iter" => Ok(ScheduleUnit::Iter),
            "epoch" => Ok(ScheduleUnit::Epoch),
            other => Err(format!(
                "unknown schedule unit '{other}' (expected iter or epoch)"
            )),
        }
    }
}

impl std::str::FromStr for Monitor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "val_acc" | "val-acc" => Ok(Monitor::ValAcc),
            "val_loss" | "val-loss" => Ok(Monitor::ValLoss),
            other => Err(format!(
                "unknown metric '{other}' (expected val_acc or val_loss)"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    pub monitor: Monitor,
    /// The smallest change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs to train (ignored when `iters` is set).
    pub epochs: usize,
    /// Total iterations, when training by iterations rather than epochs.
    pub iters: Option<usize>,
    pub batch_size: usize,
    pub order: BatchOrder,
    pub seed: u64,
    pub loss_record: LossRecord,
    /// Evaluate on only the first N samples of each set (the book's
    /// `evaluate_sample_num_per_epoch`); all when unset.
    pub eval_limit: Option<usize>,
    /// Rows per forward pass when evaluating.
    pub eval_batch: usize,
    pub schedule_unit: ScheduleUnit,
    pub early_stopping: Option<EarlyStopping>,
    /// Flush subnormal floats to zero on the training thread (see
    /// [`crate::tensor::flush_denormals`]): avoids slow subnormal arithmetic.
    pub flush_denormals: bool,
}

impl TrainConfig {
    pub fn new(preset: Preset) -> Self {
        Self {
            epochs: 20,
            iters: None,
            batch_size: 32,
            order: match preset {
                Preset::Book => BatchOrder::Replacement,
                Preset::Torch => BatchOrder::Shuffle,
            },
            seed: 0,
            loss_record: LossRecord::preset(preset),
            eval_limit: None,
            eval_batch: 1000,
            schedule_unit: ScheduleUnit::Iter,
            early_stopping: None,
            flush_denormals: true,
        }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        if self.iters.is_none() && self.epochs == 0 {
            return Err(TrainError::Zero("epochs"));
        }
        if self.iters == Some(0) {
            return Err(TrainError::Zero("iters"));
        }
        if self.batch_size == 0 {
            return Err(TrainError::Zero("batch size"));
        }
        if self.eval_batch == 0 {
            return Err(TrainError::Zero("evaluation batch size"));
        }
        if self.eval_limit == Some(0) {
            return Err(TrainError::Zero("evaluation sample limit"));
        }
        if let Some(es) = &self.early_stopping {
            if es.patience == 0 {
                return Err(TrainError::Zero("early-stopping patience"));
            }
            if !(es.min_delta.is_finite() && es.min_delta >= 0.0) {
                return Err(TrainError::Invalid(format!(
                    "early-stopping min_delta = {}: expected a finite number ≥ 0",
                    es.min_delta
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error("the loss diverged (became {loss}) at iteration {iter}; lower the learning rate")]
    Diverged { loss: f64, iter: usize },
    #[error("invalid {0}: must be at least 1")]
    Zero(&'static str),
    #[error("invalid {0}")]
    Invalid(String),
    #[error("the training set is empty")]
    Empty,
    #[error(
        "early stopping watches the validation set, but there is none (set a validation fraction)"
    )]
    NoValidation,
}

/// One iteration, as the history records it (`iter` counts from 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IterRecord {
    pub iter: usize,
    pub loss: f64,
    pub lr: f64,
}

/// What one epoch measured; unmeasured fields are `None` and left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Whether the iteration budget ended inside this epoch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Iterations completed so far.
    pub iter: usize,
    pub train_loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_acc: Option<f64>,
    pub lr: f64,
    /// Wall time since training started (this process).
    pub seconds: f64,
}

/// Loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub samples: usize,
}

/// The data a run trains and evaluates on.
pub struct TrainData<'a> {
    pub train: &'a Dataset,
    pub val: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
}

/// Early-stopping bookkeeping, saved in checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopState {
    pub best: Option<f64>,
    pub bad_epochs: usize,
    /// Whether early stopping ended the run.
    #[serde(default)]
    pub stopped: bool,
}

/// Counters and streams that a checkpoint needs to resume a run exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub epoch: usize,
    pub iter: usize,
    pub batches: BatchesState,
    pub scheduler: Option<Scheduler>,
    pub early_stop: EarlyStopState,
}

/// Why `run_epoch` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More to do.
    Continue,
    /// The epoch or iteration budget is used up.
    Done,
    /// Early stopping fired.
    Stopped,
}

/// A network, its optimizer and schedule, and the loop that trains them.
pub struct Trainer<T: Scalar> {
    pub net: Network<T>,
    pub optimizer: Optimizer<T>,
    pub scheduler: Option<Scheduler>,
    pub config: TrainConfig,
    batches: Batches,
    epoch: usize,
    iter: usize,
    early_stop: EarlyStopState,
    started: Stopwatch,
    idx: Vec<usize>,
    labels: Vec<usize>,
    xb: Matrix<T>,
}

impl<T: Scalar> Trainer<T> {
    pub fn new(
        net: Network<T>,
        optimizer: Optimizer<T>,
        scheduler: Option<Scheduler>,
        config: TrainConfig,
        train_len: usize,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        if train_len == 0 {
            return Err(TrainError::Empty);
        }
        let batches = Batches::new(
            config.order,
            train_len,
            config.batch_size,
            rng::stream(config.seed, Purpose::Batches),
        );
        let batch = config.batch_size.min(train_len);
        // Batch norm cannot normalise a batch of one sample (its variance is 0; PyTorch refuses).
        let mut net = net;
        let mut has_batch_norm = false;
        net.visit_params(&mut |p| has_batch_norm |= p.kind == ParamKind::NormScale);
        let last = match config.order {
            BatchOrder::Shuffle => train_len % batch,
            _ => 0,
        };
        if has_batch_norm && (batch == 1 || last == 1) {
            return Err(TrainError::Invalid(format!(
                "batch size {}: with batch norm no batch may hold a single sample \
                 ({train_len} training samples leave one in the last batch); choose another",
                config.batch_size
            )));
        }
        if config.iters.is_none() && config.epochs.checked_mul(batches.per_epoch()).is_none() {
            return Err(TrainError::Invalid(format!(
                "epochs = {}: too many iterations to count",
                config.epochs
            )));
        }
        Ok(Self {
            idx: Vec::with_capacity(batch),
            labels: Vec::with_capacity(batch),
            net,
            optimizer,
            scheduler,
            config,
            batches,
            epoch: 0,
            iter: 0,
            early_stop: EarlyStopState::default(),
            started: Stopwatch::start(),
            xb: Matrix::default(),
        })
    }

    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }
    /// Whether early stopping ended the run (also after a resume).
    pub fn early_stopped(&self) -> bool {
        self.early_stop.stopped
    }
    /// Completed iterations.
    pub fn iter(&self) -> usize {
        self.iter
    }
    pub fn iters_per_epoch(&self) -> usize {
        self.batches.per_epoch()
    }
    /// The iteration budget of the whole run.
    pub fn total_iters(&self) -> usize {
        self.config
            .iters
            .unwrap_or(self.config.epochs * self.batches.per_epoch())
    }

    pub fn state(&self) -> TrainerState {
        TrainerState {
            epoch: self.epoch,
            iter: self.iter,
            batches: self.batches.state(),
            scheduler: self.scheduler.clone(),
            early_stop: self.early_stop.clone(),
        }
    }

    /// Restores counters and streams saved by [`Trainer::state`] (the network's and optimizer's
    /// own state is restored separately).
    pub fn restore(&mut self, state: TrainerState) {
        self.epoch = state.epoch;
        self.iter = state.iter;
        self.batches.restore(state.batches);
        self.scheduler = state.scheduler;
        self.early_stop = state.early_stop;
    }

    /// Trains one epoch (or what is left of the iteration budget), evaluates, and reports each
    /// iteration to `on_iter`. Returns the epoch's record and whether to go on.
    pub fn run_epoch(
        &mut self,
        data: &TrainData<'_>,
        mut on_iter: impl FnMut(&IterRecord),
    ) -> Result<(EpochRecord, Progress), TrainError> {
        let total = self.total_iters();
        if self.iter >= total {
            return Err(TrainError::Invalid(format!(
                "nothing to do: the run already completed {} of {total} iterations",
                self.iter
            )));
        }
        if self.config.flush_denormals {
            crate::tensor::flush_denormals();
        }
        // Up to the end of the current epoch (a run stopped by an iteration budget may have
        // ended mid-epoch), or of the budget.
        let per_epoch = self.batches.per_epoch();
        let n = (per_epoch - self.iter % per_epoch).min(total - self.iter);
        let mut loss_sum = 0.0;
        for _ in 0..n {
            let lr = self
                .scheduler
                .as_ref()
                .map_or(self.optimizer.lr, |s| s.lr());
            self.optimizer.set_lr(lr)?;
            let loss = self.step(data.train)?;
            loss_sum += loss;
            on_iter(&IterRecord {
                iter: self.iter,
                loss,
                lr,
            });
            self.iter += 1;
            if self.config.schedule_unit == ScheduleUnit::Iter
                && let Some(s) = &mut self.scheduler
            {
                s.step();
            }
        }
        let complete = self.iter % per_epoch == 0;
        if complete {
            self.epoch += 1;
            if self.config.schedule_unit == ScheduleUnit::Epoch
                && let Some(s) = &mut self.scheduler
            {
                s.step();
            }
        }

        let limit = self.config.eval_limit;
        let train_eval = self.evaluate(data.train, limit)?;
        let val_eval = data.val.map(|v| self.evaluate(v, limit)).transpose()?;
        let test_eval = data.test.map(|t| self.evaluate(t, limit)).transpose()?;
        if complete && let Some(s) = &mut self.scheduler {
            s.observe(val_eval.map_or(train_eval.loss, |v| v.loss));
        }
        let record = EpochRecord {
            // A partial epoch (the budget ended inside it) reports the epoch it is part of.
            epoch: if complete { self.epoch } else { self.epoch + 1 },
            partial: !complete,
            iter: self.iter,
            train_loss: loss_sum / n as f64,
            train_acc: Some(train_eval.accuracy),
            val_loss: val_eval.map(|v| v.loss),
            val_acc: val_eval.map(|v| v.accuracy),
            test_acc: test_eval.map(|t| t.accuracy),
            lr: self.optimizer.lr,
            seconds: self.started.seconds(),
        };
        let progress = if complete && self.should_stop(&record)? {
            Progress::Stopped
        } else if self.iter >= total {
            Progress::Done
        } else {
            Progress::Continue
        };
        Ok((record, progress))
    }

    /// One update on the next batch; returns the loss to record.
    fn step(&mut self, train: &Dataset) -> Result<f64, TrainError> {
        self.batches.next_into(&mut self.idx);
        train.gather(&self.idx, &mut self.xb);
        self.labels.clear();
        self.labels
            .extend(self.idx.iter().map(|&i| train.labels[i]));
        let loss = self.net.loss(&self.xb, &self.labels, Mode::Train)?.as_f64();
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                loss,
                iter: self.iter,
            });
        }
        self.net.backward(&self.xb, &self.labels)?;
        self.optimizer.step(&mut self.net)?;
        Ok(match self.config.loss_record {
            LossRecord::Forward => loss,
            LossRecord::AfterUpdate => {
                let after = self.net.loss(&self.xb, &self.labels, Mode::Eval)?.as_f64();
                if !after.is_finite() {
                    return Err(TrainError::Diverged {
                        loss: after,
                        iter: self.iter,
                    });
                }
                after
            }
        })
    }

    fn should_stop(&mut self, record: &EpochRecord) -> Result<bool, TrainError> {
        let Some(es) = self.config.early_stopping else {
            return Ok(false);
        };
        // Compare as "larger is better".
        let value = match es.monitor {
            Monitor::ValAcc => record.val_acc,
            Monitor::ValLoss => record.val_loss.map(|l| -l),
        }
        .ok_or(TrainError::NoValidation)?;
        let improved = self
            .early_stop
            .best
            .is_none_or(|best| value > best + es.min_delta);
        if improved {
            self.early_stop.best = Some(value);
            self.early_stop.bad_epochs = 0;
        } else {
            self.early_stop.bad_epochs += 1;
        }
        self.early_stop.stopped = self.early_stop.bad_epochs >= es.patience;
        Ok(self.early_stop.stopped)
    }

    /// Loss and accuracy on (the first `limit` samples of) `data`, in evaluation mode.
    pub fn evaluate(
        &mut self,
        data: &Dataset,
        limit: Option<usize>,
    ) -> Result<Evaluation, TrainError> {
        evaluate(&mut self.net, data, limit, self.config.eval_batch)
    }
}

/// Loss and accuracy of `net` on (the first `limit` samples of) `data`, in chunks of `batch`.
pub fn evaluate<T: Scalar>(
    net: &mut Network<T>,
    data: &Dataset,
    limit: Option<usize>,
    batch: usize,
) -> Result<Evaluation, TrainError> {
    let n = limit.map_or(data.len(), |l| l.min(data.len()));
    let mut x = Matrix::default();
    let mut pred = Vec::new();
    let (mut loss_sum, mut hits) = (0.0, 0usize);
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        data.rows_into(start, end, &mut x);
        let labels = &data.labels[start..end];
        loss_sum += net.loss(&x, labels, Mode::Eval)?.as_f64() * (end - start) as f64;
        argmax_rows(net.probabilities(), &mut pred);
        hits += pred.iter().zip(labels).filter(|(p, t)| p == t).count();
        start = end;
    }
    Ok(Evaluation {
        loss: loss_sum / n.max(1) as f64,
        accuracy: hits as f64 / n.max(1) as f64,
        samples: n,
    })
}
