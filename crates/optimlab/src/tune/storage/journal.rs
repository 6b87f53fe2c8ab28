//! Optuna's JournalStorage file format (`journal:PATH`), read and written, so that Optuna and
//! optuna-dashboard open our studies and we open theirs.
//!
//! The file is a log: one JSON object per line, each an operation with an `op_code` and a
//! `worker_id`. Study and trial ids are assigned by replay order (the n-th study created is
//! id n, the n-th trial created in the file is id n), trial numbers by order within the study.
//! Replay follows Optuna's `JournalStorageReplayResult` rules: a duplicate study name is
//! ignored, writes to a finished or unknown trial are ignored, and a `RUNNING` state written to
//! a trial that is already Running is ignored, so when several workers claim one Waiting trial
//! the first claim in the file wins.
//!
//! Leases, retries and the search space live in system attributes: no op code is ours.
//!
//! Writes append whole lines under Optuna's default lock (`JournalFileSymlinkLock`: a symlink
//! `PATH.lock` → `PATH` created exclusively, released by rename + unlink, broken after 30 s
//! without progress), then fsync. Every decision (the trial to claim, the next number, the
//! budget, fencing) is taken while holding that lock after reading the file to its end, so
//! optimlab writers exclude each other and Optuna writers too. Reads are incremental from the
//! last offset.
//!
//! A crash mid-write can leave a torn last line (no newline, incomplete JSON): it is ignored,
//! and the next append starts on a fresh line. Such a torn line, once followed by others, is
//! still recognised (JSON that ends early) and skipped; any other unreadable line, or an
//! unknown op code, is an error naming the line. Nothing is ever rewritten.
//!
//! A study's direction is the first of Optuna's `directions` (optimlab studies have one
//! objective); Optuna's NOT_SET reads as minimise.
//!
//! Python's `json` writes `NaN`, `Infinity` and `-Infinity` literals; they are read, and
//! written the same way for non-finite values.

use super::model::{
    Claim, Model, blank_trial, check_fence, check_final, lease_value, requeue_copy, retries_of,
};
use super::{Storage, StudyInfo, attrs, iso_now, unix_now};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Optuna's `JournalOperation` codes.
mod op {
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

/// How long a lock whose journal does not change may be held before it is taken as stale
/// (Optuna's `grace_period` default).
const GRACE: Duration = Duration::from_secs(30);

struct Replay {
    model: Model,
    /// Bytes of the file consumed (whole lines only).
    offset: u64,
    /// Lines consumed.
    lines: u64,
}

pub struct JournalStorage {
    path: PathBuf,
    lock_path: PathBuf,
    /// This storage object's prefix of `worker_id` (Optuna uses a UUID and the thread).
    worker_prefix: String,
    replay: Mutex<Replay>,
}

impl JournalStorage {
    /// Opens the journal at `path` (created empty if missing, as Optuna does) and replays it.
    pub fn open(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(TuneError::Config(
                "journal storage URL has no path: expected journal:PATH".into(),
            ));
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TuneError::Storage(format!("cannot open journal '{path}': {e}")))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let s = JournalStorage {
            path: PathBuf::from(path),
            lock_path: PathBuf::from(format!("{path}.lock")),
            worker_prefix: format!("optimlab-{}-{nanos:x}", std::process::id()),
            replay: Mutex::new(Replay {
                model: Model::default(),
                offset: 0,
                lines: 0,
            }),
        };
        drop(s.caught_up()?);
        Ok(s)
    }

    fn io(&self, what: &str, e: std::io::Error) -> TuneError {
        TuneError::Storage(format!("journal '{}': {what}: {e}", self.path.display()))
    }

    fn worker_id(&self, worker: &str) -> String {
        format!("{}-{worker}", self.worker_prefix)
    }

