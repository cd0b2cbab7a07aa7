//! `vaxel compare --trace T --roster R A.toml B.toml [--format text|json]`: the same trace
//! and roster replayed on two site files, side by side: per answer group and in total, the
//! answer rate, service level, ASA, abandonment and occupancy of A and of B, and the
//! difference B − A. The two replays run in parallel.
//!
//! A shift of an agent one site does not have is left out of that site's replay (with a
//! warning), so B may add agents the roster already staffs.

use super::common::{self, Run};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_sim::report::{Keyed, Stats};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The trace (calls.csv) both replays run.
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The roster (roster.csv) both replays use.
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// Site file A (the baseline).
    #[arg(value_name = "A.toml")]
    pub a: PathBuf,
    /// Site file B (the alternative).
    #[arg(value_name = "B.toml")]
    pub b: PathBuf,
    /// Output: a text table for supervisors, or JSON.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Text,
    Json,
}

/// The figures compared, for one group or the total.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figures {
    pub offered: u64,
    pub answered: u64,
    pub answer_rate: f64,
    pub service_level: f64,
    pub asa_s: f64,
    /// Abandoned / offered.
    pub abandonment: f64,
    pub occupancy: f64,
}

impl Figures {
    fn of(s: &Stats) -> Figures {
        Figures {
            offered: s.offered,
            answered: s.answered,
            answer_rate: s.answer_rate,
            service_level: s.service_level,
            asa_s: s.asa_s,
            abandonment: if s.offered > 0 {
                round6(s.abandoned as f64 / s.offered as f64)
            } else {
                0.0
            },
            occupancy: s.occupancy,
        }
    }

    /// B − A, key by key.
    fn diff(a: &Figures, b: &Figures) -> Diff {
        let count = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        Diff {
            offered: count(b.offered) - count(a.offered),
            answered: count(b.answered) - count(a.answered),
            answer_rate: round6(b.answer_rate - a.answer_rate),
            service_level: round6(b.service_level - a.service_level),
            asa_s: ((b.asa_s - a.asa_s) * 1000.0).round() / 1000.0,
            abandonment: round6(b.abandonment - a.abandonment),
            occupancy: round6(b.occupancy - a.occupancy),
        }
    }
}

/// B − A of each figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Diff {
    pub offered: i64,
    pub answered: i64,
    pub answer_rate: f64,
    pub service_level: f64,
    pub asa_s: f64,
    pub abandonment: f64,
    pub occupancy: f64,
}

/// The JSON document, keys in this order, groups in site order (A's, then B's own).
#[derive(Debug, Serialize)]
struct CompareJson<'a> {
    a: Side<'a>,
    b: Side<'a>,
    total: LineJson,
    groups: Keyed<LineJson>,
}

#[derive(Debug, Serialize)]
struct Side<'a> {
    config: &'a str,
    calls: u64,
    events: u64,
    wall_s: f64,
    refused: u64,
}

#[derive(Debug, Serialize)]
struct LineJson {
    a: Option<Figures>,
    b: Option<Figures>,
    diff: Option<Diff>,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// One line of the comparison: a group (or the total) in A and in B.
#[derive(Debug)]
struct Line {
    name: String,
    a: Option<Figures>,
    b: Option<Figures>,
}

fn lines(a: &Run, b: &Run) -> Vec<Line> {
    let mut names: Vec<&str> = a.report.groups.0.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in &b.report.groups.0 {
        if !names.contains(&k.as_str()) {
            names.push(k);
        }
    }
    let mut out: Vec<Line> = names
        .into_iter()
        .map(|n| Line {
            name: n.to_owned(),
            a: a.report.groups.get(n).map(Figures::of),
            b: b.report.groups.get(n).map(Figures::of),
        })
        .collect();
    out.push(Line {
        name: "total".into(),
        a: Some(Figures::of(&a.report.total)),
        b: Some(Figures::of(&b.report.total)),
    });
    out
}

pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let (label_a, site_a) = common::load_site(Some(&args.a))?;
    let (label_b, site_b) = common::load_site(Some(&args.b))?;
    let shifts = common::read_roster_any(&args.roster)?;
    let prepare = |label: &str, site: &Site| {
        let (kept, unknown) = common::shifts_for_site(&shifts, site);
        if !unknown.is_empty() {
            eprintln!(
                "warning: {label}: leaving out the shifts of agents it does not have: {}",
                unknown.join(", ")
            );
        }
        kept
    };
    let shifts_a = prepare(&label_a, &site_a);
    let shifts_b = prepare(&label_b, &site_b);
    let multi = indicatif::MultiProgress::new();
    let bar_a = multi.add(common::byte_bar(0, "A"));
    let bar_b = multi.add(common::byte_bar(0, "B"));
    let one = |site: &Arc<Site>, shifts: &[vaxel_sim::Shift], bar, label: &str| {
        common::run_replay(site, &args.trace, shifts, None, None, bar)
            .with_context(|| format!("replay with {label}"))
    };
    let (run_a, run_b) = std::thread::scope(|s| {
        let b = s.spawn(|| one(&site_b, &shifts_b, &bar_b, &label_b));
        let a = one(&site_a, &shifts_a, &bar_a, &label_a);
        let b = b
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the replay with {label_b} panicked")));
        (a, b)
    });
    let (run_a, run_b) = (run_a?, run_b?);
    common::warn_summary(&label_a, &run_a.summary);
    common::warn_summary(&label_b, &run_b.summary);
    let text = match args.format {
        CompareFormat::Text => text(&label_a, &label_b, &args.trace, &run_a, &run_b),
        CompareFormat::Json => {
            let doc = to_json(&label_a, &label_b, &run_a, &run_b);
            let mut s = serde_json::to_string_pretty(&doc)?;
            s.push('\n');
            s
        }
    };
    common::write_output(None, &text)?;
    Ok(ExitCode::SUCCESS)
}

