//! Named parameters, the currency between layers, optimizers and checkpoints.
//!
//! This module sits below both `nn` (which owns parameters) and `optim` (which updates them), so
//! that update rules see named tensors, never layers.

use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// What a parameter is for: parameter groups (e.g. no weight decay on biases and
/// normalisation parameters) select by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// A weight matrix `W` (shape `[in, out]`).
    Weight,
    /// A bias vector `b`.
    Bias,
    /// Batch-norm scale `gamma`.
    NormScale,
    /// Batch-norm shift `beta`.
    NormShift,
    /// Anything else (e.g. the coordinates of a 2-D test function).
    Other,
}

/// One parameter tensor with its gradient, lent to an optimizer for an update.
///
/// `name` is stable (`W1`, `b1`, `gamma1`, …) and keys optimizer state and checkpoints.
pub struct ParamMut<'a, T> {
    pub name: &'a str,
    pub kind: ParamKind,
    /// Logical shape (`[in, out]` for weights, `[n]` for vectors).
    pub shape: &'a [usize],
    pub value: &'a mut [T],
    pub grad: &'a mut [T],
}

/// Anything that owns named parameters and their gradients: a network, a 2-D test point.
///
/// `visit` must present the parameters in the same order every time (optimizers index their
/// state by position after checking the names once).
pub trait Parameters<T: Scalar> {
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, T>));

    /// How many threads an optimizer may use to update these parameters (a network trained
    /// with `Threads(2)` says 2, and large tensors are then updated in two halves at once).
    fn threads(&self) -> usize {
        1
    }
}
