//! Drives `optimlab data` end to end: `info` on each kind of source, and `download` (with the
//! built-in checksums) against a local HTTP server on 127.0.0.1: 404 and wrong checksum, each a
//! one-line error with nothing left in the cache.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn optimlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optimlab"))
        .args(args)
        .env_remove("OPTIMLAB_CACHE")
        .output()
        .expect("run optimlab")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optimlab-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The one-line error (the last line of stderr; progress lines may precede it).
fn stderr_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert_eq!(err.trim_end().lines().last(), Some(errors[0]), "{err}");
    errors[0].to_string()
}

/// Serves `files` (name → body; 404 otherwise) for at most `max` requests or 30 s.
fn serve(files: Vec<(String, Vec<u8>)>, max: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        while served < max && Instant::now() < deadline {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("/");
            let body = files.iter().find(|(n, _)| path == format!("/{n}"));
            let _ = match body {
                Some((_, b)) => s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| s.write_all(b)),
                None => s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    url
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn download_404_is_a_one_line_error_and_leaves_nothing() {
    let cache = temp_dir("404");
    let url = serve(vec![], 1);
    let out = optimlab(&[
        "data",
        "download",
        "mnist",
        "--mirror",
        &url,
        "--cache",
        cache.to_str().unwrap(),
    ]);
    let line = stderr_line(&out);
    assert_eq!(
        line,
        format!("error: {url}train-images-idx3-ubyte.gz: HTTP 404 Not Found")
    );
    assert!(files_in(&cache.join("mnist")).is_empty());
}

#[test]
fn download_with_a_wrong_checksum_keeps_nothing() {
    let cache = temp_dir("md5");
    // The right names, the wrong content.
    let url = serve(
        vec![(
            "train-images-idx3-ubyte.gz".into(),
            b"not the real file".to_vec(),
        )],
        1,
    );
    let out = optimlab(&[
        "data",
        "download",
        "fashion-mnist",
        "--mirror",
        &url,
        "--cache",
        cache.to_str().unwrap(),
        "--quiet",
    ]);
    let line = stderr_line(&out);
    assert!(
        line.contains("train-images-idx3-ubyte.gz: MD5 checksum mismatch: expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "{line}"
    );
    assert!(files_in(&cache.join("fashion-mnist")).is_empty());
}

#[test]
fn download_rejects_bad_arguments() {
    let out = optimlab(&["data", "download", "cifar"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected mnist or fashion-mnist"));
    let out = optimlab(&["data", "download", "mnist", "--mirror", "ftp://x/"]);
    assert!(stderr_line(&out).contains("--mirror ftp://x/: expected an http:// or https:// URL"));
}

#[test]
fn info_describes_digits_and_csv() {
    let out = optimlab(&["data", "info", "--json", "--val-fraction", "0.25"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data"], "digits");
    assert_eq!(v["train"]["features"], 64);
    assert_eq!(v["test"]["samples"], 359);
    let n = |k: &str| v[k]["samples"].as_u64().unwrap();
    assert_eq!(n("train") + n("val"), 1438);

    let dir = temp_dir("csv");
    let csv = dir.join("t.csv");
    let mut text = String::from("a,b,kind\n");
    for i in 0..20 {
        text += &format!("{},{},{}\n", i as f32 / 20.0, 0.5, i % 2);
    }
    std::fs::write(&csv, text).unwrap();
    let out = optimlab(&[
        "data",
        "info",
        "--data",
        csv.to_str().unwrap(),
        "--label-column",
        "kind",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("train        16         2        2"),
        "{table}"
    );
    assert!(
        table.contains("test          4         2        2"),
        "{table}"
    );

    std::fs::write(&csv, "1,2,0\n1,x,1\n").unwrap();
    let out = optimlab(&["data", "info", "--data", csv.to_str().unwrap()]);
    let line = stderr_line(&out);
    assert!(
        line.contains("t.csv:2: column 1: 'x' is not a number"),
        "{line}"
    );
}

#[test]
fn info_errors_are_one_line() {
    let out = optimlab(&["data", "info", "--data", "/no/such/folder"]);
    assert!(stderr_line(&out).contains("/no/such/folder: not found"));
    let out = optimlab(&["data", "info", "--data", "mnist", "--cache", "/no/cache"]);
    let line = stderr_line(&out);
    assert!(line.contains("optimlab data download mnist"), "{line}");
    let out = optimlab(&["data", "info", "--label-column", "3"]);
    assert!(stderr_line(&out).contains("CSV files only"));
}

#[test]
fn help_shows_examples() {
    for args in [
        &["data", "--help"][..],
        &["data", "download", "--help"],
        &["data", "info", "--help"],
    ] {
        let out = optimlab(args);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Example"));
    }
    // The download notes are part of the description, above the flags, not after the
    // examples.
    let out = optimlab(&["data", "download", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    let notes = help.find("checked against the MD5").expect("the notes");
    assert!(notes < help.find("Options:").unwrap(), "{help}");
}
