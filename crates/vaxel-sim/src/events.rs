//! The event log (`events.csv`, docs/formats.md): one line per [`Event`], in the order the
//! engine emitted them (time order).
//!
//! `time,event,call_id,from,agent,group,position,orig_position,wait_s,ring_s,talk_s,wrapup_s,ewt_s,to,rule,reason,outcome,ended_by,attempt,connected`
//!
//! One flat table with a fixed column list, so that BI tools and spreadsheets read it as
//! they read the call records: every event fills the columns it has and leaves the others
//! empty. Times and durations are written as on the call records (RFC 3339 with
//! milliseconds in the site's zone; seconds with at most three decimals).

use crate::csvio::CsvIn;
use crate::csvio::writer::{Cells, CsvFormat, CsvWriter};
use crate::error::SimError;
use crate::timefmt::write_duration_s;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;
use vaxel_core::site::Text;
use vaxel_core::{EndedBy, Event, EventKind, Outcome};

/// The event log's columns, in order.
pub const EVENT_COLUMNS: [&str; 20] = [
    "time",
    "event",
    "call_id",
    "from",
    "agent",
    "group",
    "position",
    "orig_position",
    "wait_s",
    "ring_s",
    "talk_s",
    "wrapup_s",
    "ewt_s",
    "to",
    "rule",
    "reason",
    "outcome",
    "ended_by",
    "attempt",
    "connected",
];

// Column indices, for the writer's row and the reader.
const TIME: usize = 0;
const EVENT: usize = 1;
const CALL: usize = 2;
const FROM: usize = 3;
const AGENT: usize = 4;
const GROUP: usize = 5;
const POSITION: usize = 6;
const ORIG_POSITION: usize = 7;
const WAIT: usize = 8;
const RING: usize = 9;
const TALK: usize = 10;
const WRAPUP: usize = 11;
const EWT: usize = 12;
const TO: usize = 13;
const RULE: usize = 14;
const REASON: usize = 15;
const OUTCOME: usize = 16;
const ENDED_BY: usize = 17;
const ATTEMPT: usize = 18;
const CONNECTED: usize = 19;
const N: usize = EVENT_COLUMNS.len();

/// The cells of an event's kind, as text.
fn cells(kind: &EventKind, row: &mut [String; N]) {
    let num = |row: &mut [String; N], i: usize, n: u64| {
        let _ = write!(row[i], "{n}");
    };
    let dur = |row: &mut [String; N], i: usize, ms: u64| write_duration_s(ms, &mut row[i]);
    match kind {
        EventKind::Queued { position, from } => {
            num(row, POSITION, u64::from(*position));
            row[FROM].push_str(from);
        }
        EventKind::Announced { position, ewt_s } => {
            num(row, POSITION, u64::from(*position));
            if let Some(e) = ewt_s {
                num(row, EWT, *e);
            }
        }
        EventKind::NoAnswer { ring_ms } => dur(row, RING, *ring_ms),
        EventKind::Connected { wait_ms, ring_ms } => {
            dur(row, WAIT, *wait_ms);
            dur(row, RING, *ring_ms);
        }
        EventKind::TalkEnded { talk_ms } => dur(row, TALK, *talk_ms),
        EventKind::Overflowed { to, rule, position } | EventKind::Moved { to, rule, position } => {
            row[TO].push_str(to);
            row[RULE].push_str(rule);
            num(row, POSITION, u64::from(*position));
        }
        EventKind::Expanded { to, rule } => {
            row[TO].push_str(to);
            row[RULE].push_str(rule);
        }
        EventKind::CallbackAccepted { position } => num(row, POSITION, u64::from(*position)),
        EventKind::Transferred { to } => row[TO].push_str(to),
        EventKind::CallbackDialled { attempt } => num(row, ATTEMPT, u64::from(*attempt)),
        EventKind::CallbackResult { connected } => {
            row[CONNECTED].push_str(if *connected { "true" } else { "false" });
        }
        EventKind::Ended {
            outcome,
            by,
            position,
            orig_position,
            wait_ms,
            talk_ms,
        } => {
            row[OUTCOME].push_str(outcome.as_str());
            row[ENDED_BY].push_str(by.as_str());
            num(row, POSITION, u64::from(*position));
            num(row, ORIG_POSITION, u64::from(*orig_position));
            dur(row, WAIT, *wait_ms);
            dur(row, TALK, *talk_ms);
        }
        EventKind::Paused { reason } => row[REASON].push_str(reason.as_deref().unwrap_or("")),
        EventKind::WrapupEnded { wrapup_ms } => dur(row, WRAPUP, *wrapup_ms),
        EventKind::Offered
        | EventKind::Parked
        | EventKind::Unparked
        | EventKind::Requeued
        | EventKind::CallbackOffered
        | EventKind::CallbackDeclined
        | EventKind::Login
        | EventKind::Logout
        | EventKind::Unpaused
        | EventKind::WrapupStarted => {}
    }
}

/// `events.csv`: an [`Event`] a row. [`EventWriter`] writes it.
#[derive(Debug)]
pub enum EventLog {}

