//! The errors of the tuning module family.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TuneError {
    /// A search-space file or value is malformed; the message names the line and key.
    #[error("{0}")]
    Space(String),
    /// An unknown or badly configured sampler or pruner.
    #[error("{0}")]
    Config(String),
    /// The storage cannot be reached, read or written.
    #[error("storage: {0}")]
    Storage(String),
    /// The study exists with another search space or direction.
    #[error("{0}")]
    StudyMismatch(String),
    /// No study of that name.
    #[error("no study named '{0}' in this storage")]
    NoStudy(String),
    /// A study of that name exists where a new one was to be made (a copy never merges).
    #[error("a study named '{0}' exists there already; nothing was copied")]
    StudyExists(String),
    /// A worker reported on a trial it no longer holds (its lease expired and the trial was
    /// failed and re-queued): the report is rejected so no trial completes twice.
    #[error("lease lost on trial {number}: the trial was taken over after its lease expired")]
    LeaseLost { number: u64 },
    /// The worker was told to stop (SIGINT/SIGTERM) while the trial ran: the trial ends as
    /// failed and its parameters are re-queued.
    #[error("trial {number} was interrupted")]
    Interrupted { number: u64 },
    /// A stored record cannot be understood (unknown op code, corrupt line, bad JSON).
    #[error("{0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, TuneError>;
