//! The roster (`roster.csv`, docs/formats.md): when agents work. Columns `agent`, `start`, `end`
//! (found by name; others ignored). An agent logs in at `start` and out at `end` (after
//! finishing a call in progress).
//!
//! Checks: `end` after `start`; no two shifts of one agent overlap (touching shifts, one
//! ending when the next starts, are fine); with [`RosterReader::known_agents`], every agent
//! is one of the site's. The rows need not be sorted: [`read_roster`] sorts them.

use crate::csvio::CsvIn;
use crate::csvio::writer::{Cells, CsvFormat, CsvWriter};
use crate::error::SimError;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use vaxel_core::Timestamp;

/// The roster's columns, in the order the writer writes them.
pub const ROSTER_COLUMNS: [&str; 3] = ["agent", "start", "end"];

/// One shift: `agent` is logged in during `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shift {
    pub agent: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A shift already read: its end, its line and its cells as written.
struct Seen {
    end: Timestamp,
    line: u64,
    text: Box<str>,
}

/// Streams [`Shift`]s out of a CSV file (an iterator of `Result`s, like
/// [`TraceReader`](crate::TraceReader)).
pub struct RosterReader<R: io::Read> {
    csv: CsvIn<R>,
    agent: usize,
    start: usize,
    end: usize,
    /// Per agent: start → where its shift ends and how it was written, to find overlaps
    /// whatever the row order.
    shifts: FxHashMap<String, BTreeMap<Timestamp, Seen>>,
    known: Option<FxHashSet<String>>,
}

impl<R: io::Read> std::fmt::Debug for RosterReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosterReader")
            .field("file", &self.csv.file)
            .finish_non_exhaustive()
    }
}

impl RosterReader<BufReader<File>> {
    /// Opens a roster file; errors name it as given.
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let (reader, name) = crate::csvio::open(path)?;
        RosterReader::new(reader, name)
    }
}

impl<R: io::Read> RosterReader<R> {
    /// Reads the header. `file` is the name errors give (`roster.csv`).
    pub fn new(reader: R, file: impl Into<String>) -> Result<Self, SimError> {
        let csv = CsvIn::new(reader, file.into())?;
        Ok(RosterReader {
            agent: csv.require("agent")?,
            start: csv.require("start")?,
            end: csv.require("end")?,
            csv,
            shifts: FxHashMap::default(),
            known: None,
        })
    }

    /// Refuse agents that are not among `ids` (the site's agent ids).
    #[must_use]
    pub fn known_agents<'a>(mut self, ids: impl IntoIterator<Item = &'a str>) -> Self {
        self.known = Some(ids.into_iter().map(str::to_owned).collect());
        self
    }

    /// Header columns that are not roster columns.
    #[must_use]
    pub fn unknown_columns(&self) -> Vec<String> {
        self.csv.unknown_columns(&ROSTER_COLUMNS)
    }

    fn parse_row(&mut self) -> Result<Shift, SimError> {
        let csv = &self.csv;
        let agent = csv.text(self.agent)?.trim();
        if let Some(known) = &self.known
            && !known.contains(agent)
        {
            return Err(csv.cell_err(self.agent, format!("no agent {agent:?} in the site")));
        }
        let start = csv.timestamp(self.start)?;
        let end = csv.timestamp(self.end)?;
        if end <= start {
            return Err(csv.cell_err(
                self.end,
                format!(
                    "{} is not after the shift's start {}",
                    csv.cell(Some(self.end)).trim(),
                    csv.cell(Some(self.start)).trim()
                ),
            ));
        }
        let line = csv.line();
        let mine = self.shifts.entry(agent.to_owned()).or_default();
        let before = mine.range(..=start).next_back();
        let after = mine.range(start..).next();
        let text = format!(
            "from {} to {}",
            csv.cell(Some(self.start)).trim(),
            csv.cell(Some(self.end)).trim()
        );
        for (&s, seen) in before.into_iter().chain(after) {
            if s < end && start < seen.end {
                return Err(csv.row_err(format!(
                    "shift of agent {agent:?} {text} overlaps its shift {} on line {}",
                    seen.text, seen.line
                )));
            }
        }
        mine.insert(
            start,
            Seen {
                end,
                line,
                text: text.into_boxed_str(),
            },
        );
        Ok(Shift {
            agent: agent.to_owned(),
            start,
            end,
        })
    }
}

impl<R: io::Read> Iterator for RosterReader<R> {
    type Item = Result<Shift, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.csv.next_record()? {
            Ok(()) => Some(self.parse_row()),
            Err(e) => Some(Err(e)),
        }
    }
}

/// Reads a whole roster, stopping at the first error, sorted by start, then agent.
pub fn read_roster<R: io::Read>(reader: RosterReader<R>) -> Result<Vec<Shift>, SimError> {
    let mut v = reader.collect::<Result<Vec<_>, _>>()?;
    v.sort_by(|a, b| (a.start, &a.agent, a.end).cmp(&(b.start, &b.agent, b.end)));
    Ok(v)
}

