//! CMA-ES, the covariance matrix adaptation evolution strategy: the standard (μ/μ_w, λ)-CMA-ES
//! of Hansen's tutorial ("The CMA Evolution Strategy: A Tutorial", 2016) — recombination
//! weights, cumulative step-size adaptation (c_σ, d_σ), the evolution path p_c with rank-one
//! (c_1) and rank-μ (c_μ) covariance updates, and sampling through the eigendecomposition of C.
//!
//! The search runs over the numeric parameters active in every trial (those without a
//! condition and with more than one value), each mapped to [0, 1]: log parameters through
//! their logarithm, integer and stepped ones over [low − step/2, high + step/2] so that every
//! grid point has an equal share, rounded to the grid when mapped back. A candidate outside
//! [0, 1]^d is redrawn (up to 100 times) and then clipped, as Optuna's `cmaes` does.
//! Categorical and conditional parameters are sampled independently and uniformly, as Optuna's
//! `CmaEsSampler` does with its independent sampler.
//!
//! The state for trial n is a function of the stored trials: trial
//! n belongs to generation g = ⌊n / λ⌋; starting from the mean at the centre of the box and
//! σ0 = 1/6 of the normalised range (Optuna's defaults), the updates of generations 0..g are
//! replayed, each with the COMPLETE trials of that generation ranked by value (direction
//! aware). A generation with fewer than λ complete trials updates with those it has when they
//! are at least 2 (weights and μ_eff for that smaller population), and is skipped otherwise.
//! Candidate n is then drawn from `rng::stream(seed, Purpose::Other(n))`.
//!
//! The sampler remembers what it replayed: each complete trial is read once, and the state
//! after each generation is kept, so a proposal replays only the generations completed since
//! the last one. A trial that completes in an older generation drops the states from that
//! generation on; trials that are not an extension of those read (another study, a changed
//! finished trial), another space or direction drop everything. A long-lived sampler thus
//! proposes exactly what a fresh one does.

mod state;

pub use state::{CmaState, jacobi_eigen};

use super::{SampleContext, Sampler};
use crate::rng::{self, Purpose, Rng};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::space::Space;
use crate::tune::trial::{Direction, FrozenTrial, Params, TrialState};
use rand::RngExt;
use std::collections::BTreeMap;
use std::sync::{Mutex, TryLockError};

/// The CMA-ES sampler.
pub struct CmaEsSampler {
    seed: u64,
    /// λ; `None`: 4 + ⌊3 ln d⌋.
    popsize: Option<usize>,
    /// σ0 in the normalised [0, 1] space.
    sigma0: f64,
    name: String,
    /// The replay so far; a proposal that finds it busy replays from the trials.
    memory: Mutex<Replayed>,
}

/// A complete trial as replayed: (value, number, normalised point).
type Member = (f64, u64, Vec<f64>);

/// The searched parameters, direction and λ a replay is for.
type ReplayKey = (Vec<(String, Distribution)>, Direction, usize);

/// What earlier proposals replayed (see the module doc).
#[derive(Default)]
struct Replayed {
    /// The searched parameters, direction and λ it was built for.
    key: Option<ReplayKey>,
    /// Per trial read, in order: (id, number, state, value bits); a finished one must stay so.
    seen: Vec<(u64, u64, TrialState, Option<u64>)>,
    /// Complete trials by generation.
    members: BTreeMap<u64, Vec<Member>>,
    /// The state after each generation that updated, in order, for every generation below
    /// `covered`.
    chain: Vec<(u64, CmaState)>,
    covered: u64,
}

