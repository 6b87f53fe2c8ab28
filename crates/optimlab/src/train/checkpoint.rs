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

use crate::nn::Network;
use crate::optim::{Optimizer, OptimizerState};
use crate::rng::Rng;
use crate::tensor::Scalar;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A tensor whose shape differs between the file and the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misshaped {
    pub name: String,
    pub file: Vec<usize>,
    pub network: Vec<usize>,
}

/// Why a checkpoint could not be written, read or applied. Each message is one line that
/// names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot write ({source})", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a safetensors file, or corrupt ({reason})", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{}: not an optimlab checkpoint ({found}), so a run cannot resume from it; \
         it can still serve as initial weights",
        path.display()
    )]
    Foreign { path: PathBuf, found: String },
    #[error(
        "{}: checkpoint format version {found}, but this optimlab reads up to version {VERSION}",
        path.display()
    )]
    Version { path: PathBuf, found: String },
    #[error(
        "{}: written with dtype {file}, but this run uses {run}; resume with dtype {file} \
         (starting from its weights converts them)",
        path.display()
    )]
    DType {
        path: PathBuf,
        file: String,
        run: &'static str,
    },
    #[error(
        "{}: tensor '{name}' has element type {dtype}; only F32 and F64 are supported",
        path.display()
    )]
    TensorDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error(
        "{}: tensors do not match the network: {}",
        path.display(),
        describe_mismatch(missing, misshaped, extra)
    )]
    Mismatch {
        path: PathBuf,
        missing: Vec<String>,
        misshaped: Vec<Misshaped>,
        extra: Vec<String>,
    },
    #[error("{}: bad metadata '{key}': {reason}", path.display())]
    Metadata {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

fn describe_mismatch(missing: &[String], misshaped: &[Misshaped], extra: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    if !misshaped.is_empty() {
        let list: Vec<String> = misshaped
            .iter()
            .map(|m| format!("{} (file {:?}, network {:?})", m.name, m.file, m.network))
            .collect();
        parts.push(format!("wrong shape {}", list.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!("not in the network {}", extra.join(", ")));
    }
    parts.join("; ")
}

fn io_error(path: &Path, source: io::Error) -> CheckpointError {
    if source.kind() == io::ErrorKind::NotFound {
        CheckpointError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub(crate) fn write_error(path: &Path, source: io::Error) -> CheckpointError {
    CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes a file atomically: `write` fills a temporary file in the same folder, which is then
/// flushed, fsynced and renamed over `path`, and the folder is fsynced. On any error the
/// temporary file is removed and whatever was under `path` stays as it was.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
    let temp = dir.join(temp_name);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    let result = (|| {
        let mut w = BufWriter::new(&file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    drop(file);
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Writes a safetensors file atomically.
pub(crate) fn write_safetensors(
    path: &Path,
    tensors: Vec<(String, RawTensor)>,
    metadata: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    let bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| write_error(path, io::Error::other(e.to_string())))?;
    write_atomic(path, |w| w.write_all(&bytes)).map_err(|e| write_error(path, e))
}

// ---------------------------------------------------------------------------------------------
// Element conversion

/// Little-endian bytes of a tensor, ready for safetensors.
pub(crate) struct RawTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for RawTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// `F32` or `F64`, as `T`.
pub(crate) fn dtype_of<T: Scalar>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// Little-endian bytes of `values` in `T`'s own width (lossless).
pub(crate) fn le_bytes<T: Scalar>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(std::mem::size_of_val(values));
    if dtype_of::<T>() == Dtype::F32 {
        for v in values {
            out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
        }
    } else {
        for v in values {
            out.extend_from_slice(&v.as_f64().to_le_bytes());
        }
    }
    out
}

pub(crate) fn raw<T: Scalar>(shape: &[usize], values: &[T]) -> RawTensor {
    RawTensor {
        dtype: dtype_of::<T>(),
        shape: shape.to_vec(),
        data: le_bytes(values),
    }
}

/// Reads `F32`/`F64` little-endian bytes as `T` (exact when the widths match).
fn from_le_bytes<T: Scalar>(dtype: Dtype, data: &[u8]) -> Option<Vec<T>> {
    match dtype {
        Dtype::F32 => Some(
            data.chunks_exact(4)
                .map(|c| T::from_f64(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64))
                .collect(),
        ),
        Dtype::F64 => Some(
            data.chunks_exact(8)
                .map(|c| T::from_f64(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
                .collect(),
        ),
        _ => None,
    }
}

fn dtype_name(dtype: Dtype) -> String {
    match dtype {
        Dtype::F32 => "f32".into(),
        Dtype::F64 => "f64".into(),
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Saving

/// The network's tensors, by name, as raw safetensors views.
pub(crate) fn network_tensors<T: Scalar>(net: &Network<T>) -> Vec<(String, RawTensor)> {
    let mut out = Vec::new();
    net.visit_tensors(&mut |name, shape, values| out.push((name.to_string(), raw(shape, values))));
    out
}

/// The network's random streams (dropout layers, in layer order) as `network.0`, `network.1`,
/// …: put them in [`CheckpointMeta::rngs`] and give them back with
/// [`restore_network_rngs`].
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

fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|e| io_error(path, e))
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>, CheckpointError> {
    SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The file's `__metadata__` (the header was validated by [`parse`]).
fn raw_metadata(bytes: &[u8]) -> BTreeMap<String, String> {
    SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().clone())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

/// Reads every tensor as `T`; optimizer tensors (`optim/…`) go to the second map.
#[allow(clippy::type_complexity)]
fn read_tensors<T: Scalar>(
    path: &Path,
    st: &SafeTensors<'_>,
    require: Option<Dtype>,
) -> Result<(BTreeMap<String, Tensor<T>>, BTreeMap<String, Vec<T>>), CheckpointError> {
    let mut net = BTreeMap::new();
    let mut optim = BTreeMap::new();
    for (name, view) in st.iter() {
        let dtype = view.dtype();
        let wrong = || CheckpointError::TensorDtype {
            path: path.to_path_buf(),
            name: name.to_string(),
            dtype: format!("{dtype:?}"),
        };
        if let Some(want) = require
            && dtype != want
        {
            return Err(if matches!(dtype, Dtype::F32 | Dtype::F64) {
                CheckpointError::DType {
                    path: path.to_path_buf(),
                    file: dtype_name(dtype),
                    run: T::NAME,
                }
            } else {
                wrong()
            });
        }
        let values = from_le_bytes::<T>(dtype, view.data()).ok_or_else(wrong)?;
        if let Some(key) = name.strip_prefix(OPTIM_PREFIX) {
            optim.insert(key.to_string(), values);
        } else {
            net.insert(
                name.to_string(),
                Tensor {
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
    }
    Ok((net, optim))
}

/// Reads network tensors from any safetensors file, converting `F32`/`F64` to `T`.
pub fn load_weights<T: Scalar>(path: &Path) -> Result<Weights<T>, CheckpointError> {
    let bytes = read_file(path)?;
    let st = parse(path, &bytes)?;
    let metadata = raw_metadata(&bytes);
    let (tensors, _) = read_tensors::<T>(path, &st, None)?;
    Ok(Weights {
        path: path.to_path_buf(),
        tensors,
        metadata,
    })
}

/// Reads a checkpoint to resume a run: it must be an optimlab checkpoint written with `T`.
pub fn load<T: Scalar>(path: &Path) -> Result<Checkpoint<T>, CheckpointError> {
    let bytes = read_file(path)?;
    let st = parse(path, &bytes)?;
    let metadata = raw_metadata(&bytes);
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

// ---------------------------------------------------------------------------------------------
// Applying

impl<T: Scalar> Weights<T> {
    /// The file's `format` metadata, if any.
    pub fn format(&self) -> Option<&str> {
        self.metadata.get("format").map(String::as_str)
    }

    /// The run configuration stored with the weights (JSON), if any.
    pub fn config(&self) -> Option<&str> {
        self.metadata.get("config").map(String::as_str)
    }

    /// Copies the tensors into `net`. Every tensor of the network must be in the file with the
    /// same shape, and every tensor of the file in the network; otherwise nothing is copied and
    /// the error names each missing, mis-shaped and extra tensor.
    pub fn apply_to_network(&self, net: &mut Network<T>) -> Result<(), CheckpointError> {
        self.apply(net, false).map(|_| ())
    }

    /// As [`Weights::apply_to_network`], but tensors the network does not have are ignored;
    /// returns their names.
    pub fn apply_to_network_allowing_extra(
        &self,
        net: &mut Network<T>,
    ) -> Result<Vec<String>, CheckpointError> {
        self.apply(net, true)
    }

    fn apply(
        &self,
        net: &mut Network<T>,
        allow_extra: bool,
    ) -> Result<Vec<String>, CheckpointError> {
        let mut missing = Vec::new();
        let mut misshaped = Vec::new();
        let mut seen = BTreeSet::new();
        net.visit_tensors(&mut |name, shape, _| {
            seen.insert(name.to_string());
            match self.tensors.get(name) {
                None => missing.push(name.to_string()),
                Some(t) if t.shape != shape => misshaped.push(Misshaped {
                    name: name.to_string(),
                    file: t.shape.clone(),
                    network: shape.to_vec(),
                }),
                Some(_) => {}
            }
        });
        let extra: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        if !missing.is_empty() || !misshaped.is_empty() || (!allow_extra && !extra.is_empty()) {
            return Err(CheckpointError::Mismatch {
                path: self.path.clone(),
                missing,
                misshaped,
                extra: if allow_extra { Vec::new() } else { extra },
            });
        }
        net.visit_tensors_mut(&mut |name, _, values| {
            values.copy_from_slice(&self.tensors[name].values);
        });
        Ok(extra)
    }
}

impl<T: Scalar> Checkpoint<T> {
    /// Copies the network tensors into `net` (see [`Weights::apply_to_network`]).
    pub fn apply_to_network(&self, net: &mut Network<T>) -> Result<(), CheckpointError> {
        self.weights.apply_to_network(net)
    }

    /// Restores the network's random streams saved from [`network_rngs`]; each must be present.
    pub fn restore_network_rngs(&self, net: &mut Network<T>) -> Result<(), CheckpointError> {
        let mut rngs = net.rngs_mut();
        let missing: Vec<String> = (0..rngs.len())
            .map(|i| format!("network.{i}"))
            .filter(|k| !self.meta.rngs.contains_key(k))
            .collect();
        if !missing.is_empty() {
            return Err(CheckpointError::Metadata {
                path: self.weights.path.clone(),
                key: "rngs".into(),
                reason: format!("no saved state for {}", missing.join(", ")),
            });
        }
        for (i, r) in rngs.iter_mut().enumerate() {
            **r = self.meta.rngs[&format!("network.{i}")].clone();
        }
        Ok(())
    }
}
