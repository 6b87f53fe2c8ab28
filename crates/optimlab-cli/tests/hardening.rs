//! No input crashes the binary: sizes far too large, closed pipes, panics, usage errors,
//! signals, locked folders, progress in logs.

mod common;
use common::*;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_optimlab"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start optimlab")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal}");
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sizes_too_large_to_allocate_are_one_line_errors_naming_the_bytes() {
    let dir = temp_dir("sizes");
    std::fs::write(dir.join("big.toml"), "hidden = [1000000000]\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--hidden", "200000,200000", "--out", "r1"],
            "bytes)",
        ),
        (
            &["train", "--config", "big.toml", "--out", "r2"],
            "1000000000 parameters",
        ),
        (
            &["trajectory", "--steps", "1000000000", "--json"],
            "1000000000 steps",
        ),
        (
            &[
                "experiment",
                "optimizers",
                "--hidden",
                "100000,100000",
                "--out",
                "e",
            ],
            "bytes)",
        ),
        (
            &["gradcheck", "--hidden", "100000", "--input", "1000"],
            "gradient check of",
        ),
    ];
    for (args, needle) in cases {
        let out = optimlab_in(&dir, args);
        assert_one_line_error(&out, needle);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{args:?}"
        );
    }
    // Nothing was written.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let dir = temp_dir("pipe");
    for args in [
        &["trajectory", "--steps", "2000000", "--json"][..],
        &["trajectory", "--steps", "200000"][..],
    ] {
        let mut child = spawn(&dir, args);
        let mut first = [0u8; 10];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then dropped: closed
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.is_empty(), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{args:?}: {:?}",
            out.status
        );
    }
}

#[test]
fn a_panic_is_one_internal_error_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_optimlab"))
        .args(["data", "info"])
        .env("OPTIMLAB_TEST_PANIC", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("internal error: ") && err.contains("report"),
        "{err}"
    );
    assert!(!out.status.success());
}

#[test]
fn usage_errors_are_one_line_and_a_hint() {
    let out = optimlab(&["train", "--no-such-flag"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("error:") && lines[0].contains("--no-such-flag"),
        "{err}"
    );
    assert!(lines[1].contains("--help"), "{err}");
    assert_eq!(out.status.code(), Some(2));
}

/// A run that lasts long enough to be interrupted: many epochs of the embedded digits.
const LONG_RUN: &[&str] = &[
    "train", "--epochs", "100000", "--hidden", "32", "--out", "run",
];

fn interrupted_run_exits_with(signal: &str, code: i32) {
    let dir = temp_dir(&format!("signal{code}"));
    let child = spawn(&dir, LONG_RUN);
    let history = dir.join("run/history.jsonl");
    wait_for("training to start", || {
        std::fs::metadata(&history).is_ok_and(|m| m.len() > 0)
    });
    kill(&child, signal);
    let (status, err) = finish(child);
    assert_eq!(status, Some(code), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.contains("optimlab train --resume"), "{err}");
    assert!(dir.join("run/checkpoint.safetensors").is_file());
    assert!(!dir.join("run/.lock").exists());
    // The run goes on from there.
    let iter: usize = last
        .split("iteration ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no iteration in {last:?}"));
    let more = (iter + 3).to_string();
    let out = optimlab_in(
        &dir,
        &["train", "--resume", "run", "--iters", &more, "--quiet"],
    );
    assert_ok(&out);
}

#[test]
fn sigint_during_train_writes_a_checkpoint_and_exits_130() {
    interrupted_run_exits_with("-INT", 130);
}

#[test]
fn sigterm_during_train_writes_a_checkpoint_and_exits_143() {
    interrupted_run_exits_with("-TERM", 143);
}

