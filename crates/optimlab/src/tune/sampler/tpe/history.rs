//! What TPE remembers of a study between proposals, so that a proposal costs O(n) simple
//! passes instead of re-reading every trial's parameters and sorting every dimension.
//!
//! Finished trials cannot change, so each is read once: its parameters' internal values (in
//! the kernels' space) go into per-parameter lists kept sorted by (value, number), its rank
//! into the below/above ranking, its parameter-name set into the group decomposition. The
//! above estimator's bandwidths then come from one pass over each sorted list, and a kernel
//! whose bandwidth did not change keeps its log mass. Running trials (the constant liar) are
//! read afresh every time.
//!
//! Everything is a function of the set of trials, not of the order they were read in, so a
//! long-lived sampler proposes exactly what a fresh one does. The memory is dropped whenever
//! the trials it is given are not an extension of those it read (another study, a trial
//! gone, or a finished trial that changed), or the space or the direction changed.

use super::{gamma, is_finished};
use crate::tune::distribution::Distribution;
use crate::tune::sampler::SampleContext;
use crate::tune::sampler::parzen::{self, Bounds, Dim, Parzen, ParzenParams, Spare};
use crate::tune::space::Space;
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// A trial as last read: once it is finished, it must read the same.
#[derive(Clone, Copy, PartialEq)]
struct Seen {
    id: u64,
    number: u64,
    state: TrialState,
    value: Option<u64>,
    last: Option<(u64, u64)>,
}

impl Seen {
    fn of(t: &FrozenTrial) -> Self {
        Self {
            id: t.id,
            number: t.number,
            state: t.state,
            value: t.value.map(f64::to_bits),
            last: t.last_intermediate().map(|(s, v)| (s, v.to_bits())),
        }
    }

    fn is_final(&self) -> bool {
        matches!(
            self.state,
            TrialState::Complete | TrialState::Pruned | TrialState::Fail
        )
    }
}

/// The order of finished trials from best to worst (see [`super::split_trials`]): complete
/// ones by value, then pruned ones by (−last step, its value), ties by number.
#[derive(Clone, Copy)]
struct Rank {
    pruned: bool,
    step: i64,
    value: f64,
    number: u64,
}

impl Rank {
    fn of(t: &FrozenTrial, direction: Direction) -> Self {
        let sign = match direction {
            Direction::Minimize => 1.0,
            Direction::Maximize => -1.0,
        };
        let (pruned, step, value) = if t.state == TrialState::Complete {
            (false, 0, sign * t.value.unwrap_or(f64::NAN))
        } else {
            match t.last_intermediate() {
                Some((step, v)) if v.is_nan() => (true, -(step as i64), f64::INFINITY),
                Some((step, v)) => (true, -(step as i64), sign * v),
                None => (true, 1, 0.0),
            }
        };
        Self {
            pruned,
            step,
            value,
            number: t.number,
        }
    }

    fn cmp(&self, o: &Self) -> Ordering {
        self.pruned
            .cmp(&o.pruned)
            .then(self.step.cmp(&o.step))
            .then(self.value.total_cmp(&o.value))
            .then(self.number.cmp(&o.number))
    }
}

/// A finished trial, by its slot (the order it was read in).
struct Finished {
    /// Its position in [`SampleContext::trials`].
    index: usize,
    /// Per parameter of the space: the internal value (logged on log scales) when the trial
    /// holds it inside the distribution, NaN otherwise.
    values: Vec<f64>,
}

/// A kernel's bandwidth and what [`parzen::kernel`] gave for it.
#[derive(Clone, Copy)]
struct Kernel {
    sigma: f64,
    log_mass: f64,
    log_norm: f64,
}

#[derive(Default)]
pub(super) struct History {
    space: Vec<(String, Distribution)>,
    bounds: Vec<Bounds>,
    direction: Option<Direction>,
    seen: Vec<Seen>,
    finished: Vec<Finished>,
    /// Slots from best to worst.
    ranked: Vec<(Rank, usize)>,
    /// (number, slot), by number.
    by_number: Vec<(u64, usize)>,
    /// Per numeric parameter: (value, number, slot) of the finished trials that hold it,
    /// sorted by (value, number).
    sorted: Vec<Vec<(f64, u64, usize)>>,
    /// Per parameter, per slot: the kernel last built for that observation.
    kernels: Vec<Vec<Kernel>>,
    /// The distinct parameter-name sets of finished trials, and the groups they make.
    key_sets: Vec<Vec<String>>,
    groups: Option<Vec<Vec<usize>>>,
    /// Buffers of the estimators built before, and of [`History::above_estimator`].
    spare: Spare,
    scratch_obs: Vec<std::result::Result<usize, usize>>,
    scratch_slots: Vec<u32>,
    scratch_order: Vec<usize>,
}

/// What [`History::update`] found besides the finished trials.
pub(super) struct Current {
    /// Positions in [`SampleContext::trials`] of the running trials the liar counts.
    pub running: Vec<usize>,
}

