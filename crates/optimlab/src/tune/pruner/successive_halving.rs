//! (in progress)

use super::{PruneContext, Pruner};
use crate::tune::error::Result;

pub struct SuccessiveHalvingPruner;

impl SuccessiveHalvingPruner {
    pub fn parse(_o: Option<&str>, _max: u64) -> Result<Self> {
        Ok(Self)
    }
}

impl Pruner for SuccessiveHalvingPruner {
    fn prune(&self, _ctx: &PruneContext) -> bool {
        false
    }
    fn name(&self) -> &str {
        "successive_halving"
    }
}
