//! Points coloured by a value, with a colour bar (e.g. trials of a study: learning rate
//! against weight decay, coloured by accuracy), on linear or log axes.

use super::figure::{Figure, titled};
use super::line::fit_range;
use super::style::{Drawn, FONT, fmt_num, viridis};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

#[derive(Clone, Debug)]
pub struct ScatterChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub value_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Colour by log10 of the value.
    pub log_value: bool,
    /// `[x, y, value]` per point.
    pub points: Vec<[f64; 3]>,
    pub size: (u32, u32),
}

impl ScatterChart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        value_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            value_label: value_label.into(),
            log_x: false,
            log_y: false,
            log_value: false,
            points: Vec::new(),
            size: (860, 560),
        }
    }

    fn value_range(&self) -> (f64, f64) {
        let vals = self.points.iter().map(|p| p[2]);
        let (lo, hi) = fit_range(vals, self.log_value, 0.0);
        (lo, hi)
    }

    /// Where `v` sits in the colour scale, in [0, 1].
    fn t(&self, v: f64) -> f64 {
        let (lo, hi) = self.value_range();
        let f = |a: f64| if self.log_value { a.log10() } else { a };
        let (l, h) = (f(lo), f(hi));
        if h > l { (f(v) - l) / (h - l) } else { 0.5 }
    }

    fn draw_in<DB, X, Y>(&self, area: &DrawingArea<DB, Shift>, xr: X, yr: Y) -> Result<()>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .build_cartesian_2d(xr, yr)
            .drawn()?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 14))
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter(&|v: &f64| fmt_num(*v))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .drawn()?;
        let ok = |p: &&[f64; 3]| {
            p.iter().all(|v| v.is_finite())
                && (!self.log_x || p[0] > 0.0)
                && (!self.log_y || p[1] > 0.0)
        };
        chart
            .draw_series(self.points.iter().filter(ok).map(|p| {
                EmptyElement::at((p[0], p[1]))
                    + Circle::new((0, 0), 6, viridis(self.t(p[2])).filled())
                    + Circle::new((0, 0), 6, RGBColor(60, 60, 60).stroke_width(1))
            }))
            .drawn()?;
        Ok(())
    }

    fn draw_colour_bar<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let (lo, hi) = self.value_range();
        let steps = 64;
        let mut bar = ChartBuilder::on(area)
            .margin_top(8)
            .margin_bottom(54)
            .margin_left(6)
            .y_label_area_size(0)
            .right_y_label_area_size(62)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .drawn()?;
        // The bar is drawn in scale position t; the labels map t back to values.
        let value_at = |t: f64| {
            if self.log_value {
                10f64.powf(lo.log10() + t * (hi.log10() - lo.log10()))
            } else {
                lo + t * (hi - lo)
            }
        };
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(self.value_label.as_str())
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .y_labels(6)
            .y_label_formatter(&|t: &f64| fmt_num(value_at(*t)))
            .draw()
            .drawn()?;
        bar.draw_series((0..steps).map(|k| {
            let (a, b) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
            Rectangle::new([(0.0, a), (1.0, b)], viridis((a + b) / 2.0).filled())
        }))
        .drawn()?;
        Ok(())
    }
}

impl Figure for ScatterChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, _legend: bool) -> Result<()> {
        let body = titled(area, &self.title, 24)?;
        let (w, _) = body.dim_in_pixel();
        let (main, bar) = body.split_horizontally(w.saturating_sub(130));
        let (x0, x1) = fit_range(self.points.iter().map(|p| p[0]), self.log_x, 0.05);
        let (y0, y1) = fit_range(self.points.iter().map(|p| p[1]), self.log_y, 0.05);
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_in(&main, x0..x1, y0..y1)?,
            (true, false) => self.draw_in(&main, (x0..x1).log_scale(), y0..y1)?,
            (false, true) => self.draw_in(&main, x0..x1, (y0..y1).log_scale())?,
            (true, true) => self.draw_in(&main, (x0..x1).log_scale(), (y0..y1).log_scale())?,
        }
        self.draw_colour_bar(&bar)
    }
}
