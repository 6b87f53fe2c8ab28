//! `optimlab playground`: the page it writes (from file://) and serves (http://127.0.0.1) is
//! checked in headless Chromium by scripts/check_playground.py: no console error, no network
//! request, paths that move, trajectories equal to the CLI's bit for bit, digits trained to
//! ≥ 0.9 test accuracy, curves that change with the optimizer and batch norm, a phone layout.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether the page can be checked here; prints why not when it cannot.
fn can_check(page_out: &std::process::Output) -> bool {
    let err = String::from_utf8_lossy(&page_out.stderr);
    if !page_out.status.success() && err.contains("rustup target add wasm32-unknown-unknown") {
        println!("skipped: the wasm32-unknown-unknown target is not installed ({err})");
        return false;
    }
    assert!(
        page_out.status.success(),
        "optimlab playground failed: {err}"
    );
    let chromium = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("chromium").is_file()))
        .unwrap_or(false);
    if !chromium {
        println!("skipped: the headless Chromium check (chromium is not on PATH)");
        return false;
    }
    true
}

fn check_in_chromium(url: &str, screenshots: Option<&Path>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_playground.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg(url)
        .arg("--cli")
        .arg(env!("CARGO_BIN_EXE_optimlab"));
    if let Some(dir) = screenshots {
        cmd.arg("--screenshot").arg(dir);
    }
    let out = cmd.output().expect("run check_playground.py");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed: 0 failure(s)"), "{report}");
    assert!(!report.contains("FAIL"), "{report}");
}

#[test]
fn the_written_page_works_offline_in_chromium() {
    let dir = temp_dir("playground-out");
    let out = optimlab(&["playground", "--out", dir.to_str().unwrap()]);
    if !can_check(&out) {
        return;
    }
    let page = dir.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // One self-contained file: the module inlined, nothing fetched.
    assert!(html.contains("id=\"wasm\""), "no inlined module");
    assert!(!html.contains("__WASM_BASE64__") && !html.contains("/*__APP__*/"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let shots = std::env::var_os("OPTIMLAB_PLAYGROUND_SCREENSHOTS").map(std::path::PathBuf::from);
    check_in_chromium(page.to_str().unwrap(), shots.as_deref());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_served_page_works_in_chromium() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_optimlab"))
        .args(["playground", "--serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start optimlab playground --serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        let out = child.wait_with_output().unwrap();
        if !can_check(&out) {
            return;
        }
        panic!(
            "no address printed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let chromium = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("chromium").is_file()))
        .unwrap_or(false);
    if chromium {
        check_in_chromium(&url, None);
    } else {
        println!("skipped: the headless Chromium check (chromium is not on PATH)");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn flags_are_checked() {
    let out = optimlab(&["playground", "--port", "80"]);
    assert_one_line_error(&out, "--serve");
}
