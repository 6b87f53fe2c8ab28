//! `optimlab`: the command-line face of the optimlab library.
//!
//! Every command prints a one-line error and exits non-zero on bad input; the library does
//! the work, this crate parses flags and renders results.

mod commands;
mod report;
mod signals;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "optimlab",
    version,
    about = "Train dense neural networks and study the techniques that make training work"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an optimizer on a 2-D test function and print its path.
    Trajectory(commands::trajectory::Args),
    /// Train a network, writing a run folder (history, summary, checkpoint, model).
    Train(Box<commands::train::Args>),
    /// Evaluate a trained model: loss, accuracy, per-class accuracy, confusion matrix.
    Eval(commands::model::EvalArgs),
    /// Predict the class and probabilities of each sample of a CSV file.
    Predict(commands::model::PredictArgs),
    /// Export a trained model's weights (.npz with the book's names, or .safetensors).
    Export(commands::model::ExportArgs),
    /// Compare backprop with numerical gradients for a network.
    Gradcheck(commands::model::GradcheckArgs),
    /// Time one training step (forward, backward, update) of a reference workload.
    Bench(commands::bench::Args),
    /// Run one of the chapter's experiments (or all) and write a report with plots.
    Experiment(commands::experiment::Args),
    /// Download MNIST / Fashion-MNIST (checksummed) or describe a data source.
    Data(commands::data::Args),
    /// Hyperparameter search: run a study, join it as a worker, inspect, copy and report it.
    Tune(commands::tune::Args),
    /// Write (or serve) the interactive page: optimizer races, live training, initialisation.
    Playground(commands::playground::Args),
}

/// Exit code of a run stopped because the loss diverged.
const EXIT_DIVERGED: u8 = 3;

/// Parses the command line; a usage error is one line plus where to find help (clap's full
/// message repeats the usage and tips over several lines).
fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let text = e.render().to_string();
            let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
            let mut first = lines
                .next()
                .unwrap_or("error: invalid arguments")
                .to_string();
            // "…were not provided:" lists what is missing on the indented lines below it.
            if first.ends_with(':') {
                let listed: Vec<&str> = lines
                    .take_while(|l| l.starts_with(' '))
                    .map(str::trim)
                    .collect();
                first = format!("{first} {}", listed.join(", "));
            }
            let hint = text
                .lines()
                .find(|l| l.starts_with("For more information"))
                .unwrap_or("For more information, try '--help'.");
            eprintln!("{first}\n{hint}");
            std::process::exit(e.exit_code());
        }
    }
}

fn main() -> ExitCode {
    signals::default_sigpipe();
    signals::panic_hook();
    // Lets the tests check what a bug looks like to a user.
    if std::env::var_os("OPTIMLAB_TEST_PANIC").is_some() {
        panic!("a test panic (OPTIMLAB_TEST_PANIC is set)");
    }
    let cli = parse();
    match &cli.command {
        Command::Train(_) => signals::install(signals::OnSignal::Graceful(
            "stopping after the current step (signal again to quit at once)…",
        )),
        Command::Experiment(a) if a.runs_all() => signals::install(signals::OnSignal::Graceful(
            "stopping after the current experiment; the finished reports are kept (signal again to quit at once)…",
        )),
        Command::Experiment(_) => signals::install(signals::OnSignal::AtOnce(
            "interrupted: the unfinished report was removed; nothing written",
        )),
        Command::Tune(t) if t.runs_trials() => signals::install(signals::OnSignal::Graceful(
            "stopping after the current step (signal again to quit at once)…",
        )),
        _ => {}
    }
    let result = match cli.command {
        Command::Trajectory(args) => commands::trajectory::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Train(args) => commands::train::run(*args),
        Command::Eval(args) => commands::model::eval(args),
        Command::Predict(args) => commands::model::predict(args),
        Command::Export(args) => commands::model::export(args),
        Command::Gradcheck(args) => commands::model::gradcheck(args),
        Command::Data(args) => commands::data::run(args),
        Command::Tune(args) => commands::tune::run(args),
        Command::Experiment(args) => commands::experiment::run(args),
        Command::Playground(args) => commands::playground::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A diverged run keeps its last good checkpoint and exits with its own code.
            if let Some(optimlab::train::RunError::Diverged {
                message,
                dir,
                checkpoint_intact,
                ..
            }) = e.downcast_ref()
            {
                if *checkpoint_intact {
                    eprintln!(
                        "error: {message} (the last good checkpoint in {} is intact)",
                        dir.display()
                    );
                } else {
                    eprintln!("error: {message}");
                }
                return ExitCode::from(EXIT_DIVERGED);
            }
            // Stopped by SIGINT/SIGTERM with a checkpoint written: say how to go on.
            if let Some(optimlab::train::RunError::Interrupted { dir, iter }) = e.downcast_ref() {
                eprintln!(
                    "interrupted at iteration {iter}; the checkpoint in {} is written; continue with: optimlab train --resume {}",
                    dir.display(),
                    dir.display()
                );
                return ExitCode::from(signals::exit_code().unwrap_or(130));
            }
            // Stopped by a signal after writing what was finished: the message says what.
            if let Some(signals::Interrupted(message)) = e.downcast_ref() {
                eprintln!("{message}");
                return ExitCode::from(signals::exit_code().unwrap_or(130));
            }
            // `tune run`/`worker` stopped by a signal: the trial is given back; say how to go on.
            if let Some(i) = e.downcast_ref::<commands::tune::Interrupted>() {
                eprintln!("{i}");
                return ExitCode::from(signals::exit_code().unwrap_or(130));
            }
            // One line: the chain of causes joined, never a backtrace.
            // A cause whose text its parent already shows (thiserror's "{path}: {source}")
            // is not repeated.
            let mut msg = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if msg.is_empty() {
                    msg = cause;
                } else if !msg.contains(&cause) {
                    msg = format!("{msg}: {cause}");
                }
            }
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}
