//! Call records (`cdr.csv`, docs/formats.md): one line per call, written when the call ends.
//!
//! `call_id,entry,from,arrived,queued,answered,ended,agent,outcome,wait_s,talk_s,wrapup_s,groups,digits,case_type,resolved,callback`
//!
//! Times are RFC 3339 with milliseconds in the site's zone; `queued` and `answered` are
//! empty when they did not happen; durations are seconds with at most three decimals
//! (`12.5`, `0`); `groups` is `|`-joined in the order the call passed through them;
//! `resolved` is `true`/`false`/empty; `callback` is [`CallbackNote::render`]'s text.
//!
//! [`CdrReader`] reads them back (for `compare`, reports and tests). It requires the columns
//! a report needs (`call_id`, `entry`, `arrived`, `queued`, `answered`, `ended`, `outcome`,
//! `wait_s`, `talk_s`, `wrapup_s`, `groups`); the others may be missing (empty values).

use crate::csvio::CsvIn;
use crate::csvio::writer::{Cells, CsvFormat, CsvWriter};
use crate::error::SimError;
use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;
use vaxel_core::site::Text;
use vaxel_core::{Announced, CallRecord, CallbackNote, Outcome, RecordGroups};

/// The call record's columns, in order.
pub const CDR_COLUMNS: [&str; 19] = [
    "call_id",
    "entry",
    "from",
    "arrived",
    "queued",
    "answered",
    "ended",
    "agent",
    "outcome",
    "wait_s",
    "talk_s",
    "wrapup_s",
    "groups",
    "digits",
    "case_type",
    "resolved",
    "callback",
    "announced_position",
    "announced_ewt_s",
];

/// The columns of the first version of the format (without the announcement). A file
/// begun with that header is appended to in it: a daemon upgraded in the middle of a day
/// keeps the day's file readable, and its later records lack the announcement.
pub const CDR_COLUMNS_V1: usize = 17;

/// `cdr.csv`: a [`CallRecord`] a row. [`CdrWriter`] writes it.
#[derive(Debug)]
pub enum Cdr {}

/// Writes [`CallRecord`]s as `cdr.csv`.
pub type CdrWriter<W> = CsvWriter<W, Cdr>;

impl CsvFormat for Cdr {
    type Row = CallRecord;
    type Scratch = ();
    const COLUMNS: &'static [&'static str] = &CDR_COLUMNS;
    const OLDER: &'static [usize] = &[CDR_COLUMNS_V1];
    const A_NAME: &'static str = "a call-record";

    fn write_row<W: io::Write>(
        r: &CallRecord,
        out: &mut Cells<'_, W>,
        (): &mut (),
    ) -> Result<(), SimError> {
        out.text(&r.call_id)?;
        out.text(&r.entry)?;
        out.text(&r.from)?;
        for t in [Some(r.arrived), r.queued, r.answered, Some(r.ended)] {
            out.time(t)?;
        }
        out.text(&r.agent)?;
        out.text(r.outcome.as_str())?;
        for ms in [r.wait_ms, r.talk_ms, r.wrapup_ms] {
            out.duration(Some(ms))?;
        }
        out.made(|buf| {
            for (i, g) in r.groups.iter().enumerate() {
                if i > 0 {
                    buf.push('|');
                }
                buf.push_str(g);
            }
        })?;
        out.text(&r.digits)?;
        out.text(r.case_type.as_deref().unwrap_or(""))?;
        out.opt_bool(r.resolved)?;
        match r.callback {
            CallbackNote::None => out.text("")?,
            CallbackNote::Declined => out.text("declined")?,
            note => out.text(&note.render())?,
        }
        if out.columns() > CDR_COLUMNS_V1 {
            let a = r.announced;
            out.made(|buf| {
                if let Some(a) = a {
                    let _ = write!(buf, "{}", a.position);
                }
            })?;
            out.made(|buf| {
                if let Some(ewt) = a.and_then(|a| a.ewt_s) {
                    let _ = write!(buf, "{ewt}");
                }
            })?;
        }
        out.end()
    }
}

