//! Parzen estimators, as Optuna 5.0's TPE builds them (`samplers/_tpe/parzen_estimator.py`): a
//! mixture with one component per observed trial plus a prior component; each component is a
//! product over the dimensions, so a mixture over several parameters is a joint density.
//!
//! With n observations, weights wᵢ = [`default_weights`]\(n) and the prior's weight w₀
//! (`prior_weight`, 1.0), the mixture weights are (w₁, …, wₙ, w₀) / (Σwᵢ + w₀); with no
//! observation the prior alone has weight 1.
//!
//! **Numeric dimensions** (in log space for log scales) live on [L, H] = [low, high], widened
//! to [low − step/2, high + step/2] for stepped floats and all ints (an int has step 1 unless
//! given), then logged for log scales. Component i is N(μᵢ, σᵢ²) truncated to [L, H] with μᵢ
//! the observation. The bandwidths, the same whether the estimator is joint or not (Optuna 5
//! dropped the old multivariate Scott-rule bandwidth): with the observations sorted,
//! μ₍₁₎ ≤ … ≤ μ₍ₙ₎, and μ₍₀₎ = L, μ₍ₙ₊₁₎ = H,
//!
//! - σ₍ⱼ₎ = max(μ₍ⱼ₎ − μ₍ⱼ₋₁₎, μ₍ⱼ₊₁₎ − μ₍ⱼ₎), the farther neighbour;
//! - `consider_endpoints` off (Optuna's default) and n ≥ 2: the outermost use their inner
//!   neighbour only, σ₍₁₎ = μ₍₂₎ − μ₍₁₎ and σ₍ₙ₎ = μ₍ₙ₎ − μ₍ₙ₋₁₎;
//! - the "magic clip": σ clipped to [(H − L) / min(100, n + 2), H − L] (n + 1 kernels, + 1);
//! - the prior: μ₀ = (L + H)/2, σ₀ = H − L.
//!
//! Tied observations are ordered by their position (a stable sort; NumPy's argsort breaks ties
//! in an unspecified order).
//!
//! A continuous value's log density is the truncated normal's. A stepped value x owns the cell
//! [x − step/2, x + step/2] (its log for log scales): its probability is the cell's mass over
//! [L, H]'s. Draws are made on [L, H] (by the truncated normal's quantile function), mapped back
//! from log space, then rounded to low + k·step and clipped to [low, high].
//!
//! **Categorical dimensions**: with k choices and n + 1 kernels, observation i's kernel gives
//! each choice w₀/(n + 1), plus 1 to the observed choice, normalised; the prior kernel is
//! uniform (an Aitchison–Aitken-like kernel smoothed by the prior).

mod lanes;
pub mod truncnorm;

use crate::rng::Rng;
use crate::tune::distribution::Distribution;
use rand::RngExt;

/// How the estimator is built (Optuna's `_ParzenEstimatorParameters` at its 5.0 defaults:
/// magic clip on, `consider_endpoints` off, [`default_weights`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParzenParams {
    /// Weight of the prior component (Optuna: 1.0).
    pub prior_weight: f64,
}

impl Default for ParzenParams {
    fn default() -> Self {
        Self { prior_weight: 1.0 }
    }
}

pub(crate) enum Dim {
    Numeric {
        /// The distribution's bounds (internal values, not logged).
        low: f64,
        high: f64,
        /// 0 when continuous.
        step: f64,
        log: bool,
        /// [L, H]: widened by step/2 and logged as the module doc says.
        adapted_low: f64,
        adapted_high: f64,
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// ln(Φ((H − μ)/σ) − Φ((L − μ)/σ)) per component.
        log_mass: Vec<f64>,
        /// Per kernel: 1/σ, and the constant of the log density (see [`truncnorm::log_norm`]).
        inv_sigmas: Vec<f64>,
        log_norms: Vec<f64>,
    },
    Categorical {
        /// Per component, the probability of each choice.
        probs: Vec<Vec<f64>>,
    },
}

/// A mixture of products of truncated normals and categorical distributions over internal
/// parameter values.
pub struct Parzen {
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    dims: Vec<Dim>,
}

/// Optuna's `default_weights`: n equal weights below 25 observations; from 25 on, the 25 newest
/// weigh 1 and the n − 25 older ones ramp linearly from 1/n up to 1 (NumPy's
/// `linspace(1/n, 1, n − 25)`), observations in trial-number order, oldest first.
pub fn default_weights(n: usize) -> Vec<f64> {
    let mut w = Vec::with_capacity(n);
    default_weights_into(n, &mut w);
    w
}

