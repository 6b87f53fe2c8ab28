//! Loss and accuracy of a network on a data set, in evaluation mode: the one evaluation loop,
//! used by the trainer, the experiments and the CLI.

use super::{Evaluation, TrainError};
use crate::data::Dataset;
use crate::nn::{Mode, Network, argmax_rows};
use crate::tensor::{Matrix, Scalar};

/// Loss and accuracy of `net` on (the first `limit` samples of) `data`, in chunks of `batch`.
pub fn evaluate<T: Scalar>(
    net: &mut Network<T>,
    data: &Dataset,
    limit: Option<usize>,
    batch: usize,
) -> Result<Evaluation, TrainError> {
    Evaluator::default().evaluate(net, data, limit, batch)
}

/// The buffers of an evaluation, kept between calls so that evaluating during training does
/// not allocate each time.
pub(crate) struct Evaluator<T: Scalar> {
    x: Matrix<T>,
    pred: Vec<usize>,
}

impl<T: Scalar> Default for Evaluator<T> {
    fn default() -> Self {
        Self {
            x: Matrix::default(),
            pred: Vec::new(),
        }
    }
}

impl<T: Scalar> Evaluator<T> {
    pub(crate) fn evaluate(
        &mut self,
        net: &mut Network<T>,
        data: &Dataset,
        limit: Option<usize>,
        batch: usize,
    ) -> Result<Evaluation, TrainError> {
        let n = limit.map_or(data.len(), |l| l.min(data.len()));
        let (mut loss_sum, mut hits) = (0.0, 0usize);
        let mut start = 0;
        while start < n {
            let end = (start + batch.max(1)).min(n);
            data.rows_into(start, end, &mut self.x);
            let labels = &data.labels[start..end];
            loss_sum += net.loss(&self.x, labels, Mode::Eval)?.as_f64() * (end - start) as f64;
            // The class with the largest logit, as the book's `argmax(predict(x))`: softmax
            // probabilities can round two close scores to a tie.
            let logits = net.layers().last().map_or(&self.x, |l| l.output());
            argmax_rows(logits, &mut self.pred);
            hits += self.pred.iter().zip(labels).filter(|(p, t)| p == t).count();
            start = end;
        }
        Ok(Evaluation {
            loss: loss_sum / n.max(1) as f64,
            accuracy: hits as f64 / n.max(1) as f64,
            samples: n,
        })
    }
}
