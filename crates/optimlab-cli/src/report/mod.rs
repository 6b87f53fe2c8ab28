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
