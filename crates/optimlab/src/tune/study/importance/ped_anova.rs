//! PED-ANOVA (Watanabe et al., IJCAI 2023) with conditional parameters handled by regimes
//! (condPED-ANOVA, KDD 2026): Optuna 5's default `PedAnovaImportanceEvaluator`, step for step.
//!
//! - The *target* trials are the top `target_quantile` of the complete trials with finite values
//!   (ties at the cut-off included), the *region* trials the top `region_quantile` (all of them
//!   by default).
//! - For each parameter, the region trials are split into *regimes* by the parameter's
//!   distribution in each trial (one regime for the trials where it is inactive); regimes with
//!   fewer than 2 trials are dropped.
//! - In every active regime with target trials, the parameter's values are binned on a grid
//!   (50 points for floats, fewer for small integer domains, one per choice for categoricals),
//!   a Parzen estimator with Scott's bandwidth is fitted on the grid to the target trials and
//!   another to the region trials (or the uniform density with `evaluate_on_local = false`), and
//!   their Pearson divergence Σ p_region·(p_target/p_region − 1)² is added, weighted by
//!   α²/β (α, β: the regime's shares of the target and region trials).
//! - The sum is scaled by (|target| / |region|)².

use super::{finite_complete, single};
use crate::tune::distribution::Distribution;
use crate::tune::sampler::parzen::truncnorm::log_gauss_mass;
use crate::tune::trial::{Direction, FrozenTrial, TrialState};

/// PED-ANOVA's settings (Optuna's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct PedAnova {
    /// γ′: importance of reaching the top `target_quantile` of the values.
    pub target_quantile: f64,
    /// γ: the region, as the top `region_quantile` of the values (1: all trials).
    pub region_quantile: f64,
    /// Compare with the region trials' density (true) or with the uniform density on the
    /// parameter's domain (false).
    pub evaluate_on_local: bool,
}

impl Default for PedAnova {
    fn default() -> Self {
        PedAnova {
            target_quantile: 0.1,
            region_quantile: 1.0,
            evaluate_on_local: true,
        }
    }
}

/// Grid points of a float domain.
const N_STEPS: usize = 50;
/// Weight of the prior kernel in each estimator.
const PRIOR_WEIGHT: f64 = 1.0;
/// Regimes with fewer trials are left out.
const MIN_TRIALS_IN_REGIME: usize = 2;

impl PedAnova {
    /// Unnormalised importances of every parameter that occurs in a complete trial.
    ///
    /// # Panics
    ///
    /// Unless 0 < `target_quantile` < `region_quantile` ≤ 1 (as Optuna's constructor).
    pub fn evaluate(&self, trials: &[FrozenTrial], direction: Direction) -> Vec<(String, f64)> {
        assert!(
            0.0 < self.target_quantile
                && self.target_quantile < self.region_quantile
                && self.region_quantile <= 1.0,
            "PED-ANOVA needs 0 < target_quantile < region_quantile <= 1"
        );
        // Optuna lists the parameters of all complete trials, finite values or not.
        let mut names: Vec<&String> = trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .flat_map(|t| t.params.keys())
            .collect();
        names.sort();
        names.dedup();
        let mut scores: Vec<(String, f64)> = names.iter().map(|n| (n.to_string(), 0.0)).collect();
        let done = finite_complete(trials);
        if done.len() <= 1 {
            return scores;
        }
        let target = top_quantile(&done, self.target_quantile, direction);
        let region = top_quantile(&done, self.region_quantile, direction);
        if target.is_empty() {
            return scores;
        }
        let target_ids: std::collections::HashSet<u64> = target.iter().map(|t| t.id).collect();
        let in_target = |t: &FrozenTrial| target_ids.contains(&t.id);
        let quantile = target.len() as f64 / region.len() as f64;
        for (name, score) in &mut scores {
            for (dist, regime) in regimes(name, &region) {
                let Some(dist) = dist else { continue };
                let target_regime: Vec<&FrozenTrial> =
                    regime.iter().copied().filter(|t| in_target(t)).collect();
                if single(dist) || target_regime.is_empty() {
                    continue;
                }
                let alpha = target_regime.len() as f64 / target.len() as f64;
                let beta = regime.len() as f64 / region.len() as f64;
                *score += alpha * alpha / beta
                    * self.pearson_divergence(name, dist, &target_regime, &regime);
            }
            *score *= quantile * quantile;
        }
        scores
    }

    fn pearson_divergence(
        &self,
        name: &str,
        dist: &Distribution,
        target: &[&FrozenTrial],
        region: &[&FrozenTrial],
    ) -> f64 {
        let top = GridEstimator::new(name, dist, target);
        let n = top.grid_size;
        let local: Vec<f64> = if self.evaluate_on_local {
            let pe = GridEstimator::new(name, dist, region);
            (0..n).map(|i| pe.pdf(i) + 1e-12).collect()
        } else {
            vec![1.0 / n as f64; n]
        };
        (0..n)
            .map(|i| {
                let r = (top.pdf(i) + 1e-12) / local[i] - 1.0;
                local[i] * r * r
            })
            .sum()
    }
}

