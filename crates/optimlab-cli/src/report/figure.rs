//! The `Figure` trait, saving a figure as PNG and SVG, legends, and grids of panels.

use super::style::{Drawn, FONT, ensure_font};
use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Something that draws itself into a drawing area of any plotters back end, so the same
/// figure becomes a PNG and an SVG.
pub trait Figure {
    /// Pixel size when saved on its own.
    fn size(&self) -> (u32, u32);
    /// The panel's title (drawn by `draw`; a grid shows it above the panel).
    fn title(&self) -> &str;
    /// Draws the figure. `legend`: draw its own legend (a grid draws one shared legend instead).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, legend: bool) -> Result<()>;
    /// The entries of its legend, for a grid's shared legend.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        Vec::new()
    }
}

/// One legend line: a coloured stroke (solid or dashed) and a name.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry {
    pub name: String,
    pub color: RGBColor,
    pub dashed: bool,
}

/// The files one saved figure is made of, as names relative to the folder it was saved in.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FigureFiles {
    pub png: String,
    pub svg: String,
    /// The figure's title, used as caption and alt text.
    pub title: String,
}

/// Writes `dir/stem.png` and `dir/stem.svg` of the same figure.
pub fn save<F: Figure>(fig: &F, dir: &Path, stem: &str) -> Result<FigureFiles> {
    ensure_font()?;
    let size = fig.size();
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).drawn()?;
        fig.draw(&root, true)?;
        root.present()
            .drawn()
            .with_context(|| format!("writing {}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE).drawn()?;
        fig.draw(&root, true)?;
        root.present()
            .drawn()
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    Ok(FigureFiles {
        png: format!("{stem}.png"),
        svg: format!("{stem}.svg"),
        title: fig.title().to_string(),
    })
}

/// Draws `title` centred at the top of `area` and returns the area below it.
pub(crate) fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
) -> Result<DrawingArea<DB, Shift>> {
    if title.is_empty() {
        return Ok(area.clone());
    }
    // A little air above the title, so it never touches the image's edge.
    area.margin(6, 0, 0, 0)
        .titled(title, (FONT, size).into_font())
        .drawn()
}

/// The two strokes (relative to the mark's left end) a legend entry shows: one 20 px line,
/// or two dashes.
pub(crate) fn legend_strokes(dashed: bool) -> [[(i32, i32); 2]; 2] {
    if dashed {
        [[(0, 0), (7, 0)], [(13, 0), (20, 0)]]
    } else {
        [[(0, 0), (10, 0)], [(10, 0), (20, 0)]]
    }
}

/// Draws legend entries in rows across `area`, centred.
pub(crate) fn draw_legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    font_size: u32,
) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let font = (FONT, font_size).into_font();
    let widths: Vec<i32> = entries
        .iter()
        .map(|e| {
            let (tw, _) = area
                .estimate_text_size(&e.name, &TextStyle::from(font.clone()))
                .unwrap_or((60, 0));
            28 + tw as i32 + 18
        })
        .collect();
    // Lay the entries out in rows that fit the width.
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    for (i, &ew) in widths.iter().enumerate() {
        if used + ew > w as i32 - 20 && !rows.last().unwrap().is_empty() {
            rows.push(Vec::new());
            used = 0;
        }
        rows.last_mut().unwrap().push(i);
        used += ew;
    }
    let line_h = font_size as i32 + 8;
    let top = (h as i32 - line_h * rows.len() as i32).max(0) / 2;
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| widths[i]).sum();
        let mut x = (w as i32 - total) / 2;
        let y = top + r as i32 * line_h + line_h / 2;
        for &i in row {
            let e = &entries[i];
            for seg in legend_strokes(e.dashed) {
                let pts: Vec<(i32, i32)> = seg.iter().map(|&(dx, dy)| (x + dx, y + dy)).collect();
                area.draw(&PathElement::new(pts, e.color.stroke_width(3)))
                    .drawn()?;
            }
            let style = font
                .clone()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            area.draw(&Text::new(e.name.clone(), (x + 28, y), style))
                .drawn()?;
            x += widths[i];
        }
    }
    Ok(())
}

/// Panels of the same kind in a grid: an overall title, each panel titled, one legend below.
pub struct Grid<F: Figure> {
    pub title: String,
    pub panels: Vec<F>,
    pub cols: usize,
    /// Pixel size of one panel.
    pub panel_size: (u32, u32),
    /// Extra legend entries (e.g. what solid and dashed strokes mean).
    pub extra_legend: Vec<LegendEntry>,
}

impl<F: Figure> Grid<F> {
    pub fn new(title: impl Into<String>, panels: Vec<F>, cols: usize) -> Self {
        Self {
            title: title.into(),
            panels,
            cols: cols.max(1),
            panel_size: (360, 280),
            extra_legend: Vec::new(),
        }
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.cols).max(1)
    }

    fn legend(&self) -> Vec<LegendEntry> {
        let mut out: Vec<LegendEntry> = Vec::new();
        for e in self
            .panels
            .iter()
            .flat_map(|p| p.legend_entries())
            .chain(self.extra_legend.iter().cloned())
        {
            if !out.iter().any(|o| o.name == e.name) {
                out.push(e);
            }
        }
        out
    }

    fn legend_height(&self) -> u32 {
        let n = self.legend().len() as u32;
        if n == 0 {
            0
        } else {
            // A generous estimate of rows: ~5 entries per 1000 px.
            let per_row = (self.cols as u32 * self.panel_size.0 / 190).max(1);
            30 + 24 * n.div_ceil(per_row)
        }
    }
}

impl<F: Figure> Figure for Grid<F> {
    fn size(&self) -> (u32, u32) {
        let title_h = if self.title.is_empty() { 0 } else { 44 };
        (
            self.cols as u32 * self.panel_size.0,
            self.rows() as u32 * self.panel_size.1 + title_h + self.legend_height(),
        )
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, _legend: bool) -> Result<()> {
        let body = titled(area, &self.title, 26)?;
        let (_, h) = body.dim_in_pixel();
        let legend_h = self.legend_height();
        let (cells, legend_area) = body.split_vertically(h - legend_h);
        let areas = cells.split_evenly((self.rows(), self.cols));
        for (panel, a) in self.panels.iter().zip(areas.iter()) {
            panel.draw(a, false)?;
        }
        if legend_h > 0 {
            draw_legend_strip(&legend_area, &self.legend(), 17)?;
        }
        Ok(())
    }
}
