//! Grid search: the Cartesian product of every parameter's grid values (categorical choices,
//! int ranges, float grids; see [`Grids::values`]), where a conditional parameter branches only
//! under the parent values that activate it. Points are visited in a seeded shuffled order:
//! a trial takes the first point in that order that no trial of the study holds yet, so trial
//! `n` of an uninterrupted run takes point `n` and parallel workers never repeat a point.
//! Once every point is taken, trial `n` repeats point `n mod size`.

use super::{SampleContext, Sampler};
use crate::rng::{Purpose, stream};
use crate::tune::error::{Result, TuneError};
use crate::tune::space::{Grids, Space};
use crate::tune::trial::Params;
use rand::seq::SliceRandom;
use std::collections::HashSet;

/// The random stream the visiting order draws from.
const ORDER_STREAM: u64 = u64::MAX - 2;

/// The largest grid the sampler enumerates.
pub const MAX_GRID_POINTS: u64 = 5_000_000;

pub struct GridSampler {
    seed: u64,
    grids: Grids,
}

impl GridSampler {
    /// Default grids (every choice, every int, five points per float range).
    pub fn new(seed: u64) -> Self {
        Self::with_grids(seed, Grids::default())
    }

    /// The grids a space file gave (`grid`, `grid_points`).
    pub fn with_grids(seed: u64, grids: Grids) -> Self {
        Self { seed, grids }
    }

    /// Every grid point, in the space's enumeration order.
    pub fn points(&self, space: &Space) -> Result<Vec<Params>> {
        let size = self.count(space, 0, &Params::new());
        if size > MAX_GRID_POINTS {
            return Err(TuneError::Config(format!(
                "the grid has {size} points (more than {MAX_GRID_POINTS}): give shorter grid lists or fewer grid_points"
            )));
        }
        let mut out = Vec::with_capacity(size as usize);
        self.enumerate(space, 0, &mut Params::new(), &mut out);
        Ok(out)
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
        let is_parent = space.params[i + 1..]
            .iter()
            .any(|p| p.when.iter().any(|(n, _)| *n == spec.name));
        if !is_parent {
            return (values.len() as u64).saturating_mul(self.count(space, i + 1, assigned));
        }
        let mut a = assigned.clone();
        values.iter().fold(0u64, |acc, v| {
            a.insert(spec.name.clone(), *v);
            acc.saturating_add(self.count(space, i + 1, &a))
        })
    }

    fn enumerate(&self, space: &Space, i: usize, assigned: &mut Params, out: &mut Vec<Params>) {
        let Some(spec) = space.params.get(i) else {
            out.push(assigned.clone());
            return;
        };
        if !space.is_active(spec, assigned) {
            return self.enumerate(space, i + 1, assigned, out);
        }
        for v in self.grids.values(spec) {
            assigned.insert(spec.name.clone(), v);
            self.enumerate(space, i + 1, assigned, out);
        }
        assigned.remove(&spec.name);
    }

    /// The visiting order of `size` points under this sampler's seed.
    fn order(&self, size: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..size).collect();
        order.shuffle(&mut stream(self.seed, Purpose::Other(ORDER_STREAM)));
        order
    }
}

/// A point's identity: its values by name, bit for bit.
fn key(p: &Params) -> Vec<(String, u64)> {
    p.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

impl Sampler for GridSampler {
    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        let points = self.points(ctx.space)?;
        let names: HashSet<&str> = ctx.space.params.iter().map(|p| p.name.as_str()).collect();
        let taken: HashSet<Vec<(String, u64)>> = ctx
            .trials
            .iter()
            .filter(|t| t.number != ctx.number)
            .map(|t| {
                let p: Params = t
                    .internal_params()
                    .into_iter()
                    .filter(|(k, _)| names.contains(k.as_str()))
                    .collect();
                key(&p)
            })
            .collect();
        let fits = |p: &Params| {
            p.iter()
                .all(|(k, v)| ctx.fixed.get(k).is_none_or(|f| f.to_bits() == v.to_bits()))
        };
        let order: Vec<usize> = self
            .order(points.len())
            .into_iter()
            .filter(|&i| fits(&points[i]))
            .collect();
        if order.is_empty() {
            return Err(TuneError::Config(
                "no grid point agrees with the trial's fixed parameters".into(),
            ));
        }
        let pick = order
            .iter()
            .copied()
            .find(|&i| !taken.contains(&key(&points[i])))
            .unwrap_or(order[(ctx.number % order.len() as u64) as usize]);
        let mut out = ctx.fixed.clone();
        for (k, v) in &points[pick] {
            out.entry(k.clone()).or_insert(*v);
        }
        Ok(out)
    }

    fn name(&self) -> &str {
        "grid"
    }

    fn max_trials(&self, space: &Space) -> Option<u64> {
        Some(self.count(space, 0, &Params::new()))
    }
}
