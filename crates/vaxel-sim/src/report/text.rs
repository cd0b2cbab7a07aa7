//! The report as aligned text tables for a terminal: one row per group with the total last,
//! one row per entry with the total last, and (separately) the breakdowns. A ratio with
//! nothing to divide shows as `-`.

use super::{Breakdown, EwtAccuracy, EwtStats, Report, Stats};
use std::fmt::Write as _;

/// Appends a table: first column left-aligned, the others right-aligned, two spaces apart.
pub(super) fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad));
            } else {
                s.push_str("  ");
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(c);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
}

pub(super) fn pct(x: f64, defined: bool) -> String {
    if defined {
        format!("{:.1}%", x * 100.0)
    } else {
        "-".into()
    }
}

pub(super) fn secs(x: f64, defined: bool) -> String {
    if defined {
        format!("{x:.1}")
    } else {
        "-".into()
    }
}

fn stats_row(name: &str, s: &Stats) -> Vec<String> {
    vec![
        name.to_owned(),
        s.offered.to_string(),
        s.answered.to_string(),
        s.abandoned.to_string(),
        s.overflowed.to_string(),
        s.answered_within_sl.to_string(),
        pct(s.service_level, s.offered > s.short_abandoned),
        pct(s.answer_rate, s.offered > 0),
        secs(s.asa_s, s.answered > 0),
        secs(s.aht_s, s.answered > 0),
        secs(s.max_wait_s, s.offered > 0),
        pct(s.occupancy, s.occupancy > 0.0),
    ]
}

/// The expected-wait accuracy table's title and columns (the replay's text and
/// `vaxel report` show the same table).
pub(super) const EWT_TITLE: &str =
    "expected wait: first announcement against the real wait (error = announced - real)";
pub(super) const EWT_HEADER: [&str; 9] = [
    "group / position",
    "answered",
    "within 30 s",
    "within 20%",
    "bias s",
    "MAE s",
    "abandoned",
    "past EWT",
    "unknown",
];

/// By group (those with announced calls), by first position, then the total.
pub(super) fn ewt_rows(e: &EwtAccuracy) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = e
        .groups
        .0
        .iter()
        .filter(|(_, s)| s.answered + s.abandoned + s.unknown > 0)
        .map(|(k, s)| ewt_row(k, s))
        .collect();
    rows.extend(
        e.positions
            .0
            .iter()
            .map(|(k, s)| ewt_row(&format!("position {k}"), s)),
    );
    rows.push(ewt_row("total", &e.total));
    // The Erlang C reference on the same callers, and the first repeated announcement
    // (against the wait still to come), by position where they have calls.
    for (name, scored) in [
        ("Erlang C", &e.erlang_c),
        ("Erlang C from load", &e.erlang_c_load),
        ("first repeat", &e.repeated),
    ] {
        rows.extend(
            scored
                .positions
                .0
                .iter()
                .filter(|(_, s)| s.answered + s.abandoned + s.unknown > 0)
                .map(|(k, s)| ewt_row(&format!("{name}, position {k}"), s)),
        );
        rows.push(ewt_row(&format!("{name}, total"), &scored.total));
    }
    rows
}

fn ewt_row(name: &str, s: &EwtStats) -> Vec<String> {
    let any = s.answered > 0;
    vec![
        name.to_owned(),
        s.answered.to_string(),
        pct(s.within_30s, any),
        pct(s.within_20pct, any),
        secs(s.bias_s, any),
        secs(s.mae_s, any),
        s.abandoned.to_string(),
        pct(s.abandoned_past_ewt, s.abandoned > 0),
        s.unknown.to_string(),
    ]
}

impl Report {
    /// Groups, entries and totals as text tables.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} calls, {} events, {:.2} s\n",
            self.calls, self.events, self.wall_s
        );
        let mut rows: Vec<Vec<String>> =
            self.groups.0.iter().map(|(k, s)| stats_row(k, s)).collect();
        rows.push(stats_row("total", &self.total));
        table(
            &mut out,
            &[
                "group",
                "offered",
                "answered",
                "abandoned",
                "overflowed",
                "within SL",
                "SL",
                "answer rate",
                "ASA s",
                "AHT s",
                "max wait s",
                "occupancy",
            ],
            &rows,
        );
        out.push('\n');
        let mut rows: Vec<Vec<String>> = self
            .entries
            .0
            .iter()
            .map(|(k, e)| {
                vec![
                    k.clone(),
                    e.calls.to_string(),
                    e.offered.to_string(),
                    e.answered.to_string(),
                    pct(e.answer_rate, e.offered > 0),
                ]
            })
            .collect();
        rows.push(vec![
            "total".into(),
            self.calls.to_string(),
            self.total.offered.to_string(),
            self.total.answered.to_string(),
            pct(self.total.answer_rate, self.total.offered > 0),
        ]);
        table(
            &mut out,
            &["entry", "calls", "offered", "answered", "answer rate"],
            &rows,
        );
        out.push('\n');
        self.ewt_table(&mut out);
        out
    }

    /// The EWT accuracy by group, then by first announced position, then the total.
    fn ewt_table(&self, out: &mut String) {
        let _ = writeln!(out, "{EWT_TITLE}");
        table(out, &EWT_HEADER, &ewt_rows(&self.ewt_accuracy));
    }

    /// The breakdowns as text tables, each under its description.
    #[must_use]
    pub fn breakdowns_to_text(&self) -> String {
        let mut out = String::new();
        for (name, b) in &self.breakdowns.0 {
            breakdown_table(&mut out, name, b);
            out.push('\n');
        }
        out
    }
}

fn breakdown_table(out: &mut String, name: &str, b: &Breakdown) {
    let _ = writeln!(out, "{name}: {}", b.what);
    let rows: Vec<Vec<String>> = b
        .rows
        .iter()
        .map(|r| {
            vec![
                r.key.clone(),
                r.calls.to_string(),
                pct(r.share, r.calls > 0),
                r.offered.to_string(),
                r.answered.to_string(),
                r.abandoned.to_string(),
                pct(r.answer_rate, r.offered > 0),
                secs(r.asa_s, r.answered > 0),
                r.resolved.to_string(),
                r.referred.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "",
            "calls",
            "share",
            "offered",
            "answered",
            "abandoned",
            "answer rate",
            "ASA s",
            "resolved",
            "referred",
        ],
        &rows,
    );
}
