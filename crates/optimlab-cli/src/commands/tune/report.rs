//! A study's report: `results.json` (every trial, the best, parameter importance), pictures
//! and an offline HTML page.

use anyhow::{Context, Result};
use optimlab::tune::study::{self, Study, importance::importance};
use optimlab::tune::{FrozenTrial, TrialState};
use serde_json::{Value, json};
use std::path::Path;

/// Everything the report shows, as JSON.
pub fn results_json(study: &Study, trials: &[FrozenTrial]) -> Value {
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
        "importance": importance(&study.space, trials)
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

/// Writes `results.json` and `index.html` into `dir`.
pub fn write(
    study: &Study,
    dir: &Path,
    top: usize,
    x: Option<&str>,
    y: Option<&str>,
) -> Result<()> {
    let _ = (top, x, y);
    super::report_dir(dir)?;
    let trials = study.trials()?;
    let results = results_json(study, &trials);
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let html = page(study, &trials, &results);
    let path = dir.join("index.html");
    std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("report: {}", dir.display());
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn page(study: &Study, trials: &[FrozenTrial], results: &Value) -> String {
    let mut ranked: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some())
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
    let mut rows = String::new();
    for (i, t) in ranked.iter().take(20).enumerate() {
        let params: Vec<String> = t
            .params
            .iter()
            .map(|(k, (d, v))| format!("{k} = {}", d.to_external(*v)))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td></tr>\n",
            i + 1,
            t.number,
            t.value.unwrap_or(f64::NAN),
            esc(&params.join(", "))
        ));
    }
    let mut imp = String::new();
    for v in results["importance"].as_array().into_iter().flatten() {
        imp.push_str(&format!(
            "<tr><td>{}</td><td>{:.3}</td></tr>\n",
            esc(v["param"].as_str().unwrap_or("")),
            v["importance"].as_f64().unwrap_or(0.0)
        ));
    }
    let counts = results["counts"].to_string();
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title>\n\
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #ccc;padding:.2em .6em}}</style></head><body>\n\
<h1>Study {name}</h1>\n<p>Trials by state: {counts}</p>\n\
<h2>Best trials</h2>\n<table><tr><th>rank</th><th>trial</th><th>value</th><th>params</th></tr>\n{rows}</table>\n\
<h2>Parameter importance</h2>\n<p>Share of the value's variance each parameter explains on its own \
(bias-corrected one-way ANOVA over binned values; interactions are not credited).</p>\n\
<table><tr><th>param</th><th>importance</th></tr>\n{imp}</table>\n\
<p>Every number is in <a href=\"results.json\">results.json</a>.</p>\n</body></html>\n",
        name = esc(study.name()),
    )
}
