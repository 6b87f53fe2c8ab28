//! (in progress)

use super::{PruneContext, Pruner};
use crate::tune::error::Result;

pub struct HyperbandPruner;

impl HyperbandPruner {
    pub fn parse(_o: Option<&str>, _max: u64) -> Result<Self> {
        Ok(Self)
    }
}

impl Pruner for HyperbandPruner {
    fn prune(&self, _ctx: &PruneContext) -> bool {
        false
    }
    fn name(&self) -> &str {
        "hyperband"
    }
}
