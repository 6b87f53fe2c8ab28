//! The Tree-structured Parzen Estimator, as Optuna 5.0's `TPESampler` runs it.
//!
//! `tpe` is Optuna's `TPESampler(multivariate=True, group=True, constant_liar=True)` with every
//! other setting at its 5.0 default (`n_startup_trials=10`, `n_ei_candidates=24`,
//! `prior_weight=1.0`, magic clip on, `consider_endpoints` off, `default_gamma`,
//! `default_weights`); `tpe:independent` is `multivariate=False`. For a space without
//! conditions `group` changes nothing, so `tpe` is then exactly Optuna's default `TPESampler()`.
//!
//! - **Start-up**: until `startup` trials are finished (complete or pruned; failed ones never
//!   count), proposals are uniform, as the random sampler's.
//! - **Split**: with n finished trials, the best γ(n) = min(⌈0.1·n⌉, 25) are "below", the
//!   rest "above". Complete trials rank first, by value; then pruned ones, by the last step
//!   they reported (further is better), then by that step's value (NaN worst), and those
//!   that reported nothing last. Failed trials are left out. With the constant liar (on by
//!   default, `liar=false` turns it off) trials still running join "above", as if they had
//!   the worst value, so parallel workers do not all propose the same point; they do not
//!   count in n.
//! - **Groups** (multivariate): the parameters are partitioned as Optuna's
//!   `_GroupDecomposedSearchSpace` does: every finished trial's set of parameters splits each
//!   group into the part it has and the part it lacks, so a group is a maximal set of
//!   parameters that every finished trial has all of or none of. Each group is modelled by one
//!   joint estimator over the trials that have the whole group; a parameter no finished trial
//!   has yet, and every parameter with `independent`, by its own. Single-valued parameters
//!   take their value.
//! - **Proposal**: for each group, the Parzen estimators l(x) over the below trials and g(x)
//!   over the above ones ([`super::parzen`]); `candidates` draws from l, and the draw with the
//!   largest ln l(x) − ln g(x) (the first on ties) is proposed.
//!
//! Optuna's random stream cannot be reproduced; the randomness of trial n is
//! `stream(seed, Other(n))`, so the sampler is a pure function of (seed, number, trials).
//! One difference remains with parallel workers and conditions: Optuna stores a running
//! trial's sampled values of inactive parameters too, and lets its liar use them; here a
//! running trial shows only its active parameters.

mod history;

use super::parzen::{Parzen, ParzenParams};
use super::random::sample_random;
use super::unit::{assign_active, from_unit};
use super::{SampleContext, Sampler};
use crate::rng::{Purpose, Rng, stream};
use crate::tune::error::{Result, TuneError};
use crate::tune::space::{ParamSpec, Space, snap};
use crate::tune::trial::{Direction, FrozenTrial, Params, TrialState};
use history::History;
use std::collections::BTreeSet;
use std::sync::{Mutex, TryLockError};

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
    /// The study's finished trials as last read (see [`history`]); a proposal that finds it
    /// busy (another thread proposing) builds its estimators from the trials directly.
    history: Mutex<History>,
}

impl TpeSampler {
    pub fn new(config: TpeConfig) -> Self {
        Self {
            config,
            history: Mutex::new(History::default()),
        }
    }
}

/// Optuna's `default_gamma`: how many of `n` finished trials are "below" (good).
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Whether a trial counts as finished for TPE: complete with a value, or pruned.
fn is_finished(t: &FrozenTrial) -> bool {
    match t.state {
        TrialState::Complete => t.value.is_some_and(|v| !v.is_nan()),
        TrialState::Pruned => true,
        _ => false,
    }
}