    /// The replayed model, read up to the end of the file.
    fn caught_up(&self) -> Result<MutexGuard<'_, Replay>> {
        let mut r = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(&mut r)?;
        Ok(r)
    }

    /// Applies the complete lines appended since the last read.
    fn catch_up(&self, r: &mut Replay) -> Result<()> {
        let mut f = File::open(&self.path).map_err(|e| self.io("cannot read", e))?;
        f.seek(SeekFrom::Start(r.offset))
            .map_err(|e| self.io("cannot read", e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| self.io("cannot read", e))?;
        let mut start = 0;
        while let Some(len) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + len];
            let number = r.lines + 1;
            match parse_line(line) {
                Ok(Some(v)) => apply(&mut r.model, &v).map_err(|m| self.corrupt(number, &m))?,
                Ok(None) => {} // a torn line from a crashed writer
                Err(m) => return Err(self.corrupt(number, &m)),
            }
            r.lines = number;
            start += len + 1;
            r.offset += (len + 1) as u64;
        }
        Ok(())
    }

    fn corrupt(&self, line: u64, m: &str) -> TuneError {
        TuneError::Corrupt(format!(
            "journal '{}' line {line}: {m}",
            self.path.display()
        ))
    }

    /// Under the file lock and up to date: `decide` returns the operations to append (as one
    /// write) and a note; after they are replayed, `then` reads the answer from the model.
    fn locked<X, T>(
        &self,
        decide: impl FnOnce(&Model) -> Result<(Vec<Value>, X)>,
        then: impl FnOnce(&Model, X) -> Result<T>,
    ) -> Result<T> {
        let mut r = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        let _lock = FileLock::acquire(&self.path, &self.lock_path)?;
        self.catch_up(&mut r)?;
        let (ops, note) = decide(&r.model)?;
        if !ops.is_empty() {
            self.append(&ops)?;
            self.catch_up(&mut r)?;
        }
        then(&r.model, note)
    }

    /// Appends whole lines (starting a fresh line after a torn one) and fsyncs.
    fn append(&self, ops: &[Value]) -> Result<()> {
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io("cannot append", e))?;
        let len = f.metadata().map_err(|e| self.io("cannot append", e))?.len();
        let mut text = String::new();
        if len > 0 {
            let mut last = [0u8];
            f.seek(SeekFrom::Start(len - 1))
                .and_then(|_| f.read_exact(&mut last))
                .map_err(|e| self.io("cannot append", e))?;
            if last[0] != b'\n' {
                text.push('\n');
            }
        }
        for v in ops {
            text.push_str(&to_line(v));
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| self.io("cannot append", e))
    }

    fn study_attr(
        &self,
        study: u64,
        code: i64,
        field: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        let wid = self.worker_id("study");
        self.locked(
            |m| {
                m.study(study)?;
                Ok((
                    vec![json!({"op_code": code, "worker_id": wid, "study_id": study,
                        field: {key: value}})],
                    (),
                ))
            },
            |_, ()| Ok(()),
        )
    }

    /// One fenced trial write.
    fn trial_op(&self, trial_id: u64, worker: &str, fields: Value, code: i64) -> Result<()> {
        let wid = self.worker_id(worker);
        self.locked(
            |m| {
                check_fence(m.trial(trial_id)?, worker)?;
                let mut op = json!({"op_code": code, "worker_id": wid, "trial_id": trial_id});
                merge(&mut op, fields);
                Ok((vec![op], ()))
            },
            |_, ()| Ok(()),
        )
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

/// A number as the journal writes it: non-finite values become Python's literals.
fn jnum(x: f64) -> Value {
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
fn num(v: &Value) -> Option<f64> {
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
fn plain(v: Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('\u{0}') => Value::String(s[1..].to_string()),
        Value::Array(a) => Value::Array(a.into_iter().map(plain).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, plain(v))).collect()),
        other => other,
    }
}

/// One operation as a line, compact as Python's `json.dumps(separators=(",", ":"))`.
fn to_line(v: &Value) -> String {
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
fn parse_line(line: &[u8]) -> std::result::Result<Option<Value>, String> {
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
fn python_literals(text: &str) -> std::borrow::Cow<'_, str> {
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

fn field<'a>(v: &'a Value, k: &str) -> std::result::Result<&'a Value, String> {
    v.get(k).ok_or_else(|| format!("missing field '{k}'"))
}

fn id_field(v: &Value, k: &str) -> std::result::Result<u64, String> {
    field(v, k)?
        .as_u64()
        .ok_or_else(|| format!("field '{k}' is not an id"))
}

fn one_attr(v: &Value, k: &str) -> std::result::Result<Vec<(String, Value)>, String> {
    match field(v, k)? {
        Value::Object(o) => Ok(o
            .iter()
            .map(|(k, v)| (k.clone(), plain(v.clone())))
            .collect()),
        _ => Err(format!("field '{k}' is not an object")),
    }
}

