//! The layer interface: forward, backward, and named parameters.

use super::{NnError, ParamMut};
use crate::tensor::{Matrix, Scalar};

/// Sees each named tensor: name, shape, values.
pub type TensorVisitor<'a, T> = dyn FnMut(&str, &[usize], &[T]) + 'a;
/// Sees each named tensor mutably: name, shape, values.
pub type TensorVisitorMut<'a, T> = dyn FnMut(&str, &[usize], &mut [T]) + 'a;

/// Training or evaluation: batch norm uses batch statistics and dropout drops only in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// A layer with a hand-written backward pass.
///
/// A layer owns its output and input-gradient buffers and reuses them from one call to the
/// next: after the first batch of a given size, neither pass allocates. The caller keeps the
/// input alive between `forward` and `backward` and hands it back to `backward`, so layers that
/// need their input (dense) read it in place instead of copying it.
pub trait Layer<T: Scalar>: Send {
    /// Short description, e.g. `Dense(784→100)`.
    fn describe(&self) -> String;

    /// The number of output features for `input` features, or a shape error.
    fn output_features(&self, input: usize) -> Result<usize, NnError>;

    /// Computes the output for a batch `x` (rows are samples).
    fn forward(&mut self, x: &Matrix<T>, mode: Mode);

    /// The output of the last `forward`.
    fn output(&self) -> &Matrix<T>;

    /// Given the loss gradient w.r.t. the output, stores parameter gradients and, when
    /// `need_input_grad`, the gradient w.r.t. the input (see [`Layer::input_grad`]).
    /// `x` is the input of the last `forward`.
    fn backward(&mut self, x: &Matrix<T>, dout: &Matrix<T>, need_input_grad: bool);

    /// The gradient w.r.t. the input from the last `backward`.
    fn input_grad(&self) -> &Matrix<T>;

    /// Lends each trainable parameter with its gradient.
    fn visit_params(&mut self, _f: &mut dyn FnMut(ParamMut<'_, T>)) {}

    /// Each named tensor the layer keeps (parameters and running statistics), for checkpoints.
    fn visit_tensors(&self, _f: &mut TensorVisitor<'_, T>) {}

    /// Mutable access to each named tensor, for loading checkpoints.
    fn visit_tensors_mut(&mut self, _f: &mut TensorVisitorMut<'_, T>) {}

    /// The layer's random stream, if it has one (dropout), for checkpoints.
    fn rng_mut(&mut self) -> Option<&mut crate::rng::Rng> {
        None
    }

    /// Dropout only: keep the current mask for later training forwards (gradient checks).
    fn freeze_dropout_mask(&mut self, _freeze: bool) {}
}
