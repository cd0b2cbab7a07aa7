//! The document of `vaxel report` (docs/reports.md "vaxel report"): a period's [`Report`]
//! with the extra [`Tables`](super::Tables), what was read and what was missing, and
//! optionally a baseline period and the zero measurement ([`Comparison`]). Written as
//! JSON, aligned text or CSV here; the HTML with charts is the command's.

use super::agents::AgentFigures;
use super::text::{EWT_HEADER, EWT_TITLE, ewt_rows, pct, secs, table};
use super::zero::{Comparison, Delta};
use super::{Breakdown, BreakdownRow, Report};
use serde::Serialize;

/// What the call records cannot tell, said in every output rather than shown as zero.
pub const NOT_MEASURED: &str = "logged-in time, pause time (by reason), no-answers and \
     occupancy need the agents' event log, which these call records do not hold: they are \
     not in this report (occupancy is written as 0)";

/// What is still not measured when the event log was read (the per-agent table has the
/// rest).
pub const NOT_MEASURED_WITH_EVENTS: &str = "occupancy: not in this report (written as 0)";

/// One period's figures and where they came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodReport {
    /// First and last local day (`YYYY-MM-DD`), or `None` for files read whole.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Days of the period with no call-record file (data dir only).
    pub missing_days: Vec<String>,
    pub report: Report,
    /// The per-agent figures of the event log, when one was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentFigures>,
}

/// The whole `vaxel report` document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SupervisorReport {
    /// The site (its file, or the built-in city).
    pub site: String,
    pub interval_min: u32,
    /// The threshold of the service level, seconds.
    pub service_level_s: f64,
    /// The site's service level target, a share.
    pub service_level_target: f64,
    /// The files read, in order.
    pub files: Vec<String>,
    /// Damaged lines passed over with `--skip-bad`.
    pub skipped_lines: u64,
    pub not_measured: &'static str,
    pub period: PeriodReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<PeriodReport>,
    /// The baseline (before) against the period (after).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// The columns of a table row, as the text shows them.
const ROW_HEADER: [&str; 15] = [
    "calls",
    "share",
    "offered",
    "answered",
    "answer rate",
    "abandoned",
    "short ab.",
    "overflowed",
    "within SL",
    "SL",
    "ASA s",
    "max wait s",
    "AHT s",
    "resolved",
    "referred",
];

fn row_cells(r: &BreakdownRow) -> Vec<String> {
    let answered = r.answered > 0;
    vec![
        r.key.clone(),
        r.calls.to_string(),
        pct(r.share, r.calls > 0),
        r.offered.to_string(),
        r.answered.to_string(),
        pct(r.answer_rate, r.offered > 0),
        r.abandoned.to_string(),
        r.short_abandoned.to_string(),
        r.overflowed.to_string(),
        r.answered_within_sl.to_string(),
        pct(r.service_level, r.offered > r.short_abandoned),
        secs(r.asa_s, answered),
        secs(r.max_wait_s, r.offered > 0),
        secs(r.aht_s, answered),
        r.resolved.to_string(),
        r.referred.to_string(),
    ]
}

/// One table of the report: a title, the column names (the first names the key column)
/// and the cells. The text and the HTML show the same sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn full_section(name: &str, b: &Breakdown) -> Section {
    Section {
        title: format!("{name}: {}", b.what),
        header: std::iter::once("")
            .chain(ROW_HEADER)
            .map(str::to_owned)
            .collect(),
        rows: b.rows.iter().map(row_cells).collect(),
    }
}

/// The event log's per-agent figures; pause time by reason as one column per reason.
fn agents_section(t: &AgentFigures) -> Section {
    let mut reasons: Vec<&str> = Vec::new();
    for r in &t.rows {
        for (k, _) in &r.pause_by_reason.0 {
            if !reasons.contains(&k.as_str()) {
                reasons.push(k);
            }
        }
    }
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                r.agent.clone(),
                r.calls.to_string(),
                secs(r.aht_s, r.calls > 0),
                secs(r.talk_s, true),
                secs(r.wrapup_s, true),
                r.no_answers.to_string(),
                secs(r.logged_in_s, true),
                secs(r.paused_s, true),
            ];
            for k in &reasons {
                let v = r.pause_by_reason.0.iter().find(|(x, _)| x == k);
                cells.push(secs(v.map_or(0.0, |(_, s)| *s), true));
            }
            cells
        })
        .collect();
    let mut header: Vec<String> = [
        "agent",
        "calls",
        "AHT s",
        "talk s",
        "wrap-up s",
        "no-answers",
        "logged in s",
        "paused s",
    ]
    .map(str::to_owned)
    .to_vec();
    header.extend(reasons.iter().map(|k| format!("pause {k} s")));
    Section {
        title: format!("agents: {}", t.what),
        header,
        rows,
    }
}

