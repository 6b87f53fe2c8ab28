//! The Tree-structured Parzen Estimator, as Optuna implements it.
//!
//! After `startup` random trials, the finished trials are split into the best
//! γ(n) = min(⌈0.1·n⌉, 25) ("below") and the rest ("above"); complete trials rank by value,
//! then pruned ones by how far they got and their last intermediate value. A Parzen estimator
//! l(x) is fitted to the below trials and g(x) to the above ones; `candidates` points are
//! drawn from l and the one with the largest l(x)/g(x) is proposed.
//!
//! - Multivariate (default): the parameters that become active together are modelled by one
//!   joint estimator (first the unconditional ones, then each set a choice activates), so
//!   correlations between parameters are kept. `independent` models each parameter alone.
//! - Constant liar (default on): trials still running count among the "above" trials, as if
//!   they had the worst value, so parallel workers do not all propose the same point.
//! - Log-scale parameters are modelled in log space; stepped and int parameters with
//!   discretised kernels; categoricals with per-trial distributions smoothed by the prior.

use super::parzen::{DimKind, Parzen, ParzenParams};
use super::random::sample_random;
use super::unit::assign_active;
use super::{SampleContext, Sampler};
use crate::rng::{Purpose, stream};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::space::{ParamSpec, snap};
use crate::tune::trial::{Direction, FrozenTrial, Params, TrialState};
use std::cmp::Ordering;

/// TPE's settings: `tpe:OPTION,OPTION,…` on the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct TpeConfig {
    pub seed: u64,
    /// Joint estimators over parameters active together (`multivariate`, the default) or one
    /// per parameter (`independent`).
    pub multivariate: bool,
    /// Random proposals until this many trials finished (`startup=N`, Optuna: 10).
    pub n_startup_trials: usize,
    /// Candidates drawn from l(x) per proposal (`candidates=N`, Optuna: 24).
    pub n_ei_candidates: usize,
    /// Running trials count as the worst (`liar=true|false`, default true).
    pub constant_liar: bool,
    /// Weight of the prior component (`prior_weight=X`, Optuna: 1.0).
    pub prior_weight: f64,
}

impl TpeConfig {
    /// Parses `independent`, `multivariate`, `startup=N`, `candidates=N`, `liar=BOOL`,
    /// `prior_weight=X`, comma-separated.
    pub fn parse(options: Option<&str>, seed: u64) -> Result<Self> {
        let mut c = TpeConfig {
            seed,
            multivariate: true,
            n_startup_trials: 10,
            n_ei_candidates: 24,
            constant_liar: true,
            prior_weight: 1.0,
        };
        let bad = |opt: &str, why: &str| {
            TuneError::Config(format!(
                "tpe option '{opt}': {why} (options: independent, multivariate, startup=N, candidates=N, liar=true|false, prior_weight=X)"
            ))
        };
        for opt in options.unwrap_or("").split(',').map(str::trim) {
            if opt.is_empty() {
                continue;
            }
            match opt.split_once('=') {
                None if opt == "independent" => c.multivariate = false,
                None if opt == "multivariate" => c.multivariate = true,
                Some(("startup", v)) => {
                    c.n_startup_trials = v.parse().map_err(|_| bad(opt, "not a count"))?;
                }
                Some(("candidates", v)) => {
                    c.n_ei_candidates = match v.parse() {
                        Ok(n) if n >= 1 => n,
                        _ => return Err(bad(opt, "not a count of at least 1")),
                    };
                }
                Some(("liar", v)) => {
                    c.constant_liar = v.parse().map_err(|_| bad(opt, "not true or false"))?;
                }
                Some(("prior_weight", v)) => {
                    c.prior_weight = match v.parse::<f64>() {
                        Ok(w) if w > 0.0 && w.is_finite() => w,
                        _ => return Err(bad(opt, "not a positive number")),
                    };
                }
                _ => return Err(bad(opt, "unknown")),
            }
        }
        Ok(c)
    }
}

pub struct TpeSampler {
    config: TpeConfig,
}

impl TpeSampler {
    pub fn new(config: TpeConfig) -> Self {
        Self { config }
    }
}

/// Optuna's `default_gamma`: how many of `n` finished trials are "below" (good).
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Splits the trials into (below, above), each in trial-number order, as Optuna's
/// `_split_trials` does; `running` go above.
fn split<'a>(
    finished: Vec<&'a FrozenTrial>,
    running: Vec<&'a FrozenTrial>,
    direction: Direction,
) -> (Vec<&'a FrozenTrial>, Vec<&'a FrozenTrial>) {
    let n_below = gamma(finished.len());
    let sign = match direction {
        Direction::Minimize => 1.0,
        Direction::Maximize => -1.0,
    };
    let (mut complete, mut pruned): (Vec<&FrozenTrial>, Vec<&FrozenTrial>) = finished
        .into_iter()
        .partition(|t| t.state == TrialState::Complete);
    complete.sort_by(|a, b| {
        let (x, y) = (
            sign * a.value.unwrap_or(f64::NAN),
            sign * b.value.unwrap_or(f64::NAN),
        );
        x.total_cmp(&y).then(a.number.cmp(&b.number))
    });
    // Pruned: further is better, then the last intermediate value (NaN or none worst).
    let score = |t: &FrozenTrial| -> (i64, f64) {
        match t.last_intermediate() {
            Some((step, v)) if v.is_nan() => (-(step as i64), f64::INFINITY),
            Some((step, v)) => (-(step as i64), sign * v),
            None => (1, 0.0),
        }
    };
    pruned.sort_by(|a, b| {
        let (sa, sb) = (score(a), score(b));
        sa.0.cmp(&sb.0)
            .then(sa.1.total_cmp(&sb.1))
            .then(a.number.cmp(&b.number))
    });
    let mut ranked = complete;
    ranked.extend(pruned);
    let mut above = ranked.split_off(n_below.min(ranked.len()));
    let mut below = ranked;
    above.extend(running);
    below.sort_by_key(|t| t.number);
    above.sort_by_key(|t| t.number);
    (below, above)
}

