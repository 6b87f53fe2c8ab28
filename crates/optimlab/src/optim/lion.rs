//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

use super::check::unit;
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// Lion, the paper's Algorithm 2: `c = β1·m + (1−β1)·g;  W ← W − lr·sign(c);
/// m ← β2·m + (1−β2)·g` (`sign(0) = 0`).
///
/// Weight decay is decoupled ([`super::WeightDecay::Decoupled`]: `W ← W·(1 − lr·λ)` first).
/// Defaults (the paper's): lr 1e-4, β (0.9, 0.99). Not in torch.optim; the fixtures use a
/// NumPy transcription of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lion {
    pub beta1: f64,
    pub beta2: f64,
}

impl Default for Lion {
    fn default() -> Self {
        Lion {
            beta1: 0.9,
            beta2: 0.99,
        }
    }
}

impl Lion {
    pub fn validate(&self) -> Result<(), OptimError> {
        unit("beta1", self.beta1)?;
        unit("beta2", self.beta2)
    }
}

#[inline(always)]
fn sign<T: Scalar>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x // ±0 and NaN pass through, as torch.sign
    }
}

impl<T: Scalar> UpdateRule<T> for Lion {
    fn name(&self) -> &'static str {
        "lion"
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        &["exp_avg"]
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let lr = T::from_f64(ctx.lr);
        let (b1, one_m_b1) = (T::from_f64(self.beta1), T::from_f64(1.0 - self.beta1));
        let (b2, one_m_b2) = (T::from_f64(self.beta2), T::from_f64(1.0 - self.beta2));
        vectorised(
            #[inline(always)]
            || {
                for ((w, &g), m) in value.iter_mut().zip(grad).zip(state.buffers[0].iter_mut()) {
                    let c = b1 * *m + one_m_b1 * g;
                    *w -= lr * sign(c);
                    *m = b2 * *m + one_m_b2 * g;
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_momentum_and_gradient_leave_the_weight_alone() {
        let mut state = UpdateRule::<f64>::init_state(&Lion::default(), 3);
        let mut w = [1.0, 1.0, 1.0];
        let ctx = StepContext { lr: 0.1, t: 1 };
        Lion::default().update(&ctx, &mut w, &[0.0, 2.0, -1e-30], &mut state);
        assert_eq!(w, [1.0, 0.9, 1.1]);
    }
}