/// The trials other than `number` that TPE learns from, split into (below, above), each in
/// trial-number order, as Optuna's `_split_trials` does (see the module doc); with
/// `constant_liar`, running trials that hold parameters go above.
pub fn split_trials(
    trials: &[FrozenTrial],
    number: u64,
    direction: Direction,
    constant_liar: bool,
) -> (Vec<&FrozenTrial>, Vec<&FrozenTrial>) {
    let others = trials.iter().filter(|t| t.number != number);
    let finished: Vec<&FrozenTrial> = others.clone().filter(|t| is_finished(t)).collect();
    let running: Vec<&FrozenTrial> = if constant_liar {
        others
            .filter(|t| t.state == TrialState::Running && !t.params.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    let n_below = gamma(finished.len());
    let sign = match direction {
        Direction::Minimize => 1.0,
        Direction::Maximize => -1.0,
    };
    let (mut complete, mut pruned): (Vec<&FrozenTrial>, Vec<&FrozenTrial>) = finished
        .into_iter()
        .partition(|t| t.state == TrialState::Complete);
    // Unstable sorts: every key ends with the trial's number, so the order is total.
    complete.sort_unstable_by(|a, b| {
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
    pruned.sort_unstable_by(|a, b| {
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
    below.sort_unstable_by_key(|t| t.number);
    above.sort_unstable_by_key(|t| t.number);
    (below, above)
}

/// Optuna's group decomposition (`_SearchSpaceGroup.add_distributions`) of the space's
/// parameters that `finished` trials hold, trial by trial: each trial's parameter set K splits
/// every group G into G ∩ K and G ∖ K, and what K has beyond the groups becomes a new group.
/// Single-valued parameters are left out (Optuna samples them on their own).
pub fn search_space_groups<'s>(
    finished: &[&FrozenTrial],
    space: &'s Space,
) -> Vec<Vec<&'s ParamSpec>> {
    // Refining by a key set already applied changes nothing (every group is then inside it
    // or outside it), so each distinct key set is applied once: most studies have one.
    let mut applied: Vec<&FrozenTrial> = Vec::new();
    for t in finished {
        if !applied
            .iter()
            .rev()
            .any(|a| a.params.len() == t.params.len() && a.params.keys().eq(t.params.keys()))
        {
            applied.push(t);
        }
    }
    groups_of_key_sets(
        applied
            .iter()
            .map(|t| t.params.keys().map(String::as_str).collect()),
        space,
    )
    .into_iter()
    .map(|g| g.into_iter().map(|i| &space.params[i]).collect())
    .collect()
}

/// [`search_space_groups`] from the finished trials' distinct parameter-name sets, in the
/// order first seen; the groups as indices into the space's parameters. The partition does
/// not depend on the order of the sets.
pub(crate) fn groups_of_key_sets<'k>(
    key_sets: impl Iterator<Item = BTreeSet<&'k str>>,
    space: &Space,
) -> Vec<Vec<usize>> {
    let mut groups: Vec<BTreeSet<&str>> = Vec::new();
    for mut keys in key_sets {
        let mut next = Vec::with_capacity(2 * groups.len() + 1);
        for g in &groups {
            next.push(g.intersection(&keys).copied().collect::<BTreeSet<&str>>());
            next.push(g.difference(&keys).copied().collect());
            keys = keys.difference(g).copied().collect();
        }
        next.push(keys);
        next.retain(|g| !g.is_empty());
        groups = next;
    }
    groups
        .iter()
        .map(|g| {
            space
                .params
                .iter()
                .enumerate()
                .filter(|(_, s)| g.contains(s.name.as_str()) && !s.dist.is_single())
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// The Parzen estimator of `group` over the `trials` that hold every parameter of the group
/// with a value inside its distribution (Optuna's `_build_parzen_estimator`).
pub fn estimator(trials: &[&FrozenTrial], group: &[&ParamSpec], p: ParzenParams) -> Parzen {
    let obs: Vec<Vec<f64>> = trials
        .iter()
        .filter_map(|t| {
            group
                .iter()
                .map(|spec| {
                    let (_, v) = t.params.get(&spec.name)?;
                    spec.dist.contains(*v).then_some(*v)
                })
                .collect::<Option<Vec<f64>>>()
        })
        .collect();
    let dists: Vec<_> = group.iter().map(|s| &s.dist).collect();
    Parzen::new(&obs, &dists, p)
}

impl TpeSampler {
    fn params(&self) -> ParzenParams {
        ParzenParams {
            prior_weight: self.config.prior_weight,
        }
    }

    /// Values for `group`: the candidate from l with the largest ln l − ln g.
    fn choose(&self, l: &Parzen, g: &Parzen, group: &[&ParamSpec], rng: &mut Rng) -> Vec<f64> {
        let mut buf = Vec::new();
        let mut best: Option<(f64, Vec<f64>)> = None;
        for x in l.sample(rng, self.config.n_ei_candidates) {
            let score = l.log_pdf_with(&x, &mut buf) - g.log_pdf_with(&x, &mut buf);
            if best.as_ref().is_none_or(|(b, _)| score > *b || b.is_nan()) {
                best = Some((score, x));
            }
        }
        let (_, x) = best.expect("at least one candidate");
        group
            .iter()
            .zip(x)
            .map(|(spec, v)| snap(&spec.dist, v))
            .collect()
    }

    /// The proposal [`Sampler::sample`] makes, computed from the trials alone without the
    /// remembered history (what the history must reproduce bit for bit).
    pub fn sample_from_scratch(&self, ctx: &SampleContext) -> Result<Params> {
        let c = &self.config;
        let finished: Vec<&FrozenTrial> = ctx
            .trials
            .iter()
            .filter(|t| t.number != ctx.number && is_finished(t))
            .collect();
        if finished.len() < c.n_startup_trials.max(1) {
            return sample_random(c.seed, ctx);
        }
        let (below, above) = split_trials(ctx.trials, ctx.number, ctx.direction, c.constant_liar);
        let groups = if c.multivariate {
            search_space_groups(&finished, ctx.space)
        } else {
            Vec::new()
        };
        let mut rng = stream(c.seed, Purpose::Other(ctx.number));
        // Groups are sampled independently of one another, so each is drawn when its first
        // active parameter comes up: the same distribution as drawing all of them first.
        let mut drawn = Params::new();
        assign_active(ctx.space, ctx.fixed, |_, spec, _| {
            if spec.dist.is_single() {
                return Ok(from_unit(&spec.dist, 0.0));
            }
            if let Some(v) = drawn.get(&spec.name) {
                return Ok(*v);
            }
            let own = [spec];
            let group: &[&ParamSpec] = groups
                .iter()
                .find(|g| g.iter().any(|s| s.name == spec.name))
                .map_or(&own[..], |g| &g[..]);
            let l = estimator(&below, group, self.params());
            let g = estimator(&above, group, self.params());
            let x = self.choose(&l, &g, group, &mut rng);
            for (s, v) in group.iter().zip(x) {
                drawn.insert(s.name.clone(), v);
            }
            Ok(drawn[&spec.name])
        })
    }

    /// [`TpeSampler::sample_from_scratch`] from the remembered history, brought up to date.
    fn sample_remembered(&self, ctx: &SampleContext, h: &mut History) -> Result<Params> {
        let c = &self.config;
        let current = h.update(ctx, c.constant_liar);
        if h.has(ctx.number) {
            // The trial being sampled is finished already: it must not count, as it does.
            return self.sample_from_scratch(ctx);
        }
        if h.len() < c.n_startup_trials.max(1) {
            return sample_random(c.seed, ctx);
        }
        let (is_below, below) = h.split(ctx.trials);
        let groups = if c.multivariate {
            h.groups(ctx.space)
        } else {
            Vec::new()
        };
        let mut rng = stream(c.seed, Purpose::Other(ctx.number));
        let mut drawn = Params::new();
        assign_active(ctx.space, ctx.fixed, |i, spec, _| {
            if spec.dist.is_single() {
                return Ok(from_unit(&spec.dist, 0.0));
            }
            if let Some(v) = drawn.get(&spec.name) {
                return Ok(*v);
            }
            let own = [i];
            let group: &[usize] = groups
                .iter()
                .find(|g| g.contains(&i))
                .map_or(&own[..], |g| &g[..]);
            let specs: Vec<&ParamSpec> = group.iter().map(|&j| &ctx.space.params[j]).collect();
            let l = estimator(&below, &specs, self.params());
            let g = h.above_estimator(ctx, group, &is_below, &current, self.params());
            let x = self.choose(&l, &g, &specs, &mut rng);
            h.recycle(g);
            for (s, v) in specs.iter().zip(x) {
                drawn.insert(s.name.clone(), v);
            }
            Ok(drawn[&spec.name])
        })
    }

    /// The (l, g) estimators over the parameters `group` (in that order) that a proposal for
    /// `ctx` builds, from the remembered history as [`Sampler::sample`] does.
    pub fn estimators(&self, ctx: &SampleContext, group: &[&str]) -> Option<(Parzen, Parzen)> {
        let group: Vec<usize> = group
            .iter()
            .map(|n| ctx.space.params.iter().position(|s| s.name == *n))
            .collect::<Option<_>>()?;
        let specs: Vec<&ParamSpec> = group.iter().map(|&j| &ctx.space.params[j]).collect();
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let current = h.update(ctx, self.config.constant_liar);
        let (is_below, below) = h.split(ctx.trials);
        let l = estimator(&below, &specs, self.params());
        let g = h.above_estimator(ctx, &group, &is_below, &current, self.params());
        Some((l, g))
    }
}

impl Sampler for TpeSampler {
    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        match self.history.try_lock() {
            Ok(mut h) => self.sample_remembered(ctx, &mut h),
            // A panic while it was held may have left it half-updated: start it afresh.
            Err(TryLockError::Poisoned(e)) => {
                let mut h = e.into_inner();
                *h = History::default();
                self.history.clear_poison();
                self.sample_remembered(ctx, &mut h)
            }
            Err(TryLockError::WouldBlock) => self.sample_from_scratch(ctx),
        }
    }

    fn name(&self) -> &str {
        if self.config.multivariate {
            "tpe"
        } else {
            "tpe:independent"
        }
    }
}
