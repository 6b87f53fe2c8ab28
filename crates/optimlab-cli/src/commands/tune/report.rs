//! A study's report: `results.json` (every trial, the best, parameter importance), pictures
//! and an offline HTML page.

use crate::report::{
    BarChart, Grid, LineChart, PALETTE, Page, ScatterChart, Series, Staging, Table, save,
};
use anyhow::{Context, Result};
use optimlab::tune::study::importance::{Evaluator, normalise};
use optimlab::tune::study::{self, Study};
use optimlab::tune::{Distribution, FrozenTrial, TrialState};
use serde_json::{Value, json};
use std::path::Path;

/// Everything the report shows, as JSON; `importance` holds the evaluator's unnormalised
/// scores.
pub fn results_json(
    study: &Study,
    trials: &[FrozenTrial],
    evaluator: &Evaluator,
    importance: &[(String, f64)],
) -> Value {
    let best = study::best_of(trials, study.direction());
    let params_json = |t: &FrozenTrial| -> Value {
        t.params
            .iter()
            .map(|(k, (d, v))| (k.clone(), d.to_external(*v).to_json()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let num = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map_or(Value::Null, |v| json!(v))
    };
    json!({
        "study": study.name(),
        "direction": match study.direction() {
            optimlab::tune::Direction::Maximize => "maximize",
            optimlab::tune::Direction::Minimize => "minimize",
        },
        "settings": study.settings,
        "space": study.space.to_json(),
        "counts": study::count_states(trials),
        "best": best.map(|b| json!({"number": b.number, "value": num(b.value), "params": params_json(b)})),
        "importance_evaluator": evaluator.name(),
        "importance": normalise(importance.to_vec())
            .into_iter()
            .map(|(name, v)| json!({"param": name, "importance": v}))
            .collect::<Vec<_>>(),
        "epochs_trained": trials.iter().map(|t| t.intermediate.len()).sum::<usize>(),
        "trials": trials.iter().map(|t| json!({
            "number": t.number,
            "state": t.state.name(),
            "value": num(t.value),
            "params": params_json(t),
            "intermediate": t.intermediate.iter().map(|(s, v)| json!([s, num(Some(*v))])).collect::<Vec<_>>(),
            "curves": t.user_attrs.get("curves").cloned().unwrap_or(Value::Null),
            "fail_reason": t.user_attrs.get("fail_reason").cloned().unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
    })
}

/// Writes the report into `dir` (all or nothing): `results.json`, the figures (validation
/// curves of the `top` best trials, a scatter of parameters `x` and `y` coloured by value, the
/// optimisation history, parameter importance by `evaluator`) as PNG and SVG, and `index.html`.
pub fn write(
    study: &Study,
    dir: &Path,
    top: usize,
    x: Option<&str>,
    y: Option<&str>,
    evaluator: &Evaluator,
) -> Result<()> {
    let trials = study.trials()?;
    let raw_importance = evaluator.evaluate(&trials, study.direction());
    let assessed = raw_importance.iter().any(|(_, v)| *v > 0.0);
    let results = results_json(study, &trials, evaluator, &raw_importance);
    for (flag, name) in [("--x", x), ("--y", y)] {
        if let Some(n) = name
            && study.space.get(n).is_none()
        {
            anyhow::bail!("{flag} {n}: not a parameter of study '{}'", study.name());
        }
    }
    let staging = Staging::new(dir).with_context(|| format!("report folder {}", dir.display()))?;
    let out = staging.path();
    let path = out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let ranked = ranked(study, &trials);
    let metric = study
        .settings
        .extra
        .get("metric")
        .and_then(Value::as_str)
        .unwrap_or("value")
        .to_string();
    let mut figures = Vec::new();
    if !ranked.is_empty() {
        if let Some(f) = curves_figure(&ranked, top, &metric) {
            figures.push(save(&f, out, "curves")?);
        }
        if let Some(f) = scatter_figure(study, &ranked, x, y, &metric) {
            figures.push(save(&f, out, "scatter")?);
        }
        figures.push(save(
            &history_figure(study, &trials, &metric),
            out,
            "history",
        )?);
        if assessed {
            let chart = BarChart::new(
                format!("Parameter importance ({})", evaluator.label()),
                "importance",
                normalise(raw_importance),
                PALETTE[0],
            );
            figures.push(save(&chart, out, "importance")?);
        }
    }
    let mut key_numbers = Table::new(&["rank", "trial", &metric, "parameters"]);
    for (i, t) in ranked.iter().take(20).enumerate() {
        let params: Vec<String> = t
            .params
            .iter()
            .map(|(k, (d, v))| format!("{k} = {}", d.to_external(*v)))
            .collect();
        key_numbers.row(vec![
            (i + 1).to_string(),
            t.number.to_string(),
            format!("{:.4}", t.value.unwrap_or(f64::NAN)),
            params.join(", "),
        ]);
    }
    let counts = study::count_states(&trials);
    let page = Page {
        title: format!("Study {}", study.name()),
        intro: vec![
            format!(
                "{} trials: {}. Trials are scored on the validation split ({}); the test set is not used.",
                trials.len(),
                counts
                    .iter()
                    .map(|(k, v)| format!("{v} {}", k.to_lowercase()))
                    .collect::<Vec<_>>()
                    .join(", "),
                metric
            ),
            if assessed {
                format!("Parameter importance by {}", evaluator.description())
            } else {
                format!(
                    "Parameter importance ({}): too few complete trials, or values that do not \
                     vary, to assess it.",
                    evaluator.label()
                )
            },
        ],
        figures,
        key_numbers,
        settings: study
            .settings
            .to_map()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        files: vec![("results.json".into(), "results.json".into())],
    };
    page.write(out)?;
    staging
        .commit()
        .with_context(|| format!("report folder {}", dir.display()))?;
    eprintln!("report: {}", dir.join("index.html").display());
    Ok(())
}

/// Complete trials, best first (ties: the lower number first).
fn ranked<'a>(study: &Study, trials: &'a [FrozenTrial]) -> Vec<&'a FrozenTrial> {
    let mut ranked: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some_and(f64::is_finite))
        .collect();
    let dir = study.direction();
    ranked.sort_by(|a, b| {
        let (va, vb) = (a.value.unwrap_or(f64::NAN), b.value.unwrap_or(f64::NAN));
        if dir.better(va, vb) {
            std::cmp::Ordering::Less
        } else if dir.better(vb, va) {
            std::cmp::Ordering::Greater
        } else {
            a.number.cmp(&b.number)
        }
    });
    ranked
}

fn curve(t: &FrozenTrial, key: &str) -> Vec<f64> {
    t.user_attrs
        .get("curves")
        .and_then(|c| c.get(key))
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// The book's figure: validation (solid) and training (dashed) curves of the best trials.
fn curves_figure(ranked: &[&FrozenTrial], top: usize, metric: &str) -> Option<Grid<LineChart>> {
    let (val_key, train_key, label) = if metric == "val_loss" {
        ("val_loss", "train_loss", "loss")
    } else {
        ("val_acc", "train_acc", "accuracy")
    };
    let panels: Vec<LineChart> = ranked
        .iter()
        .take(top.max(1))
        .enumerate()
        .filter_map(|(i, t)| {
            let val = curve(t, val_key);
            if val.iter().all(|v| !v.is_finite()) {
                return None;
            }
            let train = curve(t, train_key);
            let epochs = |n: usize| (1..=n).map(|e| e as f64).collect::<Vec<_>>();
            let mut chart = LineChart::new(
                format!(
                    "Best-{} (trial {}, {:.3})",
                    i + 1,
                    t.number,
                    t.value.unwrap_or(f64::NAN)
                ),
                "epoch",
                label,
            )
            .series(Series::new(
                "validation",
                PALETTE[0],
                epochs(val.len()),
                val,
            ));
            if train.iter().any(|v| v.is_finite()) {
                chart = chart.series(
                    Series::new("training", PALETTE[1], epochs(train.len()), train).dashed(),
                );
            }
            if label == "accuracy" {
                chart.y_range = Some((0.0, 1.0));
            }
            Some(chart)
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    let cols = panels.len().min(5);
    Some(Grid::new(
        format!("Validation (solid) and training (dashed) {label} of the best trials"),
        panels,
        cols,
    ))
}

/// Two parameters of the complete trials, coloured by value (log axes for log parameters).
fn scatter_figure(
    study: &Study,
    ranked: &[&FrozenTrial],
    x: Option<&str>,
    y: Option<&str>,
    metric: &str,
) -> Option<ScatterChart> {
    let numeric: Vec<&str> = study
        .space
        .params
        .iter()
        .filter(|p| matches!(p.dist, Distribution::Float { .. }))
        .chain(
            study
                .space
                .params
                .iter()
                .filter(|p| matches!(p.dist, Distribution::Int { .. })),
        )
        .map(|p| p.name.as_str())
        .collect();
    let x = x.or_else(|| numeric.first().copied())?;
    let y = y.or_else(|| numeric.iter().copied().find(|n| *n != x))?;
    let is_log = |name: &str| {
        matches!(
            study.space.get(name).map(|p| &p.dist),
            Some(Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. })
        )
    };
    let value_of = |t: &FrozenTrial, name: &str| t.params.get(name).map(|(_, v)| *v);
    let mut chart = ScatterChart::new(
        format!("{x} against {y}, coloured by {metric}"),
        x,
        y,
        metric,
    );
    chart.log_x = is_log(x);
    chart.log_y = is_log(y);
    chart.points = ranked
        .iter()
        .filter_map(|t| Some([value_of(t, x)?, value_of(t, y)?, t.value?]))
        .collect();
    (!chart.points.is_empty()).then_some(chart)
}

/// The value of each complete trial and the best so far, by trial number.
fn history_figure(study: &Study, trials: &[FrozenTrial], metric: &str) -> LineChart {
    let done: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some_and(f64::is_finite))
        .collect();
    let xs: Vec<f64> = done.iter().map(|t| t.number as f64).collect();
    let values: Vec<f64> = done.iter().map(|t| t.value.unwrap_or(f64::NAN)).collect();
    let mut best = Vec::with_capacity(values.len());
    for v in &values {
        let b = match best.last() {
            Some(&b) if !study.direction().better(*v, b) => b,
            _ => *v,
        };
        best.push(b);
    }
    LineChart::new("Optimisation history", "trial", metric)
        .series(Series::new("trial value", PALETTE[7], xs.clone(), values))
        .series(Series::new("best so far", PALETTE[3], xs, best))
}
