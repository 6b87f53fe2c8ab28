//! Batch normalization (Ioffe & Szegedy): normalise each feature over the batch, then scale
//! and shift with learned `gamma` and `beta`.

use super::{Layer, Mode, NnError, ParamKind, ParamMut, TensorVisitor, TensorVisitorMut};
use crate::preset::Preset;
use crate::tensor::{Matrix, Scalar};
use serde::{Deserialize, Serialize};

/// The choices where the book's batch norm and PyTorch's `BatchNorm1d` differ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormConfig {
    /// Added to the variance before the square root (book 1e-6, torch 1e-5).
    pub eps: f64,
    /// Weight of the new batch statistic in the running average (both 0.1: the book keeps 0.9).
    pub momentum: f64,
    /// Initial running variance (book 0, torch 1). The running mean starts at 0 in both.
    pub running_var_init: f64,
    /// Whether the running variance is fed the unbiased batch variance (torch) or the
    /// biased one (book).
    pub unbiased_running_var: bool,
}

impl BatchNormConfig {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Book => Self {
                eps: 1e-6,
                momentum: 0.1,
                running_var_init: 0.0,
                unbiased_running_var: false,
            },
            Preset::Torch => Self {
                eps: 1e-5,
                momentum: 0.1,
                running_var_init: 1.0,
                unbiased_running_var: true,
            },
        }
    }

    pub fn validate(&self) -> Result<(), NnError> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(NnError::Invalid {
                name: "batch-norm eps",
                value: self.eps,
                expected: "a finite number > 0",
            });
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(NnError::Invalid {
                name: "batch-norm momentum",
                value: self.momentum,
                expected: "a number in [0, 1]",
            });
        }
        Ok(())
    }
}

/// Training: `x̂ = (x − μ_B)/√(σ²_B + ε)`, `out = γ·x̂ + β`, and the running statistics move
/// toward the batch's. Evaluation: the running statistics replace the batch's.
///
/// Backward (training), per feature over a batch of N:
/// `dγ = Σ dout·x̂`, `dβ = Σ dout`, `dx = γ/(N·√(σ²+ε)) · (N·dout − Σdout − x̂·Σ(dout·x̂))`.
pub struct BatchNorm<T> {
    config: BatchNormConfig,
    names: [String; 4],
    shape: [usize; 1],
    gamma: Vec<T>,
    beta: Vec<T>,
    grad_gamma: Vec<T>,
    grad_beta: Vec<T>,
    running_mean: Vec<T>,
    running_var: Vec<T>,
    /// 1/√(σ² + ε) of the last forward, per feature.
    inv_std: Vec<T>,
    /// Scratch: per-feature sums in backward.
    sum_a: Vec<T>,
    sum_b: Vec<T>,
    x_hat: Matrix<T>,
    out: Matrix<T>,
    dx: Matrix<T>,
    last_mode: Mode,
}

impl<T: Scalar> BatchNorm<T> {
    /// Parameters are named `gamma{index}`/`beta{index}`, running statistics
    /// `running_mean{index}`/`running_var{index}`.
    pub fn new(index: usize, features: usize, config: BatchNormConfig) -> Self {
        Self {
            config,
            names: [
                format!("gamma{index}"),
                format!("beta{index}"),
                format!("running_mean{index}"),
                format!("running_var{index}"),
            ],
            shape: [features],
            gamma: vec![T::one(); features],
            beta: vec![T::zero(); features],
            grad_gamma: vec![T::zero(); features],
            grad_beta: vec![T::zero(); features],
            running_mean: vec![T::zero(); features],
            running_var: vec![T::from_f64(config.running_var_init); features],
            inv_std: vec![T::zero(); features],
            sum_a: vec![T::zero(); features],
            sum_b: vec![T::zero(); features],
            x_hat: Matrix::default(),
            out: Matrix::default(),
            dx: Matrix::default(),
            last_mode: Mode::Train,
        }
    }

    pub fn running_mean(&self) -> &[T] {
        &self.running_mean
    }
    pub fn running_var(&self) -> &[T] {
        &self.running_var
    }
    pub fn features(&self) -> usize {
        self.shape[0]
    }
}

impl<T: Scalar> Layer<T> for BatchNorm<T> {
    fn describe(&self) -> String {
        format!("BatchNorm({})", self.features())
    }

