//! (in progress)

use super::{PruneContext, Pruner};
use crate::tune::error::Result;

pub struct PercentilePruner;

impl PercentilePruner {
    pub fn median() -> Self {
        Self
    }
    pub fn parse(_p: &str) -> Result<Self> {
        Ok(Self)
    }
}

impl Pruner for PercentilePruner {
    fn prune(&self, _ctx: &PruneContext) -> bool {
        false
    }
    fn name(&self) -> &str {
        "median"
    }
}
