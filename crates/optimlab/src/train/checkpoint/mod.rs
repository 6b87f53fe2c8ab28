//! Checkpoints: one safetensors file holding a network's tensors, its optimizer's state and
//! what a run needs to resume bit-identically (random streams, counters, the resolved config).
//!
//! # Layout
//! - Network tensors under their own names and shapes (`W1` `[in, out]`, `b1`, `gamma1`,
//!   `beta1`, `running_mean1`, `running_var1`, …), element type `F32`/`F64` as the run's.
//! - Optimizer buffers under `optim/<param>.<buffer>` (e.g. `optim/W1.exp_avg`), shaped as their
//!   parameter.
//! - The safetensors `__metadata__` (string → string):
//!   `format` = `optimlab-checkpoint`, `version` ([`VERSION`]), `dtype` (`f32`/`f64`), `epoch`,
//!   `iter`, `config` (the caller's JSON, opaque here), `scheduler` (JSON, optional),
//!   `optimizer` (JSON object of the optimizer's scalars, e.g. `{"W1.step": 3}`; absent when the
//!   checkpoint was saved without an optimizer), `rngs` (JSON object: name → PCG state) and
//!   `extra` (JSON object of caller strings).
//!
//! # Two readers
//! - [`load`], to resume: the file must be an optimlab checkpoint of the run's element type
//!   (a converted state cannot continue bit-identically), so a foreign file or another dtype is
//!   an error that says so.
//! - [`load_weights`], to start from weights (initial weights, evaluation, export): any
//!   safetensors file whose tensors carry the network's names and shapes (e.g. written by
//!   PyTorch with `W1` as `[in, out]`); `F32` and `F64` tensors are converted to the run's
//!   element type; `optim/…` tensors and metadata are ignored.
//!
//! [`Weights::apply_to_network`] requires the file's tensors and the network's to match
//! exactly: a tensor that is missing, mis-shaped, or present in the file but not in the network
//! (most likely a different architecture) is an error naming all of them in one line;
//! [`Weights::apply_to_network_allowing_extra`] ignores extra tensors instead.
//!
//! Every file is written atomically ([`write_atomic`]): a crash or error leaves either the old
//! file or the new one under the final name, never a partial one.

mod apply;
mod atomic;
mod error;
mod safetensors_io;

pub use atomic::write_atomic;
pub(crate) use error::write_error;
pub use error::{CheckpointError, Misshaped};
pub(crate) use safetensors_io::read_file;
use safetensors_io::{dtype_of, parse, raw, raw_metadata, read_tensors};
pub(crate) use safetensors_io::{le_bytes, network_tensors, write_safetensors};

use crate::nn::Network;
use crate::optim::{Optimizer, OptimizerState};
use crate::rng::Rng;
use crate::tensor::Scalar;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The `format` metadata of a checkpoint.
pub const FORMAT: &str = "optimlab-checkpoint";
/// The `format` metadata of exported weights ([`super::export::export_safetensors`]).
pub const WEIGHTS_FORMAT: &str = "optimlab-weights";
/// The layout version this code writes; files with a larger version are refused.
pub const VERSION: u32 = 1;
/// Prefix of the optimizer-state tensors.
pub const OPTIM_PREFIX: &str = "optim/";

/// What a checkpoint stores besides tensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckpointMeta {
    /// Completed epochs.
    pub epoch: u64,
    /// Completed iterations.
    pub iter: u64,
    /// The resolved run configuration, as JSON (opaque here).
    pub config: String,
    /// The LR scheduler's state, as JSON.
    pub scheduler: Option<String>,
    /// Named random streams (batch order, dropout, …); see [`network_rngs`].
    pub rngs: BTreeMap<String, Rng>,
    /// Anything else the caller wants kept (strings).
    pub extra: BTreeMap<String, String>,
}

/// A tensor read from a file: shape and values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T> {
    pub shape: Vec<usize>,
    pub values: Vec<T>,
}

