//! Static HTML pages: one report (text, figures, settings, key numbers) and an index linking
//! several. Plain HTML and CSS in the page: no scripts, no network, opens from the file system.

use super::figure::FigureFiles;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::Path;

/// A table of text cells with a header row.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as aligned plain text for the terminal (first column left, others right).
    pub fn to_text(&self) -> String {
        let cols = self
            .headers
            .len()
            .max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut width = vec![0; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (c, cell) in r.iter().enumerate() {
                width[c] = width[c].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                let pad = width[c] - cell.chars().count();
                if c == 0 {
                    let _ = write!(line, "{cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(line, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn to_html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for h in &self.headers {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", escape(c));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
        s
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.7em;margin-bottom:.3em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #e4e4e4}figcaption{font-size:.9em;color:#555}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #d6d6d6;padding:.3em .7em;text-align:left}\
th{background:#f3f3f3}td{font-variant-numeric:tabular-nums}ul.reports li{margin:.4em 0}.muted{color:#666;font-size:.9em}";

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    )
}

/// One report page.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub title: String,
    /// Paragraphs of plain text: what the report shows and how to read it.
    pub intro: Vec<String>,
    pub figures: Vec<FigureFiles>,
    pub key_numbers: Table,
    /// Setting name and value.
    pub settings: Vec<(String, String)>,
    /// Other files of the report to link (label, relative path), e.g. `results.json`.
    pub files: Vec<(String, String)>,
}

impl Page {
    /// The page as HTML.
    pub fn render(&self) -> String {
        let mut s = head(&self.title);
        for p in &self.intro {
            let _ = writeln!(s, "<p>{}</p>", escape(p));
        }
        if !self.key_numbers.headers.is_empty() {
            s.push_str("<h2>Key numbers</h2>\n");
            s.push_str(&self.key_numbers.to_html());
        }
        if !self.figures.is_empty() {
            s.push_str("<h2>Figures</h2>\n");
        }
        for f in &self.figures {
            let _ = writeln!(
                s,
                "<figure>\n<a href=\"{svg}\"><img src=\"{png}\" alt=\"{t}\"></a>\n\
                 <figcaption>{t} — <a href=\"{svg}\">SVG</a> · <a href=\"{png}\">PNG</a></figcaption>\n</figure>",
                svg = escape(&f.svg),
                png = escape(&f.png),
                t = escape(&f.title)
            );
        }
        if !self.settings.is_empty() {
            s.push_str("<h2>Settings</h2>\n");
            let mut t = Table::new(&["setting", "value"]);
            for (k, v) in &self.settings {
                t.row(vec![k.clone(), v.clone()]);
            }
            s.push_str(&t.to_html());
        }
        if !self.files.is_empty() {
            s.push_str("<h2>Files</h2>\n<ul>\n");
            for (label, href) in &self.files {
                let _ = writeln!(
                    s,
                    "<li><a href=\"{}\">{}</a></li>",
                    escape(href),
                    escape(label)
                );
            }
            s.push_str("</ul>\n");
        }
        s.push_str("<p class=\"muted\">Written by optimlab.</p>\n</body>\n</html>\n");
        s
    }

    /// Writes `dir/index.html`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("index.html");
        std::fs::write(&path, self.render()).with_context(|| format!("writing {}", path.display()))
    }
}

/// One report linked from an index page.
#[derive(Clone, Debug)]
pub struct IndexEntry {
    pub title: String,
    /// Relative link, e.g. `optimizers/index.html`.
    pub href: String,
    pub summary: String,
    /// A small picture (relative path to a PNG) shown beside the link.
    pub thumbnail: Option<String>,
}

/// Writes `dir/index.html` linking several reports.
pub fn write_index(dir: &Path, title: &str, intro: &str, entries: &[IndexEntry]) -> Result<()> {
    let mut s = head(title);
    let _ = writeln!(s, "<p>{}</p>\n<ul class=\"reports\">", escape(intro));
    for e in entries {
        let _ = write!(
            s,
            "<li><a href=\"{}\"><strong>{}</strong></a> — {}",
            escape(&e.href),
            escape(&e.title),
            escape(&e.summary)
        );
        if let Some(t) = &e.thumbnail {
            let _ = write!(
                s,
                "<br><a href=\"{h}\"><img src=\"{t}\" alt=\"{a}\" style=\"max-width:420px\"></a>",
                h = escape(&e.href),
                t = escape(t),
                a = escape(&e.title)
            );
        }
        s.push_str("</li>\n");
    }
    s.push_str("</ul>\n<p class=\"muted\">Written by optimlab.</p>\n</body>\n</html>\n");
    let path = dir.join("index.html");
    std::fs::write(&path, s).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tables_align_and_html_escapes() {
        let mut t = Table::new(&["optimizer", "final f"]);
        t.row(vec!["sgd".into(), "1.5".into()]);
        t.row(vec!["momentum".into(), "0.25".into()]);
        assert_eq!(
            t.to_text(),
            "optimizer  final f\nsgd            1.5\nmomentum      0.25\n"
        );
        let page = Page {
            title: "a <b> & 'c'".into(),
            ..Default::default()
        };
        let html = page.render();
        assert!(html.contains("a &lt;b&gt; &amp; &#39;c&#39;"));
        assert!(!html.contains("<script"));
    }
}
