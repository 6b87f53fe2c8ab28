//! Level lines of a function sampled on a grid (marching squares), with paths drawn on top:
//! the picture of optimizer trajectories.

use super::figure::{Figure, LegendEntry, titled};
use super::style::{Drawn, FONT, fmt_num};
use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

/// A path through the plane (e.g. an optimizer's positions), drawn as a line with dots.
#[derive(Clone, Debug)]
pub struct PathLine {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<[f64; 2]>,
}

/// Level lines of `z` sampled at `x[i], y[j]` (row-major: `z[j * x.len() + i]`), plus paths.
#[derive(Clone, Debug)]
pub struct ContourChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub z: Vec<f64>,
    pub levels: Vec<f64>,
    pub paths: Vec<PathLine>,
    /// A point to mark with a cross (e.g. the minimum).
    pub marker: Option<[f64; 2]>,
    pub size: (u32, u32),
}

impl ContourChart {
    /// Samples `f` on an `n × n` grid over `[x0, x1] × [y0, y1]`.
    pub fn sample(
        title: impl Into<String>,
        (x0, x1): (f64, f64),
        (y0, y1): (f64, f64),
        n: usize,
        f: impl Fn(f64, f64) -> f64,
    ) -> Self {
        let n = n.max(2);
        let axis = |a: f64, b: f64| {
            (0..n)
                .map(|k| a + (b - a) * k as f64 / (n - 1) as f64)
                .collect::<Vec<_>>()
        };
        let (x, y) = (axis(x0, x1), axis(y0, y1));
        let z = y
            .iter()
            .flat_map(|&yy| x.iter().map(move |&xx| (xx, yy)))
            .map(|(a, b)| f(a, b))
            .collect();
        Self {
            title: title.into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x,
            y,
            z,
            levels: Vec::new(),
            paths: Vec::new(),
            marker: None,
            size: (800, 560),
        }
    }

    /// Level lines at the given values.
    pub fn levels(mut self, levels: Vec<f64>) -> Self {
        self.levels = levels;
        self
    }

    pub fn path(mut self, p: PathLine) -> Self {
        self.paths.push(p);
        self
    }

    fn check(&self) -> Result<()> {
        if self.x.len() < 2 || self.y.len() < 2 || self.z.len() != self.x.len() * self.y.len() {
            bail!(
                "contour '{}': z must hold x.len() × y.len() values on a grid of at least 2 × 2",
                self.title
            );
        }
        Ok(())
    }
}

/// Segments where the sampled surface crosses `level` (marching squares; a saddle cell takes
/// one of its two readings, which only matters at the level of the saddle itself).
pub fn level_segments(x: &[f64], y: &[f64], z: &[f64], level: f64) -> Vec<[(f64, f64); 2]> {
    let nx = x.len();
    let mut out = Vec::new();
    for j in 0..y.len().saturating_sub(1) {
        for i in 0..nx.saturating_sub(1) {
            // Corners counter-clockwise from bottom-left.
            let c = [
                (x[i], y[j], z[j * nx + i]),
                (x[i + 1], y[j], z[j * nx + i + 1]),
                (x[i + 1], y[j + 1], z[(j + 1) * nx + i + 1]),
                (x[i], y[j + 1], z[(j + 1) * nx + i]),
            ];
            if c.iter().any(|p| !p.2.is_finite()) {
                continue;
            }
            let mut cross = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (c[e], c[(e + 1) % 4]);
                if (a.2 < level) != (b.2 < level) {
                    let t = (level - a.2) / (b.2 - a.2);
                    cross.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            if cross.len() >= 2 {
                out.push([cross[0], cross[1]]);
            }
            if cross.len() == 4 {
                out.push([cross[2], cross[3]]);
            }
        }
    }
    out
}

/// Clips the segment `a–b` to the box (Liang–Barsky); `None` when it lies outside.
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<[(f64, f64); 2]> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 || !(t0.is_finite() && t1.is_finite()) {
        return None;
    }
    Some([
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ])
}

impl Figure for ContourChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, legend: bool) -> Result<()> {
        self.check()?;
        let small = area.dim_in_pixel().0 < 600;
        let (title_px, label_px, tick_px) = if small { (18, 14, 12) } else { (24, 18, 15) };
        let body = titled(area, &self.title, title_px)?;
        let xr = (self.x[0], *self.x.last().unwrap());
        let yr = (self.y[0], *self.y.last().unwrap());
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(14)
            .x_label_area_size(if small { 32 } else { 44 })
            .y_label_area_size(if small { 40 } else { 56 })
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .drawn()?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style((FONT, label_px))
            .label_style((FONT, tick_px))
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter(&|v: &f64| fmt_num(*v))
            .draw()
            .drawn()?;
        let line = RGBColor(120, 120, 120).stroke_width(1);
        for &level in &self.levels {
            let segs = level_segments(&self.x, &self.y, &self.z, level);
            chart
                .draw_series(segs.into_iter().map(|s| PathElement::new(s.to_vec(), line)))
                .drawn()?;
        }
        if let Some([mx, my]) = self.marker {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (mx, my),
                    7,
                    BLACK.stroke_width(2),
                )))
                .drawn()?;
        }
        for p in &self.paths {
            let style = p.color.stroke_width(2);
            let segs: Vec<[(f64, f64); 2]> = p
                .points
                .windows(2)
                .filter_map(|w| clip((w[0][0], w[0][1]), (w[1][0], w[1][1]), xr, yr))
                .collect();
            chart
                .draw_series(
                    segs.into_iter()
                        .map(|s| PathElement::new(s.to_vec(), style)),
                )
                .drawn()?;
            let inside = p
                .points
                .iter()
                .filter(|q| (xr.0..=xr.1).contains(&q[0]) && (yr.0..=yr.1).contains(&q[1]));
            let dots = chart
                .draw_series(inside.map(|q| Circle::new((q[0], q[1]), 3, p.color.filled())))
                .drawn()?;
            let c = p.color;
            dots.label(p.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
            });
        }
        if legend && !self.paths.is_empty() {
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

    fn legend_entries(&self) -> Vec<LegendEntry> {
        self.paths
            .iter()
            .map(|p| LegendEntry {
                name: p.name.clone(),
                color: p.color,
                dashed: false,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_lines_of_a_bowl_lie_on_the_circle() {
        let c = ContourChart::sample("bowl", (-2.0, 2.0), (-2.0, 2.0), 41, |x, y| x * x + y * y);
        let segs = level_segments(&c.x, &c.y, &c.z, 1.0);
        assert!(segs.len() > 20);
        for s in segs {
            for (x, y) in s {
                let r = (x * x + y * y).sqrt();
                assert!((r - 1.0).abs() < 0.02, "r = {r}");
            }
        }
    }

    #[test]
    fn clipping_keeps_the_inside_part() {
        let s = clip((-2.0, 0.0), (0.0, 0.0), (-1.0, 1.0), (-1.0, 1.0)).unwrap();
        assert_eq!(s, [(-1.0, 0.0), (0.0, 0.0)]);
        assert!(clip((2.0, 2.0), (3.0, 3.0), (-1.0, 1.0), (-1.0, 1.0)).is_none());
    }
}