/// Writes [`Event`]s as `events.csv`.
pub type EventWriter<W> = CsvWriter<W, EventLog>;

impl CsvFormat for EventLog {
    type Row = Event;
    /// The row, filled cell by cell in any order.
    type Scratch = [String; N];
    const COLUMNS: &'static [&'static str] = &EVENT_COLUMNS;
    const A_NAME: &'static str = "an event-log";

    fn write_row<W: io::Write>(
        e: &Event,
        out: &mut Cells<'_, W>,
        row: &mut [String; N],
    ) -> Result<(), SimError> {
        for c in row.iter_mut() {
            c.clear();
        }
        out.format_time(e.at, &mut row[TIME]);
        row[EVENT].push_str(e.kind.name());
        row[CALL].push_str(e.call.as_deref().unwrap_or(""));
        row[AGENT].push_str(e.agent.as_deref().unwrap_or(""));
        row[GROUP].push_str(e.group.as_deref().unwrap_or(""));
        cells(&e.kind, row);
        for c in row.iter() {
            out.text(c)?;
        }
        out.end()
    }
}

/// Streams [`Event`]s out of an `events.csv` (an iterator of `Result`s). Every column is
/// required: the format has one column list.
pub struct EventReader<R: io::Read> {
    csv: CsvIn<R>,
    cols: [usize; N],
}

impl<R: io::Read> std::fmt::Debug for EventReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("file", &self.csv.file)
            .finish_non_exhaustive()
    }
}

impl EventReader<BufReader<File>> {
    /// Opens an event-log file; errors name it as given.
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let (reader, name) = crate::csvio::open(path)?;
        EventReader::new(reader, name)
    }
}

impl<R: io::Read> EventReader<R> {
    /// Reads the header. `file` is the name errors give.
    pub fn new(reader: R, file: impl Into<String>) -> Result<Self, SimError> {
        let csv = CsvIn::new(reader, file.into())?;
        let mut cols = [0; N];
        for (i, name) in EVENT_COLUMNS.iter().enumerate() {
            cols[i] = csv.require(name)?;
        }
        Ok(EventReader { csv, cols })
    }

    fn text(&self, i: usize) -> Option<Text> {
        let s = crate::csvio::trim(self.csv.cell(Some(self.cols[i])));
        (!s.is_empty()).then(|| Arc::from(s))
    }

    fn need_text(&self, i: usize) -> Result<Text, SimError> {
        self.csv
            .text(self.cols[i])
            .map(|s| Arc::from(crate::csvio::trim(s)))
    }

    fn u32(&self, i: usize) -> Result<u32, SimError> {
        let n = self
            .csv
            .opt_u64(Some(self.cols[i]))?
            .ok_or_else(|| self.csv.cell_err(self.cols[i], "is empty".into()))?;
        u32::try_from(n).map_err(|_| self.csv.cell_err(self.cols[i], "is too large".into()))
    }

    fn dur(&self, i: usize) -> Result<u64, SimError> {
        self.csv.duration(self.cols[i])
    }

    fn parse_row(&self) -> Result<Event, SimError> {
        let name_ix = self.cols[EVENT];
        let name = crate::csvio::trim(self.csv.cell(Some(name_ix)));
        let kind = match name {
            "queued" => EventKind::Queued {
                position: self.u32(POSITION)?,
                from: self.text(FROM).unwrap_or_else(|| Arc::from("")),
            },
            "announced" => EventKind::Announced {
                position: self.u32(POSITION)?,
                ewt_s: self.csv.opt_u64(Some(self.cols[EWT]))?,
            },
            "offered" => EventKind::Offered,
            "no_answer" => EventKind::NoAnswer {
                ring_ms: self.dur(RING)?,
            },
            "connected" => EventKind::Connected {
                wait_ms: self.dur(WAIT)?,
                ring_ms: self.dur(RING)?,
            },
            "talk_ended" => EventKind::TalkEnded {
                talk_ms: self.dur(TALK)?,
            },
            "overflowed" | "moved" | "expanded" => {
                let (to, rule) = (self.need_text(TO)?, self.need_text(RULE)?);
                match name {
                    "overflowed" => EventKind::Overflowed {
                        to,
                        rule,
                        position: self.u32(POSITION)?,
                    },
                    "moved" => EventKind::Moved {
                        to,
                        rule,
                        position: self.u32(POSITION)?,
                    },
                    _ => EventKind::Expanded { to, rule },
                }
            }
            "transferred" => EventKind::Transferred {
                to: self.need_text(TO)?,
            },
            "parked" => EventKind::Parked,
            "unparked" => EventKind::Unparked,
            "requeued" => EventKind::Requeued,
            "callback_offered" => EventKind::CallbackOffered,
            "callback_accepted" => EventKind::CallbackAccepted {
                position: self.u32(POSITION)?,
            },
            "callback_declined" => EventKind::CallbackDeclined,
            "callback_dialled" => EventKind::CallbackDialled {
                attempt: self.u32(ATTEMPT)?,
            },
            "callback_result" => EventKind::CallbackResult {
                connected: self
                    .csv
                    .opt_bool(Some(self.cols[CONNECTED]))?
                    .ok_or_else(|| self.csv.cell_err(self.cols[CONNECTED], "is empty".into()))?,
            },
            "ended" => {
                let o = crate::csvio::trim(self.csv.cell(Some(self.cols[OUTCOME])));
                let outcome = Outcome::parse(o).ok_or_else(|| {
                    self.csv
                        .cell_err(self.cols[OUTCOME], format!("{o:?} is not an outcome"))
                })?;
                let b = crate::csvio::trim(self.csv.cell(Some(self.cols[ENDED_BY])));
                let by = EndedBy::parse(b).ok_or_else(|| {
                    self.csv.cell_err(
                        self.cols[ENDED_BY],
                        format!("{b:?} is not caller, agent, platform or system"),
                    )
                })?;
                EventKind::Ended {
                    outcome,
                    by,
                    position: self.u32(POSITION)?,
                    orig_position: self.u32(ORIG_POSITION)?,
                    wait_ms: self.dur(WAIT)?,
                    talk_ms: self.dur(TALK)?,
                }
            }
            "login" => EventKind::Login,
            "logout" => EventKind::Logout,
            "paused" => EventKind::Paused {
                reason: self.text(REASON),
            },
            "unpaused" => EventKind::Unpaused,
            "wrapup_started" => EventKind::WrapupStarted,
            "wrapup_ended" => EventKind::WrapupEnded {
                wrapup_ms: self.dur(WRAPUP)?,
            },
            other => {
                return Err(self.csv.cell_err(
                    name_ix,
                    format!(
                        "{other:?} is not an event ({})",
                        EventKind::NAMES.join(", ")
                    ),
                ));
            }
        };
        Ok(Event {
            at: self.csv.timestamp(self.cols[TIME])?,
            call: self.text(CALL),
            agent: self.text(AGENT),
            group: self.text(GROUP),
            kind,
        })
    }
}

