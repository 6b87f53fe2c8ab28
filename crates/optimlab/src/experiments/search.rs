//! The book's hyperparameter search (§6.5): a random search of the learning rate and the
//! weight decay of a 784-100×6-10 network trained with SGD on the first 500 training images,
//! scored on a 20 % validation split (never the test set).
//!
//! This module holds the book's space, fixed settings and the ranking of the result; the study
//! itself is an ordinary [`crate::tune`] study, so any sampler, pruner or storage applies.
//!
//! ```
//! use optimlab::experiments::search::{self, SearchConfig};
//!
//! let config = SearchConfig { data: "digits".into(), epochs: 2, ..SearchConfig::default() };
//! let spec = config.objective_spec();
//! assert_eq!(spec.check(&search::book_space()).unwrap(), 2);
//! ```

use crate::tune::objective::{Final, Metric, ObjectiveSpec};
use crate::tune::{Distribution, FrozenTrial, ParamSpec, Space, TrialState};
use serde::{Deserialize, Serialize};

/// The settings of the book's search (the defaults are the book's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// `fashion-mnist`, `digits`, `mnist` (the book's) or an MNIST-format folder.
    pub data: String,
    /// Training images used (the first N); 20 % of them validate.
    pub train_limit: usize,
    /// Epochs per trial.
    pub epochs: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            data: default_data(),
            train_limit: 500,
            epochs: 50,
        }
    }
}

/// Fashion-MNIST when Debian's package installed it, else the embedded digits.
pub fn default_data() -> String {
    if std::path::Path::new(crate::data::source::SYSTEM_FASHION_MNIST).is_dir() {
        "fashion-mnist".into()
    } else {
        "digits".into()
    }
}

/// The book's space: lr = 10^U(−6, −2), weight decay = 10^U(−8, −4).
pub fn book_space() -> Space {
    let log = |low: f64, high: f64| Distribution::Float {
        low,
        high,
        step: None,
        log: true,
    };
    Space {
        params: vec![
            ParamSpec::new("lr", log(1e-6, 1e-2)),
            ParamSpec::new("weight_decay", log(1e-8, 1e-4)),
        ],
    }
}

impl SearchConfig {
    /// The book's fixed training settings (a run config's `[train]` table).
    pub fn book_train(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("data".into(), self.data.clone().into());
        t.insert("train_limit".into(), (self.train_limit as i64).into());
        t.insert("val_fraction".into(), 0.2.into());
        t.insert(
            "hidden".into(),
            toml::Value::Array(vec![toml::Value::Integer(100); 6]),
        );
        t.insert("activation".into(), "relu".into());
        t.insert("init".into(), "he".into());
        t.insert("preset".into(), "book".into());
        t.insert("optimizer".into(), "sgd".into());
        t.insert("batch_size".into(), 100.into());
        t.insert("epochs".into(), (self.epochs as i64).into());
        t
    }

    /// The objective: the last epoch's validation accuracy, as the book reports it.
    pub fn objective_spec(&self) -> ObjectiveSpec {
        ObjectiveSpec {
            train: self.book_train(),
            metric: Metric::ValAcc,
            final_value: Final::Last,
        }
    }
}

/// One line of the book's result table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ranked {
    pub number: u64,
    pub val_acc: f64,
    pub lr: f64,
    pub weight_decay: f64,
}

/// The complete trials, best validation accuracy first (ties: lower trial number first).
pub fn ranked(trials: &[FrozenTrial]) -> Vec<Ranked> {
    let mut done: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    done.sort_by(|a, b| {
        b.value
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.value.unwrap_or(f64::NEG_INFINITY))
            .then(a.number.cmp(&b.number))
    });
    done.into_iter()
        .map(|t| {
            let p = |k: &str| t.param(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
            Ranked {
                number: t.number,
                val_acc: t.value.unwrap_or(f64::NAN),
                lr: p("lr"),
                weight_decay: p("weight_decay"),
            }
        })
        .collect()
}

/// The book's result line: `Best-1(val acc:0.79) | lr:0.0058…, weight decay:3.2e-07`.
pub fn book_line(rank: usize, r: &Ranked) -> String {
    format!(
        "Best-{rank}(val acc:{}) | lr:{}, weight decay:{}",
        py_repr(r.val_acc),
        py_repr(r.lr),
        py_repr(r.weight_decay)
    )
}

/// A float as Python's `repr` prints it (the book's output): the shortest text that reads back
/// exactly, in exponent form (`1e-07`) below 1e-4 or from 1e16 on.
pub fn py_repr(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}").to_lowercase();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').expect("exponent form");
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn floats_print_as_python_repr_does() {
        assert_eq!(py_repr(9.895374315506144e-7), "9.895374315506144e-07");
        assert_eq!(py_repr(0.007558446922567203), "0.007558446922567203");
        assert_eq!(py_repr(0.77), "0.77");
        assert_eq!(py_repr(1.0), "1.0");
        assert_eq!(py_repr(1e-4), "0.0001");
        assert_eq!(py_repr(2.5e-5), "2.5e-05");
    }
}
