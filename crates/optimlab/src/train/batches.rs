//! Which samples form each mini-batch.

use crate::rng::Rng;
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchOrder {
    /// Shuffled epochs without replacement (PyTorch's `DataLoader(shuffle=True)`); the last
    /// batch of an epoch may be smaller.
    Shuffle,
    /// Each batch drawn at random with replacement; an epoch is `max(N/B, 1)` batches (the book).
    Replacement,
    /// Batch `i` is samples `[i·B, (i+1)·B)`, wrapping around (for step-by-step comparisons).
    Sequential,
}

impl std::str::FromStr for BatchOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shuffle" => Ok(BatchOrder::Shuffle),
            "replacement" => Ok(BatchOrder::Replacement),
            "sequential" => Ok(BatchOrder::Sequential),
            other => Err(format!(
                "unknown batch order '{other}' (expected shuffle, replacement or sequential)"
            )),
        }
    }
}

/// The resumable state of a [`Batches`]: its random stream and its position. Within a shuffled
/// epoch the stream is saved as it was before the epoch's shuffle, which restoring replays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchesState {
    pub rng: Rng,
    pub cursor: usize,
}

/// Produces the sample indices of successive batches without allocating.
///
/// A shuffled epoch is a fresh shuffle of `0..N`, so the state is the random stream before that
/// shuffle and the position in the epoch (checkpoints stay small and resume exactly).
pub struct Batches {
    order: BatchOrder,
    n: usize,
    batch: usize,
    permutation: Vec<usize>,
    /// Position within the current epoch (shuffle) or the data (sequential).
    cursor: usize,
    rng: Rng,
    /// The stream as it was before the current epoch's shuffle.
    epoch_rng: Rng,
}

impl Batches {
    pub fn new(order: BatchOrder, n: usize, batch: usize, rng: Rng) -> Self {
        Self {
            order,
            n,
            // Only a shuffled epoch is bounded by the data; the book draws B samples with
            // replacement whatever N is, and sequential batches wrap around.
            batch: match order {
                BatchOrder::Shuffle => batch.min(n).max(1),
                _ => batch.max(1),
            },
            permutation: (0..n).collect(),
            cursor: n,
            epoch_rng: rng.clone(),
            rng,
        }
    }

    fn shuffle_epoch(&mut self) {
        self.epoch_rng = self.rng.clone();
        for (i, p) in self.permutation.iter_mut().enumerate() {
            *p = i;
        }
        self.permutation.shuffle(&mut self.rng);
    }

    /// Batches per epoch.
    pub fn per_epoch(&self) -> usize {
        match self.order {
            BatchOrder::Shuffle => self.n.div_ceil(self.batch),
            BatchOrder::Replacement | BatchOrder::Sequential => (self.n / self.batch).max(1),
        }
    }

    /// Fills `out` with the next batch's indices.
    pub fn next_into(&mut self, out: &mut Vec<usize>) {
        out.clear();
        match self.order {
            BatchOrder::Shuffle => {
                if self.cursor >= self.n {
                    self.shuffle_epoch();
                    self.cursor = 0;
                }
                let end = (self.cursor + self.batch).min(self.n);
                out.extend_from_slice(&self.permutation[self.cursor..end]);
                self.cursor = end;
            }
            BatchOrder::Replacement => {
                for _ in 0..self.batch {
                    out.push(self.rng.random_range(0..self.n));
                }
            }
            BatchOrder::Sequential => {
                // Batch i is samples [i·B, (i+1)·B) modulo N.
                for k in 0..self.batch {
                    out.push((self.cursor + k) % self.n);
                }
                self.cursor = (self.cursor + self.batch) % self.n;
            }
        }
    }

    /// The state to save; [`Batches::restore`] continues from it exactly, mid-epoch included.
    pub fn state(&self) -> BatchesState {
        let mid_epoch = self.order == BatchOrder::Shuffle && self.cursor < self.n;
        BatchesState {
            rng: if mid_epoch {
                &self.epoch_rng
            } else {
                &self.rng
            }
            .clone(),
            cursor: self.cursor,
        }
    }

    pub fn restore(&mut self, state: BatchesState) {
        self.rng = state.rng;
        self.cursor = state.cursor;
        if self.order == BatchOrder::Shuffle && self.cursor < self.n {
            // Replay the interrupted epoch's shuffle.
            self.shuffle_epoch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, stream};

    #[test]
    fn shuffle_covers_every_sample_once_per_epoch() {
        let mut b = Batches::new(BatchOrder::Shuffle, 10, 4, stream(1, Purpose::Batches));
        assert_eq!(b.per_epoch(), 3);
        let mut seen = Vec::new();
        let mut batch = Vec::new();
        for _ in 0..3 {
            b.next_into(&mut batch);
            seen.extend_from_slice(&batch);
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn sequential_wraps_around() {
        let mut b = Batches::new(BatchOrder::Sequential, 5, 2, stream(1, Purpose::Batches));
        let mut batch = Vec::new();
        let mut all = Vec::new();
        for _ in 0..3 {
            b.next_into(&mut batch);
            all.push(batch.clone());
        }
        assert_eq!(all, vec![vec![0, 1], vec![2, 3], vec![4, 0]]);
        b.next_into(&mut batch);
        assert_eq!(batch, vec![1, 2]);
    }

    #[test]
    fn restored_state_continues_identically() {
        let mut a = Batches::new(BatchOrder::Shuffle, 9, 3, stream(2, Purpose::Batches));
        let mut batch = Vec::new();
        for _ in 0..4 {
            a.next_into(&mut batch);
        }
        // Mid-epoch: one batch into the second epoch.
        let saved = a.state();
        let mut b = Batches::new(BatchOrder::Shuffle, 9, 3, stream(99, Purpose::Batches));
        b.restore(saved);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..6 {
            a.next_into(&mut x);
            b.next_into(&mut y);
            assert_eq!(x, y);
        }
    }
}
