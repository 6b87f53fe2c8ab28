//! Adadelta (Zeiler 2012), as torch.optim.Adadelta.

use super::check::{positive, unit};
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// Adadelta: `s ← ρ·s + (1−ρ)·g²;  Δ = √(u + ε)/√(s + ε) · g;  u ← ρ·u + (1−ρ)·Δ²;
/// W ← W − lr·Δ`.
///
/// Defaults (torch): lr 1.0, ρ 0.9, ε 1e-6.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Adadelta {
    pub rho: f64,
    pub eps: f64,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta {
            rho: 0.9,
            eps: 1e-6,
        }
    }
}

impl Adadelta {
    pub fn validate(&self) -> Result<(), OptimError> {
        unit("rho", self.rho)?;
        positive("eps", self.eps)
    }
}

impl<T: Scalar> UpdateRule<T> for Adadelta {
    fn name(&self) -> &'static str {
        "adadelta"
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let (lr, eps) = (T::from_f64(ctx.lr), T::from_f64(self.eps));
        let (rho, one_m_rho) = (T::from_f64(self.rho), T::from_f64(1.0 - self.rho));
        let [s, u] = &mut state.buffers[..] else {
            unreachable!("adadelta keeps two buffers")
        };
        let n = value.len();
        let it = value
            .iter_mut()
            .zip(&grad[..n])
            .zip(&mut s[..n])
            .zip(&mut u[..n]);
        vectorised(
            #[inline(always)]
            || {
                for (((w, &g), s), u) in it {
                    *s = rho * *s + one_m_rho * g * g;
                    let delta = ((*u + eps) / (*s + eps)).sqrt() * g;
                    *u = rho * *u + one_m_rho * delta * delta;
                    *w -= lr * delta;
                }
            },
        );
    }
}
