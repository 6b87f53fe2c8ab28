//! The log's format: Optuna's op codes, one JSON object a line (with Python's non-finite
//! literals), and the replay of each operation into the model under Optuna's rules.

use crate::tune::distribution::Distribution;
use crate::tune::storage::model::{Model, blank_trial};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Optuna's `JournalOperation` codes.
pub(super) mod op {
    pub const CREATE_STUDY: i64 = 0;
    pub const DELETE_STUDY: i64 = 1;
    pub const SET_STUDY_USER_ATTR: i64 = 2;
    pub const SET_STUDY_SYSTEM_ATTR: i64 = 3;
    pub const CREATE_TRIAL: i64 = 4;
    pub const SET_TRIAL_PARAM: i64 = 5;
    pub const SET_TRIAL_STATE_VALUES: i64 = 6;
    pub const SET_TRIAL_INTERMEDIATE_VALUE: i64 = 7;
    pub const SET_TRIAL_USER_ATTR: i64 = 8;
    pub const SET_TRIAL_SYSTEM_ATTR: i64 = 9;
    /// Written by other journal implementations; Optuna 5 skips it on replay, and so do we.
    pub const DISCARD_TRIALS: i64 = 10;
}

/// Stand-ins for the non-finite literals while a line goes through `serde_json`, which has no
/// NaN. They cannot collide with a number and a NUL never appears in our own strings.
const NAN: &str = "\u{0}NaN";
const POS_INF: &str = "\u{0}Infinity";
const NEG_INF: &str = "\u{0}-Infinity";

pub(super) struct Replay {
    pub(super) model: Model,
    /// Bytes of the file consumed (whole lines only).
    pub(super) offset: u64,
    /// Lines consumed.
    pub(super) lines: u64,
    /// When this process last fsynced the file, and whether it appended since.
    pub(super) synced: Option<std::time::Instant>,
    pub(super) dirty: bool,
}

pub(super) fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

/// A number as the journal writes it: non-finite values become Python's literals.
pub(super) fn jnum(x: f64) -> Value {
    if x.is_nan() {
        Value::String(NAN.into())
    } else if x == f64::INFINITY {
        Value::String(POS_INF.into())
    } else if x == f64::NEG_INFINITY {
        Value::String(NEG_INF.into())
    } else {
        json!(x)
    }
}

/// A number as read: plain JSON numbers and Python's non-finite literals.
pub(super) fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == NAN => Some(f64::NAN),
        Value::String(s) if s == POS_INF => Some(f64::INFINITY),
        Value::String(s) if s == NEG_INF => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Attribute values keep non-finite numbers as the strings "NaN", "Infinity", "-Infinity"
/// (a JSON value cannot hold them).
pub(super) fn plain(v: Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('\u{0}') => Value::String(s[1..].to_string()),
        Value::Array(a) => Value::Array(a.into_iter().map(plain).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, plain(v))).collect()),
        other => other,
    }
}

/// One operation as a line, compact as Python's `json.dumps(separators=(",", ":"))`.
pub(super) fn to_line(v: &Value) -> String {
    let s = v.to_string();
    if !s.contains("\\u0000") {
        return s;
    }
    s.replace("\"\\u0000NaN\"", "NaN")
        .replace("\"\\u0000Infinity\"", "Infinity")
        .replace("\"\\u0000-Infinity\"", "-Infinity")
}

/// Parses a line: `Ok(None)` for a torn line (JSON that ends early, or an empty line),
/// `Err` for anything else unreadable.
pub(super) fn parse_line(line: &[u8]) -> std::result::Result<Option<Value>, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8 text".to_string())?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(None);
    }
    let text = python_literals(text);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.classify() == serde_json::error::Category::Eof => Ok(None),
        Err(e) => Err(format!("not a JSON operation ({e})")),
    }
}

/// Replaces `NaN`, `Infinity` and `-Infinity` outside strings with the stand-in strings.
pub(super) fn python_literals(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let mut replaced = false;
        for (lit, stand_in) in [("-Infinity", NEG_INF), ("Infinity", POS_INF), ("NaN", NAN)] {
            if rest.starts_with(lit) {
                out.push_str(&Value::String(stand_in.into()).to_string());
                rest = &rest[lit.len()..];
                replaced = true;
                break;
            }
        }
        if replaced {
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

pub(super) fn field<'a>(v: &'a Value, k: &str) -> std::result::Result<&'a Value, String> {
    v.get(k).ok_or_else(|| format!("missing field '{k}'"))
}

pub(super) fn id_field(v: &Value, k: &str) -> std::result::Result<u64, String> {
    field(v, k)?
        .as_u64()
        .ok_or_else(|| format!("field '{k}' is not an id"))
}

