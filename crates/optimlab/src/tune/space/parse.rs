//! The space file's TOML parser: every error names the file and the line of the key at fault
//! (spans from `toml::de`), and conditions are checked against earlier parameters only.

use super::{Grids, ParamSpec, Space, SpaceFile, spaced_grid};
use crate::tune::distribution::{Distribution, ParamValue};
use crate::tune::error::{Result, TuneError};
use std::collections::BTreeMap;
use std::ops::Range;

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Where each key of the file sits: `params.NAME` and `params.NAME.KEY`, plus top-level
/// keys, by byte span of the key.
struct Spans {
    keys: BTreeMap<String, Range<usize>>,
}

impl Spans {
    fn collect(text: &str) -> Spans {
        let mut keys = BTreeMap::new();
        if let Ok(doc) = toml::de::DeTable::parse(text) {
            walk(doc.get_ref(), "", &mut keys, 0);
        }
        Spans { keys }
    }

    fn line(&self, text: &str, path: &str) -> Option<usize> {
        self.keys.get(path).map(|r| line_of(text, r.start))
    }
}

fn walk(
    table: &toml::de::DeTable,
    prefix: &str,
    out: &mut BTreeMap<String, Range<usize>>,
    depth: usize,
) {
    for (k, v) in table.iter() {
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        out.insert(path.clone(), k.span());
        if depth < 3
            && let toml::de::DeValue::Table(t) = v.get_ref()
        {
            walk(t, &path, out, depth + 1);
        }
    }
}

/// Formats errors as `FILE line N, KEY: message`.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
    spans: Spans,
}

impl Ctx<'_> {
    fn err(&self, key: &str, msg: impl std::fmt::Display) -> TuneError {
        match self.spans.line(self.text, key) {
            Some(l) => TuneError::Space(format!("{} line {l}, {key}: {msg}", self.origin)),
            None => TuneError::Space(format!("{}, {key}: {msg}", self.origin)),
        }
    }

    /// An error about key `sub` of parameter `name`, at that key's line when known.
    fn err_at(&self, name: &str, sub: &str, msg: impl std::fmt::Display) -> TuneError {
        let full = format!("params.{name}.{sub}");
        match self.spans.line(self.text, &full) {
            Some(l) => TuneError::Space(format!("{} line {l}, params.{name}: {msg}", self.origin)),
            None => self.err(&format!("params.{name}"), msg),
        }
    }
}

pub(super) fn parse(text: &str, origin: &str) -> Result<SpaceFile> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(s) => TuneError::Space(format!("{origin} line {}: {msg}", line_of(text, s.start))),
            None => TuneError::Space(format!("{origin}: {msg}")),
        }
    })?;
    let cx = Ctx {
        text,
        origin,
        spans: Spans::collect(text),
    };
    for k in doc.keys() {
        if !matches!(k.as_str(), "params" | "train" | "grid_points") {
            return Err(cx.err(k, "unknown key (expected [params], [train] or grid_points)"));
        }
    }
    let default_points = match doc.get("grid_points") {
        None => None,
        Some(v) => Some(points(&cx, v, "grid_points")?),
    };
    let train = match doc.get("train") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return Err(cx.err("train", "must be a table ([train])")),
    };
    let params = match doc.get("params") {
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err(cx.err("params", "must be a table ([params])")),
        None => {
            return Err(TuneError::Space(format!(
                "{origin}: no [params] table: nothing to search"
            )));
        }
    };
    if params.is_empty() {
        return Err(cx.err("params", "no parameters: nothing to search"));
    }
    // File order: by where each parameter's key starts.
    let mut names: Vec<&String> = params.keys().collect();
    names.sort_by_key(|n| {
        cx.spans
            .keys
            .get(&format!("params.{n}"))
            .map_or(usize::MAX, |r| r.start)
    });
    let mut space = Space::default();
    let mut grids = Grids::default();
    for name in names {
        let (spec, grid) = param(&cx, &space, name, &params[name.as_str()], default_points)?;
        if let Some(g) = grid {
            grids.0.insert(name.clone(), g);
        }
        space.params.push(spec);
    }
    Ok(SpaceFile {
        space,
        grids,
        train,
    })
}

fn points(cx: &Ctx, v: &toml::Value, key: &str) -> Result<usize> {
    match v.as_integer() {
        Some(n) if (1..=10_000).contains(&n) => Ok(n as usize),
        _ => Err(cx.err(key, format!("must be an integer from 1 to 10000, not {v}"))),
    }
}

