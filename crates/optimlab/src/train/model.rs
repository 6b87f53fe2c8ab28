//! [`Model`]: a trained network rebuilt from a `model.safetensors` alone, ready to evaluate,
//! predict and export.

use super::checkpoint::{Weights, load_weights_from_bytes, read_file};
use super::export::{export_npz, export_safetensors};
use super::run::{RunConfig, RunError};
use crate::data::Dataset;
use crate::nn::{Mode, Network, NetworkConfig};
use crate::tensor::{DType, Matrix, Scalar};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The network of a model, in the element type it was trained in.
pub enum ModelNetwork {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// Runs `$body` with `$net` bound to the model's network, whatever its element type.
macro_rules! with_network {
    ($model:expr, $net:ident => $body:expr) => {
        match $model {
            ModelNetwork::F32($net) => $body,
            ModelNetwork::F64($net) => $body,
        }
    };
}

/// A trained model: the network that `optimlab train` saved, with its settings.
///
/// ```no_run
/// use optimlab::data::DataConfig;
/// use optimlab::train::Model;
///
/// let mut model = Model::load("runs/digits-adam/model.safetensors")?;
/// let test = DataConfig::default().prepare()?.test;
/// let e = model.evaluate(&test)?;
/// println!("accuracy {:.4}", e.accuracy);
/// let probabilities = model.predict(&test)?; // one row of class probabilities per sample
/// # let _ = probabilities;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Model {
    path: PathBuf,
    config: RunConfig,
    network: ModelNetwork,
}

