//! Samplers propose the parameters of the next trial.
//!
//! A sampler is a pure function of (its seed, the trial's number, the study's trials so far).
//! So a study resumed after a crash, or shared by many workers, makes the same proposals as
//! one uninterrupted sequential run with the same seed, and any worker can propose the next
//! trial. Grid, TPE and CMA-ES remember what they read of the finished trials between calls,
//! only to skip re-reading it: a long-lived sampler proposes bit for bit what a fresh one does
//! from the same trials, and drops what it remembers when the trials it is given are not an
//! extension of those it read. Randomness for trial `n` comes from
//! `rng::stream(seed, Purpose::Other(n))`.

pub mod cmaes;
pub mod grid;
pub mod parzen;
pub mod qmc;
pub mod random;
mod sobol_directions;
pub mod tpe;
pub mod unit;

use super::error::{Result, TuneError};
use super::space::{Grids, Space};
use super::trial::{Direction, FrozenTrial, Params};

/// What a sampler sees when it proposes trial `number`.
pub struct SampleContext<'a> {
    pub space: &'a Space,
    /// Every trial of the study so far, in number order: finished ones and those still
    /// running (whose parameters are set but whose value is not yet known). Empty for a
    /// sampler whose [`Sampler::needs_history`] is false.
    pub trials: &'a [FrozenTrial],
    /// The number of the trial being sampled.
    pub number: u64,
    pub direction: Direction,
    /// Internal values already fixed for this trial (a re-queued retry, an enqueued trial):
    /// the sampler keeps them and samples the rest.
    pub fixed: &'a Params,
}

pub trait Sampler: Send + Sync {
    /// Internal values for every parameter of the space that is active for this trial
    /// (see [`Space::is_active`]), including the fixed ones unchanged.
    fn sample(&self, ctx: &SampleContext) -> Result<Params>;

    /// The name as given on the command line, e.g. `tpe`.
    fn name(&self) -> &str;

    /// Whether the sampler reads [`SampleContext::trials`]. A sampler that does not (random,
    /// QMC: a function of the seed and the trial's number) is given no trials, and the
    /// study does not read them for it.
    fn needs_history(&self) -> bool {
        true
    }

    /// How many distinct trials the sampler can propose in `space`, when finite (the grid
    /// sampler's grid size): a study stops once that many trials exist.
    fn max_trials(&self, _space: &Space) -> Option<u64> {
        None
    }
}

/// The sampler names `parse` accepts.
pub const NAMES: &str = "random, grid, sobol, halton, tpe, cmaes";

/// A sampler from its command-line name: `random`, `grid`, `sobol` (or `qmc`), `halton`,
/// `tpe` (multivariate, constant liar), `tpe:independent`, `cmaes`.
pub fn parse(name: &str, seed: u64) -> Result<Box<dyn Sampler>> {
    parse_with_grids(name, seed, &Grids::default())
}

/// [`parse`], with the grid sampler using the grids a space file gave
/// ([`crate::tune::space::SpaceFile::grids`]).
pub fn parse_with_grids(name: &str, seed: u64, grids: &Grids) -> Result<Box<dyn Sampler>> {
    let (base, options) = match name.split_once(':') {
        Some((b, o)) => (b, Some(o)),
        None => (name, None),
    };
    let sampler: Box<dyn Sampler> = match (base, options) {
        ("random", None) => Box::new(random::RandomSampler::new(seed)),
        ("grid", None) => Box::new(grid::GridSampler::with_grids(seed, grids.clone())),
        ("sobol" | "qmc", None) => Box::new(qmc::QmcSampler::new(qmc::Sequence::Sobol, seed)),
        ("halton", None) => Box::new(qmc::QmcSampler::new(qmc::Sequence::Halton, seed)),
        ("tpe", options) => Box::new(tpe::TpeSampler::new(tpe::TpeConfig::parse(options, seed)?)),
        ("cmaes", options) => Box::new(cmaes::CmaEsSampler::parse(options, seed)?),
        _ => {
            return Err(TuneError::Config(format!(
                "unknown sampler '{name}': expected one of {NAMES}"
            )));
        }
    };
    Ok(sampler)
}
