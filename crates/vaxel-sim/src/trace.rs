//! The trace (`calls.csv`, docs/formats.md): what callers do.
//!
//! Columns are found by name; others may come in any order and are ignored (see
//! [`TraceReader::unknown_columns`] to warn about a misspelt one). Required: `call_id`,
//! `arrival`, `to`, `talk_s`. Optional, with the meaning of an empty cell when absent:
//! `from` (empty), `digits` (no choice), `patience_s` (never hangs up), `wrapup_s` (the
//! group's default), `case_type`, `resolved` (none), `accept_callback` (false).
//!
//! The reader checks, row by row: call ids are unique (it keeps the set of ids seen, the
//! only memory that grows with the file), arrivals never go back in time, durations are
//! numbers ≥ 0, booleans are `true`/`false` (`1`/`0` and any case accepted), digits are
//! `0-9 * #` levels separated by commas.

use crate::csvio::writer::{Cells, CsvFormat, CsvWriter};
use crate::csvio::{CsvIn, trim, valid_digits};
use crate::error::SimError;
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use vaxel_core::Timestamp;

/// The trace's columns, in the order the writer writes them.
pub const TRACE_COLUMNS: [&str; 11] = [
    "call_id",
    "arrival",
    "to",
    "from",
    "digits",
    "patience_s",
    "talk_s",
    "wrapup_s",
    "case_type",
    "resolved",
    "accept_callback",
];

/// One caller's behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceCall {
    pub call_id: String,
    pub arrival: Timestamp,
    /// Dialed number: selects the entry.
    pub to: String,
    /// Caller number.
    pub from: String,
    /// Menu choices, comma-separated per level (`8,1`); empty = no choice.
    pub digits: String,
    /// Time the caller waits in queue before hanging up; `None` = never.
    pub patience_ms: Option<u64>,
    pub talk_ms: u64,
    /// After-call work; `None` = the group's default.
    pub wrapup_ms: Option<u64>,
    pub case_type: Option<String>,
    pub resolved: Option<bool>,
    pub accept_callback: bool,
}

struct Cols {
    call_id: usize,
    arrival: usize,
    to: usize,
    talk: usize,
    from: Option<usize>,
    digits: Option<usize>,
    patience: Option<usize>,
    wrapup: Option<usize>,
    case_type: Option<usize>,
    resolved: Option<usize>,
    accept_callback: Option<usize>,
}

/// Streams [`TraceCall`]s out of a CSV file. An iterator of `Result`s: after an error in a
/// row the next rows are still read (the caller usually stops at the first one); after an
/// I/O error it ends.
pub struct TraceReader<R: io::Read> {
    csv: CsvIn<R>,
    cols: Cols,
    /// Call id → line where it was first seen.
    seen: FxHashMap<Box<str>, u64>,
    /// Whether `seen` is kept (see [`TraceReader::without_unique_ids`]).
    check_ids: bool,
    /// The latest arrival so far, its cell text and its line, for the ordering check.
    last: Option<(Timestamp, String, u64)>,
}

impl<R: io::Read> std::fmt::Debug for TraceReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceReader")
            .field("file", &self.csv.file)
            .field("calls", &self.seen.len())
            .finish_non_exhaustive()
    }
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file; errors name it as given.
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let (reader, name) = crate::csvio::open(path)?;
        TraceReader::new(reader, name)
    }
}

impl<R: io::Read> TraceReader<R> {
    /// Reads the header. `file` is the name errors give (`calls.csv`).
    pub fn new(reader: R, file: impl Into<String>) -> Result<Self, SimError> {
        let csv = CsvIn::new(reader, file.into())?;
        let cols = Cols {
            call_id: csv.require("call_id")?,
            arrival: csv.require("arrival")?,
            to: csv.require("to")?,
            talk: csv.require("talk_s")?,
            from: csv.column("from"),
            digits: csv.column("digits"),
            patience: csv.column("patience_s"),
            wrapup: csv.column("wrapup_s"),
            case_type: csv.column("case_type"),
            resolved: csv.column("resolved"),
            accept_callback: csv.column("accept_callback"),
        };
        Ok(TraceReader {
            csv,
            cols,
            seen: FxHashMap::default(),
            check_ids: true,
            last: None,
        })
    }

    /// Stops checking that call ids are unique across the whole file, so memory no longer
    /// grows with the trace (a replay holds only the calls in flight; the engine still
    /// refuses an id used by a call that is live, as `duplicate_call`).
    #[must_use]
    pub fn without_unique_ids(mut self) -> Self {
        self.check_ids = false;
        self.seen = FxHashMap::default();
        self
    }

    /// Header columns that are not trace columns (ignored; perhaps misspelt).
    #[must_use]
    pub fn unknown_columns(&self) -> Vec<String> {
        self.csv.unknown_columns(&TRACE_COLUMNS)
    }