struct Cols {
    call_id: usize,
    entry: usize,
    from: Option<usize>,
    arrived: usize,
    queued: usize,
    answered: usize,
    ended: usize,
    agent: Option<usize>,
    outcome: usize,
    wait: usize,
    talk: usize,
    wrapup: usize,
    groups: usize,
    digits: Option<usize>,
    case_type: Option<usize>,
    resolved: Option<usize>,
    callback: Option<usize>,
    announced_position: Option<usize>,
    announced_ewt: Option<usize>,
}

/// Entries, agents, groups and case types repeat on every line: share one `Arc<str>` for
/// each (up to this many distinct values; past it, each line allocates its own).
const INTERN_MAX: usize = 100_000;

/// Streams [`CallRecord`]s out of a `cdr.csv` (an iterator of `Result`s).
pub struct CdrReader<R: io::Read> {
    csv: CsvIn<R>,
    cols: Cols,
    interned: FxHashMap<Box<str>, Text>,
}

impl<R: io::Read> std::fmt::Debug for CdrReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdrReader")
            .field("file", &self.csv.file)
            .finish_non_exhaustive()
    }
}

impl CdrReader<BufReader<File>> {
    /// Opens a call-record file; errors name it as given.
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let (reader, name) = crate::csvio::open(path)?;
        CdrReader::new(reader, name)
    }
}

fn intern(map: &mut FxHashMap<Box<str>, Text>, s: &str) -> Text {
    if let Some(t) = map.get(s) {
        return t.clone();
    }
    let t: Text = Arc::from(s);
    if map.len() < INTERN_MAX {
        map.insert(s.into(), t.clone());
    }
    t
}

impl<R: io::Read> CdrReader<R> {
    /// Reads the header. `file` is the name errors give (`cdr.csv`).
    pub fn new(reader: R, file: impl Into<String>) -> Result<Self, SimError> {
        let csv = CsvIn::new(reader, file.into())?;
        let cols = Cols {
            call_id: csv.require("call_id")?,
            entry: csv.require("entry")?,
            from: csv.column("from"),
            arrived: csv.require("arrived")?,
            queued: csv.require("queued")?,
            answered: csv.require("answered")?,
            ended: csv.require("ended")?,
            agent: csv.column("agent"),
            outcome: csv.require("outcome")?,
            wait: csv.require("wait_s")?,
            talk: csv.require("talk_s")?,
            wrapup: csv.require("wrapup_s")?,
            groups: csv.require("groups")?,
            digits: csv.column("digits"),
            case_type: csv.column("case_type"),
            resolved: csv.column("resolved"),
            callback: csv.column("callback"),
            announced_position: csv.column("announced_position"),
            announced_ewt: csv.column("announced_ewt_s"),
        };
        Ok(CdrReader {
            csv,
            cols,
            interned: FxHashMap::default(),
        })
    }

    /// Header columns that are not call-record columns.
    #[must_use]
    pub fn unknown_columns(&self) -> Vec<String> {
        self.csv.unknown_columns(&CDR_COLUMNS)
    }

