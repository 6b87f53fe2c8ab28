//! Shared helpers of the binary-driven tests.
#![allow(dead_code)]

use std::process::{Command, Output};

pub fn optimlab(args: &[&str]) -> Output {
    optimlab_in(&std::env::temp_dir(), args)
}

/// Runs in `dir`, so default run folders (`runs/…`) land there.
pub fn optimlab_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optimlab"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run optimlab")
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("optimlab-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Asserts a one-line error on stderr that mentions `needle`, a non-zero exit and no panic.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success");
    assert!(!err.contains("panicked"), "panic: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.contains(needle),
        "error line {first:?} should mention {needle:?}"
    );
}

/// Asserts the command succeeded, showing its stderr otherwise.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
