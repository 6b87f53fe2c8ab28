//! (in progress)

use super::{SampleContext, Sampler};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::Params;

pub struct CmaEsSampler {
    name: String,
}

impl CmaEsSampler {
    pub fn new(_seed: u64) -> Self {
        Self {
            name: "cmaes".into(),
        }
    }
}

impl Sampler for CmaEsSampler {
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