/// [`default_weights`] appended to `w`.
fn default_weights_into(n: usize, w: &mut Vec<f64>) {
    if n < 25 {
        w.extend(std::iter::repeat_n(1.0, n));
        return;
    }
    let m = n - 25;
    let lo = 1.0 / n as f64;
    let step = if m > 1 {
        (1.0 - lo) / (m - 1) as f64
    } else {
        0.0
    };
    let start = w.len();
    w.extend((0..m).map(|i| i as f64 * step + lo));
    if m > 1 {
        w[start + m - 1] = 1.0;
    }
    w.extend(std::iter::repeat_n(1.0, 25));
}

/// Vectors taken back from estimators no longer used, to build the next ones from: a proposal
/// then allocates (and the allocator returns to the system) nothing for its estimators.
#[derive(Default)]
pub(crate) struct Spare(Vec<Vec<f64>>);

impl Spare {
    /// An empty vector, with the capacity of one given back earlier when there is one.
    pub fn take(&mut self) -> Vec<f64> {
        let mut v = self.0.pop().unwrap_or_default();
        v.clear();
        v
    }

    /// Keeps `v`'s buffer.
    pub fn keep(&mut self, v: Vec<f64>) {
        self.0.push(v);
    }

    /// Keeps the buffers of an estimator no longer used.
    pub fn give(&mut self, p: Parzen) {
        self.keep(p.weights);
        self.keep(p.log_weights);
        for d in p.dims {
            if let Dim::Numeric {
                mus,
                sigmas,
                log_mass,
                inv_sigmas,
                log_norms,
                ..
            } = d
            {
                for v in [mus, sigmas, log_mass, inv_sigmas, log_norms] {
                    self.keep(v);
                }
            }
        }
    }
}

impl Parzen {
    /// An estimator over the distributions `dists` from `obs`: one row of internal values per
    /// observation, in trial-number order, each inside its distribution.
    pub fn new(obs: &[Vec<f64>], dists: &[&Distribution], p: ParzenParams) -> Self {
        let dims = dists
            .iter()
            .enumerate()
            .map(|(d, dist)| {
                let col: Vec<f64> = obs.iter().map(|o| o[d]).collect();
                match dist {
                    Distribution::Categorical { choices } => categorical(&col, choices.len(), p),
                    _ => {
                        let b = Bounds::of(dist);
                        let mus: Vec<f64> = col.iter().map(|&v| b.transform(v)).collect();
                        let n = mus.len();
                        let mut order: Vec<usize> = (0..n).collect();
                        // Ties broken by index: the order a stable sort gives, without its buffer.
                        order.sort_unstable_by(|&i, &j| mus[i].total_cmp(&mus[j]).then(i.cmp(&j)));
                        let spare = &mut Spare::default();
                        numeric(b, mus, &order, |_, mu, sigma| kernel(b, mu, sigma), spare)
                    }
                }
            })
            .collect();
        Self::from_dims(obs.len(), dims, p, &mut Spare::default())
    }

    /// The estimator over `n` observations from its dimensions, each built from the
    /// observations in the same order.
    pub(crate) fn from_dims(n: usize, dims: Vec<Dim>, p: ParzenParams, spare: &mut Spare) -> Self {
        let mut weights = spare.take();
        if n == 0 {
            weights.push(1.0);
        } else {
            default_weights_into(n, &mut weights);
            weights.push(p.prior_weight);
        }
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let mut log_weights = spare.take();
        log_weights.extend(weights.iter().map(|w| w.ln()));
        Self {
            weights,
            log_weights,
            dims,
        }
    }

