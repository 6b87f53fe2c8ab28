//! RMSprop (Hinton's lecture 6e), as torch.optim.RMSprop.

use super::check::{positive, unit};
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// RMSprop with smoothing `ρ` (torch's `alpha`):
/// `s ← ρ·s + (1−ρ)·g²`; centered: `ḡ ← ρ·ḡ + (1−ρ)·g`, `d = √(s − ḡ²) + ε`, else `d = √s + ε`;
/// without momentum `W ← W − lr·g/d`, with momentum `μ`: `b ← μ·b + g/d;  W ← W − lr·b`.
///
/// The book's RMSprop is this formula with ρ 0.99, ε 1e-7 (lr 0.01). Defaults (torch): lr 1e-2,
/// ρ 0.99, ε 1e-8, momentum 0, not centered.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RmsProp {
    #[serde(alias = "alpha")]
    pub rho: f64,
    pub eps: f64,
    pub momentum: f64,
    pub centered: bool,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp {
            rho: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsProp {
    /// The book's RMSprop: ρ 0.99, ε 1e-7.
    pub fn book() -> Self {
        RmsProp {
            eps: 1e-7,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), OptimError> {
        unit("rho", self.rho)?;
        positive("eps", self.eps)?;
        unit("momentum", self.momentum)
    }
}

impl<T: Scalar> UpdateRule<T> for RmsProp {
    fn name(&self) -> &'static str {
        "rmsprop"
    }

    /// `square_avg`, then `momentum_buffer` if momentum > 0, then `grad_avg` if centered.
    fn buffer_names(&self) -> &'static [&'static str] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &["square_avg"],
            (true, false) => &["square_avg", "momentum_buffer"],
            (false, true) => &["square_avg", "grad_avg"],
            (true, true) => &["square_avg", "momentum_buffer", "grad_avg"],
        }
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let (lr, eps) = (T::from_f64(ctx.lr), T::from_f64(self.eps));
        let (rho, one_m_rho) = (T::from_f64(self.rho), T::from_f64(1.0 - self.rho));
        let mu = T::from_f64(self.momentum);
        let with_momentum = self.momentum > 0.0;
        let (sq, rest) = state.buffers.split_first_mut().expect("square_avg buffer");
        let (buf, rest) = if with_momentum {
            rest.split_at_mut(1)
        } else {
            rest.split_at_mut(0)
        };
        for i in 0..value.len() {
            let g = grad[i];
            sq[i] = rho * sq[i] + one_m_rho * g * g;
            let d = if self.centered {
                let ga = &mut rest[0][i];
                *ga += one_m_rho * (g - *ga);
                (sq[i] - *ga * *ga).sqrt() + eps
            } else {
                sq[i].sqrt() + eps
            };
            if with_momentum {
                let b = &mut buf[0][i];
                *b = mu * *b + g / d;
                value[i] -= lr * *b;
            } else {
                value[i] -= lr * g / d;
            }
        }
    }
}
