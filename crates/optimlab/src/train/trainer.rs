//! The training loop: mini-batch updates, evaluation, schedules, early stopping, divergence.
//!
//! It runs one epoch per [`Trainer::run_epoch`] call so that the caller can checkpoint, report
//! and decide to stop between epochs; the hot loop itself allocates nothing. It is the only
//! training loop of the library: the CLI, tuning and the experiments all drive it.

use super::evaluate::Evaluator;
use super::{
    BatchOrder, Batches, BatchesState, EarlyStopState, EpochRecord, EvalAt, Evaluation,
    Evaluations, IterRecord, LossRecord, OnDivergence, ScheduleUnit, TrainConfig, TrainError,
};
use crate::clock::Stopwatch;
use crate::data::Dataset;
use crate::nn::{Mode, Network, ParamKind, Parameters};
use crate::optim::{Optimizer, Scheduler};
use crate::rng::{self, Purpose};
use crate::tensor::{FlushDenormals, Matrix, Scalar};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// The data a run trains and evaluates on.
pub struct TrainData<'a> {
    pub train: &'a Dataset,
    pub val: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
}

/// Counters and streams that a checkpoint needs to resume a run exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub epoch: usize,
    pub iter: usize,
    pub batches: BatchesState,
    pub scheduler: Option<Scheduler>,
    pub early_stop: EarlyStopState,
    /// The first iteration whose loss was not finite ([`OnDivergence::Record`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_at: Option<usize>,
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
    diverged_at: Option<usize>,
    started: Stopwatch,
    idx: Vec<usize>,
    labels: Vec<usize>,
    xb: Matrix<T>,
    evaluator: Evaluator<T>,
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
            diverged_at: None,
            started: Stopwatch::start(),
            xb: Matrix::default(),
            evaluator: Evaluator::default(),
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
    /// The first iteration whose loss was not finite, under [`OnDivergence::Record`].
    pub fn diverged_at(&self) -> Option<usize> {
        self.diverged_at
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
            diverged_at: self.diverged_at,
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
        self.diverged_at = state.diverged_at;
    }

    /// Trains one epoch (or what is left of the iteration budget), evaluates as
    /// [`TrainConfig::eval_at`] says, and reports each iteration to `on_iter`. Returns the
    /// epoch's record and whether to go on.
    pub fn run_epoch(
        &mut self,
        data: &TrainData<'_>,
        on_iter: impl FnMut(&IterRecord),
    ) -> Result<(EpochRecord, Progress), TrainError> {
        self.run_epoch_until(data, on_iter, &AtomicBool::new(false))
    }

    /// [`Trainer::run_epoch`], ending early (a partial epoch, as when an iteration budget ends
    /// inside one) after the step during which `stop` was raised.
    pub fn run_epoch_until(
        &mut self,
        data: &TrainData<'_>,
        mut on_iter: impl FnMut(&IterRecord),
        stop: &AtomicBool,
    ) -> Result<(EpochRecord, Progress), TrainError> {
        let total = self.total_iters();
        if self.iter >= total {
            return Err(TrainError::Invalid(format!(
                "nothing to do: the run already completed {} of {total} iterations",
                self.iter
            )));
        }
        // Scoped to this call: the caller's floating-point mode comes back when it returns.
        let _flush = self.config.flush_denormals.then(FlushDenormals::new);
        // Up to the end of the current epoch (a run stopped by an iteration budget may have
        // ended mid-epoch), or of the budget.
        let per_epoch = self.batches.per_epoch();
        let n = (per_epoch - self.iter % per_epoch).min(total - self.iter);
        let mut loss_sum = 0.0;
        let mut done = 0;
        for _ in 0..n {
            if done > 0 && stop.load(Ordering::Relaxed) {
                break;
            }
            done += 1;
            let lr = self
                .scheduler
                .as_ref()
                .map_or(self.optimizer.lr, |s| s.lr());
            self.optimizer.set_lr(lr)?;
            let loss = self.step(data.train)?;
            loss_sum += loss;
            let eval = match self.config.eval_at {
                EvalAt::Every(every) if self.iter % every == 0 => Some(self.evaluate_all(data)?),
                _ => None,
            };
            on_iter(&IterRecord {
                iter: self.iter,
                loss,
                lr,
                eval,
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

        let train_loss = loss_sum / done as f64;
        let eval = match self.config.eval_at {
            EvalAt::EpochEnd => Some(self.evaluate_all(data)?),
            _ => None,
        };
        if complete && let Some(s) = &mut self.scheduler {
            // Without an epoch evaluation, the epoch's recorded training loss.
            s.observe(eval.map_or(train_loss, |e| e.val.unwrap_or(e.train).loss));
        }
        let record = EpochRecord {
            // A partial epoch (the budget ended inside it) reports the epoch it is part of.
            epoch: if complete { self.epoch } else { self.epoch + 1 },
            partial: !complete,
            iter: self.iter,
            train_loss,
            train_acc: eval.map(|e| e.train.accuracy),
            val_loss: eval.and_then(|e| e.val).map(|v| v.loss),
            val_acc: eval.and_then(|e| e.val).map(|v| v.accuracy),
            test_acc: eval.and_then(|e| e.test).map(|t| t.accuracy),
            lr: self.optimizer.lr,
            seconds: self.started.seconds(),
        };
        let stop = match &self.config.early_stopping {
            Some(es) if complete => self.early_stop.update(es, &record)?,
            _ => false,
        };
        let progress = if stop {
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
        let loss = self.check(loss)?;
        self.net.backward(&self.xb, &self.labels)?;
        self.optimizer.step(&mut self.net)?;
        Ok(match self.config.loss_record {
            LossRecord::Forward => loss,
            LossRecord::AfterUpdate => {
                let after = self.net.loss(&self.xb, &self.labels, Mode::Eval)?.as_f64();
                self.check(after)?
            }
        })
    }

    /// Applies [`TrainConfig::on_divergence`] to a loss of the current iteration.
    fn check(&mut self, loss: f64) -> Result<f64, TrainError> {
        if loss.is_finite() {
            return Ok(loss);
        }
        match self.config.on_divergence {
            OnDivergence::Stop => Err(TrainError::Diverged {
                loss,
                iter: self.iter,
            }),
            OnDivergence::Record => {
                self.diverged_at.get_or_insert(self.iter);
                Ok(loss)
            }
        }
    }

    /// Every data set of `data`, each limited to [`TrainConfig::eval_limit`] samples.
    fn evaluate_all(&mut self, data: &TrainData<'_>) -> Result<Evaluations, TrainError> {
        let limit = self.config.eval_limit;
        Ok(Evaluations {
            train: self.evaluate(data.train, limit)?,
            val: data.val.map(|v| self.evaluate(v, limit)).transpose()?,
            test: data.test.map(|t| self.evaluate(t, limit)).transpose()?,
        })
    }

    /// Loss and accuracy on (the first `limit` samples of) `data`, in evaluation mode.
    pub fn evaluate(
        &mut self,
        data: &Dataset,
        limit: Option<usize>,
    ) -> Result<Evaluation, TrainError> {
        self.evaluator
            .evaluate(&mut self.net, data, limit, self.config.eval_batch)
    }
}

#[cfg(test)]
mod tests;
