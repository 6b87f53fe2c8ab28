//! What the SQLite and PostgreSQL storages share: Optuna 5.0's RDBStorage schema (tables,
//! enum names, value encodings, datetimes) and how optimlab's leases live in it.
//!
//! **Schema.** The tables, columns, constraints and indexes are those Optuna's SQLAlchemy
//! models create (`optuna/storages/_rdb/models.py`, schema version 12), with `version_info`
//! and `alembic_version` stamped as Optuna stamps a fresh database, so that Optuna,
//! optuna-dashboard and optimlab open the same file or database.
//!
//! **Leases.** A Running trial claimed by optimlab has the trial system attribute
//! `optimlab:lease` = `{"worker": W, "seconds": L}` and a row in `trial_heartbeats`. The lease
//! expires `L` seconds after the heartbeat. Optuna fails a trial whose heartbeat is older
//! than its `grace_period`: with `grace_period = L` both sides call the same trials stale.
//! `worker` is the fencing token: every write checks, in its transaction, that the trial is
//! Running and that `optimlab:lease.worker` names the writer. [`FrozenTrial::system_attrs`]
//! shows the lease as the other storages do, with `expires` (unix seconds) added.
//!
//! A Running trial created by an Optuna worker has no `optimlab:lease`: optimlab never writes
//! to it, and reaps it only if it has a heartbeat older than [`FOREIGN_GRACE`] (an Optuna
//! worker without heartbeats is never reaped, as Optuna itself does).

use super::attrs;
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::{Value, json};
use std::time::Duration;

/// `version_info.schema_version` of Optuna 5.0 (`models.SCHEMA_VERSION`).
pub(crate) const OPTUNA_SCHEMA_VERSION: i64 = 12;
/// `version_info.library_version`: the Optuna release whose schema this is.
pub(crate) const OPTUNA_LIBRARY_VERSION: &str = "5.0.0";
/// The alembic head revision of Optuna 5.0 (`alembic/versions/v3.2.0.a_.py`).
pub(crate) const ALEMBIC_HEAD: &str = "v3.2.0.a";

/// How long an Optuna worker's heartbeat may be silent before optimlab reaps its trial
/// (Optuna's own default grace period is twice its heartbeat interval).
pub(crate) const FOREIGN_GRACE: Duration = Duration::from_secs(60);

pub(crate) fn state_name(s: TrialState) -> &'static str {
    s.name()
}

pub(crate) fn state_from_name(name: &str) -> Option<TrialState> {
    Some(match name {
        "RUNNING" => TrialState::Running,
        "COMPLETE" => TrialState::Complete,
        "PRUNED" => TrialState::Pruned,
        "FAIL" => TrialState::Fail,
        "WAITING" => TrialState::Waiting,
        _ => return None,
    })
}

pub(crate) fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Minimize => "MINIMIZE",
        Direction::Maximize => "MAXIMIZE",
    }
}

pub(crate) fn direction_from_name(name: &str) -> Option<Direction> {
    match name {
        "MINIMIZE" => Some(Direction::Minimize),
        "MAXIMIZE" => Some(Direction::Maximize),
        _ => None,
    }
}

/// A trial value as `trial_values` stores it (`value`, `value_type`); `None` for NaN, which
/// Optuna never stores as a value.
pub(crate) fn value_repr(v: f64) -> Option<(Option<f64>, &'static str)> {
    if v.is_nan() {
        None
    } else if v == f64::INFINITY {
        Some((None, "INF_POS"))
    } else if v == f64::NEG_INFINITY {
        Some((None, "INF_NEG"))
    } else {
        Some((Some(v), "FINITE"))
    }
}

/// An intermediate value as `trial_intermediate_values` stores it.
pub(crate) fn intermediate_repr(v: f64) -> (Option<f64>, &'static str) {
    if v.is_nan() {
        (None, "NAN")
    } else {
        value_repr(v).expect("not NaN")
    }
}

