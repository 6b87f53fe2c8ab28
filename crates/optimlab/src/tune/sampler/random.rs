//! (in progress)

use super::{SampleContext, Sampler};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::Params;

pub struct RandomSampler {
    name: String,
}

impl RandomSampler {
    pub fn new(_seed: u64) -> Self {
        Self {
            name: "random".into(),
        }
    }
}

impl Sampler for RandomSampler {
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
