//! Horizontal bar charts (e.g. parameter importance), largest bar first.

use super::figure::{Figure, titled};
use super::style::{Drawn, FONT, fmt_num};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Clone, Debug)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    /// `(label, value)`; drawn top to bottom in this order.
    pub bars: Vec<(String, f64)>,
    pub color: RGBColor,
    pub size: (u32, u32),
}

impl BarChart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        bars: Vec<(String, f64)>,
        color: RGBColor,
    ) -> Self {
        let n = bars.len() as u32;
        Self {
            title: title.into(),
            x_label: x_label.into(),
            bars,
            color,
            size: (820, 140 + 44 * n.max(1)),
        }
    }
}

impl Figure for BarChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, _legend: bool) -> Result<()> {
        let body = titled(area, &self.title, 24)?;
        let n = self.bars.len().max(1);
        let max = self
            .bars
            .iter()
            .map(|b| b.1)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let top = if max > 0.0 { max * 1.12 } else { 1.0 };
        let longest = self
            .bars
            .iter()
            .map(|b| b.0.chars().count())
            .max()
            .unwrap_or(4) as u32;
        let mut chart = ChartBuilder::on(&body)
            .margin(10)
            .margin_right(24)
            .x_label_area_size(46)
            .y_label_area_size((longest * 10 + 20).clamp(60, 320))
            .build_cartesian_2d(0.0..top, (0..n).into_segmented())
            .drawn()?;
        // Row 0 at the top: the first bar is drawn highest.
        let label_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => self
                .bars
                .get(n - 1 - i)
                .map(|b| b.0.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(self.x_label.as_str())
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .y_labels(n)
            .y_label_formatter(&label_of)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .drawn()?;
        let fill = self.color.filled();
        chart
            .draw_series(
                self.bars
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.1.is_finite())
                    .map(|(k, b)| {
                        let row = n - 1 - k;
                        let mut r = Rectangle::new(
                            [
                                (0.0, SegmentValue::Exact(row)),
                                (b.1.max(0.0), SegmentValue::Exact(row + 1)),
                            ],
                            fill,
                        );
                        r.set_margin(6, 6, 0, 0);
                        r
                    }),
            )
            .drawn()?;
        chart
            .draw_series(
                self.bars
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.1.is_finite())
                    .map(|(k, b)| {
                        let row = n - 1 - k;
                        Text::new(
                            format!(" {}", fmt_num(b.1)),
                            (b.1.max(0.0), SegmentValue::CenterOf(row)),
                            (FONT, 14).into_font().color(&BLACK).pos(
                                plotters::style::text_anchor::Pos::new(
                                    plotters::style::text_anchor::HPos::Left,
                                    plotters::style::text_anchor::VPos::Center,
                                ),
                            ),
                        )
                    }),
            )
            .drawn()?;
        Ok(())
    }
}
