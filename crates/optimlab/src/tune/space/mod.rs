//! The search space: named parameters with distributions, some active only when earlier
//! parameters take given values (conditional parameters, e.g. momentum only for momentum SGD).
//!
//! A space is written as a TOML file:
//!
//! ```toml
//! grid_points = 5     # optional: default number of grid points of float parameters
//! [params]
//! lr = { type = "float", low = 1e-6, high = 1e-2, log = true }
//! optimizer = { type = "categorical", choices = ["sgd", "momentum", "adam"] }
//! momentum = { type = "float", low = 0.5, high = 0.99, when = { optimizer = ["momentum"] } }
//! batch_size = { type = "int", low = 16, high = 256, log = true, grid = [16, 64, 256] }
//! dropout = { type = "float", low = 0.0, high = 0.5, step = 0.05 }
//! [train]             # fixed settings, handed to the caller as they are
//! data = "fashion-mnist"
//! ```
//!
//! Parameters keep the file's order, and a `when` may name only parameters declared earlier, so
//! sampling in file order always knows a parameter's parents before the parameter.
//!
//! A `step` that does not divide `high − low` is refused (Optuna silently lowers `high`
//! instead): a space file says exactly which values are searched.

use super::distribution::{Distribution, ParamValue};
use super::error::{Result, TuneError};
use super::trial::Params;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

mod parse;

/// Float parameters without `grid` or `grid_points` get this many grid points.
pub const DEFAULT_GRID_POINTS: usize = 5;

/// One searched parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub dist: Distribution,
    /// Active only when each named (earlier) parameter takes one of the listed values.
    pub when: Vec<(String, Vec<ParamValue>)>,
}

impl ParamSpec {
    /// An unconditional parameter.
    pub fn new(name: impl Into<String>, dist: Distribution) -> Self {
        Self {
            name: name.into(),
            dist,
            when: Vec::new(),
        }
    }

    /// The same parameter, active only when `parent` takes one of `values`.
    pub fn when(mut self, parent: impl Into<String>, values: Vec<ParamValue>) -> Self {
        self.when.push((parent.into(), values));
        self
    }
}

/// The grid sampler's points per parameter (internal values), from the space file's `grid`
/// and `grid_points` keys. Parameters without an entry use [`Grids::values`]'s default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grids(pub BTreeMap<String, Vec<f64>>);

impl Grids {
    /// The internal values the grid sampler enumerates for `spec`: its explicit grid, else
    /// every choice of a categorical, every value of an int range, and
    /// [`DEFAULT_GRID_POINTS`] evenly spaced values of a float range (geometrically when log,
    /// snapped to the step).
    pub fn values(&self, spec: &ParamSpec) -> Vec<f64> {
        if let Some(g) = self.0.get(&spec.name) {
            return g.clone();
        }
        match &spec.dist {
            Distribution::Categorical { choices } => (0..choices.len()).map(|i| i as f64).collect(),
            Distribution::Int {
                low, high, step, ..
            } => {
                let s = (*step).max(1) as usize;
                (*low..=*high).step_by(s).map(|v| v as f64).collect()
            }
            Distribution::Float { .. } => spaced_grid(&spec.dist, DEFAULT_GRID_POINTS),
        }
    }
}

/// Everything a space file says: the space, the grid sampler's points and the fixed
/// `[train]` settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpaceFile {
    pub space: Space,
    pub grids: Grids,
    /// The `[train]` table (empty when absent), handed to the caller as written.
    pub train: toml::Table,
}

impl SpaceFile {
    /// Reads a space file's text; `origin` names the file in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<SpaceFile> {
        parse::parse(text, origin)
    }

    /// Reads a space file from disk; errors name the file.
    pub fn from_path(path: &Path) -> Result<SpaceFile> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| TuneError::Space(format!("{origin}: cannot read: {e}")))?;
        Self::from_toml_str(&text, &origin)
    }
}

