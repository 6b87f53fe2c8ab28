//! Parzen estimators, as Optuna's TPE builds them: a weighted mixture with one component per
//! observed trial plus a prior component spanning the whole range. Numeric dimensions are
//! truncated normals (discretised on steps: the mass of the step's cell), categorical ones are
//! per-component distributions over the choices. Dimensions multiply within a component, so a
//! mixture over several dimensions is a joint (multivariate) density.

use crate::rng::Rng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// One dimension of the search, in the space the estimator works in (log scales already
/// taken as logs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DimKind {
    /// Values in [low, high]; with `step`, on low + k·step (each value owns the cell
    /// ±step/2).
    Numeric {
        low: f64,
        high: f64,
        step: Option<f64>,
    },
    /// Indices 0..n.
    Categorical { n: usize },
}

/// How the estimator is built (Optuna's `_ParzenEstimatorParameters`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParzenParams {
    /// Weight of the prior component (Optuna: 1.0).
    pub prior_weight: f64,
    /// Joint estimator: one bandwidth per dimension from Scott's-rule-like scaling; else each
    /// kernel's bandwidth is the distance to its farther neighbour.
    pub multivariate: bool,
}

enum Dim {
    Numeric {
        low: f64,
        high: f64,
        step: Option<f64>,
        mus: Vec<f64>,
        sigmas: Vec<f64>,
    },
    Categorical {
        /// Per component, log-probabilities of each choice.
        log_probs: Vec<Vec<f64>>,
        probs: Vec<Vec<f64>>,
    },
}

pub struct Parzen {
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    dims: Vec<Dim>,
}