#[test]
fn a_second_process_is_kept_out_of_a_run_folder() {
    let dir = temp_dir("lock");
    let child = spawn(&dir, LONG_RUN);
    wait_for("the lock", || dir.join("run/.lock").exists());
    let out = optimlab_in(&dir, &["train", "--resume", "run", "--epochs", "200000"]);
    assert_one_line_error(&out, "in use by process");
    kill(&child, "-KILL");
    let _ = finish(child);
    // The killed process's lock is stale: the next resume takes it over.
    let out = optimlab_in(
        &dir,
        &["train", "--resume", "run", "--epochs", "1", "--quiet"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("in use"), "{err}");
}

#[test]
fn a_run_killed_before_its_first_checkpoint_restarts() {
    let dir = temp_dir("restart");
    assert_ok(&optimlab_in(
        &dir,
        &["train", "--epochs", "1", "--out", "run", "--quiet"],
    ));
    std::fs::remove_file(dir.join("run/checkpoint.safetensors")).unwrap();
    std::fs::remove_file(dir.join("run/model.safetensors")).unwrap();
    let out = optimlab_in(&dir, &["train", "--resume", "run"]);
    assert_one_line_error(&out, "--restart");
    let out = optimlab_in(&dir, &["train", "--resume", "run", "--restart", "--quiet"]);
    assert_ok(&out);
    assert!(dir.join("run/model.safetensors").is_file());
}

#[test]
fn sigint_during_an_experiment_leaves_no_staging_folder() {
    let dir = temp_dir("exp-signal");
    let child = spawn(
        &dir,
        &[
            "experiment",
            "optimizers",
            "--iters",
            "1000000",
            "--data",
            "digits",
            "--out",
            "rep",
        ],
    );
    let staging = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".partial-"))
    };
    wait_for("the staging folder", || staging(&dir));
    kill(&child, "-INT");
    let (status, err) = finish(child);
    assert_eq!(status, Some(130), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert!(!staging(&dir), "staging folder left behind");
    assert!(!dir.join("rep").exists());
    assert!(!dir.join(".rep.lock").exists());
}

/// `experiment all` stops between experiments: the one under way finishes, the finished
/// reports and an index of them are written, the rest is not run, and the exit code is 130.
#[test]
fn sigint_during_experiment_all_keeps_the_finished_reports_and_exits_130() {
    let dir = temp_dir("exp-all-signal");
    // The second experiment lasts a few seconds: the signal arrives while it runs.
    std::fs::write(dir.join("all.toml"), "[optimizers]\niterations = 3000\n").unwrap();
    let child = spawn(
        &dir,
        &[
            "experiment",
            "all",
            "--data",
            "digits",
            "--config",
            "all.toml",
            "--out",
            "rep",
        ],
    );
    let second = || {
        std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".rep.partial-")
                && e.path().join("optimizers").is_dir()
        })
    };
    wait_for("the second experiment", second);
    kill(&child, "-INT");
    let (status, err) = finish(child);
    assert_eq!(status, Some(130), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("interrupted after "), "{err}");
    assert!(last.contains("not run: "), "{err}");
    // What the message says was written is there, complete; nothing else is.
    let names = [
        "trajectories",
        "optimizers",
        "init-activations",
        "init-compare",
        "batch-norm",
        "weight-decay",
        "dropout",
    ];
    let rep = dir.join("rep");
    let written: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| rep.join(n).exists())
        .collect();
    assert!(
        (2..names.len()).contains(&written.len()),
        "{written:?}: {err}"
    );
    assert_eq!(written, names[..written.len()], "in order");
    for n in &written {
        assert!(rep.join(n).join("results.json").is_file(), "{n}");
        assert!(rep.join(n).join("index.html").is_file(), "{n}");
    }
    assert!(
        last.contains(&format!("after {} of 7", written.len())),
        "{last}"
    );
    let index = std::fs::read_to_string(rep.join("index.html")).unwrap();
    assert!(index.contains("Interrupted after"), "{index}");
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn a_report_folder_in_use_is_refused() {
    let dir = temp_dir("exp-lock");
    // A live process (this test) holds the report's lock.
    std::fs::write(dir.join(".rep.lock"), std::process::id().to_string()).unwrap();
    let out = optimlab_in(
        &dir,
        &["experiment", "trajectories", "--out", "rep", "--quiet"],
    );
    assert_one_line_error(&out, "in use by process");
    assert!(!dir.join("rep").exists());
}

