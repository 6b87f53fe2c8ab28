//! Unit tests of schedules: parsing, display, validation, closed forms and the scheduler.

use super::*;

fn lrs(s: &str, base: f64, n: usize) -> Vec<f64> {
    let mut sch = Scheduler::new(s.parse().unwrap(), base).unwrap();
    let mut out = vec![sch.lr()];
    out.extend((1..n).map(|_| sch.step()));
    out
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0))
}

#[test]
fn parses_the_compact_forms() {
    assert_eq!(
        "step:30,0.1".parse(),
        Ok(Schedule::Step {
            step_size: 30,
            gamma: 0.1
        })
    );
    assert_eq!(
        "step:30".parse(),
        Ok(Schedule::Step {
            step_size: 30,
            gamma: 0.1
        })
    );
    assert_eq!(
        "exp:0.95".parse(),
        Ok(Schedule::Exponential { gamma: 0.95 })
    );
    assert_eq!(
        "cosine:100".parse(),
        Ok(Schedule::Cosine {
            t_max: 100,
            eta_min: 0.0
        })
    );
    assert_eq!(
        "warmup:500".parse(),
        Ok(Schedule::warmup(500, 0.01, Schedule::Constant))
    );
    assert_eq!(
        "warmup:5,1e-3+cosine:100,1e+0".parse(),
        Ok(Schedule::warmup(
            5,
            1e-3,
            Schedule::Cosine {
                t_max: 100,
                eta_min: 1.0
            }
        ))
    );
    assert_eq!(
        "onecycle:0.01,1000".parse(),
        Ok(Schedule::one_cycle(0.01, 1000))
    );
    let p = Plateau {
        factor: 0.5,
        patience: 3,
        mode: PlateauMode::Max,
        ..Plateau::default()
    };
    assert_eq!("plateau:0.5,3,max".parse(), Ok(Schedule::Plateau(p)));
    assert_eq!("plateau".parse(), Ok(Schedule::Plateau(Plateau::default())));
    assert_eq!(" constant ".parse(), Ok(Schedule::Constant));
}

#[test]
fn display_round_trips() {
    for s in [
        "step:30,0.1",
        "exp:0.95",
        "cosine:100,0.001",
        "linear:0.1,1,10",
        "warmup:500,0.01",
        "warmup:5,0.1+step:3,0.5",
        "onecycle:0.01,1000,0.25",
        "plateau:0.1,10,min",
        "constant",
    ] {
        let parsed: Schedule = s.parse().unwrap();
        assert_eq!(parsed.to_string(), s);
    }
}

#[test]
fn bad_strings_are_parse_errors_quoting_the_input() {
    for s in [
        "",
        "steps:3",
        "step",
        "step:a",
        "step:3,0.1,4",
        "exp:0.9+cosine:3",
        "plateau:0.1,2,up",
        "cosine:-3",
    ] {
        match s.parse::<Schedule>() {
            Err(e @ ScheduleError::Parse { .. }) => {
                assert!(e.to_string().contains(&format!("'{s}'")), "{e}")
            }
            other => panic!("{s}: {other:?}"),
        }
    }
}

#[test]
fn invalid_parameters_are_named() {
    let name = |s: &str| match s.parse::<Schedule>() {
        Err(ScheduleError::Invalid { name, .. }) => name,
        other => panic!("{s}: {other:?}"),
    };
    assert_eq!(name("step:0"), "step_size");
    assert_eq!(name("step:3,-1"), "gamma");
    assert_eq!(name("exp:NaN"), "gamma");
    assert_eq!(name("cosine:0"), "t_max");
    assert_eq!(name("linear:0,1,5"), "start_factor");
    assert_eq!(name("linear:0.5,2,5"), "end_factor");
    assert_eq!(name("warmup:0"), "warmup steps");
    assert_eq!(name("warmup:5+plateau"), "warmup steps");
    assert_eq!(name("onecycle:0.1,10,0.05"), "pct_start");
    assert_eq!(name("onecycle:-1,100"), "max_lr");
    assert_eq!(name("plateau:1.0"), "factor");
    let err = Scheduler::new(Schedule::Constant, -1.0).unwrap_err();
    assert!(matches!(
        err,
        ScheduleError::Invalid {
            name: "base lr",
            ..
        }
    ));
}

#[test]
fn closed_forms() {
    assert!(close(
        &lrs("step:2,0.5", 1.0, 5),
        &[1.0, 1.0, 0.5, 0.5, 0.25]
    ));
    assert!(close(&lrs("exp:0.5", 2.0, 3), &[2.0, 1.0, 0.5]));
    assert!(close(&lrs("cosine:2", 1.0, 5), &[1.0, 0.5, 0.0, 0.5, 1.0]));
    assert!(close(
        &lrs("linear:0.5,1,2", 1.0, 4),
        &[0.5, 0.75, 1.0, 1.0]
    ));
    assert!(close(
        &lrs("warmup:2,0.5+exp:0.5", 1.0, 5),
        &[0.5, 0.75, 1.0, 0.5, 0.25]
    ));
    let one = lrs("onecycle:1,10", 123.0, 12);
    assert!(close(&one[..1], &[0.04]) && close(&one[2..3], &[1.0]));
    assert!(close(&one[9..10], &[0.04 / 1e4]));
    assert_eq!(one[10], one[11], "held after total_steps");
}

#[test]
fn plateau_moves_only_with_observations() {
    let mut s = Scheduler::new("plateau:0.5,1".parse().unwrap(), 1.0).unwrap();
    assert!(s.needs_metric());
    assert_eq!(s.step(), 1.0);
    let got: Vec<f64> = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
        .iter()
        .map(|&m| s.observe(m))
        .collect();
    assert_eq!(got, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
    let mut c = Scheduler::new(Schedule::Constant, 0.1).unwrap();
    assert_eq!((c.observe(3.0), c.steps()), (0.1, 0));
}

#[test]
fn scheduler_state_round_trips_through_json() {
    let mut s = Scheduler::new("plateau:0.5,0".parse().unwrap(), 1.0).unwrap();
    s.observe(2.0);
    let mut t: Scheduler = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(t, s);
    assert_eq!((s.observe(3.0), t.observe(3.0)), (0.5, 0.5));
}

#[test]
fn one_cycle_stays_at_its_end_after_total_steps() {
    let s = Schedule::one_cycle(0.1, 5);
    let end = s.lr_at(0.1, 4);
    assert!(end < 1e-5, "ends near max_lr/(25·1e4): {end}");
    for k in 5..20 {
        assert_eq!(s.lr_at(0.1, k), end, "step {k}");
    }
}