/// Network tensors read by [`load_weights`] (or as part of a [`Checkpoint`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights<T> {
    /// The file they were read from (named in errors).
    pub path: PathBuf,
    /// Every tensor not under `optim/`, by name.
    pub tensors: BTreeMap<String, Tensor<T>>,
    /// The file's raw `__metadata__` (empty when it has none).
    pub metadata: BTreeMap<String, String>,
}

/// Everything needed to resume a run, read by [`load`].
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<T> {
    pub weights: Weights<T>,
    /// `None` when the checkpoint was saved without an optimizer.
    pub optimizer: Option<OptimizerState<T>>,
    pub meta: CheckpointMeta,
}

// ---------------------------------------------------------------------------------------------
// Saving

/// The network's random streams (dropout layers, in layer order) as `network.0`, `network.1`,
/// …: put them in [`CheckpointMeta::rngs`] and give them back with
/// [`Checkpoint::restore_network_rngs`].
pub fn network_rngs<T: Scalar>(net: &mut Network<T>) -> BTreeMap<String, Rng> {
    net.rngs_mut()
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("network.{i}"), r.clone()))
        .collect()
}

/// Saves a checkpoint (layout in the module docs), atomically.
pub fn save<T: Scalar>(
    path: &Path,
    net: &Network<T>,
    optimizer: Option<&Optimizer<T>>,
    meta: &CheckpointMeta,
) -> Result<(), CheckpointError> {
    let mut tensors = network_tensors(net);
    let shapes: HashMap<String, Vec<usize>> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.shape.clone()))
        .collect();
    let mut metadata = HashMap::new();
    metadata.insert("format".into(), FORMAT.into());
    metadata.insert("version".into(), VERSION.to_string());
    metadata.insert("dtype".into(), T::NAME.into());
    metadata.insert("epoch".into(), meta.epoch.to_string());
    metadata.insert("iter".into(), meta.iter.to_string());
    metadata.insert("config".into(), meta.config.clone());
    if let Some(s) = &meta.scheduler {
        metadata.insert("scheduler".into(), s.clone());
    }
    let json = |key: &str, r: serde_json::Result<String>| {
        r.map_err(|e| CheckpointError::Metadata {
            path: path.to_path_buf(),
            key: key.into(),
            reason: e.to_string(),
        })
    };
    metadata.insert(
        "rngs".into(),
        json("rngs", serde_json::to_string(&meta.rngs))?,
    );
    metadata.insert(
        "extra".into(),
        json("extra", serde_json::to_string(&meta.extra))?,
    );
    if let Some(opt) = optimizer {
        let state = opt.state();
        for (key, values) in &state.tensors {
            // Shape the buffer as its parameter (`W1.exp_avg` → shape of `W1`) when it fits.
            let param = key.rsplit_once('.').map_or(key.as_str(), |(p, _)| p);
            let shape = match shapes.get(param) {
                Some(s) if s.iter().product::<usize>() == values.len() => s.clone(),
                _ => vec![values.len()],
            };
            tensors.push((format!("{OPTIM_PREFIX}{key}"), raw(&shape, values)));
        }
        for (key, v) in &state.scalars {
            if !v.is_finite() {
                return Err(CheckpointError::Metadata {
                    path: path.to_path_buf(),
                    key: format!("optimizer/{key}"),
                    reason: format!("{v} cannot be stored"),
                });
            }
        }
        metadata.insert(
            "optimizer".into(),
            json("optimizer", serde_json::to_string(&state.scalars))?,
        );
    }
    write_safetensors(path, tensors, metadata)
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Reads network tensors from any safetensors file, converting `F32`/`F64` to `T`.
pub fn load_weights<T: Scalar>(path: &Path) -> Result<Weights<T>, CheckpointError> {
    load_weights_from_bytes(path, &read_file(path)?)
}

