//! Independent uniform sampling: each active parameter from its distribution (log-uniform on
//! log scales, equally likely grid values on steps), with the trial's own random stream.

use super::unit::{assign_active, from_unit};
use super::{SampleContext, Sampler};
use crate::rng::{Purpose, stream};
use crate::tune::error::Result;
use crate::tune::trial::Params;
use rand::RngExt;

pub struct RandomSampler {
    seed: u64,
}

impl RandomSampler {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

/// Uniform proposals for trial `number` under `seed` (also TPE's start-up proposals).
pub fn sample_random(seed: u64, ctx: &SampleContext) -> Result<Params> {
    let mut rng = stream(seed, Purpose::Other(ctx.number));
    assign_active(ctx.space, ctx.fixed, |_, spec, _| {
        Ok(from_unit(&spec.dist, rng.random::<f64>()))
    })
}

impl Sampler for RandomSampler {
    fn needs_history(&self) -> bool {
        false
    }

    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        sample_random(self.seed, ctx)
    }
    fn name(&self) -> &str {
        "random"
    }
}