    /// `count` draws (internal values): a component by weight, then each dimension from it.
    pub fn sample(&self, rng: &mut Rng, count: usize) -> Vec<Vec<f64>> {
        (0..count)
            .map(|_| {
                let c = pick(&self.weights, rng.random());
                self.dims
                    .iter()
                    .map(|d| match d {
                        Dim::Categorical { probs } => pick(&probs[c], rng.random()) as f64,
                        Dim::Numeric {
                            low,
                            high,
                            step,
                            log,
                            adapted_low,
                            adapted_high,
                            mus,
                            sigmas,
                            log_mass,
                            ..
                        } => {
                            let (mu, sigma) = (mus[c], sigmas[c]);
                            let q: f64 = rng.random();
                            let z = truncnorm::ppf_with_mass(
                                q,
                                (adapted_low - mu) / sigma,
                                (adapted_high - mu) / sigma,
                                log_mass[c],
                            );
                            let mut x = z * sigma + mu;
                            if *log {
                                x = x.exp();
                            }
                            if *step > 0.0 {
                                x = (low + ((x - low) / step).round() * step).clamp(*low, *high);
                            }
                            x
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The log density of a point of internal values (a log probability on stepped and
    /// categorical dimensions; densities of log-scale dimensions are taken in log space).
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        self.log_pdf_with(x, &mut Vec::new())
    }

    /// [`Parzen::log_pdf`], with `buf` as the per-component scratch space (reused across
    /// calls, so evaluating many points allocates once).
    pub fn log_pdf_with(&self, x: &[f64], buf: &mut Vec<f64>) -> f64 {
        // The loops over components are the proposal's main cost: in the widest vectors the
        // CPU has (no FMA is emitted, so every width rounds as the scalar code does).
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F (checked above).
                return unsafe { self.log_pdf_avx512(x, buf) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked above).
                return unsafe { self.log_pdf_avx2(x, buf) };
            }
        }
        self.log_pdf_lanes(x, buf)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn log_pdf_avx512(&self, x: &[f64], buf: &mut Vec<f64>) -> f64 {
        self.log_pdf_lanes(x, buf)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn log_pdf_avx2(&self, x: &[f64], buf: &mut Vec<f64>) -> f64 {
        self.log_pdf_lanes(x, buf)
    }

    #[inline(always)]
    fn log_pdf_lanes(&self, x: &[f64], buf: &mut Vec<f64>) -> f64 {
        buf.clear();
        buf.extend_from_slice(&self.log_weights);
        let per_component = &mut buf[..];
        for (d, &xd) in self.dims.iter().zip(x) {
            match d {
                Dim::Categorical { probs } => {
                    for (lp, row) in per_component.iter_mut().zip(probs) {
                        *lp += row[xd as usize].ln();
                    }
                }
                Dim::Numeric {
                    step,
                    log,
                    adapted_low,
                    adapted_high,
                    mus,
                    sigmas,
                    log_mass,
                    inv_sigmas,
                    log_norms,
                    ..
                } => {
                    let t = |v: f64| if *log { v.ln() } else { v };
                    if *step == 0.0 {
                        let v = t(xd);
                        if v < *adapted_low || v > *adapted_high {
                            per_component
                                .iter_mut()
                                .for_each(|lp| *lp = f64::NEG_INFINITY);
                            continue;
                        }
                        for (((lp, mu), inv), norm) in per_component
                            .iter_mut()
                            .zip(mus)
                            .zip(inv_sigmas)
                            .zip(log_norms)
                        {
                            let z = (v - mu) * inv;
                            *lp += -0.5 * z * z + norm;
                        }
                    } else {
                        let (left, right) = (t(xd - step / 2.0), t(xd + step / 2.0));
                        for (c, lp) in per_component.iter_mut().enumerate() {
                            let (mu, sigma) = (mus[c], sigmas[c]);
                            *lp += truncnorm::log_gauss_mass(
                                (left - mu) / sigma,
                                (right - mu) / sigma,
                            ) - log_mass[c];
                        }
                    }
                }
            }
        }
        lanes::log_sum_exp(per_component)
    }
}

/// The index that a uniform `u` selects from probabilities `p` (inverse CDF).
fn pick(p: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in p.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

/// A numeric distribution's bounds: [`Bounds::lo`, `Bounds::hi`] is [L, H] of the module doc.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    low: f64,
    high: f64,
    /// 0 when continuous.
    step: f64,
    log: bool,
    pub lo: f64,
    pub hi: f64,
}

impl Bounds {
    /// The bounds of a numeric distribution (a categorical one has none: [0, 0]).
    pub fn of(dist: &Distribution) -> Self {
        let (low, high, step, log) = match dist {
            Distribution::Float {
                low,
                high,
                step,
                log,
            } => (*low, *high, step.unwrap_or(0.0), *log),
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => (*low as f64, *high as f64, (*step).max(1) as f64, *log),
            Distribution::Categorical { .. } => (0.0, 0.0, 0.0, false),
        };
        let (mut lo, mut hi) = (low - step / 2.0, high + step / 2.0);
        if log {
            lo = lo.ln();
            hi = hi.ln();
        }
        Self {
            low,
            high,
            step,
            log,
            lo,
            hi,
        }
    }

    /// An internal value in the space the kernels live in (its log for log scales).
    pub fn transform(&self, v: f64) -> f64 {
        if self.log { v.ln() } else { v }
    }
}

/// A kernel's (ln mass of [L, H], constant of its log density) for centre `mu` and width
/// `sigma`.
pub(crate) fn kernel(b: Bounds, mu: f64, sigma: f64) -> (f64, f64) {
    let log_mass = truncnorm::log_gauss_mass((b.lo - mu) / sigma, (b.hi - mu) / sigma);
    (log_mass, truncnorm::log_norm(sigma, log_mass))
}

/// A numeric dimension from its observations' centres `mus` (transformed), `order` the
/// indices of `mus` sorted by (value, index), and `kernel(i, μ, σ)` giving [`kernel`] for
/// observation i (a caller may remember it between estimators).
pub(crate) fn numeric(
    b: Bounds,
    mut mus: Vec<f64>,
    order: &[usize],
    mut kernel_of: impl FnMut(usize, f64, f64) -> (f64, f64),
    spare: &mut Spare,
) -> Dim {
    let (lo, hi) = (b.lo, b.hi);
    let n = mus.len();
    debug_assert_eq!(order.len(), n);
    let mut sigmas = spare.take();
    sigmas.resize(n + 1, 0.0);
    let max_sigma = hi - lo;
    let min_sigma = (hi - lo) / (1.0 + (n + 1) as f64).min(100.0);
    // σ of the j-th smallest: its farther neighbour, the outermost their inner one (n ≥ 2).
    let at = |j: usize| -> f64 {
        if j == 0 {
            lo
        } else if j > n {
            hi
        } else {
            mus[order[j - 1]]
        }
    };
    for j in 1..=n {
        let s = if n >= 2 && j == 1 {
            at(2) - at(1)
        } else if n >= 2 && j == n {
            at(n) - at(n - 1)
        } else {
            (at(j) - at(j - 1)).max(at(j + 1) - at(j))
        };
        sigmas[order[j - 1]] = s.clamp(min_sigma, max_sigma);
    }
    mus.push(0.5 * (lo + hi));
    sigmas[n] = hi - lo;
    let mut log_mass = spare.take();
    let mut log_norms = spare.take();
    for (i, (&m, &s)) in mus.iter().zip(&sigmas).enumerate() {
        let (lm, ln) = if i < n {
            kernel_of(i, m, s)
        } else {
            kernel(b, m, s)
        };
        log_mass.push(lm);
        log_norms.push(ln);
    }
    let mut inv_sigmas = spare.take();
    inv_sigmas.extend(sigmas.iter().map(|s| 1.0 / s));
    Dim::Numeric {
        low: b.low,
        high: b.high,
        step: b.step,
        log: b.log,
        adapted_low: lo,
        adapted_high: hi,
        mus,
        sigmas,
        log_mass,
        inv_sigmas,
        log_norms,
    }
}

pub(crate) fn categorical(col: &[f64], k: usize, p: ParzenParams) -> Dim {
    if col.is_empty() {
        return Dim::Categorical {
            probs: vec![vec![1.0 / k as f64; k]],
        };
    }
    let n_kernels = col.len() + 1;
    let base = p.prior_weight / n_kernels as f64;
    let probs = col
        .iter()
        .map(|&x| Some(x as usize))
        .chain([None])
        .map(|obs| {
            let mut row = vec![base; k];
            if let Some(i) = obs {
                row[i.min(k - 1)] += 1.0;
            }
            let s: f64 = row.iter().sum();
            if s > 0.0 {
                row.iter_mut().for_each(|v| *v /= s);
            }
            row
        })
        .collect();
    Dim::Categorical { probs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_ramp_older_observations() {
        assert_eq!(default_weights(3), vec![1.0; 3]);
        assert_eq!(default_weights(25), vec![1.0; 25]);
        assert_eq!(default_weights(26)[0], 1.0 / 26.0);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-15 && w[4] == 1.0 && w[5] == 1.0);
        assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn densities_integrate_to_one() {
        let f = Distribution::Float {
            low: -2.0,
            high: 3.0,
            step: None,
            log: false,
        };
        let i = Distribution::Int {
            low: 1,
            high: 9,
            step: 2,
            log: false,
        };
        let c = Distribution::Categorical {
            choices: vec![
                crate::tune::distribution::ParamValue::Int(0),
                crate::tune::distribution::ParamValue::Int(1),
                crate::tune::distribution::ParamValue::Int(2),
            ],
        };
        let obs = vec![
            vec![0.5, 3.0, 1.0],
            vec![2.9, 9.0, 2.0],
            vec![-1.0, 3.0, 1.0],
        ];
        let p = Parzen::new(&obs, &[&f, &i, &c], ParzenParams::default());
        let mut total = 0.0;
        let m = 5000;
        for k in 0..m {
            let x = -2.0 + 5.0 * (k as f64 + 0.5) / m as f64;
            for v in [1.0, 3.0, 5.0, 7.0, 9.0] {
                for ch in 0..3 {
                    total += p.log_pdf(&[x, v, ch as f64]).exp() * 5.0 / m as f64;
                }
            }
        }
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }
}