impl History {
    fn matches(&self, space: &Space, direction: Direction) -> bool {
        self.direction == Some(direction)
            && self.space.len() == space.params.len()
            && self
                .space
                .iter()
                .zip(&space.params)
                .all(|((n, d), s)| *n == s.name && *d == s.dist)
    }

    fn reset(&mut self, space: &Space, direction: Direction) {
        *self = History {
            space: space
                .params
                .iter()
                .map(|s| (s.name.clone(), s.dist.clone()))
                .collect(),
            bounds: space.params.iter().map(|s| Bounds::of(&s.dist)).collect(),
            direction: Some(direction),
            sorted: vec![Vec::new(); space.params.len()],
            kernels: vec![Vec::new(); space.params.len()],
            ..History::default()
        };
    }

    /// Brings the memory up to date with `ctx.trials`, starting afresh when they are not an
    /// extension of what was read.
    pub fn update(&mut self, ctx: &SampleContext, constant_liar: bool) -> Current {
        if !self.matches(ctx.space, ctx.direction) || ctx.trials.len() < self.seen.len() {
            self.reset(ctx.space, ctx.direction);
        }
        let consistent = self.seen.iter().zip(ctx.trials).all(|(old, t)| {
            old.id == t.id && old.number == t.number && (!old.is_final() || *old == Seen::of(t))
        });
        if !consistent {
            self.reset(ctx.space, ctx.direction);
        }
        let mut running = Vec::new();
        for (i, t) in ctx.trials.iter().enumerate() {
            let now = Seen::of(t);
            match self.seen.get(i) {
                Some(old) if old.is_final() => continue,
                Some(_) => self.seen[i] = now,
                None => self.seen.push(now),
            }
            if is_finished(t) {
                self.add(i, t, ctx.space);
            } else if constant_liar
                && t.state == TrialState::Running
                && t.number != ctx.number
                && !t.params.is_empty()
            {
                running.push(i);
            }
        }
        Current { running }
    }

    fn add(&mut self, index: usize, t: &FrozenTrial, space: &Space) {
        let slot = self.finished.len();
        let values: Vec<f64> = space
            .params
            .iter()
            .zip(&self.bounds)
            .map(|(spec, b)| match t.params.get(&spec.name) {
                Some((_, v)) if spec.dist.contains(*v) => match spec.dist {
                    Distribution::Categorical { .. } => *v,
                    _ => b.transform(*v),
                },
                _ => f64::NAN,
            })
            .collect();
        for (p, &v) in values.iter().enumerate() {
            self.kernels[p].push(Kernel {
                sigma: f64::NAN,
                log_mass: 0.0,
                log_norm: 0.0,
            });
            if v.is_nan() || matches!(space.params[p].dist, Distribution::Categorical { .. }) {
                continue;
            }
            let list = &mut self.sorted[p];
            let at = list.partition_point(|&(w, n, _)| {
                w.total_cmp(&v).then(n.cmp(&t.number)) == Ordering::Less
            });
            list.insert(at, (v, t.number, slot));
        }
        let rank = Rank::of(t, self.direction.unwrap_or(Direction::Minimize));
        let at = self
            .ranked
            .partition_point(|(r, _)| r.cmp(&rank) == Ordering::Less);
        self.ranked.insert(at, (rank, slot));
        let at = self.by_number.partition_point(|&(n, _)| n < t.number);
        self.by_number.insert(at, (t.number, slot));
        if !self
            .key_sets
            .iter()
            .any(|k| k.len() == t.params.len() && k.iter().eq(t.params.keys()))
        {
            self.key_sets.push(t.params.keys().cloned().collect());
            self.groups = None;
        }
        self.finished.push(Finished { index, values });
    }

    /// How many finished trials were read.
    pub fn len(&self) -> usize {
        self.finished.len()
    }

    /// Whether a finished trial has this number.
    pub fn has(&self, number: u64) -> bool {
        self.by_number
            .binary_search_by_key(&number, |&(n, _)| n)
            .is_ok()
    }

    /// The multivariate groups, as indices into the space's parameters.
    pub fn groups(&mut self, space: &Space) -> Vec<Vec<usize>> {
        if self.groups.is_none() {
            let sets = self
                .key_sets
                .iter()
                .map(|k| k.iter().map(String::as_str).collect::<BTreeSet<&str>>());
            self.groups = Some(super::groups_of_key_sets(sets, space));
        }
        self.groups.clone().unwrap_or_default()
    }