#[test]
fn progress_lines_when_stderr_is_not_a_terminal_and_none_with_quiet() {
    let dir = temp_dir("progress");
    let run = |quiet: bool, out: &str| {
        let mut args = vec!["train", "--epochs", "2", "--out", out];
        if quiet {
            args.push("--quiet");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_optimlab"))
            .current_dir(&dir)
            .args(&args)
            .env("OPTIMLAB_PROGRESS_SECS", "0")
            .output()
            .unwrap();
        assert_ok(&out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(false, "a");
    let line = err
        .lines()
        .find(|l| l.starts_with("progress: iteration"))
        .unwrap_or_else(|| panic!("no progress line in {err}"));
    assert!(line.contains("ETA"), "{line}");
    assert!(run(true, "b").is_empty());
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// 20 rows of 3 features and labels 0–3, with `first` as the first line.
fn csv_with_first_row(first: &str) -> String {
    let mut t = format!("{first}\n");
    for i in 0..20 {
        t += &format!("0.{i},0.5,0.25,{}\n", i % 4);
    }
    t
}

#[test]
fn a_csv_first_row_is_a_header_only_without_numbers_and_said_so() {
    let dir = temp_dir("csv-header");
    write(&dir, "h.csv", &csv_with_first_row("a,b,c,label"));
    let out = optimlab_in(&dir, &["data", "info", "--data", "h.csv"]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("read as a header (a, b, c, label)"));
    for (first, field) in [("O.5,0.5,0.25,1", "'O.5'"), ("0.5,NaN,0.25,1", "'NaN'")] {
        write(&dir, "bad.csv", &csv_with_first_row(first));
        let out = optimlab_in(&dir, &["data", "info", "--data", "bad.csv"]);
        assert_one_line_error(&out, "bad.csv:1: column");
        assert_one_line_error(&out, field);
    }
    // A byte-order mark is not part of the first field.
    write(
        &dir,
        "bom.csv",
        &format!("\u{feff}{}", csv_with_first_row("0.9,0.5,0.25,2")),
    );
    let out = optimlab_in(&dir, &["data", "info", "--data", "bom.csv", "--json"]);
    let v = stdout_json(&out);
    let total = v["train"]["samples"].as_u64().unwrap() + v["test"]["samples"].as_u64().unwrap();
    assert_eq!(total, 21, "the first row is data: {v}");
    // --header no reads a header-like first row as data, which is then an error.
    let out = optimlab_in(&dir, &["data", "info", "--data", "h.csv", "--header", "no"]);
    assert_one_line_error(&out, "h.csv:1");
}

#[test]
fn stray_labels_are_refused_unless_classes_says_so() {
    let dir = temp_dir("classes");
    let mut t = csv_with_first_row("0.1,0.1,0.1,9999");
    write(&dir, "stray.csv", &t);
    let out = optimlab_in(&dir, &["data", "info", "--data", "stray.csv"]);
    assert_one_line_error(&out, "label 9999");
    assert_one_line_error(&out, "--classes 10000");
    let out = optimlab_in(
        &dir,
        &["data", "info", "--data", "stray.csv", "--classes", "10000"],
    );
    assert_ok(&out);
    t = csv_with_first_row("0.1,0.1,0.1,3");
    write(&dir, "ok.csv", &t);
    let out = optimlab_in(
        &dir,
        &["data", "info", "--data", "ok.csv", "--classes", "3"],
    );
    assert_one_line_error(&out, "--classes");
    let out = optimlab_in(
        &dir,
        &[
            "train",
            "--data",
            "ok.csv",
            "--classes",
            "6",
            "--epochs",
            "1",
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_ok(&out);
}

#[test]
fn eval_of_an_explicit_csv_uses_every_row_and_accepts_the_run_folder() {
    let dir = temp_dir("eval-csv");
    let mut t = String::new();
    for i in 0..50 {
        let row: Vec<String> = (0..64)
            .map(|j| format!("{}", ((i * j) % 17) as f64 / 17.0))
            .collect();
        t += &format!("{},{}\n", row.join(","), i % 10);
    }
    write(&dir, "d.csv", &t);
    assert_ok(&optimlab_in(
        &dir,
        &["train", "--epochs", "1", "--out", "run", "--quiet"],
    ));
    let out = optimlab_in(
        &dir,
        &["eval", "--model", "run", "--data", "d.csv", "--json"],
    );
    let v = stdout_json(&out);
    assert_eq!(
        (v["samples"].as_u64(), v["split"].as_str()),
        (Some(50), Some("all"))
    );
    // A model path that is no model: the cause is said once.
    let out = optimlab_in(&dir, &["eval", "--model", "d.csv"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = optimlab_in(&dir, &["eval", "--model", "."]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    let first = err.split(": ").nth(1).unwrap_or("");
    assert_eq!(err.matches(first).count(), 1, "repeated cause: {err}");
}

#[test]
fn predict_counts_ragged_rows_and_lines_as_in_the_file() {
    let dir = temp_dir("predict-rows");
    assert_ok(&optimlab_in(
        &dir,
        &["train", "--epochs", "1", "--out", "run", "--quiet"],
    ));
    let row = |n: usize| vec!["0.5"; n].join(",");
    write(&dir, "x.csv", &format!("{}\n\n{}\n", row(64), row(63)));
    let out = optimlab_in(&dir, &["predict", "--model", "run", "--input", "x.csv"]);
    assert_one_line_error(&out, "x.csv:3: 63 fields, expected 64");
    let header: Vec<String> = (0..64).map(|i| format!("p{i}")).collect();
    write(
        &dir,
        "h.csv",
        &format!("{}\n{}\n{}\n", header.join(","), row(64), row(64)),
    );
    let out = optimlab_in(&dir, &["predict", "--model", "run", "--input", "h.csv"]);
    assert_ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn plateau_without_a_validation_set_is_refused() {
    let out = optimlab(&[
        "train",
        "--schedule",
        "plateau",
        "--epochs",
        "1",
        "--out",
        "never",
    ]);
    assert_one_line_error(&out, "--val-fraction");
}

#[test]
fn every_flag_has_a_description_and_every_help_ends_with_an_example() {
    let commands: &[&[&str]] = &[
        &["trajectory"],
        &["train"],
        &["eval"],
        &["predict"],
        &["export"],
        &["gradcheck"],
        &["bench"],
        &["experiment"],
        &["experiment", "optimizers"],
        &["experiment", "trajectories"],
        &["experiment", "init-activations"],
        &["experiment", "init-compare"],
        &["experiment", "batch-norm"],
        &["experiment", "weight-decay"],
        &["experiment", "dropout"],
        &["experiment", "search"],
        &["experiment", "all"],
        &["data", "info"],
        &["data", "download"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = optimlab(&args);
        assert_ok(&out);
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = help.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            let indent = l.len() - t.len();
            if t.starts_with("--") && (2..=6).contains(&indent) {
                // The description follows on the line, or on the next one (long help).
                let inline = t
                    .split_once("  ")
                    .is_some_and(|(_, d)| !d.trim().is_empty());
                let next = lines.get(i + 1).copied().unwrap_or("");
                assert!(
                    inline || next.starts_with("          "),
                    "{cmd:?}: {t} has no description"
                );
            }
        }
        let last = lines.iter().rev().find(|l| !l.trim().is_empty()).unwrap();
        assert!(
            last.trim_start().starts_with("optimlab "),
            "{cmd:?} ends with {last:?}"
        );
    }
}
