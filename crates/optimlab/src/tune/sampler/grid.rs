//! Grid search: the Cartesian product of every parameter's grid values (categorical choices,
//! int ranges, float grids; see [`Grids::values`]), where a conditional parameter branches only
//! under the parent values that activate it. Points are visited in a seeded shuffled order:
//! a trial takes the first point in that order that no trial of the study holds yet, so trial
//! `n` of an uninterrupted run takes point `n` and parallel workers never repeat a point.
//! Once every point is taken, trial `n` repeats a point from position `n mod size` on.
//!
//! Nothing is materialised: the shuffled order is a seeded bijection of the point numbers (a
//! Feistel network with cycle walking), and point `r` is decoded from counts of the subgrids,
//! so a grid of millions of points costs only the points actually visited.
//!
//! The sampler remembers the points of finished trials (whose parameters can no longer change)
//! and how far along the order every point is taken, so a proposal costs O(1) in the study's
//! size: it reads only the trials from the first unfinished one on.

use super::unit::assign_active;
use super::{SampleContext, Sampler};
use crate::rng::{Purpose, stream};
use crate::tune::error::{Result, TuneError};
use crate::tune::space::{Grids, Space};
use crate::tune::trial::Params;
use rand::RngExt;
use std::collections::HashSet;
use std::sync::Mutex;

/// The random stream the visiting order's keys come from.
const ORDER_STREAM: u64 = u64::MAX - 2;

/// How many positions of the order a proposal examines at most before falling back.
const MAX_WALK: u64 = 10_000_000;

pub struct GridSampler {
    seed: u64,
    grids: Grids,
    seen: Mutex<Seen>,
}

/// What earlier proposals learnt from the study's finished trials.
#[derive(Default)]
struct Seen {
    /// The trials before this index (in the study's number order) are finished and their
    /// points are in `taken`.
    scanned: usize,
    /// The number of the trial at `scanned - 1`: a different study (or a shorter history)
    /// starts afresh.
    last_number: Option<u64>,
    /// Points of finished trials, and of the unfinished ones after `scanned` already read.
    taken: HashSet<Vec<(String, u64)>>,
    /// Every position of the order before this one holds a point of a finished trial.
    cursor: u64,
}

impl GridSampler {
    /// Default grids (every choice, every int, five points per float range).
    pub fn new(seed: u64) -> Self {
        Self::with_grids(seed, Grids::default())
    }

