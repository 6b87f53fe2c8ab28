//! Raw safetensors I/O: element conversion (`F32`/`F64` ↔ `T`), reading tensors and metadata,
//! and writing files.

use super::atomic::write_atomic;
use super::error::{CheckpointError, io_error, write_error};
use super::{OPTIM_PREFIX, Tensor};
use crate::nn::Network;
use crate::tensor::Scalar;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;

/// Writes a safetensors file atomically.
pub(crate) fn write_safetensors(
    path: &Path,
    tensors: Vec<(String, RawTensor)>,
    metadata: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    let mut bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| write_error(path, io::Error::other(e.to_string())))?;
    sort_header(&mut bytes);
    write_atomic(path, |w| w.write_all(&bytes)).map_err(|e| write_error(path, e))
}

/// Rewrites the JSON header with its keys sorted, at the same length, so that identical
/// tensors and metadata always give identical bytes (the metadata is a `HashMap`, whose order
/// varies from run to run).
fn sort_header(bytes: &mut [u8]) {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let ordered: std::collections::BTreeMap<String, serde_json::Value> =
                    map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                let mut out = serde_json::Map::new();
                for (k, v) in ordered {
                    out.insert(k, v);
                }
                serde_json::Value::Object(out)
            }
            other => other,
        }
    }
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    else {
        return;
    };
    let Some(header) = bytes.get(8..8 + len) else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return;
    };
    let text = serde_json::to_string(&sorted(value)).expect("JSON serialises");
    // The same keys and values in compact form: never longer than the original header.
    if text.len() <= len {
        let header = &mut bytes[8..8 + len];
        header[..text.len()].copy_from_slice(text.as_bytes());
        header[text.len()..].fill(b' ');
    }
}

// ---------------------------------------------------------------------------------------------
// Element conversion

/// Little-endian bytes of a tensor, ready for safetensors.
pub(crate) struct RawTensor {
    dtype: Dtype,
    pub(super) shape: Vec<usize>,
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

/// The network's tensors, by name, as raw safetensors views.
pub(crate) fn network_tensors<T: Scalar>(net: &Network<T>) -> Vec<(String, RawTensor)> {
    let mut out = Vec::new();
    net.visit_tensors(&mut |name, shape, values| out.push((name.to_string(), raw(shape, values))));
    out
}

// ---------------------------------------------------------------------------------------------
// Reading

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|e| io_error(path, e))
}

pub(super) fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>, CheckpointError> {
    SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The file's `__metadata__` (the header was validated by [`parse`]).
pub(super) fn raw_metadata(bytes: &[u8]) -> BTreeMap<String, String> {
    SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().clone())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

/// Reads every tensor as `T`; optimizer tensors (`optim/…`) go to the second map.
#[allow(clippy::type_complexity)]
pub(super) fn read_tensors<T: Scalar>(
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
        // A NaN or infinite weight would only show up later as a NaN loss or prediction.
        if let Some(i) = values.iter().position(|v| !v.as_f64().is_finite()) {
            return Err(CheckpointError::NonFinite {
                path: path.to_path_buf(),
                name: name.to_string(),
                index: i,
                value: values[i].as_f64(),
            });
        }
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