/// Optuna's `default_weights`: equal weights for the 25 newest observations, a linear ramp
/// from 1/n up to 1 for older ones (observations in trial-number order, oldest first).
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let m = n - 25;
    let lo = 1.0 / n as f64;
    let mut w: Vec<f64> = (0..m)
        .map(|i| {
            if m == 1 {
                lo
            } else {
                lo + (1.0 - lo) * i as f64 / (m - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

impl Parzen {
    /// An estimator over `kinds` from `obs` (one row of values per observation, in trial-number
    /// order).
    pub fn new(obs: &[Vec<f64>], kinds: &[DimKind], p: ParzenParams) -> Self {
        let n = obs.len();
        let mut weights = default_weights(n);
        weights.push(p.prior_weight);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        let dims = kinds
            .iter()
            .enumerate()
            .map(|(d, kind)| {
                let col: Vec<f64> = obs.iter().map(|o| o[d]).collect();
                match *kind {
                    DimKind::Numeric { low, high, step } => {
                        numeric(&col, low, high, step, kinds.len(), p)
                    }
                    DimKind::Categorical { n } => categorical(&col, n, p),
                }
            })
            .collect();
        Self {
            weights,
            log_weights,
            dims,
        }
    }

    /// `count` draws: a component by weight, then each dimension from that component.
    pub fn sample(&self, rng: &mut Rng, count: usize) -> Vec<Vec<f64>> {
        (0..count)
            .map(|_| {
                let mut u: f64 = rng.random();
                let mut c = self.weights.len() - 1;
                for (i, w) in self.weights.iter().enumerate() {
                    if u < *w {
                        c = i;
                        break;
                    }
                    u -= w;
                }
                self.dims
                    .iter()
                    .map(|d| match d {
                        Dim::Numeric {
                            low,
                            high,
                            step,
                            mus,
                            sigmas,
                        } => {
                            let h = step.map_or(0.0, |s| s / 2.0);
                            let x = trunc_normal(rng, mus[c], sigmas[c], low - h, high + h);
                            match step {
                                Some(s) => {
                                    let k = ((x - low) / s)
                                        .round()
                                        .clamp(0.0, ((high - low) / s).round());
                                    low + k * s
                                }
                                None => x,
                            }
                        }
                        Dim::Categorical { probs, .. } => {
                            let mut u: f64 = rng.random();
                            let row = &probs[c];
                            let mut pick = row.len() - 1;
                            for (i, p) in row.iter().enumerate() {
                                if u < *p {
                                    pick = i;
                                    break;
                                }
                                u -= p;
                            }
                            pick as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The log density (log probability on discrete dimensions) of a point.
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let per_component: Vec<f64> = (0..self.weights.len())
            .map(|c| {
                let mut lp = self.log_weights[c];
                for (d, xd) in self.dims.iter().zip(x) {
                    lp += match d {
                        Dim::Numeric {
                            low,
                            high,
                            step,
                            mus,
                            sigmas,
                        } => numeric_log_pdf(*xd, mus[c], sigmas[c], *low, *high, *step),
                        Dim::Categorical { log_probs, .. } => log_probs[c][*xd as usize],
                    };
                }
                lp
            })
            .collect();
        log_sum_exp(&per_component)
    }
}

fn numeric(
    col: &[f64],
    low: f64,
    high: f64,
    step: Option<f64>,
    n_dims: usize,
    p: ParzenParams,
) -> Dim {
    let s0 = step.unwrap_or(0.0);
    let n = col.len();
    let range = high - low + s0;
    let mut sigmas: Vec<f64> = if p.multivariate {
        let sigma = 0.2 * (n.max(1) as f64).powf(-1.0 / (n_dims as f64 + 4.0)) * range;
        vec![sigma; n]
    } else {
        // Each kernel as wide as the gap to its farther neighbour (the prior's centre counts
        // as a neighbour; the range's ends do not, for the outermost kernels).
        let prior_mu = 0.5 * (low + high);
        let mut with_prior: Vec<(f64, usize)> = col
            .iter()
            .copied()
            .chain([prior_mu])
            .enumerate()
            .map(|(i, m)| (m, i))
            .collect();
        with_prior.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut ends = Vec::with_capacity(with_prior.len() + 2);
        ends.push(low - s0 / 2.0);
        ends.extend(with_prior.iter().map(|m| m.0));
        ends.push(high + s0 / 2.0);
        let k = with_prior.len();
        let mut sorted_sigmas: Vec<f64> = (0..k)
            .map(|i| (ends[i + 1] - ends[i]).max(ends[i + 2] - ends[i + 1]))
            .collect();
        if ends.len() >= 4 {
            sorted_sigmas[0] = ends[2] - ends[1];
            sorted_sigmas[k - 1] = ends[k] - ends[k - 1];
        }
        let mut sig = vec![0.0; k];
        for (j, (_, i)) in with_prior.iter().enumerate() {
            sig[*i] = sorted_sigmas[j];
        }
        sig.truncate(n);
        sig
    };
    // Optuna's "magic clip": no kernel narrower than range / min(100, 1 + kernels).
    let max_sigma = range;
    let min_sigma = range / (1.0 + (n + 1) as f64).min(100.0);
    sigmas
        .iter_mut()
        .for_each(|s| *s = s.clamp(min_sigma, max_sigma));
    let mut mus = col.to_vec();
    mus.push(0.5 * (low + high));
    sigmas.push(range);
    Dim::Numeric {
        low,
        high,
        step,
        mus,
        sigmas,
    }
}

fn categorical(col: &[f64], k: usize, p: ParzenParams) -> Dim {
    let n_kernels = col.len() + 1;
    let mut probs: Vec<Vec<f64>> = col
        .iter()
        .map(|&x| {
            let mut row = vec![p.prior_weight / n_kernels as f64; k];
            row[(x as usize).min(k - 1)] += 1.0;
            let s: f64 = row.iter().sum();
            row.iter().map(|v| v / s).collect()
        })
        .collect();
    probs.push(vec![1.0 / k as f64; k]);
    let log_probs = probs
        .iter()
        .map(|r| r.iter().map(|v| v.ln()).collect())
        .collect();
    Dim::Categorical { log_probs, probs }
}

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

fn numeric_log_pdf(x: f64, mu: f64, sigma: f64, low: f64, high: f64, step: Option<f64>) -> f64 {
    let h = step.map_or(0.0, |s| s / 2.0);
    let z = norm_mass(low - h, high + h, mu, sigma).ln();
    match step {
        None => {
            let t = (x - mu) / sigma;
            -0.5 * t * t - sigma.ln() - LN_SQRT_2PI - z
        }
        Some(s) => {
            let m = norm_mass(x - h, x + h, mu, sigma);
            // Far in a tail the difference of two CDFs loses its digits: use the cell's
            // midpoint density times its width there.
            let lm = if m > 1e-12 {
                m.ln()
            } else {
                let t = (x - mu) / sigma;
                -0.5 * t * t - sigma.ln() - LN_SQRT_2PI + s.ln()
            };
            lm - z
        }
    }
}

/// P(a ≤ X ≤ b) for X ~ N(mu, sigma²), computed on the side of the smaller tail.
fn norm_mass(a: f64, b: f64, mu: f64, sigma: f64) -> f64 {
    let (za, zb) = ((a - mu) / sigma, (b - mu) / sigma);
    let m = if za > 0.0 {
        norm_cdf(-za) - norm_cdf(-zb)
    } else {
        norm_cdf(zb) - norm_cdf(za)
    };
    m.max(f64::MIN_POSITIVE)
}

/// The standard normal CDF.
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Chebyshev fit, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// A draw from N(mu, sigma²) restricted to [low, high]: rejection (the kernels' centres lie in
/// the range, so at least a third of draws land), with a clamp as the last resort.
fn trunc_normal(rng: &mut Rng, mu: f64, sigma: f64, low: f64, high: f64) -> f64 {
    for _ in 0..64 {
        let z: f64 = rng.sample(StandardNormal);
        let x = mu + sigma * z;
        if (low..=high).contains(&x) {
            return x;
        }
    }
    mu.clamp(low, high)
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}
