//! Gradient clipping: over all gradients at once, before any parameter moves.

use crate::optim::OptimError;
use crate::param::Parameters;
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// Gradient clipping, applied to all gradients before any update.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "max")]
pub enum Clip {
    /// Scale all gradients by `max / (‖g‖₂ + 1e-6)` when the global L2 norm exceeds `max`
    /// (`torch.nn.utils.clip_grad_norm_`).
    Norm(f64),
    /// Clamp every gradient element to `[−max, max]` (`torch.nn.utils.clip_grad_value_`).
    Value(f64),
}

impl Clip {
    pub(super) fn check(self) -> Result<(), OptimError> {
        let (Clip::Norm(m) | Clip::Value(m)) = self;
        if m.is_finite() && m > 0.0 {
            Ok(())
        } else {
            Err(OptimError::Invalid {
                name: "clip",
                value: m,
                expected: "a finite number > 0",
            })
        }
    }

    /// Clips the gradients `params` hold. Returns the global gradient L2 norm before
    /// clipping when clipping by norm, else `None`.
    pub(super) fn apply<T: Scalar>(self, params: &mut dyn Parameters<T>) -> Option<f64> {
        match self {
            Clip::Norm(max) => {
                let mut sq = 0.0f64;
                params.visit_params(&mut |p| {
                    sq += p.grad.iter().map(|g| g.as_f64() * g.as_f64()).sum::<f64>();
                });
                let total = sq.sqrt();
                let coef = max / (total + 1e-6);
                if coef < 1.0 {
                    let c = T::from_f64(coef);
                    params.visit_params(&mut |p| p.grad.iter_mut().for_each(|g| *g *= c));
                }
                Some(total)
            }
            Clip::Value(max) => {
                let (lo, hi) = (T::from_f64(-max), T::from_f64(max));
                params
                    .visit_params(&mut |p| p.grad.iter_mut().for_each(|g| *g = g.max(lo).min(hi)));
                None
            }
        }
    }
}
