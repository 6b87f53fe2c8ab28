//! Multi-series line charts: optional log axes, a shaded min–max band around a mean line,
//! faint raw lines under smoothed ones, solid or dashed strokes.

use super::figure::{Figure, LegendEntry, legend_strokes, titled};
use super::style::{Drawn, FONT, fmt_num};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub dashed: bool,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Lower and upper edges of a shaded band (e.g. min and max over seeds), same length as `x`.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    /// The unsmoothed values, drawn faintly under `y` (same length as `x`).
    pub raw: Option<Vec<f64>>,
}

impl Series {
    pub fn new(name: impl Into<String>, color: RGBColor, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            color,
            dashed: false,
            x,
            y,
            band: None,
            raw: None,
        }
    }

    /// `y` against 0, 1, 2, …
    pub fn indexed(name: impl Into<String>, color: RGBColor, y: Vec<f64>) -> Self {
        let x = (0..y.len()).map(|i| i as f64).collect();
        Self::new(name, color, x, y)
    }

    pub fn with_band(mut self, lower: Vec<f64>, upper: Vec<f64>) -> Self {
        self.band = Some((lower, upper));
        self
    }

    pub fn with_raw(mut self, raw: Vec<f64>) -> Self {
        self.raw = Some(raw);
        self
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        let band = self.band.iter().flat_map(|(l, u)| l.iter().chain(u));
        self.y
            .iter()
            .chain(band)
            .chain(self.raw.iter().flatten())
            .copied()
    }
}

/// A chart of several series sharing axes.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
    /// A fixed y range (e.g. 0..1 for accuracy); otherwise fitted to the data.
    pub y_range: Option<(f64, f64)>,
    pub size: (u32, u32),
}

impl LineChart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            series: Vec::new(),
            y_range: None,
            size: (900, 560),
        }
    }

    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    fn x_range(&self) -> (f64, f64) {
        fit_range(
            self.series.iter().flat_map(|s| s.x.iter().copied()),
            self.log_x,
            0.0,
        )
    }

    fn y_range(&self) -> (f64, f64) {
        self.y_range.unwrap_or_else(|| {
            fit_range(
                self.series.iter().flat_map(Series::values),
                self.log_y,
                0.05,
            )
        })
    }

    fn draw_in<DB, X, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        xr: X,
        yr: Y,
        legend: bool,
    ) -> Result<()>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let small = area.dim_in_pixel().0 < 600;
        let (title_px, label_px, tick_px) = if small { (17, 14, 12) } else { (24, 19, 15) };
        let body = titled(area, &self.title, title_px)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(if small { 12 } else { 20 })
            .x_label_area_size(if small { 34 } else { 48 })
            .y_label_area_size(if small { 52 } else { 72 })
            .build_cartesian_2d(xr, yr)
            .drawn()?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style((FONT, label_px))
            .label_style((FONT, tick_px))
            .x_labels(if small { 5 } else { 8 })
            .y_labels(if small { 5 } else { 8 })
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter(&|v: &f64| fmt_num(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .drawn()?;
        let ok = |x: f64, y: f64| {
            x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0) && (!self.log_y || y > 0.0)
        };
        // Bands first, then raw lines, then the lines themselves, so lines stay on top.
        for s in &self.series {
            if let Some((lo, hi)) = &s.band {
                let mut poly: Vec<(f64, f64)> =
                    s.x.iter()
                        .zip(hi)
                        .map(|(&x, &y)| (x, y))
                        .filter(|&(x, y)| ok(x, y))
                        .collect();
                let lower: Vec<(f64, f64)> =
                    s.x.iter()
                        .zip(lo)
                        .map(|(&x, &y)| (x, y))
                        .filter(|&(x, y)| ok(x, y))
                        .collect();
                poly.extend(lower.into_iter().rev());
                if poly.len() >= 3 {
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            poly,
                            s.color.mix(0.18).filled(),
                        )))
                        .drawn()?;
                }
            }
        }
        for s in &self.series {
            if let Some(raw) = &s.raw {
                let pts =
                    s.x.iter()
                        .zip(raw)
                        .map(|(&x, &y)| (x, y))
                        .filter(|&(x, y)| ok(x, y));
                chart
                    .draw_series(LineSeries::new(pts, s.color.mix(0.22).stroke_width(1)))
                    .drawn()?;
            }
        }
        let width = if small { 2 } else { 2 };
        for s in &self.series {
            let pts: Vec<(f64, f64)> =
                s.x.iter()
                    .zip(&s.y)
                    .map(|(&x, &y)| (x, y))
                    .filter(|&(x, y)| ok(x, y))
                    .collect();
            let style = s.color.stroke_width(width);
            let anno = if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts, 8, 5, style))
                    .drawn()?
            } else {
                chart.draw_series(LineSeries::new(pts, style)).drawn()?
            };
            let [a, b] = legend_strokes(s.dashed);
            let mark = s.color.stroke_width(3);
            anno.label(s.name.clone()).legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(a.to_vec(), mark)
                    + PathElement::new(b.to_vec(), mark)
            });
        }
        if legend && !self.series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT, tick_px + 1))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(190, 190, 190))
                .draw()
                .drawn()?;
        }
        Ok(())
    }
}

