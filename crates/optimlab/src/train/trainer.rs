//! The trainer: runs epochs of mini-batch updates and evaluates after each.

use super::{BatchOrder, Batches};
use crate::nn::{Mode, Network, NnError};
use crate::optim::{OptimError, Optimizer};
use crate::rng::{self, Purpose};
use crate::tensor::{Matrix, Scalar};
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub order: BatchOrder,
    pub seed: u64,
    /// Rows per forward pass when evaluating.
    pub eval_batch: usize,
    /// Flush subnormal floats to zero on the training thread (see
    /// [`crate::tensor::flush_denormals`]): avoids slow subnormal arithmetic.
    pub flush_denormals: bool,
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
    #[error("the training set is empty")]
    Empty,
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::Zero("epochs"));
        }
        if self.batch_size == 0 {
            return Err(TrainError::Zero("batch size"));
        }
        if self.eval_batch == 0 {
            return Err(TrainError::Zero("evaluation batch size"));
        }
        Ok(())
    }
}

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub iter: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_acc: Option<f64>,
    pub seconds: f64,
}

/// Trains a network with an optimizer on in-memory data.
pub struct Trainer<'a, T: Scalar> {
    pub net: &'a mut Network<T>,
    pub optimizer: &'a mut Optimizer<T>,
    pub config: TrainConfig,
}

impl<T: Scalar> Trainer<'_, T> {
    /// Runs `config.epochs` epochs; `on_epoch` sees each epoch's record as it completes.
    pub fn fit(
        &mut self,
        train: (&Matrix<T>, &[usize]),
        test: Option<(&Matrix<T>, &[usize])>,
        mut on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<Vec<EpochRecord>, TrainError> {
        let cfg = &self.config;
        cfg.validate()?;
        if cfg.flush_denormals {
            crate::tensor::flush_denormals();
        }
        let (x, t) = train;
        if x.rows() == 0 {
            return Err(TrainError::Empty);
        }
        let mut batches = Batches::new(
            cfg.order,
            x.rows(),
            cfg.batch_size,
            rng::stream(cfg.seed, Purpose::Batches),
        );
        let mut idx = Vec::with_capacity(cfg.batch_size);
        let mut labels = Vec::with_capacity(cfg.batch_size);
        let mut xb = Matrix::default();
        let mut records = Vec::with_capacity(cfg.epochs);
        let mut iter = 0;
        let start = Instant::now();
        for epoch in 1..=cfg.epochs {
            let mut loss_sum = 0.0;
            let per_epoch = batches.per_epoch();
            for _ in 0..per_epoch {
                batches.next_into(&mut idx);
                xb.gather_rows(x, &idx);
                labels.clear();
                labels.extend(idx.iter().map(|&i| t[i]));
                let loss = self.net.loss(&xb, &labels, Mode::Train)?.as_f64();
                if !loss.is_finite() {
                    return Err(TrainError::Diverged { loss, iter });
                }
                self.net.backward(&xb, &labels)?;
                self.optimizer.step(self.net)?;
                loss_sum += loss;
                iter += 1;
            }
            let record = EpochRecord {
                epoch,
                iter,
                train_loss: loss_sum / per_epoch as f64,
                train_acc: self.net.accuracy(x, t, cfg.eval_batch)?,
                test_acc: match test {
                    Some((tx, tt)) => Some(self.net.accuracy(tx, tt, cfg.eval_batch)?),
                    None => None,
                },
                seconds: start.elapsed().as_secs_f64(),
            };
            on_epoch(&record);
            records.push(record);
        }
        Ok(records)
    }
}
