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
//! 3. scores are normalised to sum to 1 (all 0 when nothing explains anything).
//!
//! Unlike fANOVA it looks at one parameter at a time, so interactions are not credited to
//! anyone; it is deterministic (ties broken by trial number) and needs no model fitting.

use crate::tune::distribution::Distribution;
use crate::tune::space::Space;
use crate::tune::trial::{FrozenTrial, TrialState};

/// Importance of each parameter of the space, in the space's order, summing to 1 (or all 0).
pub fn importance(space: &Space, trials: &[FrozenTrial]) -> Vec<(String, f64)> {
    let complete: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some_and(f64::is_finite))
        .collect();
    let mut scores: Vec<(String, f64)> = space
        .params
        .iter()
        .map(|p| {
            let mut points: Vec<(f64, u64, f64)> = complete
                .iter()
                .filter_map(|t| {
                    let (_, x) = t.params.get(&p.name)?;
                    Some((*x, t.number, t.value?))
                })
                .collect();
            (p.name.clone(), epsilon_squared(&p.dist, &mut points))
        })
        .collect();
    let total: f64 = scores.iter().map(|(_, s)| s).sum();
    if total > 0.0 {
        for (_, s) in &mut scores {
            *s /= total;
        }
    }
    scores
}

/// ε² of the objective values grouped by the parameter (see the module doc). `points` holds
/// (internal value, trial number, objective value).
fn epsilon_squared(dist: &Distribution, points: &mut [(f64, u64, f64)]) -> f64 {
    let n = points.len();
    if n < 3 {
        return 0.0;
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let groups: Vec<usize> = match dist {
        Distribution::Categorical { .. } => points.iter().map(|p| p.0 as usize).collect(),
        _ => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::space::ParamSpec;
    use std::collections::BTreeMap;

    fn trial(number: u64, a: f64, b: f64, value: f64) -> FrozenTrial {
        let d = Distribution::Float {
            low: 0.0,
            high: 1.0,
            step: None,
            log: false,
        };
        let mut params = BTreeMap::new();
        params.insert("a".to_string(), (d.clone(), a));
        params.insert("b".to_string(), (d, b));
        FrozenTrial {
            id: number,
            number,
            state: TrialState::Complete,
            value: Some(value),
            params,
            intermediate: BTreeMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            datetime_start: None,
            datetime_complete: None,
        }
    }

    #[test]
    fn the_parameter_that_drives_the_value_dominates() {
        let d = Distribution::Float {
            low: 0.0,
            high: 1.0,
            step: None,
            log: false,
        };
        let space = Space {
            params: vec![ParamSpec::new("a", d.clone()), ParamSpec::new("b", d)],
        };
        // a drives the value; b is a scrambled sequence unrelated to it.
        let trials: Vec<_> = (0..60u64)
            .map(|i| {
                let a = i as f64 / 60.0;
                let b = ((i * 37) % 61) as f64 / 61.0;
                trial(i, a, b, 3.0 * a + 0.05 * b)
            })
            .collect();
        let imp = importance(&space, &trials);
        assert_eq!(imp[0].0, "a");
        assert!(imp[0].1 > 0.9, "{imp:?}");
        assert!((imp[0].1 + imp[1].1 - 1.0).abs() < 1e-12);
        // Deterministic: the same trials give the same numbers.
        assert_eq!(imp, importance(&space, &trials));
    }
}