pub(super) fn one_attr(v: &Value, k: &str) -> std::result::Result<Vec<(String, Value)>, String> {
    match field(v, k)? {
        Value::Object(o) => Ok(o
            .iter()
            .map(|(k, v)| (k.clone(), plain(v.clone())))
            .collect()),
        _ => Err(format!("field '{k}' is not an object")),
    }
}

pub(super) fn dist_of(v: &Value) -> std::result::Result<Distribution, String> {
    // Optuna stores distributions as JSON strings; accept an inline object too.
    let parsed;
    let obj = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(&python_literals(s))
                .map_err(|e| format!("bad distribution JSON: {e}"))?;
            &parsed
        }
        other => other,
    };
    Distribution::from_json(obj).ok_or_else(|| format!("unknown distribution {obj}"))
}

pub(super) fn state_of(v: &Value) -> std::result::Result<TrialState, String> {
    v.as_i64()
        .and_then(TrialState::from_code)
        .ok_or_else(|| format!("unknown trial state {v}"))
}

/// The value of a trial from Optuna's `values` (a list) or `value`.
pub(super) fn value_of(op: &Value) -> std::result::Result<Option<Option<f64>>, String> {
    if let Some(vs) = op.get("values").filter(|v| !v.is_null()) {
        let first = vs
            .as_array()
            .and_then(|a| a.first())
            .ok_or_else(|| "field 'values' is not a list of numbers".to_string())?;
        return Ok(Some(Some(num(first).ok_or_else(|| {
            "field 'values' is not a list of numbers".to_string()
        })?)));
    }
    match op.get("value") {
        Some(Value::Null) | None => Ok(None),
        Some(v) => {
            Ok(Some(Some(num(v).ok_or_else(|| {
                "field 'value' is not a number".to_string()
            })?)))
        }
    }
}

