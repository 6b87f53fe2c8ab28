//! Shared plumbing of the samplers: mapping a uniform number in [0, 1) onto a distribution
//! (Optuna's semantics), and assigning the active parameters of a space in order.

use crate::tune::distribution::Distribution;
use crate::tune::error::Result;
use crate::tune::space::{ParamSpec, Space};
use crate::tune::trial::Params;

/// The internal value that a uniform `u` in [0, 1) maps to: uniform over a float range,
/// log-uniform when log, equally likely grid values when stepped; log-scale ints are
/// log-uniform over [low − 0.5, high + 0.5] and rounded (as Optuna samples them); categoricals
/// take index ⌊u·k⌋. The result always satisfies [`Distribution::contains`].
pub fn from_unit(dist: &Distribution, u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    match dist {
        Distribution::Float {
            low,
            high,
            step,
            log,
        } => match (step, log) {
            (_, true) => (low.ln() + u * (high.ln() - low.ln()))
                .exp()
                .clamp(*low, *high),
            (Some(s), false) => {
                let k = ((high - low) / s).round();
                let i = (u * (k + 1.0)).floor().min(k);
                (low + i * s).clamp(*low, *high)
            }
            (None, false) => (low + u * (high - low)).clamp(*low, *high),
        },
        Distribution::Int {
            low,
            high,
            step,
            log,
        } => {
            if *log {
                let (a, b) = ((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln());
                (a + u * (b - a))
                    .exp()
                    .round()
                    .clamp(*low as f64, *high as f64)
            } else {
                let s = (*step).max(1);
                let n = ((high - low) / s + 1) as f64;
                let i = (u * n).floor().min(n - 1.0);
                *low as f64 + i * s as f64
            }
        }
        Distribution::Categorical { choices } => {
            let k = choices.len() as f64;
            (u * k).floor().min(k - 1.0).max(0.0)
        }
    }
}

/// Assigns every parameter of `space` that is active, in the space's order: fixed values are
/// kept as given (and count as assigned for later conditions), the others come from
/// `value(index of the parameter in the space, spec, values assigned so far)`.
pub fn assign_active(
    space: &Space,
    fixed: &Params,
    mut value: impl FnMut(usize, &ParamSpec, &Params) -> Result<f64>,
) -> Result<Params> {
    let mut out = fixed.clone();
    for (i, spec) in space.params.iter().enumerate() {
        if out.contains_key(&spec.name) || !space.is_active(spec, &out) {
            continue;
        }
        let v = value(i, spec, &out)?;
        out.insert(spec.name.clone(), v);
    }
    Ok(out)
}
