//! RAdam (Liu et al. 2020), as torch.optim.RAdam.

use super::check::{positive, unit};
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// Rectified Adam: `m ← m + (1−β1)·(g − m);  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1ᵗ)`;
/// `ρ∞ = 2/(1−β2) − 1;  ρ_t = ρ∞ − 2t·β2ᵗ/(1−β2ᵗ)`;
/// if `ρ_t > 5`: `r = √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t))`,
/// `W ← W − lr·m̂·r·√(1−β2ᵗ)/(√v + ε)`; else `W ← W − lr·m̂` (plain momentum while the variance
/// estimate is unreliable).
///
/// Decoupled weight decay (torch's `decoupled_weight_decay=True`) is
/// [`super::WeightDecay::Decoupled`]. Defaults (torch): lr 1e-3, β (0.9, 0.999), ε 1e-8.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RAdam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for RAdam {
    fn default() -> Self {
        RAdam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl RAdam {
    pub fn validate(&self) -> Result<(), OptimError> {
        unit("beta1", self.beta1)?;
        unit("beta2", self.beta2)?;
        positive("eps", self.eps)
    }
}

impl<T: Scalar> UpdateRule<T> for RAdam {
    fn name(&self) -> &'static str {
        "radam"
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let t = ctx.t as f64;
        let (b1, b2) = (self.beta1, self.beta2);
        let (bc1, bc2) = (1.0 - super::pow(b1, t), 1.0 - super::pow(b2, t));
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * super::pow(b2, t) / bc2;
        let rect = || {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt()
        };
        let (one_m_b1, b2t) = (T::from_f64(1.0 - b1), T::from_f64(b2));
        let (one_m_b2, eps) = (T::from_f64(1.0 - b2), T::from_f64(self.eps));
        let [m, v] = &mut state.buffers[..] else {
            unreachable!("radam keeps two buffers")
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
                if rho_t > 5.0 {
                    // W −= lr·r·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε)
                    let c = T::from_f64(ctx.lr * rect() * bc2.sqrt() / bc1);
                    for (((w, &g), m), v) in it {
                        *m = *m + one_m_b1 * (g - *m);
                        *v = b2t * *v + one_m_b2 * g * g;
                        *w -= c * *m / (v.sqrt() + eps);
                    }
                } else {
                    let c = T::from_f64(ctx.lr / bc1);
                    for (((w, &g), m), v) in it {
                        *m = *m + one_m_b1 * (g - *m);
                        *v = b2t * *v + one_m_b2 * g * g;
                        *w -= c * *m;
                    }
                }
            },
        );
    }
}