/// Loss, accuracy, per-class accuracy and confusion matrix on one data set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelEvaluation {
    pub samples: usize,
    pub loss: f64,
    pub accuracy: f64,
    /// Accuracy on the samples of each true class.
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl Model {
    /// Reads a model file written by `optimlab train` (or [`Model::save`]): the network is
    /// rebuilt from the configuration in the file's metadata, then its weights are loaded.
    pub fn load(path: impl AsRef<Path>) -> Result<Model, RunError> {
        let path = path.as_ref();
        Self::from_bytes(&read_file(path)?, path)
    }

    /// [`Model::load`] of a model file's bytes already in memory; `path` names it in errors
    /// (and is what [`Model::path`] returns).
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Model, RunError> {
        let path = path.as_ref().to_path_buf();
        let w = load_weights_from_bytes::<f64>(&path, bytes)?;
        let text = w.config().ok_or_else(|| {
            RunError::Config(format!(
                "{}: no training configuration inside (not written by optimlab train)",
                path.display()
            ))
        })?;
        let config: RunConfig = toml::from_str(text).map_err(|e| {
            RunError::Config(format!(
                "{}: unreadable configuration: {}",
                path.display(),
                e.message()
            ))
        })?;
        let network = match config.dtype.unwrap_or(DType::F32) {
            DType::F32 => ModelNetwork::F32(build(&path, bytes, &config)?),
            DType::F64 => ModelNetwork::F64(build(&path, bytes, &config)?),
        };
        Ok(Model {
            path,
            config,
            network,
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings it was trained with.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    pub fn dtype(&self) -> DType {
        match self.network {
            ModelNetwork::F32(_) => DType::F32,
            ModelNetwork::F64(_) => DType::F64,
        }
    }

    pub fn network(&self) -> &ModelNetwork {
        &self.network
    }

    pub fn network_mut(&mut self) -> &mut ModelNetwork {
        &mut self.network
    }

    /// Features per sample.
    pub fn input_size(&self) -> usize {
        with_network!(&self.network, n => n.input_size())
    }

    /// Classes.
    pub fn output_size(&self) -> usize {
        with_network!(&self.network, n => n.output_size())
    }

    /// Loss, accuracy, per-class accuracy and the confusion matrix on `set` (evaluation
    /// mode).
    pub fn evaluate(&mut self, set: &Dataset) -> Result<ModelEvaluation, RunError> {
        self.check_input(set)?;
        with_network!(&mut self.network, n => evaluate_typed(n, set))
    }

    /// Class probabilities (softmax) of every sample of `set`, one row per sample; labels are
    /// ignored.
    pub fn predict(&mut self, set: &Dataset) -> Result<Vec<Vec<f64>>, RunError> {
        self.check_input(set)?;
        with_network!(&mut self.network, n => predict_typed(n, set))
    }

    /// Writes the weights as NumPy `.npz` with the book's names (`W1`, `b1`, …).
    pub fn export_npz(&self, path: &Path) -> Result<(), RunError> {
        with_network!(&self.network, n => export_npz(path, n))?;
        Ok(())
    }

    /// Writes the weights as safetensors; with `with_config`, the training configuration goes
    /// along, so that the copy loads with [`Model::load`] too.
    pub fn save(&self, path: &Path, with_config: bool) -> Result<(), RunError> {
        if same_file(path, &self.path) {
            return Err(RunError::Config(format!(
                "{}: refusing to write over the model being read; choose another output",
                path.display()
            )));
        }
        let config = if with_config {
            Some(self.config.to_toml()?)
        } else {
            None
        };
        with_network!(&self.network, n => export_safetensors(path, n, config.as_deref()))?;
        Ok(())
    }

    fn check_input(&self, set: &Dataset) -> Result<(), RunError> {
        if set.dim != self.input_size() {
            return Err(RunError::Config(format!(
                "the data has {} features per sample; the model expects {}",
                set.dim,
                self.input_size()
            )));
        }
        Ok(())
    }
}

/// Whether two paths name the same file (the second must exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Rebuilds the network the configuration describes, sized by the stored tensors, and loads
/// the weights.
fn build<T: Scalar>(path: &Path, bytes: &[u8], config: &RunConfig) -> Result<Network<T>, RunError> {
    let weights: Weights<T> = load_weights_from_bytes(path, bytes)?;
    // The `[resolved]` table holds the exact network; older files may lack it.
    let stored: Option<NetworkConfig> = config
        .resolved
        .as_ref()
        .and_then(|r| r.get("network"))
        .and_then(|n| n.clone().try_into().ok());
    let mut network = match stored {
        Some(n) => n,
        None => config.resolve()?.network,
    };
    let last = network.hidden.len() + 1;
    let dim = |name: &str, axis: usize| {
        weights
            .tensors
            .get(name)
            .and_then(|t| t.shape.get(axis).copied())
            .ok_or_else(|| RunError::Config(format!("{}: no tensor {name}", path.display())))
    };
    network.input = dim("W1", 0)?;
    network.output = dim(&format!("W{last}"), 1)?;
    // Every parameter of the network is a value in the file: a configuration describing a
    // larger network (a corrupt or edited file) is refused before anything is allocated.
    let stored_values: u128 = weights
        .tensors
        .values()
        .map(|t| t.values.len() as u128)
        .sum();
    if network.parameter_count() > stored_values {
        return Err(RunError::Config(format!(
            "{}: its configuration describes a network of {} parameters (layers {}-{}-{}), but the file holds {stored_values} values",
            path.display(),
            network.parameter_count(),
            network.input,
            network
                .hidden
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("-"),
            network.output
        )));
    }
    let mut net = Network::<T>::build(&network, 0)?;
    weights.apply_to_network(&mut net)?;
    Ok(net)
}

fn evaluate_typed<T: Scalar>(
    net: &mut Network<T>,
    set: &Dataset,
) -> Result<ModelEvaluation, RunError> {
    let e = super::evaluate(net, set, None, 1000)?;
    let classes = net.output_size();
    let pred = net.predict(&set.to_matrix::<T>(), 1000)?;
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&p, &t) in pred.iter().zip(&set.labels) {
        if t < classes {
            confusion[t][p] += 1;
        }
    }
    let per_class_accuracy = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
        .collect();
    Ok(ModelEvaluation {
        samples: e.samples,
        loss: e.loss,
        accuracy: e.accuracy,
        per_class_accuracy,
        confusion,
    })
}

fn predict_typed<T: Scalar>(
    net: &mut Network<T>,
    set: &Dataset,
) -> Result<Vec<Vec<f64>>, RunError> {
    let x: Matrix<T> = set.to_matrix();
    let labels = vec![0; x.rows()];
    net.loss(&x, &labels, Mode::Eval)?;
    let probs = net.probabilities();
    Ok((0..probs.rows())
        .map(|r| probs.row(r).iter().map(|p| p.as_f64()).collect())
        .collect())
}