fn to_json<'a>(label_a: &'a str, label_b: &'a str, a: &Run, b: &Run) -> CompareJson<'a> {
    let side = |config: &'a str, r: &Run| Side {
        config,
        calls: r.report.calls,
        events: r.report.events,
        wall_s: r.report.wall_s,
        refused: r.summary.refused,
    };
    let line = |l: &Line| LineJson {
        a: l.a,
        b: l.b,
        diff: match (&l.a, &l.b) {
            (Some(a), Some(b)) => Some(Figures::diff(a, b)),
            _ => None,
        },
    };
    let mut all = lines(a, b);
    let total = all.pop().map_or(
        LineJson {
            a: None,
            b: None,
            diff: None,
        },
        |t| line(&t),
    );
    CompareJson {
        a: side(label_a, a),
        b: side(label_b, b),
        total,
        groups: Keyed(all.iter().map(|l| (l.name.clone(), line(l))).collect()),
    }
}

/// The metrics of the text table: header, how to show a value and a difference.
type Show = fn(&Figures) -> f64;
/// Whether a figure has a denominator (otherwise it shows as `-`).
type Defined = fn(&Figures) -> bool;
const METRICS: [(&str, Show, Defined, bool); 5] = [
    ("answer rate", |f| f.answer_rate, |f| f.offered > 0, true),
    (
        "service level",
        |f| f.service_level,
        |f| f.offered > 0,
        true,
    ),
    ("ASA s", |f| f.asa_s, |f| f.answered > 0, false),
    ("abandoned", |f| f.abandonment, |f| f.offered > 0, true),
    ("occupancy", |f| f.occupancy, |f| f.occupancy > 0.0, true),
];

fn text(label_a: &str, label_b: &str, trace: &Path, a: &Run, b: &Run) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for l in lines(a, b) {
        let mut row = vec![l.name.clone()];
        for (_, get, defined, ratio) in METRICS {
            let va = l.a.as_ref().filter(|f| defined(f)).map(get);
            let vb = l.b.as_ref().filter(|f| defined(f)).map(get);
            let show = |v: Option<f64>| match v {
                None => "-".to_owned(),
                Some(x) if ratio => format!("{:.1}%", x * 100.0),
                Some(x) => format!("{x:.1}"),
            };
            let diff = match (va, vb) {
                (Some(x), Some(y)) => {
                    let d = if ratio { (y - x) * 100.0 } else { y - x };
                    // No "-0.0": what rounds to zero is zero.
                    if d.abs() < 0.05 {
                        "0.0".to_owned()
                    } else {
                        format!("{d:+.1}")
                    }
                }
                _ => "-".to_owned(),
            };
            row.extend([show(va), show(vb), diff]);
        }
        rows.push(row);
    }
    let mut head2 = vec!["group".to_owned()];
    for (_, _, _, ratio) in METRICS {
        head2.extend([
            "A".to_owned(),
            "B".to_owned(),
            if ratio { "B−A pp" } else { "B−A" }.to_owned(),
        ]);
    }
    // Column widths; each metric's three columns together at least as wide as its name.
    let mut widths: Vec<usize> = head2.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for (i, (name, ..)) in METRICS.iter().enumerate() {
        let cols = 1 + 3 * i..1 + 3 * i + 3;
        let span: usize = widths[cols.clone()].iter().sum::<usize>() + 4;
        let need = name.chars().count();
        if need > span {
            widths[cols.end - 1] += need - span;
        }
    }
    let mut out = format!(
        "A: {label_a} ({} calls)\nB: {label_b} ({} calls)\ntrace: {}\n\
         differences are B − A; pp = percentage points; abandoned = share of offered calls\n\n",
        a.report.calls,
        b.report.calls,
        trace.display()
    );
    // First header line: metric names centred over their three columns.
    let mut line = " ".repeat(widths[0]);
    for (i, (name, ..)) in METRICS.iter().enumerate() {
        let span: usize = widths[1 + 3 * i..4 + 3 * i].iter().sum::<usize>() + 4;
        line.push_str("   ");
        let pad = span - name.chars().count();
        line.push_str(&" ".repeat(pad / 2));
        line.push_str(name);
        line.push_str(&" ".repeat(pad - pad / 2));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    let total_rows = rows.len();
    for (n, r) in std::iter::once(&head2).chain(&rows).enumerate() {
        if n == total_rows {
            // A rule above the total.
            let gaps: usize = (1..widths.len())
                .map(|i| if i % 3 == 1 { 3 } else { 2 })
                .sum();
            let width = widths.iter().sum::<usize>() + gaps;
            out.push_str(&"-".repeat(width));
            out.push('\n');
        }
        let mut line = format!("{:<w$}", r[0], w = widths[0]);
        for (i, (c, w)) in r.iter().zip(&widths).enumerate().skip(1) {
            // A wider gap between metrics.
            line.push_str(if i % 3 == 1 { "   " } else { "  " });
            let pad = w.saturating_sub(c.chars().count());
            line.push_str(&" ".repeat(pad));
            line.push_str(c);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
