//! Call records and the event log on disk: one CSV file per local day of the site
//! (`cdr-YYYY-MM-DD.csv`, by the call's `ended`, in docs/formats.md's `cdr.csv` format,
//! written by vaxel-sim's [`CsvWriter`]; `events-YYYY-MM-DD.csv`, by the event's time, in
//! the `events.csv` format, written by the same). Both kinds are [`DayFiles`] of a
//! [`DayLog`] and follow the same rules, below, each with its own mark. Appended to by the commit thread after the journal entries that produced
//! the records are durable and handed to the OS at once ([`Records::flush`]); fsynced off
//! the ack path (at most every 100 ms, at checkpoints, at shutdown, and when the day's
//! file changes). Whatever a crash keeps off disk, recovery rewrites from the journal.
//!
//! Never twice: the records an epoch produced are exactly the lines after the epoch's
//! [`CdrMark`]: in each day's file, a prefix of the records replay re-produces for that
//! day. On recovery [`count_since`] counts them per file and replay writes the rest, so a
//! day file deleted or cut since the mark is rebuilt from the journal; one cut below the
//! mark is reported by [`lost_below`] (the journal no longer holds those calls).

use crate::journal::{CdrMark, sync_dir};
use anyhow::Context as _;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vaxel_core::{CallRecord, Event, Timestamp};
use vaxel_sim::events::EventLog;
use vaxel_sim::{CsvFormat, CsvWriter};

/// A kind of daily file: its name, the time a row is filed by, and its format.
pub trait DayLog {
    type Row;
    type Format: CsvFormat<Row = Self::Row>;
    /// `cdr-` or `events-`: the file of day D is `{PREFIX}D.csv`.
    const PREFIX: &'static str;
    /// What the files hold, for log messages (`call-record`, `event-log`).
    const WHAT: &'static str;
    /// The time whose local day files the row.
    fn at(row: &Self::Row) -> Timestamp;
}

/// Call records: `cdr-YYYY-MM-DD.csv`, by the day the call ended.
#[derive(Debug)]
pub enum Cdr {}

impl DayLog for Cdr {
    type Row = CallRecord;
    type Format = vaxel_sim::cdr::Cdr;
    const PREFIX: &'static str = "cdr-";
    const WHAT: &'static str = "call-record";
    fn at(row: &CallRecord) -> Timestamp {
        row.ended
    }
}

/// The event log: `events-YYYY-MM-DD.csv`, by the day of the event.
#[derive(Debug)]
pub enum Events {}

impl DayLog for Events {
    type Row = Event;
    type Format = EventLog;
    const PREFIX: &'static str = "events-";
    const WHAT: &'static str = "event-log";
    fn at(row: &Event) -> Timestamp {
        row.at
    }
}

/// The daemon's call-record files.
pub type Records = DayFiles<Cdr>;
/// The daemon's event-log files.
pub type EventFiles = DayFiles<Events>;

/// `cdr-2026-03-02.csv` (with `L` = [`Cdr`]).
#[must_use]
pub fn file_name<L: DayLog>(date: &str) -> String {
    format!("{}{date}.csv", L::PREFIX)
}

/// The site-local date (`YYYY-MM-DD`) a row is filed under.
#[must_use]
pub fn day_of<L: DayLog>(row: &L::Row, tz: &TimeZone) -> String {
    local_date(L::at(row), tz).to_string()
}

/// The site-local date of `t`: the day a row at `t` is filed under.
fn local_date(t: Timestamp, tz: &TimeZone) -> jiff::civil::Date {
    tz.to_datetime(t.to_jiff()).date()
}

/// A site-local day and the instants it spans in its zone: `[from, until)`.
///
/// Rows come in time order, so nearly every row falls in the day of the row before it. A
/// row inside the span is filed without converting its time or formatting a date, and the
/// zone is compared by identity before by value ([`same_zone`]). On the daemon's commit
/// thread the conversion and the zone comparison of every row (a binary search of the
/// zone's name, twice, in `jiff`'s `TimeZone` equality) took about a fifth of its time
/// (docs/benchmarks.md, "Start against now").
#[derive(Clone, Debug)]
pub struct DaySpan {
    /// `YYYY-MM-DD`, as [`day_of`] names it.
    pub name: String,
    tz: TimeZone,
    from: Timestamp,
    until: Timestamp,
}

