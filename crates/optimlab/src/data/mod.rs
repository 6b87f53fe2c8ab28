//! Data sets: samples as rows of features in [0, 1] with class labels.
//!
//! Sources ([`DataSource`], parsed from the `--data` string): the embedded [`digits`], MNIST-format
//! IDX folders ([`idx`]; Fashion-MNIST, MNIST), CSV files ([`csv`]). [`DataConfig::prepare`] turns
//! the data flags into train / validation / test sets; [`download`] fetches MNIST and
//! Fashion-MNIST into the cache folder with checksums.

pub mod csv;
pub mod digits;
#[cfg(feature = "download")]
pub mod download;
pub mod idx;
pub mod source;
pub mod toy;

pub use source::{DataConfig, DataSource, Splits, cache_dir};

use crate::rng::{self, Purpose};
use crate::tensor::{Matrix, Scalar, prefetch};
use rand::seq::SliceRandom;

/// Errors from loading or downloading data. Each is one line naming the file (or flag, or URL)
/// and the problem, and where there is one, what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The content of a file (or the embedded set) is not what it should be.
    #[error("{source_name}: {problem}")]
    Invalid {
        source_name: String,
        problem: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// A file or folder that should be there is not; `hint` says how to get it.
    #[error("{path}: not found{}{hint}", if hint.is_empty() { "" } else { "; " })]
    Missing { path: String, hint: String },
    /// A data option (`--data`, `--val-fraction`, …) has a value that cannot work.
    #[error("{flag} {value}: {problem}")]
    Config {
        flag: String,
        value: String,
        problem: String,
    },
    /// A downloaded (or cached) file does not have the published digest; nothing was kept.
    #[error("{file}: {algorithm} checksum mismatch: expected {expected}, got {actual}; not kept")]
    Checksum {
        file: String,
        algorithm: String,
        expected: String,
        actual: String,
    },
    /// An HTTP request failed (status, connection, TLS, size limit).
    #[error("{url}: {problem}")]
    Http { url: String, problem: String },
}

impl DataError {
    pub(crate) fn invalid(source: impl std::fmt::Display, problem: impl Into<String>) -> Self {
        DataError::Invalid {
            source_name: source.to_string(),
            problem: problem.into(),
        }
    }
    pub(crate) fn io(path: impl std::fmt::Display, error: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_string(),
            error,
        }
    }
}

/// Feature values as stored: bytes read as `value / max` (images: max 255, digits: max 16),
/// or floats.
/// Bytes keep Fashion-MNIST's 70,000 images in 55 MB instead of 220 MB.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    U8 { values: Vec<u8>, max: f32 },
    F32(Vec<f32>),
}

impl Features {
    fn len(&self) -> usize {
        match self {
            Features::U8 { values, .. } => values.len(),
            Features::F32(v) => v.len(),
        }
    }

    /// Converts `[start, start + out.len())` into `out`.
    #[inline]
    fn convert_into<T: Scalar>(&self, start: usize, out: &mut [T]) {
        self.convert_rows_into(out.len().max(1), &[start], out);
    }

    /// Converts the runs `[s, s + len)` for each `s` in `starts`, one after the other, into
    /// `out` (`len = out.len() / starts.len()`): the rows of a mini-batch gather. The byte
    /// table is built once per call, not per row.
    fn convert_rows_into<T: Scalar>(&self, len: usize, starts: &[usize], out: &mut [T]) {
        match self {
            Features::U8 { values, max } => {
                // `T(v) / T(max)`, as torchvision's ToTensor and NumPy compute it (so 255 is
                // exactly 1), from a table of the 256 possible values.
                let max = T::from_f64(*max as f64);
                let mut table = [T::zero(); 256];
                for (v, t) in table.iter_mut().enumerate() {
                    *t = T::from_f64(v as f64) / max;
                }
                for (k, (row, &s)) in out.chunks_exact_mut(len).zip(starts).enumerate() {
                    if let Some(&next) = starts.get(k + 1) {
                        prefetch(&values[next..next + len]);
                    }
                    for (o, &v) in row.iter_mut().zip(&values[s..s + len]) {
                        *o = table[v as usize];
                    }
                }
            }
            Features::F32(values) => {
                for (k, (row, &s)) in out.chunks_exact_mut(len).zip(starts).enumerate() {
                    if let Some(&next) = starts.get(k + 1) {
                        prefetch(&values[next..next + len]);
                    }
                    for (o, &v) in row.iter_mut().zip(&values[s..s + len]) {
                        *o = T::from_f64(v as f64);
                    }
                }
            }
        }
    }