/// Each agent's stretches of work: its touching or overlapping shifts merged into one
/// (back-to-back shifts are one login), sorted by agent, then start. Replay semantics
/// (docs/formats.md): the replay and `vaxel load` both log agents in and out by these.
#[must_use]
pub fn stretches(roster: &[Shift]) -> Vec<(&str, Timestamp, Timestamp)> {
    let mut by_agent: Vec<(&str, Timestamp, Timestamp)> = roster
        .iter()
        .map(|s| (s.agent.as_str(), s.start, s.end))
        .collect();
    by_agent.sort_unstable();
    let mut merged: Vec<(&str, Timestamp, Timestamp)> = Vec::new();
    for (a, s, e) in by_agent {
        match merged.last_mut() {
            Some((pa, _, pe)) if *pa == a && s <= *pe => *pe = (*pe).max(e),
            _ => merged.push((a, s, e)),
        }
    }
    merged
}

/// `roster.csv`: a [`Shift`] a row. [`RosterWriter`] writes it.
#[derive(Debug)]
pub enum Roster {}

/// Writes [`Shift`]s as `roster.csv`, times in the site's zone.
pub type RosterWriter<W> = CsvWriter<W, Roster>;

impl CsvFormat for Roster {
    type Row = Shift;
    type Scratch = ();
    const COLUMNS: &'static [&'static str] = &ROSTER_COLUMNS;
    const A_NAME: &'static str = "a roster";

    fn write_row<W: io::Write>(
        shift: &Shift,
        out: &mut Cells<'_, W>,
        (): &mut (),
    ) -> Result<(), SimError> {
        out.text(&shift.agent)?;
        out.time(Some(shift.start))?;
        out.time(Some(shift.end))?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn err(text: &str) -> String {
        match RosterReader::new(text.as_bytes(), "roster.csv") {
            Ok(r) => read_roster(r)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn touching_and_overlapping_shifts_are_one_stretch() {
        let shift = |agent: &str, start, end| Shift {
            agent: agent.to_owned(),
            start: Timestamp(start),
            end: Timestamp(end),
        };
        let roster = [
            shift("b", 10, 20),
            shift("a", 30, 40),
            shift("a", 0, 10),
            shift("a", 5, 8),
            shift("b", 25, 30),
        ];
        let t = Timestamp;
        assert_eq!(
            stretches(&roster),
            [
                ("a", t(0), t(10)),
                ("a", t(30), t(40)),
                ("b", t(10), t(20)),
                ("b", t(25), t(30))
            ]
        );
    }

    #[test]
    fn reads_and_sorts() {
        let text = "end,agent,start,extra\n\
                    2026-03-02T12:00:00+01:00,a2,2026-03-02T08:00:00+01:00,x\n\
                    2026-03-02T16:00:00+01:00,a1,2026-03-02T12:00:00+01:00,x\n\
                    2026-03-02T12:00:00+01:00,a1,2026-03-02T08:00:00+01:00,x\n";
        let r = RosterReader::new(text.as_bytes(), "roster.csv").unwrap();
        assert_eq!(r.unknown_columns(), vec!["extra".to_string()]);
        let v = read_roster(r).unwrap();
        let agents: Vec<_> = v.iter().map(|s| s.agent.as_str()).collect();
        assert_eq!(agents, ["a1", "a2", "a1"]);
        assert_eq!(v[0].end.since(v[0].start), 4 * 3_600_000);
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("agent,start\n"),
            "roster.csv:1: missing required column \"end\" (the header has: agent,start)"
        );
        assert_eq!(
            err("agent,start,end\na1,2026-03-02T08:00:00+01:00,2026-03-02T08:00:00+01:00\n"),
            "roster.csv:2: column 3 (end): 2026-03-02T08:00:00+01:00 is not after the shift's \
             start 2026-03-02T08:00:00+01:00"
        );
        assert_eq!(
            err("agent,start,end\na1,0,2026-02-30T08:00:00Z\n"),
            "roster.csv:2: column 3 (end): \"2026-02-30T08:00:00Z\" is not a timestamp (RFC 3339 or epoch ms)"
        );
        let e = err("agent,start,end\na1,1000,5000\na2,2000,3000\na1,4000,9000\n");
        assert_eq!(
            e,
            "roster.csv:4: shift of agent \"a1\" from 4000 to 9000 overlaps its shift from 1000 to 5000 on line 2"
        );
        // Overlap with a later-starting shift read earlier.
        let e = err("agent,start,end\na1,4000,9000\na1,1000,5000\n");
        assert!(e.starts_with("roster.csv:3: shift of agent \"a1\""), "{e}");
        // Containment.
        let e = err("agent,start,end\na1,1000,9000\na1,2000,3000\n");
        assert!(e.contains("overlaps"), "{e}");
        // Touching is fine.
        assert_eq!(err("agent,start,end\na1,1000,2000\na1,2000,3000\n"), "");
        let r = RosterReader::new("agent,start,end\nzz,1,2\n".as_bytes(), "roster.csv")
            .unwrap()
            .known_agents(["a1"]);
        let e = read_roster(r).unwrap_err().to_string();
        assert_eq!(
            e,
            "roster.csv:2: column 1 (agent): no agent \"zz\" in the site"
        );
    }

    #[test]
    fn round_trip() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        let shifts = vec![Shift {
            agent: "a1017".into(),
            start: Timestamp(1_772_435_700_000),
            end: Timestamp(1_772_464_500_000),
        }];
        let mut w = RosterWriter::new(Vec::new(), "roster.csv", tz).unwrap();
        w.write(&shifts[0]).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "agent,start,end\na1017,2026-03-02T08:15:00.000+01:00,2026-03-02T16:15:00.000+01:00\n"
        );
        let r = RosterReader::new(text.as_bytes(), "roster.csv").unwrap();
        assert_eq!(read_roster(r).unwrap(), shifts);
    }
}
