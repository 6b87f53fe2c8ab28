//! optimlab: dense neural networks with hand-written forward and backward passes, and the
//! techniques that make training work — update rules, initialisation, batch normalisation,
//! regularisation — each checked against a reference (the book's code or PyTorch).
//!
//! Data flows one way: data → [`nn::Network`] → loss → backward → [`optim::Optimizer`].

pub mod bench;
pub mod clock;
pub mod data;
pub mod experiments;
pub mod nn;
pub mod optim;
mod parallel;
pub mod param;
pub mod preset;
pub mod rng;
pub mod tensor;
pub mod train;
pub mod tune;

pub use preset::Preset;
