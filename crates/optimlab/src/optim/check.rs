//! Hyperparameter checks shared by the update rules: each names the value it rejects.

use super::OptimError;

fn check(
    ok: bool,
    name: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<(), OptimError> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::Invalid {
            name,
            value,
            expected,
        })
    }
}

/// `0 ≤ v < 1` (betas, momentum, decay rates).
pub(crate) fn unit(name: &'static str, v: f64) -> Result<(), OptimError> {
    check((0.0..1.0).contains(&v), name, v, "a number in [0, 1)")
}

/// `0 ≤ v ≤ 1` (dampening).
pub(crate) fn closed_unit(name: &'static str, v: f64) -> Result<(), OptimError> {
    check((0.0..=1.0).contains(&v), name, v, "a number in [0, 1]")
}

/// `v > 0` and finite (ε).
pub(crate) fn positive(name: &'static str, v: f64) -> Result<(), OptimError> {
    check(v.is_finite() && v > 0.0, name, v, "a finite number > 0")
}

/// `v ≥ 0` and finite (decays, initial values).
pub(crate) fn non_negative(name: &'static str, v: f64) -> Result<(), OptimError> {
    check(v.is_finite() && v >= 0.0, name, v, "a finite number ≥ 0")
}
