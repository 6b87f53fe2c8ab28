//! How a study's results become a report: number formatting, the settings table, the
//! loss and accuracy charts in the book's style, and [`Report`], which writes
//! `results.json` and `index.html`.

use super::Done;
use crate::report::{self, FigureFiles, Page, Table};
use anyhow::{Context, Result};
use std::path::Path;

/// A number for a table: 4 significant digits.
pub fn fmt_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e6).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// Settings as (name, value) rows for the page: every key of the serialised config.
pub fn settings_rows<C: serde::Serialize>(config: &C) -> Vec<(String, String)> {
    let Ok(toml::Value::Table(t)) = toml::Value::try_from(config) else {
        return Vec::new();
    };
    t.into_iter()
        .map(|(k, v)| {
            let text = match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

/// What an experiment shows once it has run: its page text, figures and key numbers, and the
/// one-line summary of the index page (whose thumbnail is the first figure).
pub struct Report<'a> {
    pub name: &'static str,
    pub title: &'a str,
    pub intro: &'a [&'a str],
    pub figures: Vec<FigureFiles>,
    pub key_numbers: Table,
    pub summary: String,
}

impl Report<'_> {
    /// Writes `results.json` (settings and every number plotted) and `index.html` into `dir`,
    /// and returns what the terminal and the index page show.
    pub fn write<C: serde::Serialize, O: serde::Serialize>(
        self,
        dir: &Path,
        config: &C,
        output: &O,
    ) -> Result<Done> {
        let results = serde_json::json!({
            "experiment": self.name,
            "settings": config,
            "output": output,
        });
        let path = dir.join("results.json");
        std::fs::write(&path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let thumbnail = self.figures.first().map(|f| f.png.clone());
        Page {
            title: self.title.to_string(),
            intro: self.intro.iter().map(|s| s.to_string()).collect(),
            figures: self.figures,
            key_numbers: self.key_numbers.clone(),
            settings: settings_rows(config),
            files: vec![(
                "results.json: the settings and every number plotted".into(),
                "results.json".into(),
            )],
        }
        .write(dir)?;
        Ok(Done {
            title: self.title.into(),
            summary: self.summary,
            key_numbers: self.key_numbers,
            thumbnail,
        })
    }
}

/// Saves the loss chart (`loss.png`/`.svg`) in the book's style: each curve smoothed with the
/// book's Kaiser window, the raw losses faint underneath; over several seeds, the mean with a
/// min–max band. `curves` pairs each setting's colour key with its curves.
pub fn save_loss_chart(
    dir: &Path,
    title: &str,
    curves: &[(&str, &optimlab::experiments::LossCurves)],
    y_range: (f64, f64),
) -> Result<FigureFiles> {
    let mut chart = crate::report::LineChart::new(title, "iteration", "training loss");
    for (i, (key, c)) in curves.iter().enumerate() {
        let color = crate::report::series_color(key, i);
        chart = chart.series(loss_series(&c.label, color, c));
    }
    chart.y_range = Some(y_range);
    report::save(&chart, dir, "loss")
}

/// The series of one setting's loss curves: smoothed mean (with band over seeds) over raw.
pub fn loss_series(
    label: &str,
    color: plotters::style::RGBColor,
    c: &optimlab::experiments::LossCurves,
) -> crate::report::Series {
    use crate::report::Series;
    let (smoothed, raw) = match (&c.smoothed_band, &c.loss_band) {
        (Some(sb), Some(lb)) => (sb.mean.clone(), lb.mean.clone()),
        _ => (
            c.smoothed.first().cloned().unwrap_or_default(),
            c.loss.first().cloned().unwrap_or_default(),
        ),
    };
    let mut s = Series::indexed(label, color, smoothed).with_raw(raw);
    if let Some(b) = &c.smoothed_band {
        s = s.with_band(b.min.clone(), b.max.clone());
    }
    s
}

/// "mean" or "mean (min–max)" over seeds.
pub fn fmt_spread(s: &optimlab::experiments::Spread, seeds: usize) -> String {
    if seeds > 1 {
        format!(
            "{} ({}–{})",
            fmt_value(s.mean),
            fmt_value(s.min),
            fmt_value(s.max)
        )
    } else {
        fmt_value(s.mean)
    }
}

/// Train (solid) and test (dashed) accuracy of one setting, each the mean over seeds with a
/// min–max band when there are several; x is the epoch of each evaluation.
pub fn accuracy_series(
    c: &optimlab::experiments::AccuracyCurves,
    epochs: &[f64],
    train_name: &str,
    test_name: &str,
    colors: (plotters::style::RGBColor, plotters::style::RGBColor),
) -> Vec<crate::report::Series> {
    use crate::report::Series;
    let one =
        |curves: &Vec<Vec<f64>>, band: &Option<optimlab::experiments::Band>, name: &str, color| {
            let y = match band {
                Some(b) => b.mean.clone(),
                None => curves.first().cloned().unwrap_or_default(),
            };
            let mut s = Series::new(name, color, epochs[..y.len().min(epochs.len())].to_vec(), y);
            if let Some(b) = band {
                s = s.with_band(b.min.clone(), b.max.clone());
            }
            s
        };
    let mut out = vec![one(&c.train, &c.train_band, train_name, colors.0)];
    if !c.test.is_empty() {
        out.push(one(&c.test, &c.test_band, test_name, colors.1).dashed());
    }
    out
}

/// Epoch numbers of evaluations made after iterations `eval_iters` of batches of `batch_size`
/// drawn from `train_size` samples, as the book counts them: the first evaluation is epoch 0.
pub fn eval_epochs(eval_iters: &[usize], train_size: usize, batch_size: usize) -> Vec<f64> {
    let per_epoch = (train_size / batch_size.max(1)).max(1);
    eval_iters
        .iter()
        .map(|&i| i as f64 / per_epoch as f64)
        .collect()
}

/// The values of a list setting as the summaries show them: "a, b, c".
pub fn fmt_list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| crate::report::fmt_num(*v))
        .collect::<Vec<_>>()
        .join(", ")
}
