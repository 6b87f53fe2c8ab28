//! Shared by the experiment tests: Fashion-MNIST when installed, a silent progress callback,
//! a timed run.

use optimlab::data::source::SYSTEM_FASHION_MNIST;
use optimlab::data::{DataConfig, Splits};
use optimlab::experiments::Progress;

/// Fashion-MNIST from the system folder, or `None` (with a note) when it is not installed.
pub fn fashion_mnist() -> Option<Splits> {
    if !std::path::Path::new(SYSTEM_FASHION_MNIST).is_dir() {
        eprintln!("skipped: Fashion-MNIST is not installed at {SYSTEM_FASHION_MNIST}");
        return None;
    }
    let config = DataConfig {
        data: "fashion-mnist".into(),
        ..DataConfig::default()
    };
    Some(config.prepare().expect("Fashion-MNIST loads"))
}

pub fn quiet(_: Progress) {}

/// Runs `f` and prints how long it took as `{what}: N.N s` (the test logs keep the timings).
// Each test crate compiles this module on its own; not every one times a run.
#[allow(dead_code)]
pub fn timed<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let start = std::time::Instant::now();
    let out = f();
    eprintln!("{what}: {:.1} s", start.elapsed().as_secs_f64());
    out
}