    fn parse_row(&mut self) -> Result<CallRecord, SimError> {
        let (c, csv, map) = (&self.cols, &self.csv, &mut self.interned);
        let outcome_text = csv.cell(Some(c.outcome)).trim();
        let outcome = Outcome::parse(outcome_text).ok_or_else(|| {
            let all: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
            csv.cell_err(
                c.outcome,
                format!("{outcome_text:?} is not an outcome ({})", all.join(", ")),
            )
        })?;
        let cb_text = csv.cell(c.callback).trim();
        let callback = CallbackNote::parse(cb_text).ok_or_else(|| {
            csv.cell_err(
                c.callback.unwrap_or(0),
                format!(
                    "{cb_text:?} is not a callback note (empty, declined, connected/N, \
                     failed/N or accepted/0)"
                ),
            )
        })?;
        let groups_text = csv.cell(Some(c.groups)).trim();
        let groups = if groups_text.is_empty() {
            RecordGroups::new()
        } else {
            groups_text.split('|').map(|g| intern(map, g)).collect()
        };
        let case_type = csv.cell(c.case_type).trim();
        let announced = match csv.opt_u64(c.announced_position)? {
            None => None,
            Some(p) => Some(Announced {
                position: u32::try_from(p).map_err(|_| {
                    csv.cell_err(c.announced_position.unwrap_or(0), "is too large".into())
                })?,
                ewt_s: csv.opt_u64(c.announced_ewt)?,
                staffed: 0,
                aht_ms: 0,
                gap_ms: 0,
            }),
        };
        Ok(CallRecord {
            call_id: Arc::from(csv.text(c.call_id)?),
            entry: intern(map, csv.cell(Some(c.entry)).trim()),
            from: Arc::from(csv.cell(c.from).trim()),
            arrived: csv.timestamp(c.arrived)?,
            queued: csv.opt_timestamp(Some(c.queued))?,
            answered: csv.opt_timestamp(Some(c.answered))?,
            ended: csv.timestamp(c.ended)?,
            agent: intern(map, csv.cell(c.agent).trim()),
            outcome,
            wait_ms: csv.duration(c.wait)?,
            talk_ms: csv.duration(c.talk)?,
            wrapup_ms: csv.duration(c.wrapup)?,
            groups,
            digits: csv.cell(c.digits).trim().to_owned(),
            case_type: (!case_type.is_empty()).then(|| intern(map, case_type)),
            resolved: csv.opt_bool(c.resolved)?,
            callback,
            announced,
            repeated: None,
        })
    }
}