impl DaySpan {
    /// The day of `t` in `tz`. A day whose bounds cannot be worked out (at the ends of
    /// the calendar) spans nothing: every row then takes the slow path.
    #[must_use]
    pub fn of(t: Timestamp, tz: &TimeZone) -> DaySpan {
        let date = local_date(t, tz);
        let start = |d: jiff::civil::Date| {
            d.to_zoned_datetime(tz.clone())
                .and_then(|z| z.start_of_day())
                .map(|z| Timestamp::from_jiff(z.timestamp()))
        };
        let (from, until) = match (start(date), date.tomorrow().and_then(start)) {
            (Ok(from), Ok(until)) if from <= t && t < until => (from, until),
            _ => (t, t),
        };
        DaySpan {
            name: date.to_string(),
            tz: tz.clone(),
            from,
            until,
        }
    }

    /// Whether `t` in `tz` falls in this day (then [`day_of`] names it [`Self::name`]).
    #[must_use]
    pub fn holds(&mut self, t: Timestamp, tz: &TimeZone) -> bool {
        self.from <= t && t < self.until && same_zone(&mut self.tz, tz)
    }

    /// The day of `t` in `tz`: `cached` when it holds `t`, else a new one put there.
    pub fn refresh<'c>(
        cached: &'c mut Option<DaySpan>,
        t: Timestamp,
        tz: &TimeZone,
    ) -> &'c DaySpan {
        if !cached.as_mut().is_some_and(|d| d.holds(t, tz)) {
            *cached = None;
        }
        cached.get_or_insert_with(|| DaySpan::of(t, tz))
    }
}

/// Whether `kept` and `tz` are the same zone: by identity first (a clone of a zone read
/// from the database names it with the very same string), by value when not. A zone equal
/// by value replaces `kept`, so the next comparison is by identity again.
fn same_zone(kept: &mut TimeZone, tz: &TimeZone) -> bool {
    if let (Some(a), Some(b)) = (kept.iana_name(), tz.iana_name())
        && std::ptr::eq(a, b)
    {
        return true;
    }
    if *kept == *tz {
        kept.clone_from(tz);
        return true;
    }
    false
}