fn dist_of(v: &Value) -> std::result::Result<Distribution, String> {
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

fn state_of(v: &Value) -> std::result::Result<TrialState, String> {
    v.as_i64()
        .and_then(TrialState::from_code)
        .ok_or_else(|| format!("unknown trial state {v}"))
}

/// The value of a trial from Optuna's `values` (a list) or `value`.
fn value_of(op: &Value) -> std::result::Result<Option<Option<f64>>, String> {
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

fn opt_str(op: &Value, k: &str) -> Option<String> {
    op.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Replays one operation as Optuna's `JournalStorageReplayResult` does.
fn apply(m: &mut Model, op: &Value) -> std::result::Result<(), String> {
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
                m.trials[id as usize].1.params.insert(name.into(), (d, x));
            }
        }
        op::SET_TRIAL_STATE_VALUES => {
            let id = id_field(op, "trial_id")?;
            let state = state_of(field(op, "state")?)?;
            let value = value_of(op)?;
            if !writable(m, id) {
                return Ok(());
            }
            let t = &mut m.trials[id as usize].1;
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
                m.trials[id as usize].1.intermediate.insert(step, x);
            }
        }
        op::SET_TRIAL_USER_ATTR | op::SET_TRIAL_SYSTEM_ATTR => {
            let id = id_field(op, "trial_id")?;
            let user = code == op::SET_TRIAL_USER_ATTR;
            let kv = one_attr(op, if user { "user_attr" } else { "system_attr" })?;
            if writable(m, id) {
                let t = &mut m.trials[id as usize].1;
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

/// CREATE_TRIAL with a full template, as Optuna writes it for `create_new_trial(template)`.
fn create_trial_op(worker_id: &str, study: u64, t: &FrozenTrial) -> Value {
    let mut op = json!({
        "op_code": op::CREATE_TRIAL,
        "worker_id": worker_id,
        "study_id": study,
        "datetime_start": t.datetime_start,
        "state": t.state.code(),
        "value": t.value.map(jnum),
        "values": t.value.map(|v| vec![jnum(v)]),
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

impl Storage for JournalStorage {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        let wid = self.worker_id("study");
        self.locked(
            |m| {
                if m.find_study(name).is_some() {
                    return Err(TuneError::StudyMismatch(format!(
                        "a study named '{name}' already exists"
                    )));
                }
                let id = m.next_study;
                let mut ops = vec![json!({"op_code": op::CREATE_STUDY, "worker_id": wid,
                    "study_name": name, "directions": [direction.code()]})];
                for (k, v) in system_attrs {
                    ops.push(
                        json!({"op_code": op::SET_STUDY_SYSTEM_ATTR, "worker_id": wid,
                        "study_id": id, "system_attr": {k: v}}),
                    );
                }
                Ok((ops, ()))
            },
            |m, ()| {
                m.find_study(name)
                    .map(|s| s.info.clone())
                    .ok_or_else(|| TuneError::Storage(format!("study '{name}' was not created")))
            },
        )
    }

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        Ok(self
            .caught_up()?
            .model
            .find_study(name)
            .map(|s| s.info.clone()))
    }

    fn studies(&self) -> Result<Vec<StudyInfo>> {
        Ok(self
            .caught_up()?
            .model
            .studies
            .values()
            .map(|s| s.info.clone())
            .collect())
    }

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.study_attr(study, op::SET_STUDY_USER_ATTR, "user_attr", key, value)
    }

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        self.study_attr(study, op::SET_STUDY_SYSTEM_ATTR, "system_attr", key, value)
    }

    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        let wid = self.worker_id(worker);
        // The file lock makes the first attempt win against lock-respecting writers; the
        // loop covers a writer that appended a claim without it.
        for _ in 0..16 {
            let got = self.locked(
                |m| {
                    let lease_attr = lease_value(worker, lease);
                    Ok(match m.next_claim(study, budget)? {
                        Claim::Nothing => (vec![], None),
                        Claim::Waiting(id) => (
                            vec![
                                json!({"op_code": op::SET_TRIAL_STATE_VALUES, "worker_id": wid,
                                    "trial_id": id, "state": TrialState::Running.code(),
                                    "values": null, "datetime_start": iso_now()}),
                                json!({"op_code": op::SET_TRIAL_SYSTEM_ATTR, "worker_id": wid,
                                    "trial_id": id, "system_attr": {attrs::LEASE: lease_attr}}),
                            ],
                            Some(id),
                        ),
                        Claim::New => {
                            let mut t = blank_trial(TrialState::Running);
                            t.datetime_start = Some(iso_now());
                            t.system_attrs.insert(attrs::LEASE.into(), lease_attr);
                            (
                                vec![create_trial_op(&wid, study, &t)],
                                Some(m.trials.len() as u64),
                            )
                        }
                    })
                },
                |m, id| {
                    Ok(match id {
                        None => Some(None),
                        Some(id) => {
                            let t = m.trial(id)?;
                            check_fence(t, worker).ok().map(|_| Some(t.clone()))
                        }
                    })
                },
            )?;
            if let Some(answer) = got {
                return Ok(answer);
            }
        }
        Err(TuneError::Storage(format!(
            "journal '{}': could not claim a trial (other writers keep taking them without the lock)",
            self.path.display()
        )))
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"system_attr": {attrs::LEASE: lease_value(worker, lease)}}),
            op::SET_TRIAL_SYSTEM_ATTR,
        )
    }

    fn set_param(
        &self,
        trial_id: u64,
        worker: &str,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"param_name": name, "param_value_internal": jnum(internal),
                "distribution": dist.to_json().to_string()}),
            op::SET_TRIAL_PARAM,
        )
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"step": step, "intermediate_value": jnum(value)}),
            op::SET_TRIAL_INTERMEDIATE_VALUE,
        )
    }

    fn set_trial_user_attr(
        &self,
        trial_id: u64,
        worker: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        self.trial_op(
            trial_id,
            worker,
            json!({"user_attr": {key: value}}),
            op::SET_TRIAL_USER_ATTR,
        )
    }

    fn finish(
        &self,
        trial_id: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
    ) -> Result<()> {
        check_final(state)?;
        self.trial_op(
            trial_id,
            worker,
            json!({"state": state.code(), "values": value.map(|v| vec![jnum(v)]),
                "datetime_complete": iso_now()}),
            op::SET_TRIAL_STATE_VALUES,
        )
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        let wid = self.worker_id("reaper");
        self.locked(
            |m| {
                let mut ops = Vec::new();
                let mut failed = Vec::new();
                let mut next_number = m.study(study)?.trials.len() as u64;
                for id in m.expired(study, unix_now())? {
                    let old = m.trial(id)?;
                    failed.push(old.number);
                    // The mark goes first: Optuna ignores writes to a finished trial.
                    let retry = retries_of(old) < u64::from(max_retries);
                    if retry {
                        ops.push(
                            json!({"op_code": op::SET_TRIAL_SYSTEM_ATTR, "worker_id": wid,
                            "trial_id": id, "system_attr": {attrs::REQUEUED_AS: next_number}}),
                        );
                    }
                    ops.push(
                        json!({"op_code": op::SET_TRIAL_STATE_VALUES, "worker_id": wid,
                        "trial_id": id, "state": TrialState::Fail.code(), "values": null,
                        "datetime_complete": iso_now()}),
                    );
                    if retry {
                        ops.push(create_trial_op(&wid, study, &requeue_copy(old)));
                        next_number += 1;
                    }
                }
                Ok((ops, failed))
            },
            |_, failed| Ok(failed),
        )
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.caught_up()?.model.study_trials(study)
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        let wid = self.worker_id("import");
        self.locked(
            |m| {
                let number = m.study(study)?.trials.len() as u64;
                Ok((vec![create_trial_op(&wid, study, trial)], number))
            },
            |_, number| Ok(number),
        )
    }
}