impl Figure for LineChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, legend: bool) -> Result<()> {
        let (x0, x1) = self.x_range();
        let (y0, y1) = self.y_range();
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_in(area, x0..x1, y0..y1, legend),
            (true, false) => self.draw_in(area, (x0..x1).log_scale(), y0..y1, legend),
            (false, true) => self.draw_in(area, x0..x1, (y0..y1).log_scale(), legend),
            (true, true) => self.draw_in(area, (x0..x1).log_scale(), (y0..y1).log_scale(), legend),
        }
    }

    fn legend_entries(&self) -> Vec<LegendEntry> {
        self.series
            .iter()
            .map(|s| LegendEntry {
                name: s.name.clone(),
                color: s.color,
                dashed: s.dashed,
            })
            .collect()
    }
}

/// The range of the finite values (positive ones on a log axis), padded by `pad` of its width
/// (by a factor on a log axis). Never empty: a single value gets a unit-wide range around it.
pub fn fit_range(values: impl Iterator<Item = f64>, log: bool, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (l, h) = (lo.log10(), hi.log10());
        let (l, h) = if h - l < 1e-9 {
            (l - 0.5, h + 0.5)
        } else {
            (l - pad * (h - l), h + pad * (h - l))
        };
        return (10f64.powf(l), 10f64.powf(h));
    }
    if hi - lo < 1e-12 {
        let w = lo.abs().max(1.0) * 0.5;
        return (lo - w, hi + w);
    }
    let p = pad * (hi - lo);
    (lo - p, hi + p)
}

/// Element-wise mean, minimum and maximum of several runs of the same curve (truncated to the
/// shortest run), for a mean line with a min–max band.
pub fn mean_min_max(runs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = runs.iter().map(Vec::len).min().unwrap_or(0);
    let mut mean = vec![0.0; n];
    let mut min = vec![f64::INFINITY; n];
    let mut max = vec![f64::NEG_INFINITY; n];
    for r in runs {
        for i in 0..n {
            mean[i] += r[i] / runs.len() as f64;
            min[i] = min[i].min(r[i]);
            max[i] = max[i].max(r[i]);
        }
    }
    (mean, min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_data_and_never_collapse() {
        let (lo, hi) = fit_range([1.0, 3.0].into_iter(), false, 0.05);
        assert!(lo < 1.0 && hi > 3.0);
        let (lo, hi) = fit_range([2.0, 2.0].into_iter(), false, 0.05);
        assert!(lo < 2.0 && hi > 2.0);
        let (lo, hi) = fit_range([0.0, 0.01, 100.0, f64::NAN].into_iter(), true, 0.0);
        assert!((lo - 0.01).abs() < 1e-12 && (hi - 100.0).abs() < 1e-9);
    }

    #[test]
    fn band_statistics() {
        let (m, lo, hi) = mean_min_max(&[vec![1.0, 2.0, 9.0], vec![3.0, 2.0]]);
        assert_eq!(m, vec![2.0, 2.0]);
        assert_eq!(lo, vec![1.0, 2.0]);
        assert_eq!(hi, vec![3.0, 2.0]);
    }
}
