//! The data a run names, with its limits and validation hold-out.

use super::settings::TrainSettings;
use anyhow::Result;
use optimlab::data::{DataConfig, Splits};

pub fn data_config(s: &TrainSettings) -> DataConfig {
    DataConfig {
        data: s.data.clone().unwrap_or_else(|| "digits".into()),
        label_column: s.label_column.clone(),
        val_fraction: s.val_fraction.unwrap_or(0.0),
        train_limit: s.train_limit,
        test_limit: s.test_limit,
        cache: None,
    }
}

pub fn load(s: &TrainSettings) -> Result<Splits> {
    Ok(data_config(s).prepare()?)
}