    fn parse_row(&mut self) -> Result<TraceCall, SimError> {
        let c = &self.cols;
        let csv = &self.csv;
        let call_id = csv.text(c.call_id)?.to_owned();
        let arrival = csv.timestamp(c.arrival)?;
        let to = csv.text(c.to)?.to_owned();
        let digits = trim(csv.cell(c.digits));
        if !valid_digits(digits) {
            let ix = c.digits.unwrap_or(0);
            return Err(csv.cell_err(
                ix,
                format!(
                    "{digits:?} is not a digit sequence (0-9, * or # per menu level, \
                     levels separated by commas)"
                ),
            ));
        }
        let call = TraceCall {
            arrival,
            to,
            from: trim(csv.cell(c.from)).to_owned(),
            digits: digits.to_owned(),
            patience_ms: csv.opt_duration(c.patience)?,
            talk_ms: csv.duration(c.talk)?,
            wrapup_ms: csv.opt_duration(c.wrapup)?,
            case_type: Some(trim(csv.cell(c.case_type)))
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            resolved: csv.opt_bool(c.resolved)?,
            accept_callback: csv.opt_bool(c.accept_callback)?.unwrap_or(false),
            call_id,
        };
        let line = csv.line();
        if let Some((prev, prev_text, prev_line)) = &self.last
            && arrival < *prev
        {
            return Err(csv.cell_err(
                c.arrival,
                format!(
                    "{} is earlier than the previous arrival {} (line {prev_line}); \
                     a trace must be sorted by arrival",
                    trim(csv.cell(Some(c.arrival))),
                    prev_text
                ),
            ));
        }
        if self.check_ids {
            if let Some(first) = self.seen.get(call.call_id.as_str()) {
                return Err(csv.cell_err(
                    c.call_id,
                    format!("call id {:?} already used on line {first}", call.call_id),
                ));
            }
            self.seen
                .insert(call.call_id.clone().into_boxed_str(), line);
        }
        let text = trim(csv.cell(Some(c.arrival)));
        match &mut self.last {
            Some((t, s, l)) => {
                *t = arrival;
                s.clear();
                s.push_str(text);
                *l = line;
            }
            None => self.last = Some((arrival, text.to_owned(), line)),
        }
        Ok(call)
    }
}

impl<R: io::Read> Iterator for TraceReader<R> {
    type Item = Result<TraceCall, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.csv.next_record()? {
            Ok(()) => Some(self.parse_row()),
            Err(e) => Some(Err(e)),
        }
    }
}

/// `calls.csv`: a [`TraceCall`] a row. [`TraceWriter`] writes it.
#[derive(Debug)]
pub enum Trace {}

/// Writes [`TraceCall`]s as `calls.csv`, times in the site's zone.
pub type TraceWriter<W> = CsvWriter<W, Trace>;