impl<R: io::Read> Iterator for CdrReader<R> {
    type Item = Result<CallRecord, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.csv.next_record()? {
            Ok(()) => Some(self.parse_row()),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jiff::tz::TimeZone;
    use vaxel_core::Timestamp;

    /// A record with every field set, for this and other modules' tests.
    pub(crate) fn record(id: &str) -> CallRecord {
        CallRecord {
            call_id: Arc::from(id),
            entry: Arc::from("city"),
            from: Arc::from("+46701234567"),
            arrived: Timestamp(1_772_435_703_250),
            queued: Some(Timestamp(1_772_435_710_000)),
            answered: Some(Timestamp(1_772_435_722_500)),
            ended: Timestamp(1_772_435_932_500),
            agent: Arc::from("a1017"),
            outcome: Outcome::Answered,
            wait_ms: 12_500,
            talk_ms: 180_000,
            wrapup_ms: 30_000,
            groups: [Arc::from("vaxel"), Arc::from("bygglov")]
                .into_iter()
                .collect(),
            digits: "8,1".into(),
            case_type: Some(Arc::from("bygglov, ritning")),
            resolved: Some(true),
            callback: CallbackNote::Accepted {
                attempts: 2,
                connected: true,
            },
            announced: Some(Announced {
                position: 3,
                ewt_s: Some(45),
                staffed: 0,
                aht_ms: 0,
                gap_ms: 0,
            }),
            repeated: None,
        }
    }

    #[test]
    fn writes_the_formats_columns() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        let mut w = CdrWriter::new(Vec::new(), "cdr.csv", tz).unwrap();
        w.write(&record("c1")).unwrap();
        let mut r = record("c2");
        r.queued = None;
        r.answered = None;
        r.agent = Arc::from("");
        r.outcome = Outcome::AbandonedIvr;
        r.wait_ms = 0;
        r.talk_ms = 0;
        r.wrapup_ms = 0;
        r.groups.clear();
        r.digits.clear();
        r.case_type = None;
        r.resolved = None;
        r.callback = CallbackNote::None;
        r.announced = None;
        w.write(&r).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "call_id,entry,from,arrived,queued,answered,ended,agent,outcome,wait_s,talk_s,wrapup_s,groups,digits,case_type,resolved,callback,announced_position,announced_ewt_s\n\
             c1,city,+46701234567,2026-03-02T08:15:03.250+01:00,2026-03-02T08:15:10.000+01:00,\
             2026-03-02T08:15:22.500+01:00,2026-03-02T08:18:52.500+01:00,a1017,answered,12.5,180,30,\
             vaxel|bygglov,\"8,1\",\"bygglov, ritning\",true,connected/2,3,45\n\
             c2,city,+46701234567,2026-03-02T08:15:03.250+01:00,,,2026-03-02T08:18:52.500+01:00,,\
             abandoned_ivr,0,0,0,,,,,,,\n"
        );
    }

    #[test]
    fn round_trip() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        let mut records = Vec::new();
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            let mut r = record(&format!("c{i}"));
            r.outcome = o;
            r.wait_ms = i as u64 * 1001;
            r.callback = match i % 4 {
                0 => CallbackNote::None,
                1 => CallbackNote::Declined,
                2 => CallbackNote::Accepted {
                    attempts: 3,
                    connected: false,
                },
                _ => CallbackNote::Accepted {
                    attempts: 0,
                    connected: false,
                },
            };
            if i % 2 == 1 {
                r.queued = None;
                r.resolved = Some(false);
                r.groups = std::iter::once(Arc::from("kc-allman")).collect();
                r.from = Arc::from("\"quoted\" caller");
            }
            records.push(r);
        }
        let mut w = CdrWriter::new(Vec::new(), "cdr.csv", tz).unwrap();
        for r in &records {
            w.write(r).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let back: Vec<_> = CdrReader::new(bytes.as_slice(), "cdr.csv")
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, records);
    }

    /// A file begun by the first version (17 columns) is continued in that format, and
    /// read back with no announcement; a foreign header is refused.
    #[test]
    fn continues_a_first_version_file() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        let v1 = CDR_COLUMNS[..CDR_COLUMNS_V1].join(",");
        let mut w =
            CdrWriter::continuing(Vec::new(), "cdr.csv", tz.clone(), &format!("{v1}\n")).unwrap();
        w.write(&record("c1")).unwrap();
        let bytes = w.into_inner().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(&format!("{v1}\n")), "{text}");
        assert!(text.trim_end().ends_with(",connected/2"), "{text}");
        let back: Vec<_> = CdrReader::new(bytes.as_slice(), "cdr.csv")
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut want = record("c1");
        want.announced = None;
        assert_eq!(back, vec![want]);

        let all = CDR_COLUMNS.join(",");
        let w = CdrWriter::continuing(Vec::new(), "cdr.csv", tz.clone(), &all).unwrap();
        assert_eq!(w.into_inner().unwrap(), format!("{all}\n").into_bytes());
        let e = CdrWriter::continuing(Vec::new(), "x.csv", tz, "call_id,whatever\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.csv:1: its header is not a call-record header"),
            "{e}"
        );
    }

    #[test]
    fn reader_errors() {
        let head = CDR_COLUMNS.join(",");
        let row = "c1,city,,0,,,1000,,answred,0,0,0,,,,,,,";
        let e = CdrReader::new(format!("{head}\n{row}\n").as_bytes(), "cdr.csv")
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "cdr.csv:2: column 9 (outcome): \"answred\" is not an outcome (answered, "
            ),
            "{e}"
        );
        let row = "c1,city,,0,,,1000,,answered,0,0,0,,,,,maybe/2,,";
        let e = CdrReader::new(format!("{head}\n{row}\n").as_bytes(), "cdr.csv")
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cdr.csv:2: column 17 (callback): \"maybe/2\""),
            "{e}"
        );
        let e = CdrReader::new("call_id,entry\n".as_bytes(), "cdr.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("missing required column \"arrived\"")
        );
    }
}
