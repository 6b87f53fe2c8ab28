//! Softmax cross-entropy, fused: the gradient w.r.t. the logits is simply `(softmax − onehot)/N`.

use crate::preset::Preset;
use crate::tensor::{Matrix, Scalar};
use serde::{Deserialize, Serialize};

/// How the cross-entropy is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrossEntropy {
    /// The book's: `−log(y_t + 1e-7)` on the softmax output.
    Book,
    /// Exact log-softmax: `logsumexp(x) − x_t` (PyTorch's `cross_entropy`).
    Exact,
}

impl CrossEntropy {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Book => CrossEntropy::Book,
            Preset::Torch => CrossEntropy::Exact,
        }
    }
}

/// Mean softmax cross-entropy over a batch of logits and class labels.
pub struct SoftmaxCrossEntropy<T> {
    kind: CrossEntropy,
    probs: Matrix<T>,
    dlogits: Matrix<T>,
}

impl<T: Scalar> SoftmaxCrossEntropy<T> {
    pub fn new(kind: CrossEntropy) -> Self {
        Self {
            kind,
            probs: Matrix::default(),
            dlogits: Matrix::default(),
        }
    }

    pub fn kind(&self) -> CrossEntropy {
        self.kind
    }

    /// Computes softmax probabilities and returns the mean loss. Labels must be < classes
    /// (checked by the caller).
    pub fn forward(&mut self, logits: &Matrix<T>, labels: &[usize]) -> T {
        let (n, c) = logits.shape();
        self.probs.resize(n, c);
        let mut total = T::zero();
        let underflow = T::min_positive_value().ln();
        for ((row, prow), &t) in logits
            .as_slice()
            .chunks_exact(c)
            .zip(self.probs.as_mut_slice().chunks_exact_mut(c))
            .zip(labels)
        {
            let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
            let mut sum = T::zero();
            for (p, &v) in prow.iter_mut().zip(row) {
                // Below ln(smallest normal) the exponential underflows; libm's slow underflow
                // path would cost more than the whole row, and the term is < 1e-38 anyway.
                let z = v - max;
                *p = if z > underflow { z.exp() } else { T::zero() };
                sum += *p;
            }
            let inv = T::one() / sum;
            prow.iter_mut().for_each(|p| *p *= inv);
            total += match self.kind {
                CrossEntropy::Book => -(prow[t] + T::from_f64(1e-7)).ln(),
                CrossEntropy::Exact => sum.ln() - (row[t] - max),
            };
        }
        total / T::from_usize(n.max(1))
    }

    /// The softmax output of the last forward.
    pub fn probs(&self) -> &Matrix<T> {
        &self.probs
    }

    /// `(softmax − onehot)/N` for the last forward.
    pub fn backward(&mut self, labels: &[usize]) -> &Matrix<T> {
        let (n, c) = self.probs.shape();
        self.dlogits.resize(n, c);
        let inv_n = T::one() / T::from_usize(n.max(1));
        for ((drow, prow), &t) in self
            .dlogits
            .as_mut_slice()
            .chunks_exact_mut(c)
            .zip(self.probs.as_slice().chunks_exact(c))
            .zip(labels)
        {
            for (d, &p) in drow.iter_mut().zip(prow) {
                *d = p * inv_n;
            }
            drow[t] -= inv_n;
        }
        &self.dlogits
    }
}

/// Index of the largest value in each row (ties: the first).
pub fn argmax_rows<T: Scalar>(m: &Matrix<T>, out: &mut Vec<usize>) {
    out.clear();
    for r in 0..m.rows() {
        let row = m.row(r);
        let mut best = 0;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = j;
            }
        }
        out.push(best);
    }
}