    /// The grids a space file gave (`grid`, `grid_points`).
    pub fn with_grids(seed: u64, grids: Grids) -> Self {
        Self {
            seed,
            grids,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The number of points.
    pub fn size(&self, space: &Space) -> u64 {
        self.count(space, 0, &Params::new())
    }

    /// Point `r` (0 ≤ r < size) in the space's enumeration order (parameters in order, the
    /// last one varying fastest).
    pub fn point(&self, space: &Space, mut r: u64) -> Params {
        let mut assigned = Params::new();
        for (i, spec) in space.params.iter().enumerate() {
            if !space.is_active(spec, &assigned) {
                continue;
            }
            let values = self.grids.values(spec);
            if !is_parent(space, i) {
                let rest = self.count(space, i + 1, &assigned).max(1);
                let k = ((r / rest) as usize).min(values.len() - 1);
                r %= rest;
                assigned.insert(spec.name.clone(), values[k]);
                continue;
            }
            let mut chosen = *values.last().expect("a grid has values");
            for v in &values {
                let mut a = assigned.clone();
                a.insert(spec.name.clone(), *v);
                let c = self.count(space, i + 1, &a);
                if r < c {
                    chosen = *v;
                    break;
                }
                r -= c;
            }
            assigned.insert(spec.name.clone(), chosen);
        }
        assigned
    }

    /// The number of points from parameter `i` on, given the values assigned before it.
    fn count(&self, space: &Space, i: usize, assigned: &Params) -> u64 {
        let Some(spec) = space.params.get(i) else {
            return 1;
        };
        if !space.is_active(spec, assigned) {
            return self.count(space, i + 1, assigned);
        }
        let values = self.grids.values(spec);
        // Parameters that no later condition names multiply out without branching.
        if !is_parent(space, i) {
            return (values.len() as u64).saturating_mul(self.count(space, i + 1, assigned));
        }
        let mut a = assigned.clone();
        values.iter().fold(0u64, |acc, v| {
            a.insert(spec.name.clone(), *v);
            acc.saturating_add(self.count(space, i + 1, &a))
        })
    }
}

/// Whether a later parameter's condition names parameter `i`.
fn is_parent(space: &Space, i: usize) -> bool {
    let name = &space.params[i].name;
    space.params[i + 1..]
        .iter()
        .any(|p| p.when.iter().any(|(n, _)| n == name))
}

/// A seeded bijection of 0..n: a four-round Feistel network on the smallest even number of
/// bits covering n, applied again while the result falls outside 0..n (cycle walking).
struct Shuffle {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Shuffle {
    fn new(n: u64, seed: u64) -> Self {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut rng = stream(seed, Purpose::Other(ORDER_STREAM));
        let keys = std::array::from_fn(|_| rng.random::<u64>());
        Self { n, half_bits, keys }
    }

    fn round(&self, x: u64, key: u64) -> u64 {
        // SplitMix64's finaliser as the round function.
        let mut z = x ^ key;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn permute_once(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for k in self.keys {
            let next = l ^ (self.round(r, k) & mask);
            l = r;
            r = next;
        }
        (l << self.half_bits) | r
    }

    fn at(&self, i: u64) -> u64 {
        let mut x = self.permute_once(i);
        while x >= self.n {
            x = self.permute_once(x);
        }
        x
    }
}

/// A point's identity: its values by name, bit for bit.
fn key(p: &Params) -> Vec<(String, u64)> {
    p.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

impl Sampler for GridSampler {
    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        let size = self.size(ctx.space);
        if size == 0 {
            return Err(TuneError::Config("the grid has no points".into()));
        }
        let names: HashSet<&str> = ctx.space.params.iter().map(|p| p.name.as_str()).collect();
        let point_of = |t: &crate::tune::trial::FrozenTrial| {
            let p: Params = t
                .internal_params()
                .into_iter()
                .filter(|(k, _)| names.contains(k.as_str()))
                .collect();
            key(&p)
        };
        let order = Shuffle::new(size, self.seed);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let same_study = seen.scanned <= ctx.trials.len()
            && (seen.scanned == 0 || Some(ctx.trials[seen.scanned - 1].number) == seen.last_number);
        if !same_study {
            *seen = Seen::default();
        }
        // Finished trials at the front join the permanent set; the unfinished ones (and the
        // finished ones behind them) are read afresh each time, since a running trial may still
        // receive parameters.
        while let Some(t) = ctx.trials.get(seen.scanned) {
            if !t.state.is_finished() {
                break;
            }
            if t.number != ctx.number {
                let k = point_of(t);
                seen.taken.insert(k);
            }
            seen.last_number = Some(t.number);
            seen.scanned += 1;
        }
        let pending: HashSet<Vec<(String, u64)>> = ctx.trials[seen.scanned..]
            .iter()
            .filter(|t| t.number != ctx.number)
            .map(point_of)
            .collect();
        let walk = size.min(MAX_WALK);
        while seen.cursor < walk
            && seen
                .taken
                .contains(&key(&self.point(ctx.space, order.at(seen.cursor))))
        {
            seen.cursor += 1;
        }
        let taken = |k: &Vec<(String, u64)>| seen.taken.contains(k) || pending.contains(k);
        // A fixed value that is one of the grid's values restricts the points; one that is
        // not simply overrides.
        let fits = |p: &Params| {
            p.iter().all(|(k, v)| match ctx.fixed.get(k) {
                Some(f) => {
                    f.to_bits() == v.to_bits()
                        || ctx
                            .space
                            .get(k)
                            .is_some_and(|spec| !self.grids.values(spec).contains(f))
                }
                None => true,
            })
        };
        // Points before the cursor are taken for good; a fixed parameter can make one of them
        // the only fit, so then the walk starts at the beginning (and still skips taken ones).
        let from = if ctx.fixed.is_empty() { seen.cursor } else { 0 };
        let mut pick = None;
        for i in from..walk {
            let p = self.point(ctx.space, order.at(i));
            if fits(&p) && !taken(&key(&p)) {
                pick = Some(p);
                break;
            }
        }
        let point = match pick {
            Some(p) => p,
            None => {
                // Every fitting point is taken: repeat one, from position n mod size on.
                let start = ctx.number % size;
                (0..walk)
                    .map(|i| self.point(ctx.space, order.at((start + i) % size)))
                    .find(|p| fits(p))
                    .ok_or_else(|| {
                        TuneError::Config(
                            "no grid point agrees with the trial's fixed parameters".into(),
                        )
                    })?
            }
        };
        assign_active(ctx.space, ctx.fixed, |_, spec, _| {
            Ok(match point.get(&spec.name) {
                Some(v) => *v,
                None => self.grids.values(spec)[0],
            })
        })
    }

    fn name(&self) -> &str {
        "grid"
    }

    fn max_trials(&self, space: &Space) -> Option<u64> {
        Some(self.size(space))
    }
}
