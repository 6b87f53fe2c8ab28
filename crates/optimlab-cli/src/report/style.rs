//! Fonts, colours and number formatting shared by every figure.

use anyhow::{Result, bail};
use plotters::style::{FontStyle, RGBColor, register_font};
use std::sync::OnceLock;

/// The family name every figure draws text with. Registering the bundled font under the name
/// plotters uses by default means no text anywhere falls back to (absent) system fonts; SVG
/// viewers render the same name with their own sans-serif face.
pub const FONT: &str = "sans-serif";

/// DejaVu Sans, compiled in (licence and credits in `assets/`).
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font with plotters once per process.
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if !ok {
        bail!("the bundled font could not be read (assets/DejaVuSans.ttf)");
    }
    Ok(())
}

const fn hex(v: u32) -> RGBColor {
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Categorical colours (matplotlib's tab10 order), for series that are not optimizers.
pub const PALETTE: [RGBColor; 10] = [
    hex(0x1f77b4),
    hex(0xff7f0e),
    hex(0x2ca02c),
    hex(0xd62728),
    hex(0x9467bd),
    hex(0x8c564b),
    hex(0xe377c2),
    hex(0x7f7f7f),
    hex(0xbcbd22),
    hex(0x17becf),
];

/// The fixed colour of each optimizer, the same in every figure and report. SGD, Momentum,
/// AdaGrad and Adam keep the colours of the book's figures (blue, orange, green, red).
pub fn optimizer_color(name: &str) -> Option<RGBColor> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sgd" => hex(0x1f77b4),
        "momentum" => hex(0xff7f0e),
        "nesterov" => hex(0x8c564b),
        "adagrad" => hex(0x2ca02c),
        "rmsprop" => hex(0x9467bd),
        "adam" => hex(0xd62728),
        "adamw" => hex(0xe377c2),
        "amsgrad" => hex(0xbcbd22),
        "nadam" => hex(0x17becf),
        "radam" => hex(0x7f7f7f),
        "adadelta" => hex(0x00606b),
        "lion" => hex(0x222222),
        _ => return None,
    })
}

/// An optimizer's fixed colour, else the `index`-th palette colour.
pub fn series_color(name: &str, index: usize) -> RGBColor {
    optimizer_color(name).unwrap_or(PALETTE[index % PALETTE.len()])
}

/// Viridis, sampled at nine stops; `t` in [0, 1] is interpolated between them.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [u32; 9] = [
        0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725,
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (hex(STOPS[i]), hex(STOPS[i + 1]));
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A compact tick label: plain decimals in a readable range, `1e-3` style outside it.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Turns a plotters error (whose type depends on the back end) into a one-line error.
pub(crate) trait Drawn<T> {
    fn drawn(self) -> Result<T>;
}

impl<T, E: std::fmt::Debug> Drawn<T> for std::result::Result<T, E> {
    fn drawn(self) -> Result<T> {
        self.map_err(|e| anyhow::anyhow!("drawing a figure failed: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_registers() {
        ensure_font().unwrap();
    }

    #[test]
    fn optimizers_keep_their_colours_whatever_the_index() {
        assert_eq!(series_color("adam", 0), series_color("Adam", 7));
        assert_ne!(series_color("sgd", 0), series_color("adam", 0));
        assert_eq!(series_color("with BN", 2), PALETTE[2]);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.0001), "1e-4");
        assert_eq!(fmt_num(250.0), "250");
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
    }
}