/// How a parameter is modelled: its dimension and the map back to an internal value.
fn dim_kind(dist: &Distribution) -> DimKind {
    match dist {
        Distribution::Float {
            low,
            high,
            step,
            log,
        } => {
            if *log {
                DimKind::Numeric {
                    low: low.ln(),
                    high: high.ln(),
                    step: None,
                }
            } else {
                DimKind::Numeric {
                    low: *low,
                    high: *high,
                    step: *step,
                }
            }
        }
        Distribution::Int {
            low,
            high,
            step,
            log,
        } => {
            if *log {
                DimKind::Numeric {
                    low: (*low as f64 - 0.5).ln(),
                    high: (*high as f64 + 0.5).ln(),
                    step: None,
                }
            } else {
                DimKind::Numeric {
                    low: *low as f64,
                    high: *high as f64,
                    step: Some(*step as f64),
                }
            }
        }
        Distribution::Categorical { choices } => DimKind::Categorical { n: choices.len() },
    }
}

/// An internal value into the estimator's space.
fn to_model(dist: &Distribution, v: f64) -> f64 {
    match dist {
        Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. } => v.ln(),
        _ => v,
    }
}

/// A value of the estimator's space back to an internal value of the distribution.
fn from_model(dist: &Distribution, x: f64) -> f64 {
    match dist {
        Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. } => {
            snap(dist, x.exp())
        }
        _ => snap(dist, x),
    }
}

/// The rows of `trials` that hold every parameter of `group` with a value in its
/// distribution, in the estimator's space.
fn observations(trials: &[&FrozenTrial], group: &[&ParamSpec]) -> Vec<Vec<f64>> {
    trials
        .iter()
        .filter_map(|t| {
            group
                .iter()
                .map(|spec| {
                    let (_, v) = t.params.get(&spec.name)?;
                    spec.dist.contains(*v).then(|| to_model(&spec.dist, *v))
                })
                .collect::<Option<Vec<f64>>>()
        })
        .collect()
}

impl Sampler for TpeSampler {
    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        let c = &self.config;
        let others = ctx.trials.iter().filter(|t| t.number != ctx.number);
        let finished: Vec<&FrozenTrial> = others
            .clone()
            .filter(|t| match t.state {
                TrialState::Complete => t.value.is_some_and(|v| !v.is_nan()),
                TrialState::Pruned => true,
                _ => false,
            })
            .collect();
        if finished.len() < c.n_startup_trials.max(1) {
            return sample_random(c.seed, ctx);
        }
        let running: Vec<&FrozenTrial> = if c.constant_liar {
            others
                .filter(|t| t.state == TrialState::Running && !t.params.is_empty())
                .collect()
        } else {
            Vec::new()
        };
        let (below, above) = split(finished, running, ctx.direction);
        let mut rng = stream(c.seed, Purpose::Other(ctx.number));
        let params = ParzenParams {
            prior_weight: c.prior_weight,
            multivariate: c.multivariate,
        };

        // Groups: the parameters that are active and unassigned at each round; a choice made
        // in one round may activate the next round's parameters.
        let mut assigned = ctx.fixed.clone();
        loop {
            let ready: Vec<&ParamSpec> = ctx
                .space
                .params
                .iter()
                .filter(|s| !assigned.contains_key(&s.name) && ctx.space.is_active(s, &assigned))
                .collect();
            if ready.is_empty() {
                break;
            }
            let groups: Vec<Vec<&ParamSpec>> = if c.multivariate {
                vec![ready]
            } else {
                ready.into_iter().map(|s| vec![s]).collect()
            };
            for group in groups {
                let kinds: Vec<DimKind> = group.iter().map(|s| dim_kind(&s.dist)).collect();
                let l = Parzen::new(&observations(&below, &group), &kinds, params);
                let g = Parzen::new(&observations(&above, &group), &kinds, params);
                let mut best: Option<(f64, Vec<f64>)> = None;
                for x in l.sample(&mut rng, c.n_ei_candidates) {
                    let score = l.log_pdf(&x) - g.log_pdf(&x);
                    let better = match &best {
                        None => true,
                        Some((b, _)) => score.partial_cmp(b) == Some(Ordering::Greater),
                    };
                    if better {
                        best = Some((score, x));
                    }
                }
                let (_, x) = best.expect("at least one candidate");
                for (spec, xd) in group.iter().zip(x) {
                    assigned.insert(spec.name.clone(), from_model(&spec.dist, xd));
                }
            }
        }
        // Same walk as the other samplers, so only parameters active under the final values
        // are returned.
        assign_active(ctx.space, ctx.fixed, |_, spec, _| Ok(assigned[&spec.name]))
    }

    fn name(&self) -> &str {
        if self.config.multivariate {
            "tpe"
        } else {
            "tpe:independent"
        }
    }
}
