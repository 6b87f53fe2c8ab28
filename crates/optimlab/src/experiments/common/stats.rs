//! Key numbers and statistics over seeds, as the reports show them.

use serde::{Deserialize, Serialize};

/// A key number for a summary table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub name: String,
    pub value: f64,
}

impl Row {
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Row {
            name: name.into(),
            value,
        }
    }
}

/// Mean, minimum and maximum of one number over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let (mut sum, mut n) = (0.0, 0usize);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            sum += v;
            n += 1;
            min = min.min(v);
            max = max.max(v);
        }
        Spread {
            mean: sum / n.max(1) as f64,
            min,
            max,
        }
    }
}

/// Point-wise mean, minimum and maximum of curves of equal length (one per seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub mean: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
}

impl Band {
    /// The band of `curves`, or `None` for a single curve (nothing to aggregate).
    pub fn of(curves: &[Vec<f64>]) -> Option<Band> {
        if curves.len() < 2 {
            return None;
        }
        let len = curves.iter().map(Vec::len).min().unwrap_or(0);
        let at = |i: usize| Spread::of(curves.iter().map(|c| c[i]));
        let points: Vec<Spread> = (0..len).map(at).collect();
        Some(Band {
            mean: points.iter().map(|s| s.mean).collect(),
            min: points.iter().map(|s| s.min).collect(),
            max: points.iter().map(|s| s.max).collect(),
        })
    }
}
