//! The affine (fully connected) layer: `out = x·W + b`.

use super::{Layer, Mode, NnError, ParamKind, ParamMut, TensorVisitor, TensorVisitorMut};
use crate::parallel::join;
use crate::tensor::{Matrix, Scalar, Threads, gemm_clock, gemm_views};
use faer::{MatMut, MatRef};

/// Batches of fewer rows than this are never split across threads.
const MIN_SPLIT_ROWS: usize = 32;
/// Layers whose forward product has fewer multiply-adds than this stay whole, on one thread.
///
/// The rule, measured on this project's 2-core AMD EPYC (book workload, f32, 2 threads, the
/// hand-off of [`crate::parallel::join`] costing ≈ 2–3 µs): splitting the book's first layer
/// (128×784×100, 10M multiply-adds) pays; splitting the 128×100×100 hidden layers too made the
/// step slower (0.418–0.436 against 0.388–0.413 ms). Their halves take ≈ 10 µs, and every
/// element-wise pass between them (activation, batch norm, loss) runs on the calling thread,
/// which then reads the rows the helper wrote from the other core's cache: the time outside
/// the GEMMs grew from 0.08 to 0.13–0.16 ms, more than the GEMMs saved (0.33 → 0.27 ms).
/// Wide layers (every product ≥ 200M multiply-adds) always split.
const MIN_SPLIT_MACS: usize = 4 << 20;

/// The first `h` rows of a batch and the rest: the two shards of a data-parallel step.
fn shard_rows(rows: usize) -> usize {
    rows.div_ceil(2)
}

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

    /// Whether a batch of `rows` is split across two threads: forward, each thread computes
    /// the output rows of its half of the batch; backward, each computes half the rows of
    /// `dW = xᵀ·dout` (over the whole batch) and the rows of `dx` for its half of the batch.
    /// No reduction, and every element is summed in the same order whatever the thread count.
    /// Otherwise the products run whole on `threads` (the GEMM wrapper splits only products
    /// above its own threshold).
    fn split_batch(&self, rows: usize) -> bool {
        let macs = rows * self.inputs() * self.outputs();
        self.threads.0 > 1 && rows >= MIN_SPLIT_ROWS && macs >= MIN_SPLIT_MACS
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
        let (rows, cols) = (x.rows(), self.outputs());
        let (split, threads) = (self.split_batch(rows), self.threads);
        self.out.resize(rows, cols);
        let b = self.bias.as_slice();
        let w = self.weight.view();
        let xv = x.view();
        let out = self.out.as_mut_slice();
        let product = |out: &mut [T], x: MatRef<'_, T>, threads| {
            // Start every row at b, then accumulate x·W onto it: the bias add rides on the GEMM.
            for row in out.chunks_exact_mut(cols) {
                row.copy_from_slice(b);
            }
            let dst = MatMut::from_row_major_slice_mut(out, x.nrows(), cols);
            gemm_views(dst, x, w, T::one(), true, threads);
        };
        if split {
            let h = shard_rows(rows);
            let (o0, o1) = out.split_at_mut(h * cols);
            gemm_clock::timed(|| {
                join(
                    || product(o0, xv.subrows(0, h), Threads(1)),
                    || product(o1, xv.subrows(h, rows - h), Threads(1)),
                )
            });
        } else {
            gemm_clock::timed(|| product(out, xv, threads));
        }
    }

    fn output(&self) -> &Matrix<T> {
        &self.out
    }

    fn backward(&mut self, x: &Matrix<T>, dout: &Matrix<T>, need_input_grad: bool) {
        let rows = dout.rows();
        let (inputs, outputs) = (self.inputs(), self.outputs());
        if need_input_grad {
            self.dx.resize(rows, inputs);
        } else {
            self.dx.resize(0, inputs);
        }
        let split = self.split_batch(rows);
        let Self {
            weight,
            grad_weight,
            dx,
            threads,
            l2,
            ..
        } = self;
        let (w, l2) = (weight.as_slice(), *l2);
        let wt = weight.view().transpose();
        let (xv, dv) = (x.view(), dout.view());
        // Rows `i0..i0 + ni` of dW = xᵀ·dout (+ λW), and rows `r0..r0 + n` of dx = dout·Wᵀ.
        let part = |gw: &mut [T], i0: usize, ni: usize, dx: &mut [T], r0: usize, n: usize| {
            let xs = xv.subcols(i0, ni).transpose();
            let gwm = MatMut::from_row_major_slice_mut(gw, ni, outputs);
            gemm_views(gwm, xs, dv, T::one(), false, Threads(1));
            if l2 != T::zero() {
                for (g, &w) in gw.iter_mut().zip(&w[i0 * outputs..]) {
                    *g += l2 * w;
                }
            }
            if !dx.is_empty() {
                let dx = MatMut::from_row_major_slice_mut(dx, n, inputs);
                gemm_views(dx, dv.subrows(r0, n), wt, T::one(), false, Threads(1));
            }
        };
        if split {
            // Each thread takes half the rows of dW and half the batch rows of dx: no
            // reduction, and every element is summed in the same order as on one thread.
            let (i0, h) = (shard_rows(inputs), shard_rows(rows));
            let (dx0, dx1) =
                dx.as_mut_slice()
                    .split_at_mut(if need_input_grad { h * inputs } else { 0 });
            let (gw0, gw1) = grad_weight.as_mut_slice().split_at_mut(i0 * outputs);
            gemm_clock::timed(|| {
                join(
                    || part(gw0, 0, i0, dx0, 0, h),
                    || part(gw1, i0, inputs - i0, dx1, h, rows - h),
                )
            });
        } else {
            let threads = *threads;
            gemm_clock::timed(|| {
                let gw =
                    MatMut::from_row_major_slice_mut(grad_weight.as_mut_slice(), inputs, outputs);
                gemm_views(gw, xv.transpose(), dv, T::one(), false, threads);
                if need_input_grad {
                    let dx = MatMut::from_row_major_slice_mut(dx.as_mut_slice(), rows, inputs);
                    gemm_views(dx, dv, wt, T::one(), false, threads);
                }
            });
            if l2 != T::zero() {
                for (g, &w) in grad_weight.as_mut_slice().iter_mut().zip(w) {
                    *g += l2 * w;
                }
            }
        }
        dout.sum_rows_into(self.grad_bias.as_mut_slice());
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
