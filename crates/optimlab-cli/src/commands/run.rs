//! One training run: data, network, trainer loop, run folder, progress.

use super::settings::Resolved;
use super::train::{EXIT_DIVERGED, ensure_writable};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use optimlab::nn::Network;
use optimlab::optim::Scheduler;
use optimlab::tensor::{Scalar, Threads};
use optimlab::train::{EpochRecord, Progress, TrainData, TrainError, Trainer};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

#[derive(Serialize)]
struct Summary<'a> {
    status: &'a str,
    data: &'a str,
    dtype: &'a str,
    preset: &'a str,
    optimizer: &'a str,
    epochs: usize,
    iters: usize,
    train_samples: usize,
    val_samples: Option<usize>,
    test_samples: usize,
    final_train_loss: Option<f64>,
    final_train_acc: Option<f64>,
    final_val_acc: Option<f64>,
    final_test_acc: Option<f64>,
    best_val_acc: Option<f64>,
    seconds: f64,
    ms_per_iter: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn train<T: Scalar>(
    mut resolved: Resolved,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<()> {
    if !resume && out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!(
            "{} already holds files; choose another --out, or continue that run with --resume",
            out.display()
        );
    }
    let splits = super::data_source::load(&resolved.settings)?;
    resolved.network.input = splits.train.dim;
    resolved.network.output = splits.train.classes;
    let resolved = &resolved;
    let net = Network::<T>::build_with_threads(
        &resolved.network,
        resolved.seed,
        Threads(resolved.threads),
    )?;
    let optimizer = resolved.optimizer.build::<T>()?;
    let scheduler = resolved
        .schedule
        .clone()
        .map(|s| Scheduler::new(s, resolved.optimizer.lr))
        .transpose()?;
    let mut trainer = Trainer::new(
        net,
        optimizer,
        scheduler,
        resolved.train.clone(),
        splits.train.len(),
    )?;
    super::checkpointing::prepare(resolved, out, resume, &mut trainer)?;
    // Everything is checked: only now is the run folder created.
    ensure_writable(out)?;
    if trainer.early_stopped() {
        anyhow::bail!(
            "nothing to do: {} was stopped early at epoch {} (no validation improvement)",
            out.display(),
            trainer.epoch()
        );
    }
    if trainer.iter() >= trainer.total_iters() {
        anyhow::bail!(
            "nothing to do: {} already completed {} of the {} iterations asked for (raise --epochs or --iters)",
            out.display(),
            trainer.iter(),
            trainer.total_iters()
        );
    }
    if !resume {
        write_atomic(&out.join("config.toml"), resolved.to_toml()?.as_bytes())?;
    }
    let history_path = out.join("history.jsonl");
    if resume {
        keep_history_before(&history_path, trainer.iter())?;
    }
    let history_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&history_path)
        .with_context(|| format!("cannot open {}", history_path.display()))?;
    let mut history = BufWriter::new(history_file);

    let total = trainer.total_iters();
    let bar = progress_bar(quiet, total as u64, trainer.iter() as u64);
    if !quiet {
        let msg = format!(
            "{}: {} train / {} val / {} test; {}; {} ({} preset, {}) → {}",
            resolved.data_name(),
            splits.train.len(),
            splits.val.as_ref().map_or(0, |v| v.len()),
            splits.test.len(),
            trainer.net.describe(),
            resolved.optimizer.name,
            resolved.preset.name(),
            T::NAME,
            out.display()
        );
        match &bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }
    let data = TrainData {
        train: &splits.train,
        val: splits.val.as_ref(),
        test: Some(&splits.test),
    };
    let started = std::time::Instant::now();
    let iters_at_start = trainer.iter();
    let mut last: Option<EpochRecord> = None;
    let mut best_val: Option<f64> = None;
    let mut status = "completed";
    let mut error = None;
    let mut last_accuracies = String::new();
    loop {
        let mut io_error = None;
        let result = trainer.run_epoch(&data, |r| {
            // Written by hand: this runs every iteration and allocates nothing.
            if let Err(e) = writeln!(
                history,
                "{{\"kind\":\"iter\",\"iter\":{},\"loss\":{},\"lr\":{}}}",
                r.iter,
                JsonNumber(r.loss),
                JsonNumber(r.lr)
            ) {
                io_error.get_or_insert(e);
            }
            if let Some(b) = &bar
                && r.iter % 20 == 0
            {
                b.set_position(r.iter as u64 + 1);
                b.set_message(format!("loss {:.4}{last_accuracies}", r.loss));
            }
        });
        if let Some(e) = io_error {
            return Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot write {}", history_path.display()));
        }
        match result {
            Ok((record, progress)) => {
                write_json_line(&mut history, "epoch", &record)?;
                history.flush()?;
                if let Some(v) = record.val_acc {
                    best_val = Some(best_val.map_or(v, |b: f64| b.max(v)));
                }
                report_epoch(&bar, quiet, &record);
                last_accuracies = [("val", record.val_acc), ("test", record.test_acc)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("  {k} acc {v:.4}")))
                    .collect();
                let finished = progress != Progress::Continue;
                if finished || trainer.epoch() % resolved.checkpoint_every == 0 {
                    super::checkpointing::save(resolved, out, &mut trainer)?;
                }
                last = Some(record);
                if progress == Progress::Stopped {
                    status = "early_stopped";
                }
                if finished {
                    break;
                }
            }
            Err(TrainError::Diverged { loss, iter }) => {
                status = "diverged";
                error = Some(format!(
                    "the loss diverged (became {loss}) at iteration {iter}; lower the learning rate"
                ));
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    history.flush()?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    let done = trainer.iter() - iters_at_start;
    let summary = Summary {
        status,
        data: resolved.data_name(),
        dtype: T::NAME,
        preset: resolved.preset.name(),
        optimizer: &resolved.optimizer.name,
        epochs: trainer.epoch(),
        iters: trainer.iter(),
        train_samples: splits.train.len(),
        val_samples: splits.val.as_ref().map(|v| v.len()),
        test_samples: splits.test.len(),
        final_train_loss: last.as_ref().map(|r| r.train_loss),
        final_train_acc: last.as_ref().and_then(|r| r.train_acc),
        final_val_acc: last.as_ref().and_then(|r| r.val_acc),
        final_test_acc: last.as_ref().and_then(|r| r.test_acc),
        best_val_acc: best_val,
        seconds,
        ms_per_iter: if done > 0 {
            seconds * 1e3 / done as f64
        } else {
            0.0
        },
        error: error.clone(),
    };
    write_atomic(
        &out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    if let Some(msg) = error {
        if super::checkpointing::checkpoint_path(out).is_file() {
            eprintln!(
                "error: {msg} (the last good checkpoint in {} is intact)",
                out.display()
            );
        } else {
            eprintln!("error: {msg}");
        }
        std::process::exit(EXIT_DIVERGED as i32);
    }
    super::checkpointing::save_model(resolved, out, &trainer)?;
    println!(
        "final: train acc {:.4}, test acc {:.4} after {} epochs ({} iterations, {:.2} s) → {}",
        summary.final_train_acc.unwrap_or(f64::NAN),
        summary.final_test_acc.unwrap_or(f64::NAN),
        summary.epochs,
        summary.iters,
        seconds,
        out.display()
    );
    Ok(())
}

fn progress_bar(quiet: bool, total: u64, at: u64) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} it  {msg}  [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    bar.set_position(at);
    Some(bar)
}

fn report_epoch(bar: &Option<ProgressBar>, quiet: bool, r: &EpochRecord) {
    if quiet {
        return;
    }
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let line = format!(
        "epoch {:>3}  iter {:>6}  loss {:.4}  train acc {}  val acc {}  test acc {}  ({:.1} s)",
        r.epoch,
        r.iter,
        r.train_loss,
        fmt(r.train_acc),
        fmt(r.val_acc),
        fmt(r.test_acc),
        r.seconds
    );
    match bar {
        Some(b) => b.println(line),
        None => eprintln!("{line}"),
    }
}

fn write_json_line<W: Write, R: Serialize>(w: &mut W, kind: &str, record: &R) -> Result<()> {
    let mut v = serde_json::to_value(record)?;
    if let serde_json::Value::Object(map) = &mut v {
        map.insert("kind".into(), kind.into());
    }
    // "kind" first, as documented: build the line by hand around the record's fields.
    let serde_json::Value::Object(map) = v else {
        unreachable!()
    };
    let mut line = format!("{{\"kind\":{}", serde_json::to_string(kind)?);
    for (k, val) in map.iter().filter(|(k, _)| *k != "kind") {
        line.push_str(&format!(",{}:{}", serde_json::to_string(k)?, val));
    }
    line.push('}');
    writeln!(w, "{line}")?;
    Ok(())
}

/// A float as JSON: non-finite values (which JSON cannot hold) become `null`.
struct JsonNumber(f64);

impl std::fmt::Display for JsonNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_finite() {
            // Rust prints the shortest text that reads back as the same f64.
            write!(f, "{:?}", self.0)
        } else {
            f.write_str("null")
        }
    }
}

/// On resume: keeps the history lines of iterations before `iter` (what the checkpoint holds)
/// and drops the rest, including a line cut off by a crash.
fn keep_history_before(path: &Path, iter: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at = v["iter"].as_u64().unwrap_or(u64::MAX) as usize;
        let keep = match v["kind"].as_str() {
            Some("iter") => at < iter,
            Some("epoch") => at <= iter,
            _ => false,
        };
        if keep {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    write_atomic(path, kept.as_bytes())
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
