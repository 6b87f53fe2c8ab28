//! `optimlab data`: download MNIST / Fashion-MNIST into the cache, describe a data source.

use anyhow::{Result, bail};
use optimlab::data::csv::CsvHeader;
use optimlab::data::download::{self, Event, Remote};
use optimlab::data::{DataConfig, DataSource, Dataset, cache_dir};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    optimlab data download fashion-mnist\n  \
    optimlab data download mnist --cache ~/datasets\n  \
    optimlab data info --data fashion-mnist --val-fraction 0.1")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Download MNIST or Fashion-MNIST into the cache folder, checking every file.
    ///
    /// The four files go to CACHE/NAME/, where CACHE is --cache, else $OPTIMLAB_CACHE, else
    /// $XDG_CACHE_HOME/optimlab, else ~/.cache/optimlab. Each file is checked against the MD5
    /// published by the data set's maintainers and torchvision (Fashion-MNIST also against the
    /// SHA-256 of its content); files already there and valid are not fetched again.
    Download(DownloadArgs),
    /// Print the samples, features and classes of each split of a data source.
    Info(InfoArgs),
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    optimlab data download fashion-mnist\n  \
    optimlab data download mnist --mirror https://ossci-datasets.s3.amazonaws.com/mnist/ --cache /tmp/cache\n  \
    optimlab train --data mnist        # once downloaded")]
pub struct DownloadArgs {
    /// mnist or fashion-mnist
    #[arg(value_parser = parse_remote)]
    dataset: Remote,
    /// Base URL holding the four .gz files (default: the mirror torchvision uses)
    #[arg(long)]
    mirror: Option<String>,
    /// Cache folder (default: $OPTIMLAB_CACHE, $XDG_CACHE_HOME/optimlab or ~/.cache/optimlab)
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Print nothing but errors
    #[arg(long)]
    quiet: bool,
}

/// The data flags shared by the commands that load data.
#[derive(clap::Args, Clone, Debug)]
pub struct DataFlags {
    /// digits (embedded), fashion-mnist, mnist, a folder of MNIST-format files, or a .csv file
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// CSV only: the label column: last (default), first, a 0-based index or a header name
    #[arg(long)]
    pub label_column: Option<String>,
    /// Part of the training set held out for validation, in [0, 1) (0: none)
    #[arg(long, default_value_t = 0.0)]
    pub val_fraction: f64,
    /// Only the first N training samples
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// Only the first N test samples
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,
    /// Cache folder (default: $OPTIMLAB_CACHE, $XDG_CACHE_HOME/optimlab or ~/.cache/optimlab)
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// CSV only: whether the first row is a header: auto (when none of its fields is a
    /// number), yes or no
    #[arg(long, default_value = "auto")]
    pub header: CsvHeader,
    /// Number of classes, when the labels do not show it (a label at or above it is an error)
    #[arg(long, value_name = "N")]
    pub classes: Option<usize>,
}

/// Says on stderr when `--header auto` took the first row of a CSV file as a header, so a
/// dropped data row never goes unnoticed.
pub fn note_csv_header(config: &DataConfig) {
    if config.header != CsvHeader::Auto {
        return;
    }
    if let Ok(DataSource::Csv { path, .. }) = config.source()
        && let Ok(Some(names)) = optimlab::data::csv::header_of(&path, CsvHeader::Auto)
    {
        eprintln!(
            "note: {}: the first row is read as a header ({}); --header no reads it as data",
            path.display(),
            names.join(", ")
        );
    }
}

impl DataFlags {
    pub fn to_config(&self) -> DataConfig {
        DataConfig {
            data: self.data.clone(),
            label_column: self.label_column.clone(),
            val_fraction: self.val_fraction,
            train_limit: self.train_limit,
            test_limit: self.test_limit,
            cache: self.cache.clone(),
            header: self.header,
            classes: self.classes,
        }
    }
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    optimlab data info\n  \
    optimlab data info --data fashion-mnist --val-fraction 0.1 --json\n  \
    optimlab data info --data table.csv --label-column species")]
pub struct InfoArgs {
    #[command(flatten)]
    data: DataFlags,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

fn parse_remote(s: &str) -> Result<Remote, String> {
    Remote::parse(s).map_err(|_| format!("unknown data set '{s}': expected mnist or fashion-mnist"))
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Download(a) => run_download(a),
        Command::Info(a) => run_info(a),
    }
}

fn run_download(a: DownloadArgs) -> Result<()> {
    if let Some(m) = &a.mirror
        && !(m.starts_with("http://") || m.starts_with("https://"))
    {
        bail!("--mirror {m}: expected an http:// or https:// URL");
    }
    let cache = cache_dir(a.cache.as_deref())?;
    let quiet = a.quiet;
    let mut on_event = |e: Event| {
        if quiet {
            return;
        }
        match e {
            Event::Present { file } => eprintln!("{}: present and valid", file.display()),
            Event::Replacing { file, reason } => {
                eprintln!("{}: invalid ({reason}); fetching again", file.display())
            }
            Event::Fetching { url } => eprintln!("fetching {url}"),
            Event::Saved { file, bytes } => {
                eprintln!("{}: {bytes} bytes, checksums match", file.display())
            }
        }
    };
    let dir = download::download(a.dataset, a.mirror.as_deref(), &cache, &mut on_event)?;
    if !quiet {
        println!(
            "{} ready in {}; train with --data {}{}",
            a.dataset.name(),
            dir.display(),
            a.dataset.name(),
            match &a.cache {
                Some(c) => format!(" --cache {}", c.display()),
                None => String::new(),
            }
        );
    }
    Ok(())
}

fn run_info(a: InfoArgs) -> Result<()> {
    let config = a.data.to_config();
    let source = config.source()?;
    let splits = config.prepare()?;
    note_csv_header(&config);
    let folder = source.folder()?;
    let mut rows: Vec<(&str, &Dataset)> = vec![("train", &splits.train)];
    if let Some(v) = &splits.val {
        rows.push(("val", v));
    }
    rows.push(("test", &splits.test));
    if a.json {
        let split = |d: &Dataset| {
            let mut per_class = vec![0usize; d.classes];
            for &l in &d.labels {
                if let Some(c) = per_class.get_mut(l) {
                    *c += 1;
                }
            }
            serde_json::json!({
                "samples": d.len(),
                "features": d.dim,
                "classes": d.classes,
                "per_class": per_class,
            })
        };
        let mut obj = serde_json::Map::new();
        obj.insert("data".into(), source.name().into());
        if let Some(f) = &folder {
            obj.insert("folder".into(), f.display().to_string().into());
        }
        for (name, d) in &rows {
            obj.insert((*name).into(), split(d));
        }
        println!("{}", serde_json::Value::Object(obj));
        return Ok(());
    }
    match &folder {
        Some(f) => println!("data: {} ({})", source.name(), f.display()),
        None => println!("data: {}", source.name()),
    }
    println!(
        "{:<6} {:>8} {:>9} {:>8}",
        "split", "samples", "features", "classes"
    );
    for (name, d) in rows {
        println!("{name:<6} {:>8} {:>9} {:>8}", d.len(), d.dim, d.classes);
    }
    Ok(())
}
