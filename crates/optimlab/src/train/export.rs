//! Exporting a network's tensors for other tools: NumPy `.npz` (with the book's names, so its
//! `params` dictionaries load them directly) and plain safetensors. Both written atomically.

use super::checkpoint::{
    CheckpointError, VERSION, WEIGHTS_FORMAT, le_bytes, network_tensors, write_atomic, write_error,
    write_safetensors,
};
use crate::nn::Network;
use crate::tensor::Scalar;
use std::collections::HashMap;
use std::io::{self, Cursor, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Writes the network's tensors (`W1` `[in, out]`, `b1` `[out]`, `gamma1`, `beta1`,
/// `running_mean1`, `running_var1`, …) as a NumPy `.npz`: an uncompressed zip of `.npy` v1.0
/// files (`<f4` or `<f8`, C order), as `numpy.savez` writes it.
pub fn export_npz<T: Scalar>(path: &Path, net: &Network<T>) -> Result<(), CheckpointError> {
    let err = |e: io::Error| write_error(path, e);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    let mut result = Ok(());
    net.visit_tensors(&mut |name, shape, values| {
        if result.is_err() {
            return;
        }
        result = zip
            .start_file(format!("{name}.npy"), options)
            .map_err(io::Error::other)
            .and_then(|()| zip.write_all(&npy_bytes(shape, values)));
    });
    result.map_err(err)?;
    let bytes = zip
        .finish()
        .map_err(|e| err(io::Error::other(e)))?
        .into_inner();
    write_atomic(path, |w| w.write_all(&bytes)).map_err(err)
}

/// One `.npy` v1.0 file: magic, version, header length, a Python-dict header padded with
/// spaces to a multiple of 64 bytes and ended by `\n`, then the little-endian data.
pub fn npy_bytes<T: Scalar>(shape: &[usize], values: &[T]) -> Vec<u8> {
    let descr = if T::NAME == "f32" { "<f4" } else { "<f8" };
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + length (2) + header + '\n' ≡ 0 (mod 64)
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let data = le_bytes(values);
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

/// Writes the network's tensors only, as safetensors (metadata: `format` =
/// `optimlab-weights`, `version`, `dtype`, and `config` when given). Readable by
/// [`super::checkpoint::load_weights`], not by [`super::checkpoint::load`] (no optimizer or
/// random-stream state to resume from).
pub fn export_safetensors<T: Scalar>(
    path: &Path,
    net: &Network<T>,
    config: Option<&str>,
) -> Result<(), CheckpointError> {
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), WEIGHTS_FORMAT.to_string());
    metadata.insert("version".to_string(), VERSION.to_string());
    metadata.insert("dtype".to_string(), T::NAME.to_string());
    if let Some(c) = config {
        metadata.insert("config".to_string(), c.to_string());
    }
    write_safetensors(path, network_tensors(net), metadata)
}
