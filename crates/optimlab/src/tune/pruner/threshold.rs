//! (in progress)

use super::{PruneContext, Pruner};
use crate::tune::error::Result;

pub struct ThresholdPruner;

impl ThresholdPruner {
    pub fn parse(_o: Option<&str>) -> Result<Self> {
        Ok(Self)
    }
}

impl Pruner for ThresholdPruner {
    fn prune(&self, _ctx: &PruneContext) -> bool {
        false
    }
    fn name(&self) -> &str {
        "threshold"
    }
}