/// The files of kind `L` in `dir`, by name (= by date).
pub fn list<L: DayLog>(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if name.starts_with(L::PREFIX) && name.ends_with(".csv") {
            out.push((name, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Cuts a torn last line (a crash mid-write) off every records file at or after `mark`.
/// Returns the number of bytes cut.
pub fn repair<L: DayLog>(dir: &Path, mark: Option<&CdrMark>) -> anyhow::Result<u64> {
    let mut cut = 0;
    for (name, path) in list::<L>(dir)? {
        if mark.is_some_and(|m| name < m.file) {
            continue;
        }
        let data = read(&path)?;
        let keep = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if keep < data.len() {
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            f.set_len(keep as u64)?;
            f.sync_all()?;
            tracing::warn!(
                file = %path.display(),
                bytes = data.len() - keep,
                "dropped a torn last line of a {} file",
                L::WHAT
            );
            cut += (data.len() - keep) as u64;
        }
    }
    Ok(cut)
}

/// Records written after `mark` (all records when `None`), per file: lines after the mark
/// in its file, and every line but the header in later files. Ids and other cells never
/// hold a newline (the protocol refuses control characters), so lines are records.
pub fn count_since<L: DayLog>(
    dir: &Path,
    mark: Option<&CdrMark>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (name, path) in list::<L>(dir)? {
        let data = read(&path)?;
        let lines = |d: &[u8]| d.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = match mark {
            Some(m) if name < m.file => continue,
            Some(m) if name == m.file => {
                let from = usize::try_from(m.len).unwrap_or(usize::MAX).min(data.len());
                lines(&data[from..])
            }
            _ => lines(&data).saturating_sub(1),
        };
        out.insert(name, n);
    }
    Ok(out)
}

/// The records files that fall short of `mark` (deleted, or cut below the length they had
/// then): records earlier epochs wrote there are gone, unless a journal still kept holds
/// them. One description per file; empty when all are whole.
pub fn lost_below(dir: &Path, mark: Option<&CdrMark>) -> anyhow::Result<Vec<String>> {
    let Some(m) = mark else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let last = (m.file.clone(), m.len);
    let files = m.earlier.iter().chain(std::iter::once(&last));
    for (file, len) in files {
        let path = dir.join(file);
        match fs::metadata(&path) {
            Ok(md) if md.len() >= *len => {}
            Ok(md) => out.push(format!(
                "{} is {} bytes, shorter than the {len} bytes it had when the journal epoch began",
                path.display(),
                md.len(),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => out.push(format!(
                "{} is missing (it held {len} bytes when the journal epoch began)",
                path.display(),
            )),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Ok(out)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(data)
}

/// The first line of a records file (its header), empty for an empty or missing file.
fn first_line(path: &Path) -> anyhow::Result<String> {
    let mut line = String::new();
    match File::open(path) {
        Ok(f) => {
            io::BufRead::read_line(&mut io::BufReader::new(f), &mut line)
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    Ok(line)
}

/// Writes to a shared file, dropping everything up to and including the first newline
/// when the file already has its header (the writers always write one).
pub struct Sink {
    file: Arc<File>,
    skip_header: bool,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        if self.skip_header {
            match rest.iter().position(|&b| b == b'\n') {
                None => return Ok(buf.len()),
                Some(i) => {
                    self.skip_header = false;
                    rest = &rest[i + 1..];
                }
            }
        }
        (&*self.file).write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.file).flush()
    }
}

/// One open day file.
struct Open<L: DayLog> {
    day: DaySpan,
    writer: CsvWriter<Sink, L::Format>,
    file: Arc<File>,
    /// Written since the last sync.
    dirty: bool,
}

/// The writer of one kind of daily file: the current day's file, switched as rows' days
/// change.
pub struct DayFiles<L: DayLog> {
    dir: PathBuf,
    open: Option<Open<L>>,
}

impl<L: DayLog> std::fmt::Debug for DayFiles<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(L::PREFIX)
            .field("dir", &self.dir)
            .field("day", &self.open.as_ref().map(|o| &o.day.name))
            .finish()
    }
}

impl<L: DayLog> DayFiles<L> {
    #[must_use]
    pub fn new(dir: &Path) -> DayFiles<L> {
        DayFiles {
            dir: dir.to_owned(),
            open: None,
        }
    }

    /// Appends one record to its day's file (not yet durable). Switching files makes the
    /// previous one durable first, so what is on disk is always a prefix of the records.
    pub fn write(&mut self, record: &L::Row, tz: &TimeZone) -> anyhow::Result<()> {
        let t = L::at(record);
        if !self.open.as_mut().is_some_and(|o| o.day.holds(t, tz)) {
            self.switch(DaySpan::of(t, tz))?;
        }
        if let Some(o) = self.open.as_mut() {
            o.writer
                .write(record)
                .with_context(|| format!("cannot write {}", file_name::<L>(&o.day.name)))?;
            o.dirty = true;
        }
        Ok(())
    }

    /// Goes on in the file of `day` (the same file when only the span was not known).
    fn switch(&mut self, day: DaySpan) -> anyhow::Result<()> {
        if let Some(o) = self.open.as_mut()
            && o.day.name == day.name
            && same_zone(&mut o.day.tz, &day.tz)
        {
            o.day = day;
            return Ok(());
        }
        self.sync()?;
        self.open = None;
        self.open = Some(self.open_day(day)?);
        Ok(())
    }

    fn open_day(&self, day: DaySpan) -> anyhow::Result<Open<L>> {
        let path = self.dir.join(file_name::<L>(&day.name));
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let header = first_line(&path)?;
        let file = Arc::new(file);
        let sink = Sink {
            file: file.clone(),
            skip_header: !header.is_empty(),
        };
        let name = path.display().to_string();
        let writer = if header.is_empty() {
            CsvWriter::new(sink, name, day.tz.clone())
        } else {
            // Rows go on in the file's own columns (a file begun by an older version).
            CsvWriter::continuing(sink, name, day.tz.clone(), &header)
        }
        .with_context(|| format!("cannot write {}", path.display()))?;
        if !existed {
            sync_dir(&self.dir)?;
        }
        Ok(Open {
            day,
            writer,
            file,
            dirty: true,
        })
    }

    /// Hands every record written so far to the OS (no fsync: they survive the process,
    /// not a power loss), and returns the file to fsync when something is not yet durable.
    pub fn flush(&mut self) -> anyhow::Result<Option<Arc<File>>> {
        match self.open.as_mut() {
            Some(o) if o.dirty => {
                o.writer
                    .flush()
                    .with_context(|| format!("cannot write {}", file_name::<L>(&o.day.name)))?;
                Ok(Some(o.file.clone()))
            }
            _ => Ok(None),
        }
    }

    /// Makes every record written so far durable.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        if let Some(o) = self.open.as_mut()
            && o.dirty
        {
            o.writer
                .flush()
                .with_context(|| format!("cannot write {}", file_name::<L>(&o.day.name)))?;
            o.file
                .sync_data()
                .with_context(|| format!("cannot sync {}", file_name::<L>(&o.day.name)))?;
            o.dirty = false;
        }
        Ok(())
    }

    /// Where the records files stand (after [`sync`](Self::sync)): the last file and its
    /// length, `None` when there is none.
    pub fn mark(&mut self) -> anyhow::Result<Option<CdrMark>> {
        self.sync()?;
        let mut files = Vec::new();
        for (file, path) in list::<L>(&self.dir)? {
            files.push((file, fs::metadata(&path)?.len()));
        }
        Ok(files.pop().map(|(file, len)| CdrMark {
            file,
            len,
            earlier: files,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stockholm() -> TimeZone {
        TimeZone::get("Europe/Stockholm").expect("the zone database has Europe/Stockholm")
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::from_jiff(s.parse().expect("a test instant"))
    }

    fn name(t: Timestamp, tz: &TimeZone) -> String {
        local_date(t, tz).to_string()
    }

    /// The span's day is [`day_of`]'s, and it holds exactly the instants [`day_of`] files
    /// under that day: checked a millisecond either side of local midnights, on the days
    /// the clocks change too.
    #[test]
    fn a_day_span_holds_exactly_the_instants_of_its_day() {
        let tz = stockholm();
        for midnight in [
            "2026-03-01T23:00:00Z", // 2026-03-02 00:00 CET
            "2026-03-28T23:00:00Z", // the night the clocks go forward
            "2026-03-29T22:00:00Z", // 2026-03-30 00:00 CEST
            "2026-10-24T22:00:00Z", // the night the clocks go back
            "2026-10-25T23:00:00Z", // 2026-10-26 00:00 CET
        ] {
            let m = at(midnight);
            for t in [m.0 - 3_600_000, m.0 - 1, m.0, m.0 + 1, m.0 + 3_600_000] {
                let t = Timestamp(t);
                let mut span = DaySpan::of(t, &tz);
                assert_eq!(span.name, name(t, &tz), "{t:?}");
                for u in [m.0 - 1, m.0, m.0 + 1, m.0 + 23 * 3_600_000] {
                    let u = Timestamp(u);
                    assert_eq!(span.holds(u, &tz), name(u, &tz) == span.name, "{t:?} {u:?}");
                }
            }
        }
        // A day with the clocks going forward is 23 hours long, going back 25.
        let spring = DaySpan::of(at("2026-03-29T12:00:00Z"), &tz);
        assert_eq!(spring.until.since(spring.from), 23 * 3_600_000);
        let autumn = DaySpan::of(at("2026-10-25T12:00:00Z"), &tz);
        assert_eq!(autumn.until.since(autumn.from), 25 * 3_600_000);
    }

    /// A span holds nothing in another zone: the row is filed by its own zone's day.
    #[test]
    fn a_day_span_holds_nothing_in_another_zone() {
        let tz = stockholm();
        let t = at("2026-03-02T12:00:00Z");
        let mut span = DaySpan::of(t, &tz);
        assert!(span.holds(t, &tz.clone()));
        assert!(!span.holds(t, &TimeZone::UTC));
        let mut cached = Some(span);
        let late = at("2026-03-02T23:30:00Z");
        assert_eq!(DaySpan::refresh(&mut cached, late, &tz).name, "2026-03-03");
        assert_eq!(
            DaySpan::refresh(&mut cached, late, &TimeZone::UTC).name,
            "2026-03-02"
        );
    }

    /// Zones equal by value are the same zone, and the kept one is replaced so that the
    /// next comparison is by identity; zones that differ are not.
    #[test]
    fn zones_are_compared_by_identity_then_by_value() {
        let posix = |s: &str| TimeZone::posix(s).expect("a POSIX zone");
        let mut kept = posix("CET-1CEST,M3.5.0,M10.5.0/3");
        let again = posix("CET-1CEST,M3.5.0,M10.5.0/3");
        assert!(same_zone(&mut kept, &again));
        assert!(!same_zone(
            &mut kept,
            &posix("EET-2EEST,M3.5.0/3,M10.5.0/4")
        ));
        let mut tz = stockholm();
        assert!(same_zone(&mut tz, &stockholm().clone()));
        assert!(!same_zone(&mut tz, &TimeZone::UTC));
    }

    /// Rows either side of a local midnight go to their own day's file, in order, and a
    /// row of the earlier day after a later one still goes to the earlier file.
    #[test]
    fn rows_are_filed_by_their_local_day() {
        let tmp = crate::scratch::fresh_dir("day-files");
        let dir = tmp.path();
        let tz = stockholm();
        let mut files = DayFiles::<Events>::new(dir);
        let event = |t: &str| Event {
            at: at(t),
            call: None,
            agent: None,
            group: None,
            kind: vaxel_core::EventKind::Offered,
        };
        for t in [
            "2026-03-02T22:59:59.999Z",
            "2026-03-02T23:00:00Z",
            "2026-03-02T22:00:00Z",
            "2026-03-03T01:00:00Z",
        ] {
            files.write(&event(t), &tz).expect("written");
        }
        files.sync().expect("synced");
        let lines = |day: &str| {
            let text =
                fs::read_to_string(dir.join(file_name::<Events>(day))).expect("the day's file");
            text.lines().count() - 1
        };
        assert_eq!(lines("2026-03-02"), 2);
        assert_eq!(lines("2026-03-03"), 2);
    }
}