/// `n` evenly spaced internal values over a numeric distribution (geometric when log), snapped
/// to its step or to integers, duplicates removed.
pub fn spaced_grid(dist: &Distribution, n: usize) -> Vec<f64> {
    let (low, high, log) = match dist {
        Distribution::Float { low, high, log, .. } => (*low, *high, *log),
        Distribution::Int { low, high, log, .. } => (*low as f64, *high as f64, *log),
        Distribution::Categorical { choices } => {
            return (0..choices.len()).map(|i| i as f64).collect();
        }
    };
    let mut out: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n {
        let t = if n == 1 {
            0.5
        } else {
            i as f64 / (n - 1) as f64
        };
        let x = if log {
            (low.ln() + t * (high.ln() - low.ln())).exp()
        } else {
            low + t * (high - low)
        };
        let x = snap(dist, x);
        if out.last() != Some(&x) {
            out.push(x);
        }
    }
    out
}

/// The nearest value of a numeric distribution to `x` (bounds, step, integers).
pub fn snap(dist: &Distribution, x: f64) -> f64 {
    match dist {
        Distribution::Float {
            low, high, step, ..
        } => match step {
            Some(s) => {
                let k_max = ((high - low) / s).round();
                let k = ((x - low) / s).round().clamp(0.0, k_max);
                (low + k * s).clamp(*low, *high)
            }
            None => x.clamp(*low, *high),
        },
        Distribution::Int {
            low, high, step, ..
        } => {
            let s = (*step).max(1) as f64;
            let k_max = ((high - low) as f64 / s).floor();
            let k = ((x - *low as f64) / s).round().clamp(0.0, k_max);
            *low as f64 + k * s
        }
        Distribution::Categorical { choices } => {
            x.round().clamp(0.0, choices.len().saturating_sub(1) as f64)
        }
    }
}

/// Parameters in the order they are sampled (a condition refers only to earlier ones).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Space {
    pub params: Vec<ParamSpec>,
}

impl Space {
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether `spec` is active given the internal values assigned so far.
    pub fn is_active(&self, spec: &ParamSpec, assigned: &Params) -> bool {
        spec.when.iter().all(|(parent, allowed)| {
            let Some(parent_spec) = self.get(parent) else {
                return false;
            };
            match assigned.get(parent) {
                Some(v) => allowed.contains(&parent_spec.dist.to_external(*v)),
                None => false,
            }
        })
    }

    /// Reads a space file. Returns the space and the `[train]` table (fixed settings, empty
    /// when absent). `origin` names the file in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<(Space, toml::Table)> {
        let f = SpaceFile::from_toml_str(text, origin)?;
        Ok((f.space, f.train))
    }

    /// The space as JSON (kept in the study's `optimlab:space` attribute): parameters in order,
    /// object keys sorted, so equal spaces give equal JSON.
    pub fn to_json(&self) -> Value {
        let params: Vec<Value> = self
            .params
            .iter()
            .map(|p| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), json!(p.name));
                o.insert("distribution".into(), p.dist.to_json());
                if !p.when.is_empty() {
                    let when: Vec<Value> = p
                        .when
                        .iter()
                        .map(|(parent, vals)| {
                            json!({"param": parent,
                                "in": vals.iter().map(ParamValue::to_json).collect::<Vec<_>>()})
                        })
                        .collect();
                    o.insert("when".into(), Value::Array(when));
                }
                Value::Object(o)
            })
            .collect();
        json!({ "params": params })
    }

    /// Reads [`Space::to_json`]'s form back.
    pub fn from_json(v: &Value) -> Result<Space> {
        let bad = |what: &str| TuneError::Corrupt(format!("stored search space: {what}"));
        let list = v
            .get("params")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no 'params' list"))?;
        let mut params = Vec::with_capacity(list.len());
        for p in list {
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a parameter without a name"))?;
            let dist = p
                .get("distribution")
                .and_then(Distribution::from_json)
                .ok_or_else(|| bad(&format!("parameter '{name}' has no valid distribution")))?;
            let mut spec = ParamSpec::new(name, dist);
            if let Some(when) = p.get("when") {
                for w in when
                    .as_array()
                    .ok_or_else(|| bad(&format!("'{name}'.when is not a list")))?
                {
                    let parent = w
                        .get("param")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(&format!("'{name}'.when without a parent")))?;
                    let vals = w
                        .get("in")
                        .and_then(Value::as_array)
                        .and_then(|a| a.iter().map(ParamValue::from_json).collect())
                        .ok_or_else(|| bad(&format!("'{name}'.when has no values")))?;
                    spec.when.push((parent.to_string(), vals));
                }
            }
            params.push(spec);
        }
        Ok(Space { params })
    }
}
