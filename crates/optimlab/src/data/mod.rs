//! Data sets: samples as rows of features in [0, 1] with class labels.

pub mod digits;

use crate::rng::{self, Purpose};
use crate::tensor::{Matrix, Scalar};
use rand::seq::SliceRandom;

/// Errors from loading data. Each names the source and the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{source_name}: {problem}")]
    Invalid {
        source_name: String,
        problem: String,
    },
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
}

/// A labelled data set held as `f32` features (row-major, one sample per row).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub features: Vec<f32>,
    pub labels: Vec<usize>,
    pub dim: usize,
    pub classes: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features as a matrix of the training element type.
    pub fn to_matrix<T: Scalar>(&self) -> Matrix<T> {
        let data = self
            .features
            .iter()
            .map(|&v| T::from_f64(v as f64))
            .collect();
        Matrix::from_vec(self.len(), self.dim, data).expect("features match dim")
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            features.extend_from_slice(&self.features[i * self.dim..(i + 1) * self.dim]);
        }
        Dataset {
            name: self.name.clone(),
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            dim: self.dim,
            classes: self.classes,
        }
    }

    /// Splits into (first, second) with `fraction` of the samples in the second part, after a
    /// shuffle seeded by `seed` (the same seed always gives the same split).
    pub fn split(&self, fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rng::stream(seed, Purpose::Other(0x5917)));
        let second = ((self.len() as f64) * fraction).round() as usize;
        let (b, a) = order.split_at(second);
        (self.subset(a), self.subset(b))
    }
}