    fn output_features(&self, input: usize) -> Result<usize, NnError> {
        if input == self.features() {
            Ok(input)
        } else {
            Err(NnError::ShapeMismatch {
                layer: self.describe(),
                expected: self.features(),
                found: input,
            })
        }
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) {
        let (n, d) = x.shape();
        self.last_mode = mode;
        self.x_hat.resize(n, d);
        self.out.resize(n, d);
        let eps = T::from_f64(self.config.eps);
        // sum_a: mean, sum_b: variance (both per feature).
        let (mean, var) = (&mut self.sum_a, &mut self.sum_b);
        match mode {
            Mode::Train => {
                let inv_n = T::one() / T::from_usize(n);
                mean.fill(T::zero());
                for row in x.as_slice().chunks_exact(d) {
                    for (m, &v) in mean.iter_mut().zip(row) {
                        *m += v;
                    }
                }
                mean.iter_mut().for_each(|m| *m *= inv_n);
                var.fill(T::zero());
                for row in x.as_slice().chunks_exact(d) {
                    for ((s, &v), &m) in var.iter_mut().zip(row).zip(mean.iter()) {
                        *s += (v - m) * (v - m);
                    }
                }
                var.iter_mut().for_each(|s| *s *= inv_n);
                let mom = T::from_f64(self.config.momentum);
                let keep = T::one() - mom;
                let correction = if self.config.unbiased_running_var && n > 1 {
                    T::from_usize(n) / T::from_usize(n - 1)
                } else {
                    T::one()
                };
                for j in 0..d {
                    self.running_mean[j] = keep * self.running_mean[j] + mom * mean[j];
                    self.running_var[j] = keep * self.running_var[j] + mom * var[j] * correction;
                }
            }
            Mode::Eval => {
                mean.copy_from_slice(&self.running_mean);
                var.copy_from_slice(&self.running_var);
            }
        }
        for (is, &v) in self.inv_std.iter_mut().zip(var.iter()) {
            *is = T::one() / (v + eps).sqrt();
        }
        for ((xr, hr), or) in x
            .as_slice()
            .chunks_exact(d)
            .zip(self.x_hat.as_mut_slice().chunks_exact_mut(d))
            .zip(self.out.as_mut_slice().chunks_exact_mut(d))
        {
            for j in 0..d {
                let h = (xr[j] - mean[j]) * self.inv_std[j];
                hr[j] = h;
                or[j] = self.gamma[j] * h + self.beta[j];
            }
        }
    }

    fn output(&self) -> &Matrix<T> {
        &self.out
    }

    fn backward(&mut self, _x: &Matrix<T>, dout: &Matrix<T>, need_input_grad: bool) {
        let (n, d) = dout.shape();
        // Σ dout and Σ dout·x̂ per feature: these are dβ and dγ.
        self.grad_beta.fill(T::zero());
        self.grad_gamma.fill(T::zero());
        for (gr, hr) in dout
            .as_slice()
            .chunks_exact(d)
            .zip(self.x_hat.as_slice().chunks_exact(d))
        {
            for j in 0..d {
                self.grad_beta[j] += gr[j];
                self.grad_gamma[j] += gr[j] * hr[j];
            }
        }
        if !need_input_grad {
            return;
        }
        self.dx.resize(n, d);
        if self.last_mode == Mode::Eval {
            // Statistics are constants in evaluation mode: dx = γ·dout/√(var+ε).
            for (dr, gr) in self
                .dx
                .as_mut_slice()
                .chunks_exact_mut(d)
                .zip(dout.as_slice().chunks_exact(d))
            {
                for j in 0..d {
                    dr[j] = self.gamma[j] * self.inv_std[j] * gr[j];
                }
            }
            return;
        }
        let nn = T::from_usize(n);
        // scale_j = γ_j/(N·√(σ²+ε)), stored in sum_a.
        for j in 0..d {
            self.sum_a[j] = self.gamma[j] * self.inv_std[j] / nn;
        }
        for ((dr, gr), hr) in self
            .dx
            .as_mut_slice()
            .chunks_exact_mut(d)
            .zip(dout.as_slice().chunks_exact(d))
            .zip(self.x_hat.as_slice().chunks_exact(d))
        {
            for j in 0..d {
                dr[j] =
                    self.sum_a[j] * (nn * gr[j] - self.grad_beta[j] - hr[j] * self.grad_gamma[j]);
            }
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.dx
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, T>)) {
        f(ParamMut {
            name: &self.names[0],
            kind: ParamKind::NormScale,
            shape: &self.shape,
            value: &mut self.gamma,
            grad: &mut self.grad_gamma,
        });
        f(ParamMut {
            name: &self.names[1],
            kind: ParamKind::NormShift,
            shape: &self.shape,
            value: &mut self.beta,
            grad: &mut self.grad_beta,
        });
    }

    fn visit_tensors(&self, f: &mut TensorVisitor<'_, T>) {
        f(&self.names[0], &self.shape, &self.gamma);
        f(&self.names[1], &self.shape, &self.beta);
        f(&self.names[2], &self.shape, &self.running_mean);
        f(&self.names[3], &self.shape, &self.running_var);
    }

    fn visit_tensors_mut(&mut self, f: &mut TensorVisitorMut<'_, T>) {
        f(&self.names[0], &self.shape, &mut self.gamma);
        f(&self.names[1], &self.shape, &mut self.beta);
        f(&self.names[2], &self.shape, &mut self.running_mean);
        f(&self.names[3], &self.shape, &mut self.running_var);
    }
}
