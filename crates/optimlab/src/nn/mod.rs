//! Layers with hand-written forward and backward passes, the loss, initialisation, the
//! multi-layer network builder and numerical gradient checks.

mod activation;
mod batch_norm;
mod dense;
mod dropout;
pub mod grad_check;
mod init;
mod layer;
mod loss;
mod network;

pub use activation::{Activation, ActivationLayer};
pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use dense::Dense;
pub use dropout::{Dropout, DropoutConfig, DropoutStyle};
pub use init::{Init, fill_normal};
pub use layer::{Layer, Mode, TensorVisitor, TensorVisitorMut};
pub use loss::{CrossEntropy, SoftmaxCrossEntropy, argmax_rows};
pub use network::{MEMORY_CEILING, Network, NetworkConfig, human_bytes};
// The parameter vocabulary lives below `nn` and `optim`; re-exported here for convenience.
pub use crate::param::{ParamKind, ParamMut, Parameters};

/// Errors from building or running a network. Each names the offending value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NnError {
    #[error("invalid {name} = {value}: expected {expected}")]
    Invalid {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("the network needs at least one hidden layer (hidden sizes are empty)")]
    EmptyHidden,
    #[error("{0} must be at least 1")]
    ZeroSize(String),
    #[error("{layer} expects {expected} input features, the previous layer gives {found}")]
    ShapeMismatch {
        layer: String,
        expected: usize,
        found: usize,
    },
    #[error("input has {found} features per sample, the network expects {expected}")]
    InputShape { expected: usize, found: usize },
    #[error("{rows} samples but {labels} labels")]
    LabelCount { rows: usize, labels: usize },
    #[error("label {label} is out of range for {classes} classes")]
    LabelRange { label: usize, classes: usize },
    #[error("backward called without a preceding loss computation")]
    NoForward,
    #[error(
        "a gradient check of {params} parameters takes two forward passes each; at most {max} are checked (use smaller layers)"
    )]
    GradCheckTooLarge { params: usize, max: usize },
    /// A size whose memory or work is far beyond any sensible run (usually a typo such as
    /// `--hidden 200000,200000`): refused up front instead of aborting on allocation.
    #[error("{what} would need {} ({bytes} bytes), above optimlab's limit of {}", human_bytes(*.bytes), human_bytes(*.limit))]
    TooLarge {
        what: String,
        bytes: u128,
        limit: u128,
    },
}
