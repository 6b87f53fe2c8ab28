//! Layers with hand-written forward and backward passes, the loss, initialisation, the
//! multi-layer network builder and numerical gradient checks.

mod param;

pub use param::{ParamKind, ParamMut, Parameters};