impl CmaEsSampler {
    /// Optuna's defaults: λ = 4 + ⌊3 ln d⌋, σ0 = 1/6, mean at the centre.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            popsize: None,
            sigma0: 1.0 / 6.0,
            name: "cmaes".into(),
            memory: Mutex::new(Replayed::default()),
        }
    }

    /// `cmaes:popsize=λ,sigma0=s` (each optional): λ ≥ 2 candidates per generation, σ0 in
    /// (0, 1] of each parameter's normalised range.
    pub fn parse(options: Option<&str>, seed: u64) -> Result<Self> {
        let mut sampler = Self::new(seed);
        let Some(options) = options else {
            return Ok(sampler);
        };
        let bad = |what: String| TuneError::Config(format!("sampler 'cmaes:{options}': {what}"));
        for item in options.split(',').map(str::trim) {
            let (key, value) = item.split_once('=').ok_or_else(|| {
                bad(format!(
                    "option '{item}' is not key=value (options: popsize, sigma0)"
                ))
            })?;
            match key.trim() {
                "popsize" => {
                    let lambda = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|l| (2..=100_000).contains(l))
                        .ok_or_else(|| {
                            bad(format!("popsize must be a whole number ≥ 2, got '{value}'"))
                        })?;
                    sampler = sampler.with_popsize(lambda);
                }
                "sigma0" => {
                    let sigma0 = value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0 && *s <= 1.0)
                        .ok_or_else(|| bad(format!("sigma0 must be in (0, 1], got '{value}'")))?;
                    sampler = sampler.with_sigma0(sigma0);
                }
                other => {
                    return Err(bad(format!(
                        "unknown option '{other}' (options: popsize, sigma0)"
                    )));
                }
            }
        }
        Ok(sampler)
    }

    /// A fixed population size λ (at least 2).
    pub fn with_popsize(mut self, lambda: usize) -> Self {
        self.popsize = Some(lambda.max(2));
        self
    }

    /// The initial step size, as a fraction of each parameter's (normalised) range.
    pub fn with_sigma0(mut self, sigma0: f64) -> Self {
        self.sigma0 = sigma0;
        // The replay depends on σ0.
        self.memory = Mutex::new(Replayed::default());
        self
    }

    /// λ for `d` dimensions.
    pub fn popsize(&self, d: usize) -> usize {
        self.popsize
            .unwrap_or_else(|| 4 + (3.0 * (d.max(1) as f64).ln()).floor() as usize)
    }

    /// The state that trial `number` is sampled from (after replaying the earlier
    /// generations), for inspection and tests.
    pub fn state_for(&self, ctx: &SampleContext) -> Option<CmaState> {
        let dims = Dim::of_space(ctx.space);
        if dims.is_empty() {
            return None;
        }
        Some(self.replay(&dims, ctx.trials, ctx.number, ctx.direction))
    }

    fn replay(
        &self,
        dims: &[Dim],
        trials: &[FrozenTrial],
        number: u64,
        direction: Direction,
    ) -> CmaState {
        let d = dims.len();
        let lambda = self.popsize(d);
        let mut state = CmaState::new(d, lambda, self.sigma0);
        let generation = number / lambda as u64;
        // One pass groups the usable trials by generation (numbers past `number` are ignored).
        let mut by_generation: BTreeMap<u64, Vec<(f64, u64, Vec<f64>)>> = BTreeMap::new();
        for t in trials {
            let g = t.number / lambda as u64;
            if g >= generation || t.state != TrialState::Complete {
                continue;
            }
            let Some(value) = t.value.filter(|v| !v.is_nan()) else {
                continue;
            };
            let x = dims
                .iter()
                .map(|dim| dim.normalise(t.params.get(&dim.name)?.1))
                .collect::<Option<Vec<f64>>>();
            if let Some(x) = x {
                by_generation
                    .entry(g)
                    .or_default()
                    .push((value, t.number, x));
            }
        }
        for (_, members) in by_generation {
            if members.len() < 2 {
                continue;
            }
            state.tell(&ranked(&members, direction));
        }
        state
    }
}

impl CmaEsSampler {
    /// [`CmaEsSampler::replay`] from what `memory` replayed before, brought up to date.
    fn replay_remembered(
        &self,
        dims: &[Dim],
        trials: &[FrozenTrial],
        number: u64,
        direction: Direction,
        memory: &mut Replayed,
    ) -> CmaState {
        let d = dims.len();
        let lambda = self.popsize(d);
        let key: ReplayKey = (
            dims.iter()
                .map(|dim| (dim.name.clone(), dim.dist.clone()))
                .collect::<Vec<_>>(),
            direction,
            lambda,
        );
        let is_final = |s: TrialState| {
            matches!(
                s,
                TrialState::Complete | TrialState::Pruned | TrialState::Fail
            )
        };
        let fingerprint = |t: &FrozenTrial| (t.id, t.number, t.state, t.value.map(f64::to_bits));
        let consistent = memory.key.as_ref() == Some(&key)
            && memory.seen.len() <= trials.len()
            && memory.seen.iter().zip(trials).all(|(old, t)| {
                old.0 == t.id && old.1 == t.number && (!is_final(old.2) || *old == fingerprint(t))
            });
        if !consistent {
            *memory = Replayed {
                key: Some(key),
                ..Replayed::default()
            };
        }
        let mut dirty: Option<u64> = None;
        for (i, t) in trials.iter().enumerate() {
            match memory.seen.get(i) {
                Some(old) if is_final(old.2) => continue,
                Some(_) => memory.seen[i] = fingerprint(t),
                None => memory.seen.push(fingerprint(t)),
            }
            if t.state != TrialState::Complete {
                continue;
            }
            let Some(value) = t.value.filter(|v| !v.is_nan()) else {
                continue;
            };
            let x = dims
                .iter()
                .map(|dim| dim.normalise(t.params.get(&dim.name)?.1))
                .collect::<Option<Vec<f64>>>();
            if let Some(x) = x {
                let g = t.number / lambda as u64;
                memory
                    .members
                    .entry(g)
                    .or_default()
                    .push((value, t.number, x));
                dirty = Some(dirty.map_or(g, |d| d.min(g)));
            }
        }
        if let Some(g) = dirty {
            memory.chain.retain(|(cg, _)| *cg < g);
            memory.covered = memory.covered.min(g);
        }
        let generation = number / lambda as u64;
        if memory.covered < generation {
            for (&g, members) in memory.members.range(memory.covered..generation) {
                if members.len() < 2 {
                    continue;
                }
                let mut state = memory
                    .chain
                    .last()
                    .map_or_else(|| CmaState::new(d, lambda, self.sigma0), |c| c.1.clone());
                state.tell(&ranked(members, direction));
                memory.chain.push((g, state));
            }
            memory.covered = generation;
        }
        memory
            .chain
            .iter()
            .rev()
            .find(|(g, _)| *g < generation)
            .map_or_else(|| CmaState::new(d, lambda, self.sigma0), |c| c.1.clone())
    }
}

