//! `vaxel report --format html`: one self-contained HTML file, the charts drawn by
//! `plotters` as inline SVG, the tables of the text report as HTML tables. Nothing is
//! fetched when the file is opened (no script, no external font, style sheet or image),
//! so it can be mailed, archived and opened offline.
//!
//! plotters measures text with the bundled DejaVu Sans (its `ab_glyph` feature: no
//! font-config lookup on the machine that writes the report); the SVG names the generic
//! `sans-serif` family, which every browser has.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;
use std::sync::OnceLock;
use vaxel_sim::report::{Breakdown, BreakdownRow, SupervisorReport};

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const W: u32 = 660;
const H: u32 = 330;
const FAMILY: &str = "sans-serif";
/// The period's colour, the baseline's, the target's.
const BLUE: RGBColor = RGBColor(31, 119, 180);
const GREY: RGBColor = RGBColor(160, 160, 160);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const RED: RGBColor = RGBColor(214, 39, 40);

/// Registers the bundled font once; plotters needs it to lay out every label.
fn font() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    anyhow::ensure!(ok, "the bundled chart font could not be loaded");
    Ok(())
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw a chart: {e}")
}

fn n_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The coordinates of `n` categories: plotters' integer ranges include their end.
fn categories(n: usize) -> std::ops::Range<i32> {
    0..n_i32(n.max(1) - 1)
}

