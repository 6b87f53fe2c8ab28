//! Setting checks shared by the experiments: each error names the setting.

use super::ExperimentError;
use crate::data::Dataset;

/// The seeds `seed, seed + 1, …` of `count` repeats.
pub(crate) fn seed_list(seed: u64, count: usize) -> Vec<u64> {
    (0..count as u64).map(|i| seed.wrapping_add(i)).collect()
}

pub(crate) fn check_at_least_one(
    setting: &'static str,
    value: usize,
) -> Result<(), ExperimentError> {
    if value == 0 {
        return Err(ExperimentError::invalid(setting, 0, "at least 1"));
    }
    Ok(())
}

pub(crate) fn check_positive(setting: &'static str, value: f64) -> Result<(), ExperimentError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(ExperimentError::invalid(
            setting,
            value,
            "a finite number > 0",
        ));
    }
    Ok(())
}

pub(crate) fn check_hidden(setting: &'static str, hidden: &[usize]) -> Result<(), ExperimentError> {
    if hidden.is_empty() || hidden.contains(&0) {
        return Err(ExperimentError::invalid(
            setting,
            format!("{hidden:?}"),
            "at least one hidden layer, each of at least 1 unit",
        ));
    }
    // Hidden layers far too large to allocate are refused before anything is trained.
    crate::nn::NetworkConfig::new(crate::Preset::Book, 0, hidden.to_vec(), 0).check_memory(1, 8)?;
    Ok(())
}

pub(crate) fn check_not_empty(setting: &'static str, len: usize) -> Result<(), ExperimentError> {
    if len == 0 {
        return Err(ExperimentError::invalid(setting, "[]", "a non-empty list"));
    }
    Ok(())
}

/// The data set an experiment trains on must have samples.
pub(crate) fn check_data(setting: &'static str, data: &Dataset) -> Result<(), ExperimentError> {
    if data.is_empty() {
        return Err(ExperimentError::invalid(
            setting,
            &data.name,
            "a data set with at least one sample",
        ));
    }
    Ok(())
}
