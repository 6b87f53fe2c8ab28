use crate::nn::NnError;
use crate::optim::OptimError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error("the loss diverged (became {loss}) at iteration {iter}; lower the learning rate")]
    Diverged { loss: f64, iter: usize },
    #[error("invalid {0}: must be at least 1")]
    Zero(&'static str),
    #[error("invalid {0}")]
    Invalid(String),
    #[error("the training set is empty")]
    Empty,
    #[error(
        "early stopping watches the validation set, but there is none (set a validation fraction)"
    )]
    NoValidation,
}
