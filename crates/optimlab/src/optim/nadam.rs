//! NAdam (Dozat 2016), as torch.optim.NAdam.

use super::check::{non_negative, positive, unit};
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// NAdam with momentum schedule `μ_t = β1·(1 − ½·0.96^(t·ψ))` (ψ = `momentum_decay`):
/// `Π ← Π·μ_t` (the scalar state `mu_product`, starting at 1);
/// `m ← m + (1−β1)·(g − m);  v ← β2·v + (1−β2)·g²;  d = √(v/(1−β2ᵗ)) + ε`;
/// `W ← W − lr·(1−μ_t)/(1−Π) · g/d − lr·μ_{t+1}/(1−Π·μ_{t+1}) · m/d`.
///
/// Scalars are computed in f64. Decoupled weight decay (torch's `decoupled_weight_decay=True`)
/// is [`super::WeightDecay::Decoupled`]. Defaults (torch): lr 2e-3, β (0.9, 0.999), ε 1e-8,
/// ψ 4e-3.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NAdam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub momentum_decay: f64,
}

impl Default for NAdam {
    fn default() -> Self {
        NAdam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum_decay: 4e-3,
        }
    }
}

impl NAdam {
    pub fn validate(&self) -> Result<(), OptimError> {
        unit("beta1", self.beta1)?;
        unit("beta2", self.beta2)?;
        positive("eps", self.eps)?;
        non_negative("momentum_decay", self.momentum_decay)
    }

    fn mu(&self, t: f64) -> f64 {
        self.beta1 * (1.0 - 0.5 * super::pow(0.96, t * self.momentum_decay))
    }
}

impl<T: Scalar> UpdateRule<T> for NAdam {
    fn name(&self) -> &'static str {
        "nadam"
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn scalar_names(&self) -> &'static [&'static str] {
        &["mu_product"]
    }

    fn init_state(&self, len: usize) -> ParamState<T> {
        ParamState {
            step: 0,
            buffers: vec![vec![T::zero(); len]; 2],
            scalars: vec![1.0],
        }
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let t = ctx.t as f64;
        let inv_bc2 = T::from_f64(1.0 / (1.0 - super::pow(self.beta2, t)));
        let (mu, mu_next) = (self.mu(t), self.mu(t + 1.0));
        state.scalars[0] *= mu;
        let prod = state.scalars[0];
        let cg = T::from_f64(-ctx.lr * (1.0 - mu) / (1.0 - prod));
        let cm = T::from_f64(-ctx.lr * mu_next / (1.0 - prod * mu_next));
        let (one_m_b1, b2) = (T::from_f64(1.0 - self.beta1), T::from_f64(self.beta2));
        let (one_m_b2, eps) = (T::from_f64(1.0 - self.beta2), T::from_f64(self.eps));
        let [m, v] = &mut state.buffers[..] else {
            unreachable!("nadam keeps two buffers")
        };
        let n = value.len();
        let it = value
            .iter_mut()
            .zip(&grad[..n])
            .zip(&mut m[..n])
            .zip(&mut v[..n]);
        vectorised(
            #[inline(always)]
            || {
                for (((w, &g), m), v) in it {
                    *m = *m + one_m_b1 * (g - *m);
                    *v = b2 * *v + one_m_b2 * g * g;
                    let inv_d = T::one() / ((*v * inv_bc2).sqrt() + eps);
                    *w += cg * g * inv_d;
                    *w += cm * *m * inv_d;
                }
            },
        );
    }
}
