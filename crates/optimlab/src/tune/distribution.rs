//! Parameter distributions and values, in Optuna's representation.
//!
//! Every parameter value has an *internal* form, an `f64`: the value itself for float and int
//! parameters, the index into `choices` for categorical ones. Samplers work on internal values;
//! storages keep the internal value with the distribution (serialised as Optuna does, e.g.
//! `{"name": "FloatDistribution", "attributes": {"low": 1e-6, "high": 0.01, "step": null, "log": true}}`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A categorical choice: what Optuna allows (null, bool, int, float, string).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Null,
}

impl ParamValue {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a parameter value serialises")
    }

    pub fn from_json(v: &Value) -> Option<Self> {
        Some(match v {
            Value::Null => ParamValue::Null,
            Value::Bool(b) => ParamValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64()?),
            },
            Value::String(s) => ParamValue::Str(s.clone()),
            _ => return None,
        })
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "{s}"),
            ParamValue::Null => write!(f, "null"),
        }
    }
}

/// Where a parameter's values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// A float in [low, high]; `log` samples uniformly in log space; `step` discretises
    /// (low + k·step). Optuna forbids `log` with `step`.
    Float {
        low: f64,
        high: f64,
        step: Option<f64>,
        log: bool,
    },
    /// An integer in [low, high] (both included), on low + k·step, or log-uniform (step 1).
    Int {
        low: i64,
        high: i64,
        step: i64,
        log: bool,
    },
    /// One of `choices`; the internal value is the index.
    Categorical { choices: Vec<ParamValue> },
}

impl Distribution {
    /// Optuna's JSON form (`distribution_to_json`).
    pub fn to_json(&self) -> Value {
        match self {
            Distribution::Float {
                low,
                high,
                step,
                log,
            } => json!({"name": "FloatDistribution",
                "attributes": {"low": low, "high": high, "step": step, "log": log}}),
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => json!({"name": "IntDistribution",
                "attributes": {"low": low, "high": high, "step": step, "log": log}}),
            Distribution::Categorical { choices } => json!({"name": "CategoricalDistribution",
                "attributes": {"choices": choices.iter().map(ParamValue::to_json).collect::<Vec<_>>()}}),
        }
    }

    /// Reads Optuna's JSON form, including the pre-3.0 names (`UniformDistribution`,
    /// `LogUniformDistribution`, `DiscreteUniformDistribution`, `IntUniformDistribution`,
    /// `IntLogUniformDistribution`).
    pub fn from_json(v: &Value) -> Option<Self> {
        let name = v.get("name")?.as_str()?;
        let a = v.get("attributes")?;
        let f = |k: &str| a.get(k).and_then(Value::as_f64);
        let i = |k: &str| a.get(k).and_then(Value::as_i64);
        let b = |k: &str| a.get(k).and_then(Value::as_bool).unwrap_or(false);
        Some(match name {
            "FloatDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                step: f("step"),
                log: b("log"),
            },
            "UniformDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                step: None,
                log: false,
            },
            "LogUniformDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                step: None,
                log: true,
            },
            "DiscreteUniformDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                step: Some(f("q")?),
                log: false,
            },
            "IntDistribution" => Distribution::Int {
                low: i("low")?,
                high: i("high")?,
                step: i("step").unwrap_or(1),
                log: b("log"),
            },
            "IntUniformDistribution" => Distribution::Int {
                low: i("low")?,
                high: i("high")?,
                step: i("step").unwrap_or(1),
                log: false,
            },
            "IntLogUniformDistribution" => Distribution::Int {
                low: i("low")?,
                high: i("high")?,
                step: 1,
                log: true,
            },
            "CategoricalDistribution" => Distribution::Categorical {
                choices: a
                    .get("choices")?
                    .as_array()?
                    .iter()
                    .map(ParamValue::from_json)
                    .collect::<Option<_>>()?,
            },
            _ => return None,
        })
    }

    /// The external value of an internal one.
    pub fn to_external(&self, internal: f64) -> ParamValue {
        match self {
            Distribution::Float { .. } => ParamValue::Float(internal),
            Distribution::Int { .. } => ParamValue::Int(internal.round() as i64),
            Distribution::Categorical { choices } => choices
                .get(internal as usize)
                .cloned()
                .unwrap_or(ParamValue::Null),
        }
    }

    /// The internal value of an external one (`None` if it is not in the distribution).
    pub fn to_internal(&self, value: &ParamValue) -> Option<f64> {
        match self {
            Distribution::Float { .. } | Distribution::Int { .. } => {
                let x = value.as_f64()?;
                self.contains(x).then_some(x)
            }
            Distribution::Categorical { choices } => {
                choices.iter().position(|c| c == value).map(|i| i as f64)
            }
        }
    }

    /// Whether an internal value lies in the distribution (bounds and steps).
    pub fn contains(&self, internal: f64) -> bool {
        match self {
            Distribution::Float {
                low, high, step, ..
            } => {
                if !(internal >= *low && internal <= *high) {
                    return false;
                }
                match step {
                    Some(s) => {
                        let k = (internal - low) / s;
                        (k - k.round()).abs() < 1e-8
                    }
                    None => true,
                }
            }
            Distribution::Int {
                low, high, step, ..
            } => {
                internal.fract() == 0.0
                    && internal >= *low as f64
                    && internal <= *high as f64
                    && (internal as i64 - low) % step == 0
            }
            Distribution::Categorical { choices } => {
                internal.fract() == 0.0 && internal >= 0.0 && (internal as usize) < choices.len()
            }
        }
    }

    /// True when the distribution has a single possible value.
    pub fn is_single(&self) -> bool {
        match self {
            Distribution::Float { low, high, .. } => low == high,
            Distribution::Int { low, high, .. } => low == high,
            Distribution::Categorical { choices } => choices.len() == 1,
        }
    }
}