/// A generation's points from best to worst (ties by number).
fn ranked(members: &[Member], direction: Direction) -> Vec<Vec<f64>> {
    let mut m: Vec<&Member> = members.iter().collect();
    m.sort_by(|a, b| {
        let by_value = match direction {
            Direction::Minimize => a.0.total_cmp(&b.0),
            Direction::Maximize => b.0.total_cmp(&a.0),
        };
        by_value.then(a.1.cmp(&b.1))
    });
    m.into_iter().map(|m| m.2.clone()).collect()
}

/// One searched coordinate: a numeric parameter and its map to [0, 1].
struct Dim {
    name: String,
    dist: Distribution,
    /// The transformed interval [a, b] that maps to [0, 1].
    a: f64,
    b: f64,
    log: bool,
}

impl Dim {
    /// The numeric parameters of the space that are active in every trial and not constant.
    fn of_space(space: &Space) -> Vec<Dim> {
        space
            .params
            .iter()
            .filter(|p| p.when.is_empty() && !p.dist.is_single())
            .filter_map(|p| Dim::new(&p.name, &p.dist))
            .collect()
    }

    fn new(name: &str, dist: &Distribution) -> Option<Dim> {
        let (lo, hi, half, log) = match *dist {
            Distribution::Float {
                low,
                high,
                step,
                log,
            } => (low, high, step.map_or(0.0, |s| s / 2.0), log && low > 0.0),
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => {
                let half = if log { 0.5 } else { step as f64 / 2.0 };
                (low as f64, high as f64, half, log && low >= 1)
            }
            Distribution::Categorical { .. } => return None,
        };
        let (a, b) = if log {
            ((lo - half).ln(), (hi + half).ln())
        } else {
            (lo - half, hi + half)
        };
        (b > a).then(|| Dim {
            name: name.to_string(),
            dist: dist.clone(),
            a,
            b,
            log,
        })
    }

    /// An internal value's place in [0, 1] (clamped: a stored value of an older space may
    /// lie outside).
    fn normalise(&self, internal: f64) -> Option<f64> {
        if !internal.is_finite() || (self.log && internal <= 0.0) {
            return None;
        }
        let t = if self.log { internal.ln() } else { internal };
        Some(((t - self.a) / (self.b - self.a)).clamp(0.0, 1.0))
    }

    /// The internal value at `u` ∈ [0, 1], on the distribution's grid and within its bounds.
    fn denormalise(&self, u: f64) -> f64 {
        let t = self.a + u.clamp(0.0, 1.0) * (self.b - self.a);
        let v = if self.log { t.exp() } else { t };
        snap(&self.dist, v)
    }
}

/// `v` moved onto the distribution's grid and into its bounds.
fn snap(dist: &Distribution, v: f64) -> f64 {
    match *dist {
        Distribution::Float {
            low, high, step, ..
        } => match step {
            Some(s) if s > 0.0 => {
                let top = ((high - low) / s + 1e-9).floor();
                let k = ((v - low) / s).round().clamp(0.0, top);
                (low + k * s).min(high)
            }
            _ => v.clamp(low, high),
        },
        Distribution::Int {
            low,
            high,
            step,
            log,
        } => {
            let step = if log { 1 } else { step.max(1) };
            let top = (high - low) / step;
            let k = ((v - low as f64) / step as f64)
                .round()
                .clamp(0.0, top as f64) as i64;
            (low + k * step) as f64
        }
        Distribution::Categorical { .. } => v,
    }
}