    /// The split: per slot whether it is below, and the below trials in number order.
    pub fn split<'t>(&self, trials: &'t [FrozenTrial]) -> (Vec<bool>, Vec<&'t FrozenTrial>) {
        let n_below = gamma(self.finished.len());
        let mut is_below = vec![false; self.finished.len()];
        let mut below: Vec<&FrozenTrial> = self.ranked[..n_below]
            .iter()
            .map(|&(_, slot)| {
                is_below[slot] = true;
                &trials[self.finished[slot].index]
            })
            .collect();
        below.sort_unstable_by_key(|t| t.number);
        (is_below, below)
    }

    /// g(x) for the parameters `group` (indices into the space): the estimator over the
    /// finished trials not below and the running ones, that hold the whole group, as
    /// [`super::estimator`] builds it from those trials.
    pub fn above_estimator(
        &mut self,
        ctx: &SampleContext,
        group: &[usize],
        is_below: &[bool],
        current: &Current,
        p: ParzenParams,
    ) -> Parzen {
        const NONE: u32 = u32::MAX;
        // Running trials' values for the group, when they hold all of it.
        let running: Vec<(u64, Vec<f64>)> = current
            .running
            .iter()
            .filter_map(|&i| {
                let t = &ctx.trials[i];
                let values = group
                    .iter()
                    .map(|&j| {
                        let spec = &ctx.space.params[j];
                        let (_, v) = t.params.get(&spec.name)?;
                        spec.dist.contains(*v).then(|| match spec.dist {
                            Distribution::Categorical { .. } => *v,
                            _ => self.bounds[j].transform(*v),
                        })
                    })
                    .collect::<Option<Vec<f64>>>()?;
                Some((t.number, values))
            })
            .collect();
        // The observations in number order: Ok(slot) finished, Err(k) running[k].
        let mut obs = std::mem::take(&mut self.scratch_obs);
        obs.clear();
        let mut obs_of_slot = std::mem::take(&mut self.scratch_slots);
        obs_of_slot.clear();
        obs_of_slot.resize(self.finished.len(), NONE);
        let mut order = std::mem::take(&mut self.scratch_order);
        let mut run_obs = vec![0usize; running.len()];
        let mut r = 0;
        for &(number, slot) in &self.by_number {
            while r < running.len() && running[r].0 < number {
                run_obs[r] = obs.len();
                obs.push(Err(r));
                r += 1;
            }
            let values = &self.finished[slot].values;
            if !is_below[slot] && group.iter().all(|&j| !values[j].is_nan()) {
                obs_of_slot[slot] = obs.len() as u32;
                obs.push(Ok(slot));
            }
        }
        while r < running.len() {
            run_obs[r] = obs.len();
            obs.push(Err(r));
            r += 1;
        }
        let n = obs.len();
        let value_of = |o: &std::result::Result<usize, usize>, d: usize, j: usize| match *o {
            Ok(slot) => self.finished[slot].values[j],
            Err(k) => running[k].1[d],
        };
        let mut dims = Vec::with_capacity(group.len());
        for (d, &j) in group.iter().enumerate() {
            let mut col = self.spare.take();
            col.extend(obs.iter().map(|o| value_of(o, d, j)));
            if let Distribution::Categorical { choices } = &ctx.space.params[j].dist {
                dims.push(parzen::categorical(&col, choices.len(), p));
                continue;
            }
            // The sorted order: the finished list filtered, merged with the running ones.
            let mut extra: Vec<(f64, u64, usize)> = running
                .iter()
                .enumerate()
                .map(|(k, (number, values))| (values[d], *number, run_obs[k]))
                .collect();
            extra.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            order.clear();
            let mut e = 0;
            for &(v, number, slot) in &self.sorted[j] {
                let i = obs_of_slot[slot];
                if i == NONE {
                    continue;
                }
                while e < extra.len()
                    && extra[e].0.total_cmp(&v).then(extra[e].1.cmp(&number)) == Ordering::Less
                {
                    order.push(extra[e].2);
                    e += 1;
                }
                order.push(i as usize);
            }
            order.extend(extra[e..].iter().map(|x| x.2));
            let b = self.bounds[j];
            let kernels = &mut self.kernels[j];
            dims.push(numeric_dim(b, col, &order, &obs, kernels, &mut self.spare));
        }
        self.scratch_obs = obs;
        self.scratch_slots = obs_of_slot;
        self.scratch_order = order;
        Parzen::from_dims(n, dims, p, &mut self.spare)
    }

    /// Takes back an estimator's buffers for the next ones.
    pub fn recycle(&mut self, p: Parzen) {
        self.spare.give(p);
    }
}

/// [`parzen::numeric`], reusing each finished observation's kernel when its bandwidth is the
/// one it had last time.
fn numeric_dim(
    b: Bounds,
    mus: Vec<f64>,
    order: &[usize],
    obs: &[std::result::Result<usize, usize>],
    kernels: &mut [Kernel],
    spare: &mut Spare,
) -> Dim {
    parzen::numeric(
        b,
        mus,
        order,
        |i, mu, sigma| match obs[i] {
            Ok(slot) => {
                let k = &mut kernels[slot];
                if k.sigma.to_bits() != sigma.to_bits() {
                    let (log_mass, log_norm) = parzen::kernel(b, mu, sigma);
                    *k = Kernel {
                        sigma,
                        log_mass,
                        log_norm,
                    };
                }
                (k.log_mass, k.log_norm)
            }
            Err(_) => parzen::kernel(b, mu, sigma),
        },
        spare,
    )
}
