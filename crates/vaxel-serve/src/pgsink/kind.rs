//! What the sink copies: *kinds* of records. A kind is a family of daily files in the data
//! dir (`cdr-YYYY-MM-DD.csv`, `events-YYYY-MM-DD.csv`) and the table its rows go to
//! (`vaxel_calls`, `vaxel_events`). The sink itself knows nothing of either: it reads a
//! kind's files forward, asks the kind to turn each line into cells, and inserts them
//! under the key every kind shares, `(day, line)`.
//!
//! Adding a kind is one more implementation of [`RecordKind`] in [`KINDS`]: its file names,
//! its columns with their SQL types, and how a line becomes cells. Both kinds today are
//! CSV files read by column name ([`CsvLines`]), so a kind is mostly its column list.

use anyhow::{Context as _, bail};
use csv::StringRecord;

/// A column of a kind's table: its name (as in the file's header) and its SQL type with
/// any constraint.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Turns one line of a file into the cells of its row, one per [`RecordKind::columns`],
/// `None` for SQL `NULL`. Made per file from its header, so that files written in older
/// column sets still read.
pub trait LineParser: Send {
    fn cells(&self, line: &str) -> anyhow::Result<Vec<Option<String>>>;
}

/// A kind of record the sink copies (see the module documentation).
pub trait RecordKind: Send + Sync + std::fmt::Debug {
    /// Short name: the `kind` of the positions table and of the metrics' label.
    fn name(&self) -> &'static str;
    /// The table its rows go to.
    fn table(&self) -> &'static str;
    /// The site-local day (`YYYY-MM-DD`) of `file`, when it is one of this kind's files.
    fn day_of_file<'f>(&self, file: &'f str) -> Option<&'f str>;
    /// The table's columns after the key, in table order.
    fn columns(&self) -> &'static [Column];
    /// How the lines of a file read, from its first line (its header).
    fn parser(&self, header: &str) -> anyhow::Result<Box<dyn LineParser>>;
}

/// Every kind the sink copies, in the order it copies them.
pub static KINDS: [&dyn RecordKind; 2] = [&CallRecords, &EventLog];

/// `{prefix}YYYY-MM-DD.csv`'s day.
fn day_of<'f>(file: &'f str, prefix: &str) -> Option<&'f str> {
    let day = file.strip_prefix(prefix)?.strip_suffix(".csv")?;
    (day.len() == 10).then_some(day)
}

/// A column of a kind's table (a `const` helper: the column lists below stay one line each).
const fn col(name: &'static str, sql: &'static str) -> Column {
    Column { name, sql }
}

/// The daemon's call records (docs/formats.md, "Call record"), into `vaxel_calls`.
#[derive(Debug)]
pub struct CallRecords;

/// The call record's columns (docs/formats.md) with their SQL types. Durations are
/// `numeric(12,3)`: the files hold whole milliseconds, which stay exact.
const CALL_COLUMNS: [Column; 19] = [
    col("call_id", "text NOT NULL"),
    col("entry", "text"),
    col("from", "text"),
    col("arrived", "timestamptz NOT NULL"),
    col("queued", "timestamptz"),
    col("answered", "timestamptz"),
    col("ended", "timestamptz NOT NULL"),
    col("agent", "text"),
    col("outcome", "text NOT NULL"),
    col("wait_s", "numeric(12,3) NOT NULL"),
    col("talk_s", "numeric(12,3) NOT NULL"),
    col("wrapup_s", "numeric(12,3) NOT NULL"),
    col("groups", "text"),
    col("digits", "text"),
    col("case_type", "text"),
    col("resolved", "boolean"),
    col("callback", "text"),
    col("announced_position", "integer"),
    col("announced_ewt_s", "integer"),
];

impl RecordKind for CallRecords {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn table(&self) -> &'static str {
        "vaxel_calls"
    }

    fn day_of_file<'f>(&self, file: &'f str) -> Option<&'f str> {
        day_of(file, "cdr-")
    }

    fn columns(&self) -> &'static [Column] {
        &CALL_COLUMNS
    }

    fn parser(&self, header: &str) -> anyhow::Result<Box<dyn LineParser>> {
        Ok(Box::new(CsvLines::new(header, self.columns())?))
    }
}

/// The daemon's event log (docs/formats.md, "Event log"), into `vaxel_events`: one row
/// per event, for the per-agent figures (logged-in and pause time, ring-no-answers) that
/// the call records do not hold.
#[derive(Debug)]
pub struct EventLog;

/// The event log's columns (docs/formats.md, `vaxel_sim::events::EVENT_COLUMNS`) with
/// their SQL types. Every column but the time and the event's name is empty for some
/// event, so only those two are `NOT NULL`; durations are exact, as the call records'.
const EVENT_COLUMNS: [Column; 20] = [
    col("time", "timestamptz NOT NULL"),
    col("event", "text NOT NULL"),
    col("call_id", "text"),
    col("from", "text"),
    col("agent", "text"),
    col("group", "text"),
    col("position", "integer"),
    col("orig_position", "integer"),
    col("wait_s", "numeric(12,3)"),
    col("ring_s", "numeric(12,3)"),
    col("talk_s", "numeric(12,3)"),
    col("wrapup_s", "numeric(12,3)"),
    col("ewt_s", "integer"),
    col("to", "text"),
    col("rule", "text"),
    col("reason", "text"),
    col("outcome", "text"),
    col("ended_by", "text"),
    col("attempt", "integer"),
    col("connected", "boolean"),
];