impl<R: io::Read> Iterator for EventReader<R> {
    type Item = Result<Event, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.csv.next_record()? {
            Ok(()) => Some(self.parse_row()),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;
    use vaxel_core::Timestamp;

    fn ev(kind: EventKind) -> Event {
        Event {
            at: Timestamp(1_772_435_703_250),
            call: Some(Arc::from("c1")),
            agent: Some(Arc::from("a1")),
            group: Some(Arc::from("g, 1")),
            kind,
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let t = |s: &str| -> Text { Arc::from(s) };
        let all = vec![
            EventKind::Queued {
                position: 3,
                from: t("+4671"),
            },
            EventKind::Announced {
                position: 2,
                ewt_s: Some(40),
            },
            EventKind::Announced {
                position: 2,
                ewt_s: None,
            },
            EventKind::Offered,
            EventKind::NoAnswer { ring_ms: 15_250 },
            EventKind::Connected {
                wait_ms: 61_001,
                ring_ms: 4_000,
            },
            EventKind::TalkEnded { talk_ms: 180_000 },
            EventKind::Overflowed {
                to: t("number:+4681"),
                rule: t("overflow.1"),
                position: 2,
            },
            EventKind::Moved {
                to: t("g2"),
                rule: t("max_wait"),
                position: 1,
            },
            EventKind::Expanded {
                to: t("g3"),
                rule: t("overflow.2"),
            },
            EventKind::Transferred { to: t("agent:a2") },
            EventKind::Parked,
            EventKind::Unparked,
            EventKind::Requeued,
            EventKind::CallbackOffered,
            EventKind::CallbackAccepted { position: 4 },
            EventKind::CallbackDeclined,
            EventKind::CallbackDialled { attempt: 2 },
            EventKind::CallbackResult { connected: false },
            EventKind::Ended {
                outcome: Outcome::Abandoned,
                by: EndedBy::Caller,
                position: 4,
                orig_position: 6,
                wait_ms: 90_500,
                talk_ms: 0,
            },
            EventKind::Login,
            EventKind::Logout,
            EventKind::Paused {
                reason: Some(t("lunch")),
            },
            EventKind::Paused { reason: None },
            EventKind::Unpaused,
            EventKind::WrapupStarted,
            EventKind::WrapupEnded { wrapup_ms: 30_000 },
        ];
        let names: std::collections::BTreeSet<_> = all.iter().map(EventKind::name).collect();
        assert_eq!(names.len(), EventKind::NAMES.len(), "every kind is tested");
        let mut w = EventWriter::new(Vec::new(), "e.csv", TimeZone::UTC).unwrap();
        for k in &all {
            w.write(&ev(k.clone())).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let back: Vec<Event> = EventReader::new(&bytes[..], "e.csv")
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<Event> = all.into_iter().map(ev).collect();
        assert_eq!(back, want);
    }

    #[test]
    fn a_bad_cell_names_line_and_column() {
        let text = format!(
            "{}\n2026-03-02T08:00:00Z,no_answer,c1,,a1,g,,,,soon,,,,,,,,,,\n",
            EVENT_COLUMNS.join(",")
        );
        let err = EventReader::new(text.as_bytes(), "e.csv")
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("e.csv:2: column 10 (ring_s)"), "{err}");
    }
}