pub(super) fn opt_str(op: &Value, k: &str) -> Option<String> {
    op.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Replays one operation as Optuna's `JournalStorageReplayResult` does.
pub(super) fn apply(m: &mut Model, op: &Value) -> std::result::Result<(), String> {
    let code = field(op, "op_code")?
        .as_i64()
        .ok_or("field 'op_code' is not an integer")?;
    // Optuna ignores writes to unknown and finished trials.
    let writable = |m: &Model, id: u64| {
        m.trials
            .get(id as usize)
            .is_some_and(|(_, t)| !t.state.is_finished())
    };
    match code {
        op::CREATE_STUDY => {
            let name = field(op, "study_name")?
                .as_str()
                .ok_or("field 'study_name' is not a string")?;
            let dir = field(op, "directions")?
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_i64)
                .ok_or("field 'directions' is not a list of directions")?;
            // Optuna's NOT_SET (0) behaves as minimise.
            let direction = Direction::from_code(dir).unwrap_or(Direction::Minimize);
            if m.find_study(name).is_none() {
                m.create_study(name, direction, &BTreeMap::new())
                    .map_err(|e| e.to_string())?;
            }
        }
        op::DELETE_STUDY => {
            m.studies.remove(&id_field(op, "study_id")?);
        }
        op::SET_STUDY_USER_ATTR | op::SET_STUDY_SYSTEM_ATTR => {
            let user = code == op::SET_STUDY_USER_ATTR;
            let kv = one_attr(op, if user { "user_attr" } else { "system_attr" })?;
            if let Some(s) = m.studies.get_mut(&id_field(op, "study_id")?) {
                let map = if user {
                    &mut s.info.user_attrs
                } else {
                    &mut s.info.system_attrs
                };
                map.extend(kv);
            }
        }
        op::CREATE_TRIAL => {
            let study = id_field(op, "study_id")?;
            if !m.studies.contains_key(&study) {
                return Ok(());
            }
            let state = match op.get("state") {
                Some(s) => state_of(s)?,
                None => TrialState::Running,
            };
            let mut t = blank_trial(state);
            t.value = value_of(op)?.flatten();
            t.datetime_start = opt_str(op, "datetime_start");
            t.datetime_complete = opt_str(op, "datetime_complete");
            let mut dists = BTreeMap::new();
            if let Some(Value::Object(d)) = op.get("distributions") {
                for (k, v) in d {
                    dists.insert(k.clone(), dist_of(v)?);
                }
            }
            if let Some(Value::Object(p)) = op.get("params") {
                for (k, v) in p {
                    let d = dists
                        .get(k)
                        .ok_or_else(|| format!("parameter '{k}' has no distribution"))?;
                    let x = num(v).ok_or_else(|| format!("parameter '{k}' is not a number"))?;
                    t.params.insert(k.clone(), (d.clone(), x));
                }
            }
            for (k, target) in [
                ("user_attrs", &mut t.user_attrs),
                ("system_attrs", &mut t.system_attrs),
            ] {
                if let Some(Value::Object(a)) = op.get(k) {
                    target.extend(a.iter().map(|(k, v)| (k.clone(), plain(v.clone()))));
                }
            }
            if let Some(Value::Object(iv)) = op.get("intermediate_values") {
                for (k, v) in iv {
                    let step = k
                        .parse::<u64>()
                        .map_err(|_| format!("intermediate step '{k}' is not a number"))?;
                    let x = num(v)
                        .ok_or_else(|| format!("intermediate value at step {k} is not a number"))?;
                    t.intermediate.insert(step, x);
                }
            }
            m.add_trial(study, t).map_err(|e| e.to_string())?;
        }
        op::SET_TRIAL_PARAM => {
            let id = id_field(op, "trial_id")?;
            let name = field(op, "param_name")?
                .as_str()
                .ok_or("field 'param_name' is not a string")?;
            let x = num(field(op, "param_value_internal")?)
                .ok_or("field 'param_value_internal' is not a number")?;
            let d = dist_of(field(op, "distribution")?)?;
            if writable(m, id) {
                m.trial_mut(id)
                    .map_err(|e| e.to_string())?
                    .params
                    .insert(name.into(), (d, x));
            }
        }
        op::SET_TRIAL_STATE_VALUES => {
            let id = id_field(op, "trial_id")?;
            let state = state_of(field(op, "state")?)?;
            let value = value_of(op)?;
            if !writable(m, id) {
                return Ok(());
            }
            let t = m.trial_mut(id).map_err(|e| e.to_string())?;
            if state == TrialState::Running && t.state == TrialState::Running {
                return Ok(()); // another worker claimed it first
            }
            if state == TrialState::Running {
                t.datetime_start = opt_str(op, "datetime_start");
            }
            if state.is_finished() {
                t.datetime_complete = opt_str(op, "datetime_complete");
            }
            t.state = state;
            if let Some(v) = value {
                t.value = v;
            }
        }
        op::SET_TRIAL_INTERMEDIATE_VALUE => {
            let id = id_field(op, "trial_id")?;
            let step = field(op, "step")?
                .as_u64()
                .ok_or("field 'step' is not a step number")?;
            let x = num(field(op, "intermediate_value")?)
                .ok_or("field 'intermediate_value' is not a number")?;
            if writable(m, id) {
                m.trial_mut(id)
                    .map_err(|e| e.to_string())?
                    .intermediate
                    .insert(step, x);
            }
        }
        op::SET_TRIAL_USER_ATTR | op::SET_TRIAL_SYSTEM_ATTR => {
            let id = id_field(op, "trial_id")?;
            let user = code == op::SET_TRIAL_USER_ATTR;
            let kv = one_attr(op, if user { "user_attr" } else { "system_attr" })?;
            if writable(m, id) {
                let t = m.trial_mut(id).map_err(|e| e.to_string())?;
                let map = if user {
                    &mut t.user_attrs
                } else {
                    &mut t.system_attrs
                };
                map.extend(kv);
            }
        }
        op::DISCARD_TRIALS => {}
        other => return Err(format!("unknown op_code {other}")),
    }
    Ok(())
}

/// CREATE_TRIAL with a full template, as Optuna writes it for `create_new_trial(template)`:
/// the same keys, `datetime_complete` only when set.
pub(super) fn create_trial_op(worker_id: &str, study: u64, t: &FrozenTrial) -> Value {
    let mut op = json!({
        "op_code": op::CREATE_TRIAL,
        "worker_id": worker_id,
        "study_id": study,
        "datetime_start": t.datetime_start,
        "state": t.state.code(),
        // Optuna writes a single objective's value as `value` with `values` null; both set
        // makes its replay refuse the file ("Specify only one of value and values").
        "value": t.value.map(jnum),
        "values": null,
        "distributions": t.params.iter()
            .map(|(k, (d, _))| (k.clone(), Value::String(d.to_json().to_string())))
            .collect::<Map<_, _>>(),
        "params": t.params.iter().map(|(k, (_, x))| (k.clone(), jnum(*x))).collect::<Map<_, _>>(),
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate.iter()
            .map(|(s, x)| (s.to_string(), jnum(*x)))
            .collect::<Map<_, _>>(),
    });
    if let Some(dc) = &t.datetime_complete {
        op["datetime_complete"] = json!(dc);
    }
    op
}
