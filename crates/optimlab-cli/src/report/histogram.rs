//! Histograms (e.g. of activation values), alone or as panels of a grid.

use super::figure::{Figure, titled};
use super::style::{Drawn, FONT, fmt_num};
use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Bar heights `counts[k]` over `[edges[k], edges[k + 1])`.
#[derive(Clone, Debug)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub edges: Vec<f64>,
    pub counts: Vec<f64>,
    pub color: RGBColor,
    /// A fixed top of the y axis (so the panels of a grid compare at a glance).
    pub y_max: Option<f64>,
    /// A line printed in the top right corner (e.g. the count of a clipped bar).
    pub note: String,
    pub size: (u32, u32),
}

impl Histogram {
    pub fn new(
        title: impl Into<String>,
        edges: Vec<f64>,
        counts: Vec<f64>,
        color: RGBColor,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            edges,
            counts,
            color,
            y_max: None,
            note: String::new(),
            size: (700, 480),
        }
    }

    /// Counts `values` in `bins` equal bins over `[lo, hi]` (values outside are left out, as
    /// NumPy's `histogram(range=…)` does; `hi` itself falls in the last bin).
    pub fn from_values(
        title: impl Into<String>,
        values: &[f64],
        bins: usize,
        (lo, hi): (f64, f64),
        color: RGBColor,
    ) -> Self {
        let bins = bins.max(1);
        let w = (hi - lo) / bins as f64;
        let edges = (0..=bins).map(|k| lo + w * k as f64).collect();
        let mut counts = vec![0.0; bins];
        for &v in values {
            if v >= lo && v <= hi {
                let k = (((v - lo) / w) as usize).min(bins - 1);
                counts[k] += 1.0;
            }
        }
        Self::new(title, edges, counts, color)
    }
}

impl Figure for Histogram {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, _legend: bool) -> Result<()> {
        if self.edges.len() != self.counts.len() + 1 || self.counts.is_empty() {
            bail!(
                "histogram '{}': needs one more edge than counts",
                self.title
            );
        }
        let small = area.dim_in_pixel().0 < 600;
        let (title_px, label_px, tick_px) = if small { (15, 13, 11) } else { (22, 17, 14) };
        let body = titled(area, &self.title, title_px)?;
        let top = self
            .y_max
            .unwrap_or_else(|| {
                self.counts
                    .iter()
                    .copied()
                    .filter(|c| c.is_finite())
                    .fold(0.0, f64::max)
            })
            .max(1e-12)
            // Headroom for the note above the bars.
            * if self.note.is_empty() { 1.05 } else { 1.25 };
        let (x0, x1) = (self.edges[0], *self.edges.last().unwrap());
        let mut chart = ChartBuilder::on(&body)
            .margin(6)
            .margin_right(12)
            .x_label_area_size(if small { 26 } else { 40 })
            .y_label_area_size(if small { 44 } else { 60 })
            .build_cartesian_2d(x0..x1, 0.0..top)
            .drawn()?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .label_style((FONT, tick_px))
            .axis_desc_style((FONT, label_px))
            .x_labels(5)
            .y_labels(4)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter(&|v: &f64| fmt_num(*v))
            .light_line_style(RGBColor(240, 240, 240));
        if !self.x_label.is_empty() {
            mesh.x_desc(self.x_label.as_str());
        }
        if !self.y_label.is_empty() {
            mesh.y_desc(self.y_label.as_str());
        }
        mesh.draw().drawn()?;
        let fill = self.color.mix(0.8).filled();
        chart
            .draw_series(
                self.counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.is_finite() && **c > 0.0)
                    .map(|(k, &c)| {
                        Rectangle::new(
                            [(self.edges[k], 0.0), (self.edges[k + 1], c.min(top))],
                            fill,
                        )
                    }),
            )
            .drawn()?;
        if !self.note.is_empty() {
            let style = (FONT, tick_px)
                .into_text_style(&body)
                .pos(Pos::new(HPos::Right, VPos::Top));
            chart
                .draw_series(std::iter::once(Text::new(
                    self.note.clone(),
                    (x1 - (x1 - x0) * 0.02, top * 0.97),
                    style,
                )))
                .drawn()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fall_in_their_bins() {
        let h = Histogram::from_values(
            "h",
            &[0.0, 0.05, 0.5, 1.0, 1.5, -0.1],
            10,
            (0.0, 1.0),
            BLACK,
        );
        assert_eq!(h.counts.iter().sum::<f64>(), 4.0);
        assert_eq!(h.counts[0], 2.0);
        assert_eq!(h.counts[5], 1.0);
        assert_eq!(h.counts[9], 1.0);
        assert_eq!(h.edges.len(), 11);
    }
}