/// The trials whose value is within the best `quantile` (Optuna's `_QuantileFilter`: the
/// cut-off is the ⌈q·n⌉-th best value, and every trial as good as it is kept).
fn top_quantile<'a>(
    trials: &[&'a FrozenTrial],
    quantile: f64,
    direction: Direction,
) -> Vec<&'a FrozenTrial> {
    if quantile == 1.0 {
        return trials.to_vec();
    }
    let sign = match direction {
        Direction::Minimize => 1.0,
        Direction::Maximize => -1.0,
    };
    let loss = |t: &FrozenTrial| sign * t.value.unwrap_or(f64::NAN);
    let mut sorted: Vec<f64> = trials.iter().map(|t| loss(t)).collect();
    sorted.sort_by(f64::total_cmp);
    let cutoff_index = ((quantile * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    let cutoff = sorted[cutoff_index];
    trials
        .iter()
        .copied()
        .filter(|t| loss(t) <= cutoff)
        .collect()
}

/// The region trials grouped by the parameter's distribution (`None`: inactive), in order of
/// first appearance; groups smaller than [`MIN_TRIALS_IN_REGIME`] are dropped.
fn regimes<'a>(
    name: &str,
    trials: &[&'a FrozenTrial],
) -> Vec<(Option<&'a Distribution>, Vec<&'a FrozenTrial>)> {
    let mut groups: Vec<(Option<&Distribution>, Vec<&FrozenTrial>)> = Vec::new();
    for t in trials {
        let d = t.params.get(name).map(|(d, _)| d);
        match groups.iter_mut().find(|(g, _)| *g == d) {
            Some((_, members)) => members.push(t),
            None => groups.push((d, vec![t])),
        }
    }
    groups.retain(|(_, members)| members.len() >= MIN_TRIALS_IN_REGIME);
    groups
}

/// Optuna's `build_parzen_estimator_on_grid` + `ScottParzenEstimator`: a one-dimensional
/// Parzen estimator over grid indices 0..grid_size.
struct GridEstimator {
    grid_size: usize,
    /// ln of each kernel's mixture weight (the prior last).
    log_weights: Vec<f64>,
    kernels: Kernels,
}

enum Kernels {
    /// Rows of choice probabilities, one per kernel.
    Categorical(Vec<Vec<f64>>),
    /// Normal kernels (μ, σ) discretised on the integers 0..grid_size (each integer's mass over
    /// [i − ½, i + ½], truncated to [−½, grid_size − ½]).
    Numerical(Vec<(f64, f64)>),
}

impl GridEstimator {
    fn new(name: &str, dist: &Distribution, trials: &[&FrozenTrial]) -> Self {
        let values = trials
            .iter()
            .filter_map(|t| t.params.get(name).map(|p| p.1));
        let counts = match dist {
            Distribution::Categorical { choices } => {
                let mut counts = vec![0usize; choices.len()];
                for v in values {
                    counts[(v as usize).min(choices.len() - 1)] += 1;
                }
                counts
            }
            _ => count_on_grid(dist, values),
        };
        let grid_size = counts.len();
        let observations: Vec<usize> = (0..grid_size).filter(|&i| counts[i] > 0).collect();
        let weights: Vec<usize> = observations.iter().map(|&i| counts[i]).collect();
        let mut mixture: Vec<f64> = if observations.is_empty() {
            vec![1.0]
        } else {
            weights
                .iter()
                .map(|&w| w as f64)
                .chain([PRIOR_WEIGHT])
                .collect()
        };
        let total: f64 = mixture.iter().sum();
        mixture.iter_mut().for_each(|w| *w /= total);
        let kernels = match dist {
            Distribution::Categorical { .. } => {
                Kernels::Categorical(categorical_kernels(&observations, grid_size))
            }
            _ => Kernels::Numerical(numerical_kernels(&observations, &weights, grid_size)),
        };
        GridEstimator {
            grid_size,
            log_weights: mixture.iter().map(|w| w.ln()).collect(),
            kernels,
        }
    }

    /// The estimator's probability of grid point `x`.
    fn pdf(&self, x: usize) -> f64 {
        let terms: Vec<f64> = match &self.kernels {
            Kernels::Categorical(rows) => rows
                .iter()
                .zip(&self.log_weights)
                .map(|(row, lw)| row[x].ln() + lw)
                .collect(),
            Kernels::Numerical(kernels) => {
                let (low, high) = (-0.5, self.grid_size as f64 - 0.5);
                let x = x as f64;
                kernels
                    .iter()
                    .zip(&self.log_weights)
                    .map(|(&(mu, sigma), lw)| {
                        log_gauss_mass((x - 0.5 - mu) / sigma, (x + 0.5 - mu) / sigma)
                            - log_gauss_mass((low - mu) / sigma, (high - mu) / sigma)
                            + lw
                    })
                    .collect()
            }
        };
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let max = if max == f64::NEG_INFINITY { 0.0 } else { max };
        (terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln() + max).exp()
    }
}

/// How many values fall on each point of the parameter's grid (`_count_numerical_param_in_grid`):
/// `N_STEPS` evenly spaced points over [low, high] (in log space for log parameters), fewer for
/// stepped domains (one per step) and log integers (about log₂ of the domain's size).
fn count_on_grid(dist: &Distribution, values: impl Iterator<Item = f64>) -> Vec<usize> {
    let (low, high, log, n_steps) = match *dist {
        Distribution::Int {
            low,
            high,
            step,
            log,
        } => {
            let n = if log {
                let log2_size = ((high - low + 1) as f64).ln() / 2f64.ln();
                (log2_size.ceil() as usize + 1).min(N_STEPS)
            } else {
                (round_half_even((high - low) as f64 / step as f64) as usize + 1).min(N_STEPS)
            };
            (low as f64, high as f64, log, n)
        }
        Distribution::Float {
            low,
            high,
            step,
            log,
        } => {
            let n = match step {
                Some(step) => (round_half_even((high - low) / step) as usize + 1).min(N_STEPS),
                None => N_STEPS,
            };
            (low, high, log, n)
        }
        Distribution::Categorical { .. } => unreachable!("categorical values are not gridded"),
    };
    let tf = |x: f64| if log { x.ln() } else { x };
    let (low, high) = (tf(low), tf(high));
    let step_size = (high - low) / (n_steps - 1) as f64;
    let mut counts = vec![0usize; n_steps];
    for v in values {
        // Midpoint ties go to the lower grid point, as in Optuna.
        let i = ((tf(v) - low) / step_size - 0.5).ceil();
        let i = if i.is_nan() {
            0.0
        } else {
            i.clamp(0.0, (n_steps - 1) as f64)
        };
        counts[i as usize] += 1;
    }
    counts
}

/// Python's `round`: halves go to the even neighbour.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// One row per observed choice (its count of 1 over a uniform prior share) and the prior row.
fn categorical_kernels(observations: &[usize], n_choices: usize) -> Vec<Vec<f64>> {
    if observations.is_empty() {
        return vec![vec![1.0 / n_choices as f64; n_choices]];
    }
    let n_kernels = observations.len() + 1;
    let mut rows = vec![vec![PRIOR_WEIGHT / n_kernels as f64; n_choices]; n_kernels];
    for (row, &c) in rows.iter_mut().zip(observations) {
        row[c] += 1.0;
    }
    for row in &mut rows {
        let s: f64 = row.iter().sum();
        if s != 0.0 {
            row.iter_mut().for_each(|w| *w /= s);
        }
    }
    rows
}

/// Kernels at the observed grid points with Scott's bandwidth (weighted by the counts), at
/// least 0.5/1.64 grid steps, and a wide prior kernel at the centre.
fn numerical_kernels(
    observations: &[usize],
    counts: &[usize],
    grid_size: usize,
) -> Vec<(f64, f64)> {
    let (low, high) = (0.0, (grid_size - 1) as f64);
    let prior = ((low + high) / 2.0, high - low + 1.0);
    if observations.is_empty() {
        return vec![prior];
    }
    let obs: Vec<f64> = observations.iter().map(|&o| o as f64).collect();
    let w: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let mut cum = Vec::with_capacity(counts.len());
    let mut acc = 0usize;
    for &c in counts {
        acc += c;
        cum.push(acc);
    }
    let wsum = acc;
    let wsum_f = wsum as f64;
    let mean = obs.iter().zip(&w).map(|(o, w)| o * w).sum::<f64>() / wsum_f;
    let var = obs
        .iter()
        .zip(&w)
        .map(|(o, w)| (o - mean).powi(2) * w)
        .sum::<f64>()
        / (wsum_f - 1.0).max(1.0);
    // np.searchsorted(cum, wsum // 4, "left") and (cum, wsum * 3 // 4, "right").
    let q1 = cum.partition_point(|&c| c < wsum / 4);
    let q3 = cum.partition_point(|&c| c <= wsum * 3 / 4);
    let iqr = obs[q3.min(obs.len() - 1)] - obs[q1];
    let sigma = 1.059 * (iqr / 1.34).min(var.sqrt()) * wsum_f.powf(-0.2);
    let sigma = sigma.max(0.5 / 1.64);
    obs.iter().map(|&o| (o, sigma)).chain([prior]).collect()
}
