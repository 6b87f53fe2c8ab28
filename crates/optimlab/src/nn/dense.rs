//! The affine (fully connected) layer: `out = x·W + b`.

use super::{Layer, Mode, NnError, ParamKind, ParamMut, TensorVisitor, TensorVisitorMut};
use crate::tensor::{Matrix, Op, Scalar, Threads, gemm};

/// `out = x·W + b` with `W` shaped `[in, out]` (the book's layout).
///
/// Backward: `dW = xᵀ·dout (+ λ·W)`, `db = Σ_rows dout`, `dx = dout·Wᵀ`.
/// `λ` is the book's L2 weight decay (`½λ‖W‖²` in the loss), zero unless set.
pub struct Dense<T> {
    names: [String; 2],
    shapes: [[usize; 2]; 2],
    pub(crate) weight: Matrix<T>,
    pub(crate) bias: Matrix<T>,
    grad_weight: Matrix<T>,
    grad_bias: Matrix<T>,
    out: Matrix<T>,
    dx: Matrix<T>,
    pub(crate) l2: T,
    threads: Threads,
}

impl<T: Scalar> Dense<T> {
    /// A zero-initialised layer whose parameters are named `W{index}` and `b{index}`.
    pub fn new(index: usize, inputs: usize, outputs: usize) -> Self {
        Self {
            names: [format!("W{index}"), format!("b{index}")],
            shapes: [[inputs, outputs], [outputs, 0]],
            weight: Matrix::zeros(inputs, outputs),
            bias: Matrix::zeros(1, outputs),
            grad_weight: Matrix::zeros(inputs, outputs),
            grad_bias: Matrix::zeros(1, outputs),
            out: Matrix::default(),
            dx: Matrix::default(),
            l2: T::zero(),
            threads: Threads::default(),
        }
    }

    pub fn with_threads(mut self, threads: Threads) -> Self {
        self.threads = threads;
        self
    }

    pub fn weight(&self) -> &Matrix<T> {
        &self.weight
    }
    pub fn weight_mut(&mut self) -> &mut Matrix<T> {
        &mut self.weight
    }
    pub fn bias(&self) -> &[T] {
        self.bias.as_slice()
    }
    pub fn inputs(&self) -> usize {
        self.weight.rows()
    }
    pub fn outputs(&self) -> usize {
        self.weight.cols()
    }
}

impl<T: Scalar> Layer<T> for Dense<T> {
    fn describe(&self) -> String {
        format!("Dense({}→{})", self.inputs(), self.outputs())
    }

    fn output_features(&self, input: usize) -> Result<usize, NnError> {
        if input == self.inputs() {
            Ok(self.outputs())
        } else {
            Err(NnError::ShapeMismatch {
                layer: self.describe(),
                expected: self.inputs(),
                found: input,
            })
        }
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) {
        self.out.resize(x.rows(), self.outputs());
        // Start every row at b, then accumulate x·W onto it: the bias add rides on the GEMM.
        let b = self.bias.as_slice();
        for row in self.out.as_mut_slice().chunks_exact_mut(b.len()) {
            row.copy_from_slice(b);
        }
        gemm(
            &mut self.out,
            x,
            Op::N,
            &self.weight,
            Op::N,
            T::one(),
            true,
            self.threads,
        );
    }

    fn output(&self) -> &Matrix<T> {
        &self.out
    }

    fn backward(&mut self, x: &Matrix<T>, dout: &Matrix<T>, need_input_grad: bool) {
        gemm(
            &mut self.grad_weight,
            x,
            Op::T,
            dout,
            Op::N,
            T::one(),
            false,
            self.threads,
        );
        if self.l2 != T::zero() {
            let l2 = self.l2;
            for (g, &w) in self
                .grad_weight
                .as_mut_slice()
                .iter_mut()
                .zip(self.weight.as_slice())
            {
                *g += l2 * w;
            }
        }
        dout.sum_rows_into(self.grad_bias.as_mut_slice());
        if need_input_grad {
            self.dx.resize(dout.rows(), self.inputs());
            gemm(
                &mut self.dx,
                dout,
                Op::N,
                &self.weight,
                Op::T,
                T::one(),
                false,
                self.threads,
            );
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.dx
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, T>)) {
        let [wn, bn] = &self.names;
        f(ParamMut {
            name: wn,
            kind: ParamKind::Weight,
            shape: &self.shapes[0],
            value: self.weight.as_mut_slice(),
            grad: self.grad_weight.as_mut_slice(),
        });
        f(ParamMut {
            name: bn,
            kind: ParamKind::Bias,
            shape: &self.shapes[1][..1],
            value: self.bias.as_mut_slice(),
            grad: self.grad_bias.as_mut_slice(),
        });
    }

    fn visit_tensors(&self, f: &mut TensorVisitor<'_, T>) {
        f(&self.names[0], &self.shapes[0], self.weight.as_slice());
        f(&self.names[1], &self.shapes[1][..1], self.bias.as_slice());
    }

    fn visit_tensors_mut(&mut self, f: &mut TensorVisitorMut<'_, T>) {
        f(&self.names[0], &self.shapes[0], self.weight.as_mut_slice());
        f(
            &self.names[1],
            &self.shapes[1][..1],
            self.bias.as_mut_slice(),
        );
    }
}
