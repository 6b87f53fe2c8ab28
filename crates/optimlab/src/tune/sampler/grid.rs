//! (in progress)

use super::{SampleContext, Sampler};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::Params;

pub struct GridSampler {
    name: String,
}

impl GridSampler {
    pub fn new(_seed: u64) -> Self {
        Self {
            name: "grid".into(),
        }
    }
}

impl Sampler for GridSampler {
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