    fn select(&self, dim: usize, indices: &[usize]) -> Features {
        fn pick<V: Copy>(v: &[V], dim: usize, indices: &[usize]) -> Vec<V> {
            let mut out = Vec::with_capacity(indices.len() * dim);
            for &i in indices {
                out.extend_from_slice(&v[i * dim..(i + 1) * dim]);
            }
            out
        }
        match self {
            Features::U8 { values, max } => Features::U8 {
                values: pick(values, dim, indices),
                max: *max,
            },
            Features::F32(v) => Features::F32(pick(v, dim, indices)),
        }
    }
}

/// A labelled data set: one sample per row of `dim` features, labels in `0..classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub features: Features,
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

    /// Checks that features and labels agree with `dim` and `classes`.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |problem: String| DataError::Invalid {
            source_name: self.name.clone(),
            problem,
        };
        if self.features.len() != self.len() * self.dim {
            return Err(invalid(format!(
                "{} feature values for {} samples of {} features",
                self.features.len(),
                self.len(),
                self.dim
            )));
        }
        if let Some(&bad) = self.labels.iter().find(|&&l| l >= self.classes) {
            return Err(invalid(format!(
                "label {bad} is not below {} classes",
                self.classes
            )));
        }
        Ok(())
    }

    /// Copies the samples at `indices` into `out` (resized to `indices.len() × dim`), converting
    /// to the training element type: the mini-batch gather.
    pub fn gather<T: Scalar>(&self, indices: &[usize], out: &mut Matrix<T>) {
        out.resize(indices.len(), self.dim);
        if self.dim == 0 {
            return;
        }
        let mut starts = [0usize; 64];
        for (chunk, rows) in indices
            .chunks(starts.len())
            .zip(out.as_mut_slice().chunks_mut(starts.len() * self.dim))
        {
            for (s, &i) in starts.iter_mut().zip(chunk) {
                *s = i * self.dim;
            }
            self.features
                .convert_rows_into(self.dim, &starts[..chunk.len()], rows);
        }
    }

    /// Rows `[start, end)` into `out` (evaluation in chunks).
    pub fn rows_into<T: Scalar>(&self, start: usize, end: usize, out: &mut Matrix<T>) {
        out.resize(end - start, self.dim);
        self.features
            .convert_into(start * self.dim, out.as_mut_slice());
    }

    /// All features as one matrix (for small sets; large ones are gathered batch by batch).
    pub fn to_matrix<T: Scalar>(&self) -> Matrix<T> {
        let mut m = Matrix::default();
        self.rows_into(0, self.len(), &mut m);
        m
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            name: self.name.clone(),
            features: self.features.select(self.dim, indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            dim: self.dim,
            classes: self.classes,
        }
    }

    /// The first `n` samples (all of them when `n` is larger): the book's "first 300 images".
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
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

#[cfg(test)]
mod gather_tests {
    use super::*;

    /// A batch longer than the 64 rows converted per call, rows repeated and out of order.
    #[test]
    fn gather_converts_every_row_of_a_long_batch() {
        let (n, dim) = (150, 5);
        let bytes: Vec<u8> = (0..n * dim).map(|i| (i * 37 % 256) as u8).collect();
        let floats: Vec<f32> = bytes.iter().map(|&b| b as f32 * 0.5).collect();
        let indices: Vec<usize> = (0..130).map(|k| (k * 53 + 7) % n).collect();
        for (features, scale) in [
            (
                Features::U8 {
                    values: bytes.clone(),
                    max: 255.0,
                },
                1.0 / 255.0,
            ),
            (Features::F32(floats), 0.5),
        ] {
            let data = Dataset {
                name: "t".into(),
                features,
                labels: vec![0; n],
                dim,
                classes: 1,
            };
            let mut out = Matrix::<f64>::default();
            data.gather(&indices, &mut out);
            assert_eq!(out.shape(), (130, dim));
            for (r, &i) in indices.iter().enumerate() {
                for c in 0..dim {
                    let b = bytes[i * dim + c] as f64;
                    let want = if scale == 0.5 { b * 0.5 } else { b / 255.0 };
                    assert_eq!(out.get(r, c), want, "row {r} col {c}");
                }
            }
        }
    }
}