/// A value drawn uniformly (log-uniformly for log parameters) from the distribution.
fn sample_independent(dist: &Distribution, rng: &mut Rng) -> f64 {
    match *dist {
        Distribution::Categorical { ref choices } => {
            rng.random_range(0..choices.len().max(1)) as f64
        }
        _ => match Dim::new("", dist) {
            Some(dim) => dim.denormalise(rng.random::<f64>()),
            None => snap(dist, f64::NEG_INFINITY),
        },
    }
}

impl Sampler for CmaEsSampler {
    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        let dims = Dim::of_space(ctx.space);
        if dims.is_empty() {
            return self.sample_from(ctx, &dims, None);
        }
        let state = match self.memory.try_lock() {
            Ok(mut m) => {
                self.replay_remembered(&dims, ctx.trials, ctx.number, ctx.direction, &mut m)
            }
            // A panic while it was held may have left it half-updated: start it afresh.
            Err(TryLockError::Poisoned(e)) => {
                let mut m = e.into_inner();
                *m = Replayed::default();
                self.memory.clear_poison();
                self.replay_remembered(&dims, ctx.trials, ctx.number, ctx.direction, &mut m)
            }
            Err(TryLockError::WouldBlock) => {
                self.replay(&dims, ctx.trials, ctx.number, ctx.direction)
            }
        };
        self.sample_from(ctx, &dims, Some(state))
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl CmaEsSampler {
    /// The proposal [`Sampler::sample`] makes, with the state replayed from the trials alone
    /// (what the remembered replay must reproduce bit for bit).
    pub fn sample_from_scratch(&self, ctx: &SampleContext) -> Result<Params> {
        let dims = Dim::of_space(ctx.space);
        let state =
            (!dims.is_empty()).then(|| self.replay(&dims, ctx.trials, ctx.number, ctx.direction));
        self.sample_from(ctx, &dims, state)
    }

    /// Candidate `ctx.number` drawn from `state`, the other parameters uniformly.
    fn sample_from(
        &self,
        ctx: &SampleContext,
        dims: &[Dim],
        state: Option<CmaState>,
    ) -> Result<Params> {
        let mut rng = rng::stream(self.seed, Purpose::Other(ctx.number));
        let mut out: Params = ctx.fixed.clone();
        if let Some(state) = state {
            let x = state.ask(&mut rng);
            for (dim, u) in dims.iter().zip(x) {
                out.entry(dim.name.clone())
                    .or_insert_with(|| dim.denormalise(u));
            }
        }
        for spec in &ctx.space.params {
            if out.contains_key(&spec.name) || !ctx.space.is_active(spec, &out) {
                continue;
            }
            let v = sample_independent(&spec.dist, &mut rng);
            out.insert(spec.name.clone(), v);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_name_the_bad_value() {
        let s = CmaEsSampler::parse(Some("popsize=10,sigma0=0.3"), 1).unwrap();
        assert_eq!((s.popsize(5), s.sigma0), (10, 0.3));
        assert_eq!(CmaEsSampler::parse(None, 1).unwrap().popsize(5), 8);
        for (bad, mentions) in [
            ("popsize=1", "popsize"),
            ("sigma0=0", "sigma0"),
            ("sigma0=x", "'x'"),
            ("mean=0.5", "mean"),
            ("popsize", "key=value"),
        ] {
            let err = CmaEsSampler::parse(Some(bad), 1).err().unwrap().to_string();
            assert!(
                err.contains(mentions) && err.contains("cmaes"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn grid_parameters_map_back_onto_their_grid() {
        let int = Distribution::Int {
            low: 2,
            high: 10,
            step: 2,
            log: false,
        };
        let dim = Dim::new("k", &int).unwrap();
        for u in [0.0, 0.1, 0.33, 0.5, 0.9, 1.0] {
            assert!(int.contains(dim.denormalise(u)), "{u}");
        }
        assert_eq!(dim.denormalise(0.0), 2.0);
        assert_eq!(dim.denormalise(1.0), 10.0);
        let log = Distribution::Float {
            low: 1e-5,
            high: 1e-1,
            step: None,
            log: true,
        };
        let dim = Dim::new("lr", &log).unwrap();
        assert!((dim.denormalise(0.5) - 1e-3).abs() < 1e-15);
        assert!((dim.normalise(1e-3).unwrap() - 0.5).abs() < 1e-12);
    }
}
