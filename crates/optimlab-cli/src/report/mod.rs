//! Figures (PNG and SVG of the same drawing) and static HTML reports, for any command that
//! shows results: experiments, hyperparameter studies.
//!
//! - Build a figure — [`LineChart`] (optionally log axes, min–max bands, faint raw lines),
//!   [`Histogram`], [`ContourChart`] (paths over level lines), [`ScatterChart`] (points coloured
//!   by a value, with a colour bar), [`BarChart`] (horizontal bars) — or a [`Grid`] of panels of
//!   one kind with a shared legend; [`save`] writes `stem.png` and `stem.svg`.
//! - Colours: [`series_color`] gives each optimizer the same colour in every figure.
//! - [`Page`] writes an `index.html` (text, figures, settings and key-number tables; no
//!   scripts, no network); [`write_index`] links several reports.
//! - [`Staging`] makes writing all-or-nothing: build the report in a staging folder beside the
//!   target and [`Staging::commit`] renames it into place.
//!
//! Text is drawn with the bundled DejaVu Sans (see `assets/`), never with system fonts.

// A toolkit shared by several commands: each uses only some of the builders.
#![allow(dead_code, unused_imports)]

mod bars;
mod contour;
mod figure;
mod histogram;
mod html;
mod line;
mod scatter;
mod staging;
mod style;

pub use bars::BarChart;
pub use contour::{ContourChart, PathLine, level_segments};
pub use figure::{Figure, FigureFiles, Grid, LegendEntry, save};
pub use histogram::Histogram;
pub use html::{IndexEntry, Page, Table, escape, write_index};
pub use line::{LineChart, Series, fit_range, mean_min_max};
pub use scatter::ScatterChart;
pub use staging::Staging;
pub use style::{PALETTE, fmt_num, optimizer_color, series_color, viridis};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of figure renders to a PNG and an SVG with text in it (the PNGs are worth a
    /// look: OPTIMLAB_KEEP_FIGURES=DIR keeps them there).
    #[test]
    fn every_figure_kind_saves_png_and_svg() {
        let dir = match std::env::var_os("OPTIMLAB_KEEP_FIGURES") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::env::temp_dir().join(format!("optimlab-figures-{}", std::process::id())),
        };
        std::fs::create_dir_all(&dir).unwrap();
        let xs: Vec<f64> = (1..=50).map(|i| i as f64).collect();
        let curve = |k: f64| xs.iter().map(|x| 2.0 / x.powf(k)).collect::<Vec<_>>();
        let mut line = LineChart::new("Loss (log–log)", "iteration", "loss");
        line.log_x = true;
        line.log_y = true;
        for (i, name) in ["sgd", "adam"].into_iter().enumerate() {
            let y = curve(0.5 + i as f64);
            let lo = y.iter().map(|v| v * 0.8).collect();
            let hi = y.iter().map(|v| v * 1.25).collect();
            let raw = y
                .iter()
                .enumerate()
                .map(|(j, v)| v * if j % 2 == 0 { 1.3 } else { 0.7 })
                .collect();
            line = line.series(
                Series::new(name, series_color(name, i), xs.clone(), y)
                    .with_band(lo, hi)
                    .with_raw(raw),
            );
        }
        line = line.series(Series::new("test", PALETTE[2], xs.clone(), curve(0.7)).dashed());
        let mut scatter = ScatterChart::new("Trials", "learning rate", "weight decay", "accuracy");
        scatter.log_x = true;
        scatter.log_y = true;
        for i in 0..40 {
            let t = i as f64 / 39.0;
            scatter.points.push([
                10f64.powf(-4.0 + 3.0 * t),
                10f64.powf(-5.0 + 4.0 * (1.0 - t) * t * 4.0 % 1.0),
                0.5 + 0.4 * t,
            ]);
        }
        let bars = BarChart::new(
            "Parameter importance",
            "importance",
            vec![
                ("lr".into(), 0.62),
                ("weight_decay".into(), 0.25),
                ("batch_size".into(), 0.13),
            ],
            PALETTE[0],
        );
        let hist = Grid::new(
            "Histograms",
            (0..4)
                .map(|k| {
                    Histogram::from_values(
                        format!("panel {k}"),
                        &curve(0.3 + k as f64 * 0.2),
                        10,
                        (0.0, 2.0),
                        PALETTE[k],
                    )
                })
                .collect(),
            2,
        );
        let contour = ContourChart::sample("Bowl", (-2.0, 2.0), (-2.0, 2.0), 60, |x, y| {
            x * x + 3.0 * y * y
        })
        .levels(vec![0.5, 1.0, 2.0, 4.0])
        .path(PathLine {
            name: "sgd".into(),
            color: series_color("sgd", 0),
            points: vec![[-1.8, 1.5], [-1.0, -0.5], [-0.4, 0.2], [0.0, 0.0]],
        });
        let files = [
            save(&line, &dir, "line").unwrap(),
            save(&scatter, &dir, "scatter").unwrap(),
            save(&bars, &dir, "bars").unwrap(),
            save(&hist, &dir, "hist").unwrap(),
            save(&contour, &dir, "contour").unwrap(),
        ];
        for f in &files {
            let png = std::fs::read(dir.join(&f.png)).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 5000, "{}", f.png);
            let svg = std::fs::read_to_string(dir.join(&f.svg)).unwrap();
            assert!(svg.contains("<svg") && svg.contains("<text"), "{}", f.svg);
        }
        let svg = std::fs::read_to_string(dir.join("bars.svg")).unwrap();
        assert!(svg.contains("weight_decay"), "bar labels are drawn");
        if std::env::var_os("OPTIMLAB_KEEP_FIGURES").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
