//! Why a checkpoint could not be written, read or applied: [`CheckpointError`] and its helpers.

use super::VERSION;
use std::io;
use std::path::{Path, PathBuf};

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
    #[error(
        "{}: tensor '{name}' holds {value} at element {index}; weights must be finite",
        path.display()
    )]
    NonFinite {
        path: PathBuf,
        name: String,
        index: usize,
        value: f64,
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
            .map(|m| {
                // PyTorch's nn.Linear keeps W as out × in, the book (and optimlab) as in × out.
                let transposed = m.file.len() == 2
                    && m.file.iter().rev().eq(m.network.iter())
                    && m.file != m.network;
                format!(
                    "{} (file {:?}, network {:?}{})",
                    m.name,
                    m.file,
                    m.network,
                    if transposed {
                        "; transposed: optimlab stores W as inputs × outputs"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        parts.push(format!("wrong shape {}", list.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!("not in the network {}", extra.join(", ")));
    }
    parts.join("; ")
}

pub(super) fn io_error(path: &Path, source: io::Error) -> CheckpointError {
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