/// The value a (`value`, `value_type`) pair stands for; `None` if the type is unknown.
pub(crate) fn value_from(v: Option<f64>, kind: &str) -> Option<f64> {
    match kind {
        "FINITE" => Some(v.unwrap_or(f64::NAN)),
        "INF_POS" => Some(f64::INFINITY),
        "INF_NEG" => Some(f64::NEG_INFINITY),
        "NAN" => Some(f64::NAN),
        _ => None,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix microseconds of `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM]` (no zone: UTC).
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut micros = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut scaled = 0i64;
        for (i, c) in frac[..digits].bytes().enumerate().take(6) {
            scaled += i64::from(c - b'0') * 10i64.pow(5 - i as u32);
        }
        micros = scaled;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        z if z.len() == 6 && matches!(&z[..1], "+" | "-") && &z[3..4] == ":" => {
            let mins = z[1..3].parse::<i64>().ok()? * 60 + z[4..6].parse::<i64>().ok()?;
            if z.starts_with('-') { -mins } else { mins }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset * 60;
    Some(secs * 1_000_000 + micros)
}

/// Unix microseconds as the naive UTC datetime Optuna's SQLAlchemy models store:
/// `YYYY-MM-DD HH:MM:SS.ffffff`.
pub(crate) fn sql_datetime(micros: i64) -> String {
    let iso = super::iso_from_unix_micros(micros);
    format!("{} {}", &iso[..10], &iso[11..26])
}

/// A datetime as a [`FrozenTrial`] carries it, converted for a datetime column.
pub(crate) fn to_sql_datetime(iso: &str) -> Option<String> {
    parse_datetime(iso).map(sql_datetime)
}

/// A datetime column (naive UTC) as a [`FrozenTrial`] carries it.
pub(crate) fn from_sql_datetime(sql: &str) -> Option<String> {
    parse_datetime(sql).map(super::iso_from_unix_micros)
}

pub(crate) fn unix_micros_now() -> i64 {
    (super::unix_now() * 1e6) as i64
}

/// The stored lease attribute for `worker` holding a trial for `lease` from its heartbeat.
pub(crate) fn stored_lease(worker: &str, lease: Duration) -> Value {
    json!({"worker": worker, "seconds": lease.as_secs_f64()})
}

/// Adds `expires` (heartbeat + seconds) to a loaded trial's stored lease attribute.
pub(crate) fn expose_lease(t: &mut FrozenTrial, heartbeat_micros: Option<i64>) {
    if let (Some(Value::Object(lease)), Some(hb)) =
        (t.system_attrs.get_mut(attrs::LEASE), heartbeat_micros)
        && let Some(secs) = lease.get("seconds").and_then(Value::as_f64)
    {
        lease.insert("expires".into(), json!(hb as f64 / 1e6 + secs));
    }
}

/// A lease attribute as another storage exposes it (`expires`, unix seconds) turned into
/// what this schema stores and the heartbeat (unix microseconds) that gives the same
/// expiry: the lease attribute without `expires`, and the heartbeat.
pub(crate) fn import_lease(lease: &Value) -> Option<(Value, i64)> {
    let worker = lease.get("worker")?.as_str()?;
    let now = unix_micros_now();
    let expires = lease.get("expires").and_then(Value::as_f64);
    let seconds = lease.get("seconds").and_then(Value::as_f64);
    let (seconds, hb) = match (expires, seconds) {
        (Some(e), Some(s)) => (s, ((e - s) * 1e6) as i64),
        (Some(e), None) => {
            let s = (e - now as f64 / 1e6).max(0.0);
            (s, ((e - s) * 1e6) as i64)
        }
        (None, Some(s)) => (s, now),
        (None, None) => return None,
    };
    Some((json!({"worker": worker, "seconds": seconds}), hb))
}

/// Whether a loaded Running trial's lease ran out by `now` (unix microseconds): optimlab's
/// lease (heartbeat + seconds), or for an Optuna trial a heartbeat older than
/// [`FOREIGN_GRACE`]. A trial with no heartbeat never expires.
pub(crate) fn is_expired(t: &FrozenTrial, heartbeat_micros: Option<i64>, now: i64) -> bool {
    let Some(hb) = heartbeat_micros else {
        return false;
    };
    let secs = match t.system_attrs.get(attrs::LEASE) {
        Some(l) => l.get("seconds").and_then(Value::as_f64).unwrap_or(0.0),
        None => FOREIGN_GRACE.as_secs_f64(),
    };
    t.state == TrialState::Running && (now - hb) as f64 / 1e6 > secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip_between_iso_and_sql() {
        let iso = "2024-05-01T10:00:00.123456+00:00";
        assert_eq!(
            to_sql_datetime(iso).as_deref(),
            Some("2024-05-01 10:00:00.123456")
        );
        assert_eq!(
            from_sql_datetime("2024-05-01 10:00:00.123456").as_deref(),
            Some(iso)
        );
        // SQLite's CURRENT_TIMESTAMP has no fraction; another zone is converted to UTC.
        assert_eq!(
            from_sql_datetime("2024-02-29 23:59:59").as_deref(),
            Some("2024-02-29T23:59:59.000000+00:00")
        );
        assert_eq!(
            to_sql_datetime("2024-03-01T01:30:00.5+02:00").as_deref(),
            Some("2024-02-29 23:30:00.500000")
        );
        assert_eq!(parse_datetime("yesterday"), None);
        let now = unix_micros_now();
        assert_eq!(parse_datetime(&sql_datetime(now)), Some(now));
    }

    #[test]
    fn values_use_optuna_types() {
        assert_eq!(value_repr(1.5), Some((Some(1.5), "FINITE")));
        assert_eq!(value_repr(f64::NEG_INFINITY), Some((None, "INF_NEG")));
        assert_eq!(value_repr(f64::NAN), None);
        assert_eq!(intermediate_repr(f64::NAN), (None, "NAN"));
        assert!(value_from(None, "NAN").unwrap().is_nan());
        assert_eq!(value_from(None, "INF_POS"), Some(f64::INFINITY));
        assert_eq!(value_from(None, "BAD"), None);
    }
}