/// Creates the lock: Optuna's symlink where there are symlinks; elsewhere (wasm32, where no
/// Optuna process can share the file) a file created exclusively.
fn make_lock(target: &Path, lock_path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, lock_path)
    }
    #[cfg(not(unix))]
    {
        let _ = target;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock_path)
            .map(drop)
    }
}

/// Optuna's `JournalFileSymlinkLock`: holding the lock means having created the symlink
/// `PATH.lock` → `PATH`. Released by renaming it to a unique name and unlinking that, so a
/// release never removes a lock another process has since taken.
struct FileLock {
    lock_path: PathBuf,
}

impl FileLock {
    fn acquire(target: &Path, lock_path: &Path) -> Result<Self> {
        let mut sleep = Duration::from_millis(1);
        let mut last_change = Instant::now();
        let mut mtime = None;
        loop {
            match make_lock(target, lock_path) {
                Ok(()) => {
                    return Ok(FileLock {
                        lock_path: lock_path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Like Optuna: the lock is stale when the journal it points to has not
                    // changed for the grace period.
                    if let Ok(t) = std::fs::metadata(lock_path).and_then(|m| m.modified()) {
                        if mtime != Some(t) {
                            mtime = Some(t);
                            last_change = Instant::now();
                        } else if last_change.elapsed() > GRACE {
                            release(lock_path);
                            last_change = Instant::now();
                            sleep = Duration::from_millis(1);
                            continue;
                        }
                    }
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(TuneError::Storage(format!(
                        "cannot take the journal lock '{}': {e}",
                        lock_path.display()
                    )));
                }
            }
        }
    }
}

fn release(lock_path: &Path) {
    static RELEASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RELEASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let renamed = PathBuf::from(format!(
        "{}{}-{n}.rename",
        lock_path.display(),
        std::process::id()
    ));
    if std::fs::rename(lock_path, &renamed).is_ok() {
        let _ = std::fs::remove_file(&renamed);
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        release(&self.lock_path);
    }
}
