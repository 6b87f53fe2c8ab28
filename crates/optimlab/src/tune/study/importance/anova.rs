//! Parameter importance: how much of the spread of the objective values each parameter
//! explains on its own.
//!
//! The method is a one-way analysis of variance per parameter, over the complete trials in
//! which the parameter was active:
//!
//! 1. the parameter's values are grouped: a categorical parameter by its choice, a numeric one
//!    into B = clamp(round(√n), 2, 10) bins of equal counts by rank (in log space for log
//!    parameters — ranks do not change under a monotone map, so only the bin edges do);
//! 2. its score is the bias-corrected share of variance the groups explain, ε² =
//!    (SS_between − (B − 1)·MS_within) / (SS_total + MS_within), clamped at 0 — the plain
//!    η² = SS_between / SS_total would credit a useless parameter with about (B − 1)/(n − 1);
//! 3. scores are normalised to sum to 1 (by [`super::param_importances`]).
//!
//! Unlike fANOVA it looks at one parameter at a time, so interactions are not credited to
//! anyone; it is deterministic (ties broken by trial number) and needs no model fitting.

use super::finite_complete;
use crate::tune::distribution::Distribution;
use crate::tune::trial::FrozenTrial;

/// Unnormalised scores (ε², one per parameter that occurs in a complete trial with a finite
/// value), by name.
pub fn evaluate(trials: &[FrozenTrial]) -> Vec<(String, f64)> {
    let complete = finite_complete(trials);
    let mut names: Vec<&String> = complete.iter().flat_map(|t| t.params.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let mut dist = None;
            let mut points: Vec<(f64, u64, f64)> = complete
                .iter()
                .filter_map(|t| {
                    let (d, x) = t.params.get(name)?;
                    dist.get_or_insert(d);
                    Some((*x, t.number, t.value?))
                })
                .collect();
            let categorical = matches!(dist, Some(Distribution::Categorical { .. }));
            (name.clone(), epsilon_squared(categorical, &mut points))
        })
        .collect()
}

/// ε² of the objective values grouped by the parameter (see the module doc). `points` holds
/// (internal value, trial number, objective value).
fn epsilon_squared(categorical: bool, points: &mut [(f64, u64, f64)]) -> f64 {
    let n = points.len();
    if n < 3 {
        return 0.0;
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let groups: Vec<usize> = match categorical {
        true => points.iter().map(|p| p.0 as usize).collect(),
        false => {
            let bins = ((n as f64).sqrt().round() as usize).clamp(2, 10);
            // Equal counts by rank; equal values always share a bin (the first one's).
            let mut g = Vec::with_capacity(n);
            for (i, p) in points.iter().enumerate() {
                let bin = if i > 0 && p.0 == points[i - 1].0 {
                    g[i - 1]
                } else {
                    i * bins / n
                };
                g.push(bin);
            }
            g
        }
    };
    let mean = points.iter().map(|p| p.2).sum::<f64>() / n as f64;
    let ss_total: f64 = points.iter().map(|p| (p.2 - mean).powi(2)).sum();
    if ss_total <= 0.0 {
        return 0.0;
    }
    let mut sums: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for (p, g) in points.iter().zip(&groups) {
        let e = sums.entry(*g).or_default();
        e.0 += p.2;
        e.1 += 1;
    }
    let k = sums.len();
    if k < 2 || n <= k {
        return 0.0;
    }
    let ss_between: f64 = sums
        .values()
        .map(|(s, c)| *c as f64 * (s / *c as f64 - mean).powi(2))
        .sum();
    let ms_within = (ss_total - ss_between).max(0.0) / (n - k) as f64;
    ((ss_between - (k - 1) as f64 * ms_within) / (ss_total + ms_within)).max(0.0)
}
