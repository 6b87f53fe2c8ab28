//! optuna-dashboard, live, on studies `optimlab tune` runs: the dashboard is started on a
//! study before the workers, and its JSON API shows the trials arrive and the best value
//! `tune best --json` prints. For an SQLite file and for a journal file.
//!
//! Needs `optuna-dashboard` on the PATH (`.ci/run` installs it with pip); without it each
//! test says "skipped" and passes.

mod common;

use common::{assert_ok, optimlab_in, stdout_json, temp_dir};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A small, fast space: two log-scale floats over a tiny network.
fn write_space(dir: &Path) -> String {
    let text = "[params]\n\
         lr = { type = \"float\", low = 1e-3, high = 0.3, log = true }\n\
         weight_decay = { type = \"float\", low = 1e-8, high = 1e-3, log = true }\n\
         [train]\n\
         data = \"digits\"\n\
         hidden = [16]\n\
         epochs = 2\n\
         optimizer = \"sgd\"\n\
         batch_size = 32\n";
    let path = dir.join("space.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The dashboard process (its output goes to `log`); killed when dropped.
struct Dashboard {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_dashboard() -> bool {
    let found = Command::new("optuna-dashboard")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("skipped: optuna-dashboard is not installed (pip install optuna-dashboard)");
    }
    found
}

/// Starts `optuna-dashboard ARGS…` on 127.0.0.1 and a free port, logging into `dir`.
fn start_dashboard(dir: &Path, args: &[&str]) -> Dashboard {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("dashboard.log");
    let child = Command::new("optuna-dashboard")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Dashboard { child, port, log }
}

/// `GET path` on the dashboard's JSON API; `None` while it does not answer yet.
fn get_json(d: &Dashboard, path: &str) -> Option<Value> {
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    Some(serde_json::from_str(body).unwrap())
}

/// Waits (up to two minutes) for the dashboard to list study `name`; its id.
fn study_id(d: &mut Dashboard, name: &str) -> u64 {
    let start = Instant::now();
    loop {
        if let Some(v) = get_json(d, "/api/studies")
            && let Some(s) = v["study_summaries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["study_name"] == name)
        {
            return s["study_id"].as_u64().unwrap();
        }
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "optuna-dashboard exited: {}",
            std::fs::read_to_string(&d.log).unwrap_or_default()
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "optuna-dashboard did not list the study"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The trials and the best value the dashboard shows for a study.
fn detail(d: &Dashboard, id: u64) -> (Vec<Value>, Option<f64>) {
    let v = get_json(d, &format!("/api/studies/{id}")).expect("the dashboard answers");
    let best = v["best_trials"]
        .as_array()
        .unwrap()
        .first()
        .map(|t| t["values"][0].as_f64().unwrap());
    (v["trials"].as_array().unwrap().clone(), best)
}

/// One trial first, the dashboard on the study, then two workers raise the budget to 8
/// while the dashboard is polled: it shows the trials arrive (without a restart), and at the
/// end all 8 and the best value that `tune best --json` prints.
fn live(storage: &str, dashboard_storage: &[&str], dir: &Path) {
    let space = write_space(dir);
    let run = |trials: &str| {
        optimlab_in(
            dir,
            &[
                "tune",
                "run",
                "--study",
                "s",
                "--storage",
                storage,
                "--space",
                &space,
                "--trials",
                trials,
                "--sampler",
                "random",
            ],
        )
    };
    assert_ok(&run("1"));
    let mut dash = start_dashboard(dir, dashboard_storage);
    let id = study_id(&mut dash, "s");
    let (trials, _) = detail(&dash, id);
    assert_eq!(trials.len(), 1);
    let workers: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_optimlab"))
                .current_dir(dir)
                .args([
                    "tune",
                    "run",
                    "--study",
                    "s",
                    "--storage",
                    storage,
                    "--space",
                    &space,
                    "--trials",
                    "8",
                    "--sampler",
                    "random",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seen = vec![1];
    let mut workers = workers;
    while !workers.is_empty() {
        let (trials, _) = detail(&dash, id);
        if seen.last() != Some(&trials.len()) {
            seen.push(trials.len());
        }
        workers.retain_mut(|w| match w.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "a worker failed");
                false
            }
            None => true,
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    // The dashboard re-reads a study's trials at most every 2 s: wait for the last ones.
    let start = Instant::now();
    let (trials, best) = loop {
        let (trials, best) = detail(&dash, id);
        if seen.last() != Some(&trials.len()) {
            seen.push(trials.len());
        }
        if trials.len() >= 8 || start.elapsed() > Duration::from_secs(60) {
            break (trials, best);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "the trial count never shrinks: {seen:?}"
    );
    assert_eq!(*seen.last().unwrap(), 8, "{seen:?}");
    assert!(
        trials.iter().all(|t| t["state"] == "Complete"),
        "{trials:?}"
    );
    let numbers: Vec<u64> = trials
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..8).collect::<Vec<_>>());
    let ours = stdout_json(&optimlab_in(
        dir,
        &[
            "tune",
            "best",
            "--study",
            "s",
            "--storage",
            storage,
            "--json",
        ],
    ));
    assert_eq!(best, ours["value"].as_f64());
    println!("dashboard saw trial counts {seen:?}, best {best:?}");
}

#[test]
fn optuna_dashboard_follows_an_sqlite_study_live() {
    if !have_dashboard() {
        return;
    }
    let dir = temp_dir("dash-sqlite");
    let path = dir.join("optimlab-tune.db");
    let url = format!("sqlite:///{}", path.display());
    live(&format!("sqlite:{}", path.display()), &[&url], &dir);
}

#[test]
fn optuna_dashboard_follows_a_journal_study_live() {
    if !have_dashboard() {
        return;
    }
    let dir = temp_dir("dash-journal");
    let path = dir.join("optimlab-tune.log");
    let file = path.display().to_string();
    live(
        &format!("journal:{file}"),
        &["--storage-class", "JournalFileStorage", &file],
        &dir,
    );
}
