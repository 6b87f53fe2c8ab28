//! (in progress)

use super::{SampleContext, Sampler};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::Params;

pub struct TpeSampler {
    name: String,
}

impl TpeSampler {
    pub fn new(_config: TpeConfig) -> Self {
        Self { name: "tpe".into() }
    }
}

impl Sampler for TpeSampler {
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

pub struct TpeConfig;

impl TpeConfig {
    pub fn parse(_options: Option<&str>, _seed: u64) -> Result<Self> {
        Ok(TpeConfig)
    }
}
