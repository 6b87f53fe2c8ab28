//! Drives the real `optimlab` binary: trajectories, benchmarks.

mod common;
use common::*;

#[test]
fn trajectory_json_reproduces_the_books_adam_path() {
    let out = optimlab(&[
        "trajectory",
        "--function",
        "book",
        "--optimizer",
        "adam",
        "--lr",
        "0.3",
        "--steps",
        "30",
        "--start=-7,2",
        "--preset",
        "book",
        "--json",
    ]);
    let v = stdout_json(&out);
    let p = v["positions"].as_array().unwrap();
    assert_eq!(p.len(), 31);
    let at = |k: usize| (p[k][0].as_f64().unwrap(), p[k][1].as_f64().unwrap());
    assert_eq!(at(0), (-7.0, 2.0));
    let expect = [
        (1, -6.700001355, 1.700000237),
        (2, -6.400416624, 1.402245741),
        (10, -4.059418573, -0.4918462875),
        (29, 0.02014906472, 0.3219572219),
        (30, 0.1360068524, 0.3182453755),
    ];
    for (k, x, y) in expect {
        let (gx, gy) = at(k);
        assert!(
            (gx - x).abs() <= 1e-9 && (gy - y).abs() <= 1e-9,
            "step {k}: {gx}, {gy}"
        );
    }
    assert_eq!(v["dtype"], "f64");
}

#[test]
fn trajectory_accepts_every_optimizer_and_function() {
    for opt in [
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "amsgrad", "nadam",
        "radam", "adadelta", "lion",
    ] {
        for function in ["book", "rosenbrock", "beale", "saddle"] {
            for preset in ["book", "torch"] {
                let out = optimlab(&[
                    "trajectory",
                    "--function",
                    function,
                    "--optimizer",
                    opt,
                    "--preset",
                    preset,
                    "--steps",
                    "5",
                    "--json",
                ]);
                let v = stdout_json(&out);
                let p = v["positions"].as_array().unwrap();
                assert_eq!(p.len(), 6, "{opt} {function} {preset}");
                assert!(p.iter().all(|xy| {
                    xy.as_array()
                        .unwrap()
                        .iter()
                        .all(|c| c.as_f64().is_some_and(f64::is_finite))
                }));
            }
        }
    }
}

#[test]
fn trajectory_table_and_dtype() {
    let out = optimlab(&[
        "trajectory",
        "--optimizer",
        "sgd",
        "--lr",
        "0.95",
        "--steps",
        "2",
        "--dtype",
        "f32",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("f32"), "{text}");
    // Step 1 of SGD 0.95 from (−7, 2) is (−6.335, −1.8), to f32 precision.
    let row: Vec<f64> = text
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .expect("a row for step 1")
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect();
    assert!(
        (row[1] + 6.335).abs() < 1e-5 && (row[2] + 1.8).abs() < 1e-5,
        "{text}"
    );
}

#[test]
fn trajectory_rejects_bad_hyperparameters_in_one_line() {
    assert_one_line_error(
        &optimlab(&["trajectory", "--optimizer", "adam", "--lr=-0.1"]),
        "lr",
    );
    assert_one_line_error(
        &optimlab(&["trajectory", "--optimizer", "adam", "--lr", "NaN"]),
        "lr",
    );
    assert_one_line_error(
        &optimlab(&["trajectory", "--optimizer", "adam", "--beta1", "1.0"]),
        "beta1",
    );
    assert_one_line_error(
        &optimlab(&["trajectory", "--optimizer", "adam", "--beta2", "-0.5"]),
        "beta2",
    );
    assert_one_line_error(&optimlab(&["trajectory", "--optimizer", "adamx"]), "adamx");
    assert_one_line_error(
        &optimlab(&["trajectory", "--function", "himmelblau"]),
        "himmelblau",
    );
    assert_one_line_error(&optimlab(&["trajectory", "--start", "1;2"]), "1;2");
    assert_one_line_error(&optimlab(&["trajectory", "--dtype", "f16"]), "f16");
}

#[test]
fn bench_json_has_the_documented_keys() {
    let out = optimlab(&[
        "bench",
        "--workload",
        "book",
        "--steps",
        "5",
        "--warmup",
        "1",
        "--json",
    ]);
    let v = stdout_json(&out);
    assert_eq!(v["workload"], "book");
    assert_eq!(v["steps"], 5);
    let ms = v["ms_per_step"].as_f64().unwrap();
    assert!(ms > 0.0 && ms.is_finite());
    assert!(v["final_loss"].as_f64().unwrap().is_finite());
}

#[test]
fn bench_rejects_bad_values() {
    assert_one_line_error(&optimlab(&["bench", "--workload", "huge"]), "huge");
    assert_one_line_error(&optimlab(&["bench", "--steps", "0"]), "steps");
    assert_one_line_error(&optimlab(&["bench", "--optimizer", "sgdx"]), "sgdx");
}

#[test]
fn a_missing_required_argument_is_named_on_the_error_line() {
    // clap lists missing arguments on lines of their own; the one-line error must keep them.
    let out = optimlab(&["predict"]);
    assert_one_line_error(&out, "--model");
    assert_one_line_error(&out, "--input");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().count(),
        2,
        "one error line plus the help hint: {err}"
    );
}