fn param(
    cx: &Ctx,
    space: &Space,
    name: &str,
    v: &toml::Value,
    default_points: Option<usize>,
) -> Result<(ParamSpec, Option<Vec<f64>>)> {
    let key = format!("params.{name}");
    let t = v.as_table().ok_or_else(|| {
        cx.err(
            &key,
            "must be a table, e.g. { type = \"float\", low = 0.0, high = 1.0 }",
        )
    })?;
    let ty = match t.get("type") {
        Some(toml::Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(cx.err_at(name, "type", format!("type must be a string, not {other}")));
        }
        None => {
            return Err(cx.err(&key, "missing type (\"float\", \"int\" or \"categorical\")"));
        }
    };
    let allowed: &[&str] = match ty {
        "float" | "int" => &[
            "type",
            "low",
            "high",
            "step",
            "log",
            "when",
            "grid",
            "grid_points",
        ],
        "categorical" => &["type", "choices", "when"],
        other => {
            return Err(cx.err_at(
                name,
                "type",
                format!("unknown type '{other}' (expected float, int or categorical)"),
            ));
        }
    };
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(cx.err_at(
                name,
                k,
                format!(
                    "unknown key '{k}' for a {ty} parameter (expected {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let dist = match ty {
        "float" => float_dist(cx, name, t)?,
        "int" => int_dist(cx, name, t)?,
        _ => categorical_dist(cx, name, t)?,
    };
    let mut spec = ParamSpec::new(name, dist);
    if let Some(w) = t.get("when") {
        spec.when = when(cx, space, name, w)?;
    }
    let grid = if let Some(g) = t.get("grid") {
        let list = g
            .as_array()
            .ok_or_else(|| cx.err_at(name, "grid", "grid must be a list of values"))?;
        if list.is_empty() {
            return Err(cx.err_at(name, "grid", "grid is empty"));
        }
        let mut vals = Vec::with_capacity(list.len());
        for x in list {
            let f = match (x, &spec.dist) {
                (toml::Value::Integer(i), _) => *i as f64,
                (toml::Value::Float(f), Distribution::Float { .. }) => *f,
                _ => {
                    return Err(cx.err_at(name, "grid", format!("grid value {x} is not a {ty}")));
                }
            };
            if !spec.dist.contains(f) {
                return Err(cx.err_at(
                    name,
                    "grid",
                    format!("grid value {x} is outside the range or off the step"),
                ));
            }
            if vals.contains(&f) {
                return Err(cx.err_at(name, "grid", format!("grid value {x} is repeated")));
            }
            vals.push(f);
        }
        if t.contains_key("grid_points") {
            return Err(cx.err_at(name, "grid_points", "give grid or grid_points, not both"));
        }
        Some(vals)
    } else if let Some(p) = t.get("grid_points") {
        let n = points(cx, p, &format!("params.{name}.grid_points"))?;
        Some(spaced_grid(&spec.dist, n))
    } else if let (Some(n), Distribution::Float { .. }) = (default_points, &spec.dist) {
        Some(spaced_grid(&spec.dist, n))
    } else {
        None
    };
    Ok((spec, grid))
}

fn number(cx: &Ctx, name: &str, t: &toml::Table, k: &str) -> Result<Option<f64>> {
    match t.get(k) {
        None => Ok(None),
        Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
        Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
        Some(v) => Err(cx.err_at(name, k, format!("{k} must be a finite number, not {v}"))),
    }
}

fn integer(cx: &Ctx, name: &str, t: &toml::Table, k: &str) -> Result<Option<i64>> {
    match t.get(k) {
        None => Ok(None),
        Some(toml::Value::Integer(i)) => Ok(Some(*i)),
        Some(v) => Err(cx.err_at(name, k, format!("{k} must be an integer, not {v}"))),
    }
}

fn flag(cx: &Ctx, name: &str, t: &toml::Table, k: &str) -> Result<bool> {
    match t.get(k) {
        None => Ok(false),
        Some(toml::Value::Boolean(b)) => Ok(*b),
        Some(v) => Err(cx.err_at(name, k, format!("{k} must be true or false, not {v}"))),
    }
}

fn bounds<T: PartialOrd + std::fmt::Display + Copy>(
    cx: &Ctx,
    name: &str,
    low: Option<T>,
    high: Option<T>,
) -> Result<(T, T)> {
    let key = format!("params.{name}");
    let (Some(low), Some(high)) = (low, high) else {
        let missing = if low.is_none() { "low" } else { "high" };
        return Err(cx.err(&key, format!("missing {missing}")));
    };
    if low >= high {
        return Err(cx.err_at(
            name,
            "low",
            format!("low ({low}) must be below high ({high})"),
        ));
    }
    Ok((low, high))
}

fn float_dist(cx: &Ctx, name: &str, t: &toml::Table) -> Result<Distribution> {
    let (low, high) = bounds(
        cx,
        name,
        number(cx, name, t, "low")?,
        number(cx, name, t, "high")?,
    )?;
    let log = flag(cx, name, t, "log")?;
    let step = number(cx, name, t, "step")?;
    if log && low <= 0.0 {
        return Err(cx.err_at(name, "low", format!("log scale needs low > 0, not {low}")));
    }
    if let Some(s) = step {
        if log {
            return Err(cx.err_at(name, "step", "step cannot be used with log = true"));
        }
        if s <= 0.0 {
            return Err(cx.err_at(name, "step", format!("step must be positive, not {s}")));
        }
        let k = (high - low) / s;
        if (k - k.round()).abs() > 1e-8 * k.max(1.0) || k.round() < 1.0 {
            // Rounded to 12 digits so the suggestion reads as typed (0.9, not 0.8999…).
            let below = low + k.floor() * s;
            let below = format!("{:.12}", below)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string();
            return Err(cx.err_at(
                name,
                "step",
                format!("step {s} does not divide the range {low}..{high} (use high = {below})"),
            ));
        }
    }
    Ok(Distribution::Float {
        low,
        high,
        step,
        log,
    })
}

fn int_dist(cx: &Ctx, name: &str, t: &toml::Table) -> Result<Distribution> {
    let (low, high) = bounds(
        cx,
        name,
        integer(cx, name, t, "low")?,
        integer(cx, name, t, "high")?,
    )?;
    let log = flag(cx, name, t, "log")?;
    let step = integer(cx, name, t, "step")?;
    if log && low <= 0 {
        return Err(cx.err_at(name, "low", format!("log scale needs low > 0, not {low}")));
    }
    if log && step.is_some_and(|s| s != 1) {
        return Err(cx.err_at(name, "step", "step cannot be used with log = true"));
    }
    let step = step.unwrap_or(1);
    if step <= 0 {
        return Err(cx.err_at(name, "step", format!("step must be positive, not {step}")));
    }
    if (high - low) % step != 0 {
        let below = low + (high - low) / step * step;
        return Err(cx.err_at(
            name,
            "step",
            format!("step {step} does not divide the range {low}..{high} (use high = {below})"),
        ));
    }
    Ok(Distribution::Int {
        low,
        high,
        step,
        log,
    })
}

fn value(v: &toml::Value) -> Option<ParamValue> {
    Some(match v {
        toml::Value::String(s) => ParamValue::Str(s.clone()),
        toml::Value::Integer(i) => ParamValue::Int(*i),
        toml::Value::Float(f) => ParamValue::Float(*f),
        toml::Value::Boolean(b) => ParamValue::Bool(*b),
        _ => return None,
    })
}

fn categorical_dist(cx: &Ctx, name: &str, t: &toml::Table) -> Result<Distribution> {
    let list = match t.get("choices") {
        Some(toml::Value::Array(a)) => a,
        Some(_) => return Err(cx.err_at(name, "choices", "choices must be a list")),
        None => return Err(cx.err(&format!("params.{name}"), "missing choices")),
    };
    if list.is_empty() {
        return Err(cx.err_at(name, "choices", "choices is empty"));
    }
    let mut choices = Vec::with_capacity(list.len());
    for c in list {
        let v = value(c).ok_or_else(|| {
            cx.err_at(
                name,
                "choices",
                format!("choice {c} is not a string, integer, float or boolean"),
            )
        })?;
        if choices.contains(&v) {
            return Err(cx.err_at(name, "choices", format!("choice {c} is repeated")));
        }
        choices.push(v);
    }
    Ok(Distribution::Categorical { choices })
}

fn when(
    cx: &Ctx,
    space: &Space,
    name: &str,
    w: &toml::Value,
) -> Result<Vec<(String, Vec<ParamValue>)>> {
    let t = w.as_table().ok_or_else(|| {
        cx.err_at(
            name,
            "when",
            "when must be a table, e.g. when = { optimizer = [\"momentum\"] }",
        )
    })?;
    let mut out = Vec::new();
    for (parent, vals) in t {
        let Some(pspec) = space.get(parent) else {
            let msg = if cx.spans.keys.contains_key(&format!("params.{parent}")) {
                format!("when names '{parent}', declared later: a parent must come first")
            } else {
                format!("when names unknown parameter '{parent}'")
            };
            return Err(cx.err_at(name, "when", msg));
        };
        if matches!(pspec.dist, Distribution::Float { .. }) {
            return Err(cx.err_at(
                name,
                "when",
                format!("when names '{parent}', a float: a parent must be categorical or int"),
            ));
        }
        let list: Vec<&toml::Value> = match vals {
            toml::Value::Array(a) => a.iter().collect(),
            single => vec![single],
        };
        if list.is_empty() {
            return Err(cx.err_at(name, "when", format!("when.{parent} lists no values")));
        }
        let mut allowed = Vec::new();
        for x in list {
            let v = value(x).and_then(|v| match &pspec.dist {
                // The parent's own value, so equality with `to_external` holds (1 == 1.0).
                Distribution::Categorical { choices } => choices
                    .iter()
                    .find(|c| {
                        **c == v || matches!((c.as_f64(), v.as_f64()), (Some(a), Some(b)) if a == b)
                    })
                    .cloned(),
                Distribution::Int { .. } => match v {
                    ParamValue::Int(i) if pspec.dist.contains(i as f64) => Some(v),
                    _ => None,
                },
                Distribution::Float { .. } => None,
            });
            match v {
                Some(v) => allowed.push(v),
                None => {
                    return Err(cx.err_at(
                        name,
                        "when",
                        format!("when.{parent}: {x} is not a value of '{parent}'"),
                    ));
                }
            }
        }
        out.push((parent.clone(), allowed));
    }
    Ok(out)
}
