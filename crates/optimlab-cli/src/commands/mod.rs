//! One module per subcommand.

pub mod bench;
pub mod data;
pub mod experiment;
pub mod experiment_search;
pub mod model;
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