impl RecordKind for EventLog {
    fn name(&self) -> &'static str {
        "events"
    }

    fn table(&self) -> &'static str {
        "vaxel_events"
    }

    fn day_of_file<'f>(&self, file: &'f str) -> Option<&'f str> {
        day_of(file, "events-")
    }

    fn columns(&self) -> &'static [Column] {
        &EVENT_COLUMNS
    }

    fn parser(&self, header: &str) -> anyhow::Result<Box<dyn LineParser>> {
        Ok(Box::new(CsvLines::new(header, self.columns())?))
    }
}

/// Lines of a CSV file (docs/formats.md, "Common rules"), columns found by name: a column
/// the file lacks (a file begun before it existed) is `NULL`, one the table lacks is left
/// out. An empty cell is `NULL`.
struct CsvLines {
    /// For each table column, its index in the file's lines.
    at: Vec<Option<usize>>,
    width: usize,
}

impl CsvLines {
    fn new(header: &str, columns: &[Column]) -> anyhow::Result<CsvLines> {
        let names = one_record(header.trim_start_matches('\u{feff}')).context("bad header")?;
        let names: Vec<&str> = names.iter().map(str::trim).collect();
        if !names.contains(&columns[0].name) {
            bail!("the header has no {} column", columns[0].name);
        }
        Ok(CsvLines {
            at: columns
                .iter()
                .map(|c| names.iter().position(|n| *n == c.name))
                .collect(),
            width: names.len(),
        })
    }
}

impl LineParser for CsvLines {
    fn cells(&self, line: &str) -> anyhow::Result<Vec<Option<String>>> {
        let rec = one_record(line)?;
        if rec.len() != self.width {
            bail!("{} fields where the header has {}", rec.len(), self.width);
        }
        Ok(self
            .at
            .iter()
            .map(|i| {
                i.and_then(|i| rec.get(i))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
            })
            .collect())
    }
}

/// The one CSV record of `line` (RFC 4180 quoting).
fn one_record(line: &str) -> anyhow::Result<StringRecord> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut rec = StringRecord::new();
    if !r.read_record(&mut rec).context("not CSV")? {
        bail!("an empty line");
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "call_id,entry,from,arrived,queued,answered,ended,agent,outcome,wait_s,talk_s,wrapup_s,groups,digits,case_type,resolved,callback,announced_position,announced_ewt_s";

    #[test]
    fn call_record_files_and_cells() {
        let k = CallRecords;
        assert_eq!(k.day_of_file("cdr-2026-03-02.csv"), Some("2026-03-02"));
        assert_eq!(k.day_of_file("cdr-2026-03-02.csv.tmp"), None);
        assert_eq!(k.day_of_file("journal-1.log"), None);
        let header: Vec<&str> = HEADER.split(',').collect();
        let names: Vec<&str> = k.columns().iter().map(|c| c.name).collect();
        assert_eq!(names, header, "the table has the file's columns, in order");

        let p = k.parser(HEADER).expect("header");
        let cells = p
            .cells("c1,main,,2026-03-02T08:15:03.250+01:00,,,2026-03-02T08:16:00.000+01:00,,abandoned_ivr,0,0,0,,\"8,1\",,,,,")
            .expect("a record");
        assert_eq!(cells.len(), 19);
        assert_eq!(cells[0].as_deref(), Some("c1"));
        assert_eq!(cells[2], None, "an empty cell is NULL");
        assert_eq!(
            cells[13].as_deref(),
            Some("8,1"),
            "quoted commas stay in the cell"
        );
        assert!(p.cells("c1,main").is_err(), "too few fields");
    }

    #[test]
    fn an_older_file_lacks_the_last_columns() {
        let old: Vec<&str> = HEADER.split(',').take(17).collect();
        let p = CallRecords.parser(&old.join(",")).expect("header");
        let cells = p
            .cells("c1,main,,2026-03-02T08:15:03.250+01:00,,,2026-03-02T08:16:00.000+01:00,,closed,0,0,0,,,,,")
            .expect("a record");
        assert_eq!(cells.len(), 19);
        assert_eq!(cells[17], None);
        assert_eq!(cells[18], None);
        assert!(
            CallRecords.parser("a,b,c").is_err(),
            "not a call-record header"
        );
    }

    #[test]
    fn event_log_files_and_cells() {
        let k = EventLog;
        assert_eq!(k.day_of_file("events-2026-03-02.csv"), Some("2026-03-02"));
        assert_eq!(k.day_of_file("cdr-2026-03-02.csv"), None);
        assert_eq!(CallRecords.day_of_file("events-2026-03-02.csv"), None);
        let names: Vec<&str> = k.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            vaxel_sim::events::EVENT_COLUMNS,
            "the table has the writer's columns, in order"
        );

        let header = vaxel_sim::events::EVENT_COLUMNS.join(",");
        let p = k.parser(&header).expect("header");
        let cells = p
            .cells("2026-03-02T08:15:05.000+01:00,no_answer,\"c,1\",,a1,support,,,,15,,,,,,,,,,")
            .expect("an event");
        assert_eq!(cells.len(), 20);
        assert_eq!(cells[1].as_deref(), Some("no_answer"));
        assert_eq!(cells[2].as_deref(), Some("c,1"));
        assert_eq!(cells[9].as_deref(), Some("15"));
        assert_eq!(cells[19], None);
        assert!(k.parser(HEADER).is_err(), "a call-record header");
    }
}