impl CsvFormat for Trace {
    type Row = TraceCall;
    type Scratch = ();
    const COLUMNS: &'static [&'static str] = &TRACE_COLUMNS;
    const A_NAME: &'static str = "a trace";

    fn write_row<W: io::Write>(
        call: &TraceCall,
        out: &mut Cells<'_, W>,
        (): &mut (),
    ) -> Result<(), SimError> {
        out.text(&call.call_id)?;
        out.time(Some(call.arrival))?;
        out.text(&call.to)?;
        out.text(&call.from)?;
        out.text(&call.digits)?;
        for d in [call.patience_ms, Some(call.talk_ms), call.wrapup_ms] {
            out.duration(d)?;
        }
        out.text(call.case_type.as_deref().unwrap_or(""))?;
        out.opt_bool(call.resolved)?;
        out.opt_bool(Some(call.accept_callback))?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn read(text: &str) -> Vec<Result<TraceCall, SimError>> {
        match TraceReader::new(text.as_bytes(), "calls.csv") {
            Ok(r) => r.collect(),
            Err(e) => vec![Err(e)],
        }
    }

    fn first_err(text: &str) -> String {
        read(text)
            .into_iter()
            .find_map(Result::err)
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    const HEAD: &str = "call_id,arrival,to,from,digits,patience_s,talk_s,wrapup_s,case_type,resolved,accept_callback\n";

    #[test]
    fn reads_all_columns() {
        let text = format!(
            "{HEAD}c1,2026-03-02T08:15:03.250+01:00,+4685080000,+46701234567,\"8,1\",45.5,180,,bygglov,true,TRUE\n\
             c2,1772435703300,+4685080000,,,,12.25,30,,,\n"
        );
        let calls: Vec<_> = read(&text).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            calls[0],
            TraceCall {
                call_id: "c1".into(),
                arrival: Timestamp(1_772_435_703_250),
                to: "+4685080000".into(),
                from: "+46701234567".into(),
                digits: "8,1".into(),
                patience_ms: Some(45_500),
                talk_ms: 180_000,
                wrapup_ms: None,
                case_type: Some("bygglov".into()),
                resolved: Some(true),
                accept_callback: true,
            }
        );
        assert_eq!(calls[1].patience_ms, None);
        assert_eq!(calls[1].wrapup_ms, Some(30_000));
        assert_eq!(calls[1].resolved, None);
        assert!(!calls[1].accept_callback);
    }

    #[test]
    fn columns_by_name_extra_and_missing_optional() {
        let text = "note,talk_s,to,arrival,call_id\nhello,60,+46,0,a\n";
        let r = TraceReader::new(text.as_bytes(), "calls.csv").unwrap();
        assert_eq!(r.unknown_columns(), vec!["note".to_string()]);
        let calls: Vec<_> = r.map(Result::unwrap).collect();
        assert_eq!(calls[0].talk_ms, 60_000);
        assert_eq!(calls[0].patience_ms, None);
        assert_eq!(calls[0].from, "");
    }

    #[test]
    fn missing_required_column_is_named() {
        let e = first_err("call_id,arrival,to\na,0,+46\n");
        assert_eq!(
            e,
            "calls.csv:1: missing required column \"talk_s\" (the header has: call_id,arrival,to)"
        );
        let e = first_err("");
        assert!(e.contains("calls.csv:1: no header line"), "{e}");
        let e = first_err("call_id,arrival,to,talk_s,to\n");
        assert!(
            e.contains("column \"to\" appears twice (columns 3 and 5)"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_line_column_and_reason() {
        let text = "call_id,to,arrival,talk_s\na,+46,0,1\nb,+46,2026-13-01,1\n";
        assert_eq!(
            first_err(text),
            "calls.csv:3: column 3 (arrival): \"2026-13-01\" is not a timestamp (RFC 3339 or epoch ms)"
        );
        let e = first_err(&format!("{HEAD}a,0,+46,,,-3,1,,,,\n"));
        assert_eq!(
            e,
            "calls.csv:2: column 6 (patience_s): \"-3\" is a negative duration"
        );
        let e = first_err(&format!("{HEAD}a,0,+46,,,NaN,1,,,,\n"));
        assert_eq!(
            e,
            "calls.csv:2: column 6 (patience_s): \"NaN\" is not a number (NaN)"
        );
        let e = first_err(&format!("{HEAD}a,0,+46,,,,1,,,ja,\n"));
        assert_eq!(
            e,
            "calls.csv:2: column 10 (resolved): \"ja\" is not a boolean (true or false)"
        );
        let e = first_err(&format!("{HEAD}a,0,+46,,,,,,,,\n"));
        assert_eq!(
            e,
            "calls.csv:2: column 7 (talk_s): is empty; expected a duration in seconds"
        );
        let e = first_err(&format!("{HEAD}a,0,+46,,8;1,,1,,,,\n"));
        assert!(
            e.starts_with("calls.csv:2: column 5 (digits): \"8;1\" is not a digit sequence"),
            "{e}"
        );
        let e = first_err(&format!("{HEAD}a,0,+46\n"));
        assert_eq!(e, "calls.csv:2: 3 fields, but the header has 11");
        let e = first_err(&format!("{HEAD},0,+46,,,,1,,,,\n"));
        assert_eq!(e, "calls.csv:2: column 1 (call_id): is empty");
    }

    #[test]
    fn duplicate_ids_and_order() {
        let text = "call_id,arrival,to,talk_s\na,1000,+46,1\nb,2000,+46,1\na,3000,+46,1\n";
        assert_eq!(
            first_err(text),
            "calls.csv:4: column 1 (call_id): call id \"a\" already used on line 2"
        );
        let text = "call_id,arrival,to,talk_s\n\
                    a,2026-03-02T08:15:03.250+01:00,+46,1\n\
                    b,2026-03-02T08:15:03.250+01:00,+46,1\n\
                    c,2026-03-02T08:15:03.249+01:00,+46,1\n";
        assert_eq!(
            first_err(text),
            "calls.csv:4: column 2 (arrival): 2026-03-02T08:15:03.249+01:00 is earlier than the \
             previous arrival 2026-03-02T08:15:03.250+01:00 (line 3); a trace must be sorted by arrival"
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        let calls = vec![
            TraceCall {
                call_id: "c,1".into(),
                arrival: Timestamp(1_772_435_703_250),
                to: "+4685080000".into(),
                from: "+46 70 \"x\"".into(),
                digits: "8,1".into(),
                patience_ms: Some(45_500),
                talk_ms: 180_001,
                wrapup_ms: Some(0),
                case_type: Some("bygglov".into()),
                resolved: Some(false),
                accept_callback: true,
            },
            TraceCall {
                call_id: "c2".into(),
                arrival: Timestamp(1_772_435_703_250),
                to: "+4685080000".into(),
                ..TraceCall::default()
            },
        ];
        let mut w = TraceWriter::new(Vec::new(), "calls.csv", tz).unwrap();
        for c in &calls {
            w.write(c).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(HEAD), "{text}");
        assert!(
            text.contains("\"c,1\",2026-03-02T08:15:03.250+01:00,"),
            "{text}"
        );
        let back: Vec<_> = read(&text).into_iter().map(Result::unwrap).collect();
        assert_eq!(back, calls);
    }
}