fn agent_section(b: &Breakdown) -> Section {
    let rows = b
        .rows
        .iter()
        .map(|r| {
            let any = r.answered > 0;
            vec![
                r.key.clone(),
                r.answered.to_string(),
                pct(r.share, r.calls > 0),
                secs(r.aht_s, any),
                secs(r.talk_s, any),
                secs(r.wrapup_s, any),
                secs(r.asa_s, any),
                r.resolved.to_string(),
                r.referred.to_string(),
            ]
        })
        .collect();
    Section {
        title: format!("by_agent: {}", b.what),
        header: [
            "agent",
            "calls",
            "share",
            "AHT s",
            "talk s",
            "wrap-up s",
            "ASA s",
            "resolved",
            "referred",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

/// Group × interval as two matrices (offered calls, service level), intervals with calls
/// only.
fn group_interval_sections(p: &PeriodReport) -> Vec<Section> {
    let Some(t) = &p.report.tables else {
        return Vec::new();
    };
    let groups = &t.group_by_interval.0;
    if groups.is_empty() {
        return Vec::new();
    }
    let header: Vec<String> = std::iter::once("interval")
        .chain(groups.iter().map(|(g, _)| g.as_str()))
        .map(str::to_owned)
        .collect();
    let offered: fn(&BreakdownRow) -> String = |r| r.offered.to_string();
    let level: fn(&BreakdownRow) -> String =
        |r| pct(r.service_level, r.offered > r.short_abandoned);
    [("offered calls", offered), ("service level", level)]
        .into_iter()
        .map(|(what, cell)| Section {
            title: format!("group_by_interval: {what} by group and local interval"),
            header: header.clone(),
            rows: t
                .by_interval
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.calls > 0)
                .map(|(i, r)| {
                    std::iter::once(r.key.clone())
                        .chain(
                            groups
                                .iter()
                                .map(|(_, b)| b.rows.get(i).map_or_else(String::new, cell)),
                        )
                        .collect()
                })
                .collect(),
        })
        .collect()
}

fn period_label(p: &PeriodReport) -> String {
    match (&p.from, &p.to) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "all records".into(),
    }
}

fn delta_cells(d: Delta, share: bool) -> [String; 3] {
    if share {
        [
            pct(d.before, true),
            pct(d.after, true),
            format!("{:+.1} pp", d.diff * 100.0),
        ]
    } else {
        [
            format!("{:.1}", d.before),
            format!("{:.1}", d.after),
            format!("{:+.1}", d.diff),
        ]
    }
}

impl SupervisorReport {
    /// Pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The lines that say what the report covers and how its figures are defined.
    #[must_use]
    pub fn preamble(&self) -> Vec<String> {
        let mut v = vec![
            format!("site: {}", self.site),
            format!(
                "period: {} ({} calls){}",
                period_label(&self.period),
                self.period.report.calls,
                self.baseline.as_ref().map_or_else(String::new, |b| format!(
                    "; baseline: {} ({} calls)",
                    period_label(b),
                    b.report.calls
                ))
            ),
            format!(
                "service level = answered within {} s / (offered - abandoned within 5 s); \
                 target {:.0}%",
                self.service_level_s,
                self.service_level_target * 100.0
            ),
            "short abandon: hung up in the queue after at most 5 s; overflowed: sent out of \
             the site (overflow_external, timeout)"
                .into(),
        ];
        for p in std::iter::once(&self.period).chain(&self.baseline) {
            if !p.missing_days.is_empty() {
                v.push(format!(
                    "warning: no call records for {} day(s): {}",
                    p.missing_days.len(),
                    p.missing_days.join(", ")
                ));
            }
        }
        if self.skipped_lines > 0 {
            v.push(format!(
                "warning: {} damaged line(s) skipped",
                self.skipped_lines
            ));
        }
        v.push(format!("not measured: {}", self.not_measured));
        v
    }

    /// The tables of the period, then the zero measurement, as sections.
    #[must_use]
    pub fn sections(&self) -> Vec<Section> {
        let p = &self.period;
        let mut v = Vec::new();
        if let Some(t) = &p.report.tables {
            for (name, b) in t.named() {
                v.push(if name == "by_agent" {
                    agent_section(b)
                } else {
                    full_section(name, b)
                });
            }
        }
        if let Some(a) = &p.agents {
            v.push(agents_section(a));
        }
        v.extend(group_interval_sections(p));
        v.extend(
            p.report
                .breakdowns
                .0
                .iter()
                .map(|(n, b)| full_section(n, b)),
        );
        v.push(Section {
            title: EWT_TITLE.to_owned(),
            header: EWT_HEADER.map(str::to_owned).to_vec(),
            rows: ewt_rows(&p.report.ewt_accuracy),
        });
        if let Some(c) = &self.comparison {
            v.extend(self.comparison_sections(c));
        }
        v
    }

    /// Aligned text tables for a terminal.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for l in self.preamble() {
            out.push_str(&l);
            out.push('\n');
        }
        out.push('\n');
        for s in self.sections() {
            out.push_str(&s.title);
            out.push('\n');
            let header: Vec<&str> = s.header.iter().map(String::as_str).collect();
            table(&mut out, &header, &s.rows);
            out.push('\n');
        }
        out
    }

    fn comparison_sections(&self, c: &Comparison) -> [Section; 2] {
        let before = self.baseline.as_ref().map(period_label).unwrap_or_default();
        let title = format!(
            "zero measurement: baseline {before} (before) against {} (after)",
            period_label(&self.period)
        );
        let total = c
            .total
            .named()
            .into_iter()
            .map(|(k, d, share)| {
                std::iter::once(k.to_owned())
                    .chain(delta_cells(d, share))
                    .collect()
            })
            .collect();
        let groups = c
            .groups
            .0
            .iter()
            .map(|(g, z)| {
                std::iter::once(g.clone())
                    .chain(delta_cells(z.answer_rate, true))
                    .chain(delta_cells(z.service_level, true))
                    .chain(delta_cells(z.asa_s, false))
                    .collect()
            })
            .collect();
        let names = |h: &[&str]| h.iter().map(|s| (*s).to_owned()).collect();
        [
            Section {
                title: title.clone(),
                header: names(&["total", "before", "after", "difference"]),
                rows: total,
            },
            Section {
                title: format!("{title}, by group"),
                header: names(&[
                    "group",
                    "answer rate before",
                    "after",
                    "diff",
                    "SL before",
                    "after",
                    "diff",
                    "ASA s before",
                    "after",
                    "diff",
                ]),
                rows: groups,
            },
        ]
    }

    /// CSV: one line per row of every table of each period, columns named in the header
    /// (docs/reports.md). The comparison is in the JSON, text and HTML.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "period,table,group,key,calls,share,offered,answered,answer_rate,abandoned,\
             short_abandoned,overflowed,answered_within_sl,service_level,asa_s,max_wait_s,\
             aht_s,talk_s,wrapup_s,resolved,referred,no_answers,logged_in_s,paused_s\n",
        );
        for (label, p) in std::iter::once(("period", &self.period))
            .chain(self.baseline.as_ref().map(|b| ("baseline", b)))
        {
            let mut tables: Vec<(&str, &str, &Breakdown)> = Vec::new();
            if let Some(t) = &p.report.tables {
                tables.extend(t.named().into_iter().map(|(n, b)| (n, "", b)));
                tables.extend(
                    t.group_by_interval
                        .0
                        .iter()
                        .map(|(g, b)| ("group_by_interval", g.as_str(), b)),
                );
            }
            tables.extend(
                p.report
                    .breakdowns
                    .0
                    .iter()
                    .map(|(n, b)| (n.as_str(), "", b)),
            );
            for (name, group, b) in tables {
                for r in &b.rows {
                    let cells = [
                        label.to_owned(),
                        name.to_owned(),
                        group.to_owned(),
                        r.key.clone(),
                        r.calls.to_string(),
                        r.share.to_string(),
                        r.offered.to_string(),
                        r.answered.to_string(),
                        r.answer_rate.to_string(),
                        r.abandoned.to_string(),
                        r.short_abandoned.to_string(),
                        r.overflowed.to_string(),
                        r.answered_within_sl.to_string(),
                        r.service_level.to_string(),
                        r.asa_s.to_string(),
                        r.max_wait_s.to_string(),
                        r.aht_s.to_string(),
                        r.talk_s.to_string(),
                        r.wrapup_s.to_string(),
                        r.resolved.to_string(),
                        r.referred.to_string(),
                    ];
                    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                    out.push_str(&line.join(","));
                    out.push_str(",,,\n");
                }
            }
            if let Some(a) = &p.agents {
                agents_csv(&mut out, label, a);
            }
        }
        out
    }
}

/// The per-agent rows (table `agents`, the figures in their columns, the others empty),
/// and one row per agent and pause reason (table `agent_pauses`, the reason in `group`).
fn agents_csv(out: &mut String, label: &str, a: &AgentFigures) {
    for r in &a.rows {
        let agent = csv_cell(&r.agent);
        out.push_str(&format!(
            "{label},agents,,{agent},{},,,,,,,,,,,,{},{},{},,,{},{},{}\n",
            r.calls, r.aht_s, r.talk_s, r.wrapup_s, r.no_answers, r.logged_in_s, r.paused_s
        ));
        for (reason, s) in &r.pause_by_reason.0 {
            out.push_str(&format!(
                "{label},agent_pauses,{},{agent},,,,,,,,,,,,,,,,,,,,{s}\n",
                csv_cell(reason)
            ));
        }
    }
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