fn label_of(labels: &[String], v: &SegmentValue<i32>) -> String {
    match v {
        SegmentValue::CenterOf(i) => usize::try_from(*i)
            .ok()
            .and_then(|i| labels.get(i))
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// A vertical bar chart of one value per labelled category; with `shares`, each bar
/// carries its value as a percentage of all (for a distribution whose small bars would be
/// hard to read).
fn vbars(
    title: &str,
    labels: &[String],
    values: &[f64],
    y_desc: &str,
    shares: bool,
) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let top = values.iter().copied().fold(0.0, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(categories(labels.len()).into_segmented(), 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|v| label_of(labels, v))
            .y_desc(y_desc)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FAMILY, 12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(BLUE.filled())
                    .margin(3)
                    .data(values.iter().enumerate().map(|(i, v)| (n_i32(i), *v))),
            )
            .map_err(err)?;
        let all: f64 = values.iter().sum();
        if shares && all > 0.0 {
            let style =
                TextStyle::from((FAMILY, 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    Text::new(
                        format!("{:.1}%", v / all * 100.0),
                        (SegmentValue::CenterOf(n_i32(i)), *v),
                        style.clone(),
                    )
                }))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A horizontal bar chart, the first label at the top, each bar in its own colour.
fn hbars(
    title: &str,
    bars: &[(String, f64, RGBColor)],
    x_desc: &str,
    x_max: f64,
) -> anyhow::Result<String> {
    let mut svg = String::new();
    let labels: Vec<String> = bars.iter().rev().map(|b| b.0.clone()).collect();
    let height = (80 + 26 * bars.len()).max(200);
    {
        let root = SVGBackend::with_string(&mut svg, (W, u32::try_from(height).unwrap_or(H)))
            .into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(190)
            .build_cartesian_2d(0f64..x_max, categories(bars.len()).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&|v| label_of(&labels, v))
            .x_desc(x_desc)
            .label_style((FAMILY, 12))
            .draw()
            .map_err(err)?;
        let n = bars.len();
        let colour = |v: &SegmentValue<i32>| match v {
            SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| n.checked_sub(i + 1))
                .and_then(|i| bars.get(i))
                .map_or(BLUE, |b| b.2),
            SegmentValue::Last => BLUE,
        };
        chart
            .draw_series(
                Histogram::horizontal(&chart)
                    .style_func(|v, _| colour(v).filled())
                    .margin(3)
                    .data(bars.iter().rev().enumerate().map(|(i, b)| (n_i32(i), b.1))),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A row's figure in percent, `None` where it is undefined (nothing to divide).
type Percent = fn(&BreakdownRow) -> Option<f64>;

/// Service level and answer rate per interval (percent), with the target as a line.
/// Intervals without offered calls leave a gap.
fn interval_lines(b: &Breakdown, target: f64) -> anyhow::Result<String> {
    let labels: Vec<String> = b.rows.iter().map(|r| r.key.clone()).collect();
    let n = n_i32(labels.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (2 * W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Service level and answer rate per interval, against the target",
                (FAMILY, 18),
            )
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0..n.max(1), 0f64..105.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(13)
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| labels.get(i))
                    .cloned()
                    .unwrap_or_default()
            })
            .y_desc("%")
            .label_style((FAMILY, 12))
            .draw()
            .map_err(err)?;
        let series: [(&str, RGBColor, Percent); 2] = [
            ("service level", BLUE, |r| {
                (r.offered > r.short_abandoned).then_some(r.service_level * 100.0)
            }),
            ("answer rate", ORANGE, |r| {
                (r.offered > 0).then_some(r.answer_rate * 100.0)
            }),
        ];
        for (name, colour, value) in series {
            let mut runs: Vec<Vec<(i32, f64)>> = vec![Vec::new()];
            for (i, r) in b.rows.iter().enumerate() {
                match value(r) {
                    Some(v) => {
                        if let Some(run) = runs.last_mut() {
                            run.push((n_i32(i), v));
                        }
                    }
                    None => runs.push(Vec::new()),
                }
            }
            let mut first = true;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let drawn = chart
                    .draw_series(LineSeries::new(run, colour.stroke_width(2)).point_size(2))
                    .map_err(err)?;
                if first {
                    drawn.label(name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
                    first = false;
                }
            }
        }
        chart
            .draw_series(LineSeries::new(
                [(0, target * 100.0), (n.max(1), target * 100.0)],
                RED.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!("target {:.0}%", target * 100.0))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn keys_and(b: &Breakdown, value: impl Fn(&BreakdownRow) -> f64) -> (Vec<String>, Vec<f64>) {
    b.rows.iter().map(|r| (r.key.clone(), value(r))).unzip()
}

#[allow(clippy::cast_precision_loss)]
fn calls(r: &BreakdownRow) -> f64 {
    r.calls as f64
}

/// Every chart, each with a caption for the reader.
fn charts(doc: &SupervisorReport) -> anyhow::Result<Vec<String>> {
    let rep = &doc.period.report;
    let mut out = Vec::new();
    let bd = |name: &str| rep.breakdowns.get(name);
    if let Some(b) = bd("by_hour") {
        let (k, v) = keys_and(b, calls);
        out.push(vbars(
            "Calls by hour of day (local time of arrival)",
            &k,
            &v,
            "calls",
            false,
        )?);
    }
    if let Some(b) = bd("by_weekday") {
        let (k, v) = keys_and(b, calls);
        out.push(vbars("Calls by weekday", &k, &v, "calls", false)?);
    }
    if let Some(t) = &rep.tables {
        out.push(interval_lines(&t.by_interval, doc.service_level_target)?);
    }
    if let Some(b) = bd("wait") {
        #[allow(clippy::cast_precision_loss)]
        let (k, v) = keys_and(b, |r| r.offered as f64);
        out.push(vbars(
            "Wait-time distribution (offered calls by wait, seconds)",
            &k,
            &v,
            "calls",
            true,
        )?);
    }
    if let Some(t) = &rep.tables {
        let bars: Vec<(String, f64, RGBColor)> = t
            .by_group
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.share * 100.0, BLUE))
            .collect();
        if !bars.is_empty() {
            let top = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0) * 1.1;
            out.push(hbars(
                "Group shares (% of calls)",
                &bars,
                "% of calls",
                top,
            )?);
        }
    }
    if let Some(c) = &doc.comparison {
        let mut bars = Vec::new();
        for (name, d, share) in c.total.named() {
            if share {
                let name = if name == "answered_within_sl_share" {
                    format!("answered within {} s", doc.service_level_s)
                } else {
                    name.replace('_', " ")
                };
                bars.push((format!("{name} · before"), d.before * 100.0, GREY));
                bars.push((format!("{name} · after"), d.after * 100.0, BLUE));
            }
        }
        out.push(hbars(
            "Zero measurement: before and after (total, %)",
            &bars,
            "%",
            105.0,
        )?);
        let mut bars = Vec::new();
        for (g, z) in &c.groups.0 {
            bars.push((format!("{g} · before"), z.asa_s.before, GREY));
            bars.push((format!("{g} · after"), z.asa_s.after, BLUE));
        }
        let top = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0) * 1.1;
        out.push(hbars(
            "Zero measurement: ASA by group, before and after (s)",
            &bars,
            "seconds",
            top,
        )?);
    }
    Ok(out)
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1360px}\
h1{font-size:22px}h2{font-size:16px;margin-top:28px}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{border:1px solid #ddd}\
table{border-collapse:collapse;font-size:12px;margin:6px 0 18px}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f2f2f2}\
.note{color:#555}.warn{color:#b00}";

/// The whole HTML document.
pub fn render(doc: &SupervisorReport) -> anyhow::Result<String> {
    font()?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Växel report {}</title><style>{STYLE}</style></head><body>\n\
         <h1>Växel report</h1>\n",
        esc(doc.period.from.as_deref().unwrap_or(""))
    );
    for l in doc.preamble() {
        let class = if l.starts_with("warning") {
            "warn"
        } else {
            "note"
        };
        let _ = writeln!(h, "<p class=\"{class}\">{}</p>", esc(&l));
    }
    h.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
    for svg in charts(doc)? {
        // Inline SVG needs no namespace in HTML; without it the file names no address.
        h.push_str(&svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1));
        h.push('\n');
    }
    h.push_str("</div>\n");
    for s in doc.sections() {
        let _ = writeln!(h, "<h2>{}</h2>\n<table><tr>", esc(&s.title));
        for c in &s.header {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>\n");
        for r in &s.rows {
            h.push_str("<tr>");
            for c in r {
                let _ = write!(h, "<td>{}</td>", esc(c));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}
