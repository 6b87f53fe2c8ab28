use super::*;
use crate::tune::distribution::ParamValue;
use std::collections::BTreeMap;

fn float(low: f64, high: f64, log: bool) -> Distribution {
    Distribution::Float {
        low,
        high,
        step: None,
        log,
    }
}

fn trial(number: u64, params: &[(&str, Distribution, f64)], value: Option<f64>) -> FrozenTrial {
    FrozenTrial {
        id: number,
        number,
        state: TrialState::Complete,
        value,
        params: params
            .iter()
            .map(|(n, d, v)| (n.to_string(), (d.clone(), *v)))
            .collect(),
        intermediate: BTreeMap::new(),
        user_attrs: BTreeMap::new(),
        system_attrs: BTreeMap::new(),
        datetime_start: None,
        datetime_complete: None,
    }
}

/// A drives the value; b (log), c (int) and d (categorical) are scrambled sequences unrelated
/// to it; `fixed` has a single value.
fn study(n: u64) -> Vec<FrozenTrial> {
    let int = Distribution::Int {
        low: 0,
        high: 9,
        step: 1,
        log: false,
    };
    let cat = Distribution::Categorical {
        choices: vec![ParamValue::Str("x".into()), ParamValue::Str("y".into())],
    };
    (0..n)
        .map(|i| {
            let a = i as f64 / n as f64;
            let b = 10f64.powf(-4.0 + 3.0 * ((i * 37) % 61) as f64 / 61.0);
            let c = ((i * 13) % 10) as f64;
            let d = ((i * 7) % 3 % 2) as f64;
            trial(
                i,
                &[
                    ("a", float(0.0, 1.0, false), a),
                    ("b", float(1e-4, 0.1, true), b),
                    ("c", int.clone(), c),
                    ("d", cat.clone(), d),
                    ("fixed", float(2.0, 2.0, false), 2.0),
                ],
                Some((a - 0.3).powi(2) + 0.001 * b.ln() + 0.0001 * c),
            )
        })
        .collect()
}

fn all() -> [Evaluator; 3] {
    [
        Evaluator::default(),
        Evaluator::Fanova(Fanova::default()),
        Evaluator::Anova,
    ]
}

#[test]
fn the_parameter_that_drives_the_value_ranks_first_for_every_evaluator() {
    let trials = study(80);
    for e in all() {
        let imp = param_importances(&trials, Direction::Minimize, &e);
        assert_eq!(imp[0].0, "a", "{}: {imp:?}", e.name());
        assert!(imp[0].1 > 0.5, "{}: {imp:?}", e.name());
        assert!((imp.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
        let fixed = imp.iter().find(|x| x.0 == "fixed").unwrap();
        assert_eq!(
            fixed.1,
            0.0,
            "{}: a single-valued parameter scores 0",
            e.name()
        );
        // Deterministic: the same trials give the same numbers.
        assert_eq!(imp, param_importances(&trials, Direction::Minimize, &e));
    }
}

#[test]
fn failed_pruned_and_nan_trials_are_ignored() {
    let clean = study(40);
    let mut noisy = clean.clone();
    let extra = study(45);
    for (k, mut t) in extra.into_iter().skip(40).enumerate() {
        t.id += 100;
        t.number += 100;
        // Extreme parameters and values that would change every score if they counted.
        match k {
            0 => t.state = TrialState::Fail,
            1 => t.state = TrialState::Pruned,
            2 => t.value = Some(f64::NAN),
            3 => t.value = Some(f64::NEG_INFINITY),
            _ => t.state = TrialState::Running,
        }
        noisy.push(t);
    }
    for e in all() {
        assert_eq!(
            param_importances(&clean, Direction::Minimize, &e),
            param_importances(&noisy, Direction::Minimize, &e),
            "{}",
            e.name()
        );
    }
}

#[test]
fn too_few_trials_or_constant_values_give_equal_shares() {
    let one = study(1);
    let mut flat = study(30);
    for t in &mut flat {
        t.value = Some(1.5);
    }
    for e in all() {
        for trials in [&one[..], &flat[..]] {
            let raw = e.evaluate(trials, Direction::Minimize);
            assert!(raw.iter().all(|x| x.1 == 0.0), "{}: {raw:?}", e.name());
            let imp = param_importances(trials, Direction::Minimize, &e);
            assert!(imp.iter().all(|x| x.1 == 0.2), "{}: {imp:?}", e.name());
        }
        assert!(param_importances(&[], Direction::Minimize, &e).is_empty());
    }
}

#[test]
fn maximising_looks_at_the_largest_values() {
    // The value is high only where a > 0.8 and low only where b > 0.8: minimising, b matters;
    // maximising, a does.
    let trials: Vec<FrozenTrial> = (0..100u64)
        .map(|i| {
            let a = i as f64 / 100.0;
            let b = ((i * 37) % 101) as f64 / 101.0;
            let v = (a - 0.8).max(0.0) - (b - 0.8).max(0.0) + 0.001 * (a - b);
            trial(
                i,
                &[
                    ("a", float(0.0, 1.0, false), a),
                    ("b", float(0.0, 1.0, false), b),
                ],
                Some(v),
            )
        })
        .collect();
    let e = Evaluator::default();
    assert_eq!(
        param_importances(&trials, Direction::Maximize, &e)[0].0,
        "a"
    );
    assert_eq!(
        param_importances(&trials, Direction::Minimize, &e)[0].0,
        "b"
    );
}

#[test]
fn conditional_parameters_count_where_they_are_active() {
    // `mom` exists only when opt = 1 (sgd) and drives the value there; fANOVA leaves it out as
    // Optuna does, PED-ANOVA assesses it over the trials that have it.
    let opt = Distribution::Categorical {
        choices: vec![
            ParamValue::Str("adam".into()),
            ParamValue::Str("sgd".into()),
        ],
    };
    let trials: Vec<FrozenTrial> = (0..80u64)
        .map(|i| {
            let o = (i % 2) as f64;
            let lr = ((i * 37) % 79) as f64 / 79.0;
            let mut params = vec![("opt", opt.clone(), o), ("lr", float(0.0, 1.0, false), lr)];
            let mut v = 1.0 + 0.01 * lr;
            if o == 1.0 {
                let mom = ((i * 11) % 41) as f64 / 41.0;
                params.push(("mom", float(0.0, 1.0, false), mom));
                v = mom;
            }
            trial(i, &params, Some(v))
        })
        .collect();
    let ped = param_importances(&trials, Direction::Minimize, &Evaluator::default());
    assert_eq!(ped.len(), 3, "{ped:?}");
    assert_eq!(ped[0].0, "mom", "{ped:?}");
    let fanova = param_importances(
        &trials,
        Direction::Minimize,
        &Evaluator::Fanova(Fanova::default()),
    );
    let names: Vec<&str> = fanova.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names.len(), 2, "{fanova:?}");
    assert!(
        names.contains(&"opt") && names.contains(&"lr"),
        "{fanova:?}"
    );
}

#[test]
fn names_round_trip_and_the_default_is_ped_anova() {
    for e in all() {
        assert_eq!(Evaluator::from_name(e.name()), Some(e.clone()));
        assert!(!e.description().is_empty());
    }
    assert_eq!(Evaluator::default().name(), "ped-anova");
    assert_eq!(Evaluator::from_name("shap"), None);
}