/// [`load_weights`] of a file's bytes already in memory; `path` names it in errors.
pub fn load_weights_from_bytes<T: Scalar>(
    path: &Path,
    bytes: &[u8],
) -> Result<Weights<T>, CheckpointError> {
    let st = parse(path, bytes)?;
    let metadata = raw_metadata(bytes);
    let (tensors, _) = read_tensors::<T>(path, &st, None)?;
    Ok(Weights {
        path: path.to_path_buf(),
        tensors,
        metadata,
    })
}

/// Reads a checkpoint to resume a run: it must be an optimlab checkpoint written with `T`.
pub fn load<T: Scalar>(path: &Path) -> Result<Checkpoint<T>, CheckpointError> {
    load_from_bytes(path, &read_file(path)?)
}

/// [`load`] of a file's bytes already in memory; `path` names it in errors.
pub fn load_from_bytes<T: Scalar>(
    path: &Path,
    bytes: &[u8],
) -> Result<Checkpoint<T>, CheckpointError> {
    let st = parse(path, bytes)?;
    let metadata = raw_metadata(bytes);
    let p = || path.to_path_buf();
    match metadata.get("format").map(String::as_str) {
        Some(FORMAT) => {}
        Some(WEIGHTS_FORMAT) => {
            return Err(CheckpointError::Foreign {
                path: p(),
                found: "exported weights, without optimizer or random-stream state".into(),
            });
        }
        Some(other) => {
            return Err(CheckpointError::Foreign {
                path: p(),
                found: format!("its metadata says format '{other}'"),
            });
        }
        None => {
            return Err(CheckpointError::Foreign {
                path: p(),
                found: format!("no 'format' = '{FORMAT}' in its metadata"),
            });
        }
    }
    let get = |key: &str| {
        metadata.get(key).ok_or_else(|| CheckpointError::Metadata {
            path: p(),
            key: key.into(),
            reason: "missing".into(),
        })
    };
    let bad = |key: &str, reason: String| CheckpointError::Metadata {
        path: p(),
        key: key.into(),
        reason,
    };
    let version = get("version")?;
    match version.parse::<u32>() {
        Ok(v) if (1..=VERSION).contains(&v) => {}
        _ => {
            return Err(CheckpointError::Version {
                path: p(),
                found: version.clone(),
            });
        }
    }
    let dtype = get("dtype")?;
    if dtype != T::NAME {
        return Err(CheckpointError::DType {
            path: p(),
            file: dtype.clone(),
            run: T::NAME,
        });
    }
    let counter = |key: &str| -> Result<u64, CheckpointError> {
        let s = get(key)?;
        s.parse()
            .map_err(|_| bad(key, format!("'{s}' is not a whole number")))
    };
    let epoch = counter("epoch")?;
    let iter = counter("iter")?;
    let config = get("config")?.clone();
    let scheduler = metadata.get("scheduler").cloned();
    let rngs: BTreeMap<String, Rng> = match metadata.get("rngs") {
        Some(s) => serde_json::from_str(s).map_err(|e| bad("rngs", e.to_string()))?,
        None => BTreeMap::new(),
    };
    let extra: BTreeMap<String, String> = match metadata.get("extra") {
        Some(s) => serde_json::from_str(s).map_err(|e| bad("extra", e.to_string()))?,
        None => BTreeMap::new(),
    };
    let scalars: Option<BTreeMap<String, f64>> = metadata
        .get("optimizer")
        .map(|s| serde_json::from_str(s).map_err(|e| bad("optimizer", e.to_string())))
        .transpose()?;
    let (tensors, optim) = read_tensors::<T>(path, &st, Some(dtype_of::<T>()))?;
    let optimizer = match scalars {
        Some(scalars) => Some(OptimizerState {
            tensors: optim,
            scalars,
        }),
        None if optim.is_empty() => None,
        None => {
            return Err(bad(
                "optimizer",
                "missing, but the file has optim/ tensors".into(),
            ));
        }
    };
    Ok(Checkpoint {
        weights: Weights {
            path: p(),
            tensors,
            metadata,
        },
        optimizer,
        meta: CheckpointMeta {
            epoch,
            iter,
            config,
            scheduler,
            rngs,
            extra,
        },
    })
}
