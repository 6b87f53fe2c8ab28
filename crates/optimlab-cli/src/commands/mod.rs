//! One module per subcommand.

pub mod bench;
pub mod data;
pub mod experiment;
pub mod experiment_search;
pub mod model;
pub mod playground;
pub mod train;
pub mod trajectory;
pub mod tune;

/// Parses `X,Y` into a pair of finite numbers.
pub fn parse_point(s: &str) -> Result<[f64; 2], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("invalid point '{s}': expected X,Y (two numbers, e.g. -7,2)");
    if parts.len() != 2 {
        return Err(bad());
    }
    let x: f64 = parts[0].parse().map_err(|_| bad())?;
    let y: f64 = parts[1].parse().map_err(|_| bad())?;
    if !(x.is_finite() && y.is_finite()) {
        return Err(bad());
    }
    Ok([x, y])
}

/// A plain progress line on stderr every few seconds (`OPTIMLAB_PROGRESS_SECS`, default 5),
/// for when stderr is a log file or a pipe, where a progress bar is not drawn.
pub struct PlainProgress {
    every: std::time::Duration,
    started: std::time::Instant,
    last: std::time::Instant,
    start: u64,
    total: u64,
}

impl PlainProgress {
    pub fn new(start: u64, total: u64) -> Self {
        let secs = std::env::var("OPTIMLAB_PROGRESS_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(5.0);
        let now = std::time::Instant::now();
        PlainProgress {
            every: std::time::Duration::from_secs_f64(secs),
            started: now,
            last: now,
            start,
            total,
        }
    }

    /// The total, when it is known only once work starts.
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// Prints `iteration done/total (p %), <detail>, ETA` when the interval has passed.
    pub fn update(&mut self, done: u64, detail: impl FnOnce() -> String) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last) < self.every {
            return;
        }
        self.last = now;
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let progressed = done.saturating_sub(self.start);
        let eta = if progressed > 0 {
            format!(
                "{:.0} s",
                elapsed / progressed as f64 * self.total.saturating_sub(done) as f64
            )
        } else {
            "?".into()
        };
        eprintln!(
            "progress: iteration {done}/{} ({:.0} %), {}, ETA {eta}",
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64,
            detail()
        );
    }
}
