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
    assert!(!staging(&dir), "staging folder left behind");
    assert!(!dir.join("rep").exists());
    assert!(!dir.join(".rep.lock").exists());
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
