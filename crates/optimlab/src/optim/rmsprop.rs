//! RMSprop (Hinton's lecture 6e), as torch.optim.RMSprop.

use super::check::{positive, unit};
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
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
        let c = Coefs {
            lr: T::from_f64(ctx.lr),
            eps: T::from_f64(self.eps),
            rho: T::from_f64(self.rho),
            one_m_rho: T::from_f64(1.0 - self.rho),
            mu: T::from_f64(self.momentum),
        };
        let (w, g) = (value, grad);
        vectorised(
            #[inline(always)]
            || match (&mut state.buffers[..], self.momentum > 0.0, self.centered) {
                ([s], false, false) => kernel::<T, false, false>(c, w, g, s, &mut [], &mut []),
                ([s, b], true, false) => kernel::<T, true, false>(c, w, g, s, b, &mut []),
                ([s, ga], false, true) => kernel::<T, false, true>(c, w, g, s, &mut [], ga),
                ([s, b, ga], true, true) => kernel::<T, true, true>(c, w, g, s, b, ga),
                _ => unreachable!("buffers as named by buffer_names"),
            },
        );
    }
}

#[derive(Clone, Copy)]
struct Coefs<T> {
    lr: T,
    eps: T,
    rho: T,
    one_m_rho: T,
    mu: T,
}

/// One pass over a parameter, specialised for momentum and centering.
#[inline(always)]
fn kernel<T: Scalar, const MOMENTUM: bool, const CENTERED: bool>(
    c: Coefs<T>,
    w: &mut [T],
    g: &[T],
    s: &mut [T],
    buf: &mut [T],
    grad_avg: &mut [T],
) {
    let n = w.len();
    let (g, s) = (&g[..n], &mut s[..n]);
    let buf = if MOMENTUM { &mut buf[..n] } else { buf };
    let grad_avg = if CENTERED {
        &mut grad_avg[..n]
    } else {
        grad_avg
    };
    for i in 0..n {
        let gi = g[i];
        s[i] = c.rho * s[i] + c.one_m_rho * gi * gi;
        let d = if CENTERED {
            let ga = grad_avg[i] + c.one_m_rho * (gi - grad_avg[i]);
            grad_avg[i] = ga;
            (s[i] - ga * ga).sqrt() + c.eps
        } else {
            s[i].sqrt() + c.eps
        };
        if MOMENTUM {
            buf[i] = c.mu * buf[i] + gi / d;
            w[i] -= c.lr * buf[i];
        } else {
            w[i] -= c.lr * gi / d;
        }
    }
}
