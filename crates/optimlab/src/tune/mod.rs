//! Hyperparameter search: a search space, samplers that propose trials, pruners that stop bad
//! ones early, and storages that keep a study so that it can be resumed and shared by many
//! workers, on one machine or many.
//!
//! The vocabulary and the stored formats follow Optuna's (study, trial, distribution,
//! intermediate value, internal parameter representation), so that studies move between the
//! two. A study is the storage's; samplers and pruners are pure functions of the stored trials
//! (plus a seed), so any worker can make the next decision and any decision can be recomputed.

pub mod distribution;
pub mod error;
pub mod objective;
pub mod pruner;
pub mod sampler;
pub mod settings;
pub mod space;
pub mod storage;
pub mod study;
pub mod trial;

pub use distribution::{Distribution, ParamValue};
pub use error::TuneError;
pub use pruner::Pruner;
pub use sampler::Sampler;
pub use settings::StudySettings;
pub use space::{ParamSpec, Space};
pub use storage::Storage;
pub use trial::{Direction, FrozenTrial, TrialState};
