//! (in progress)

use super::{SampleContext, Sampler};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::Params;

pub struct QmcSampler {
    name: String,
}

impl QmcSampler {
    pub fn new(_sequence: Sequence, _seed: u64) -> Self {
        Self { name: "qmc".into() }
    }
}

impl Sampler for QmcSampler {
    fn sample(&self, _ctx: &SampleContext) -> Result<Params> {
        Err(TuneError::Config(format!(
            "sampler {} is not implemented yet",
            self.name
        )))
    }
    fn name(&self) -> &str {
        &self.name
    }
}

pub enum Sequence {
    Sobol,
    Halton,
}
