//! Periods of local days and the call records that belong to them, for `vaxel report`
//! (docs/reports.md "vaxel report").
//!
//! A call belongs to the local day it **arrived** (the breakdowns count arrivals too). The
//! daemon files a record under the day the call *ended* (docs/operations.md), so a call
//! that arrived before midnight and ended after it sits in the next day's file: reading a
//! period takes its days' files and the next day's (when there is one), and keeps the
//! records by their arrival.

use super::LocalClock;
use crate::error::SimError;
use jiff::civil::Date;
use std::io;
use std::path::{Path, PathBuf};
use vaxel_core::CallRecord;

/// Local days from `from` to `to`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days {
    pub from: Date,
    pub to: Date,
}

/// Parses `YYYY-MM-DD`, naming what was wrong.
pub fn parse_date(s: &str) -> Result<Date, String> {
    s.trim()
        .parse::<Date>()
        .map_err(|e| format!("{s:?} is not a date (YYYY-MM-DD): {e}"))
}

impl Days {
    /// `from` to `to`; `to` before `from` is an error.
    pub fn new(from: Date, to: Date) -> Result<Days, String> {
        if to < from {
            return Err(format!("the period ends ({to}) before it begins ({from})"));
        }
        Ok(Days { from, to })
    }

    /// `FROM..TO`, as `--baseline` takes it.
    pub fn parse_range(s: &str) -> Result<Days, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("{s:?} is not a period FROM..TO (YYYY-MM-DD..YYYY-MM-DD)"))?;
        Days::new(parse_date(a)?, parse_date(b)?)
    }

    /// Whether the local date `(year, month, day)` is in the period.
    #[must_use]
    pub fn contains(&self, (y, m, d): (i64, u32, u32)) -> bool {
        let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(y), i8::try_from(m), i8::try_from(d)) else {
            return false;
        };
        Date::new(y, m, d).is_ok_and(|date| self.from <= date && date <= self.to)
    }

    /// Every day of the period, in order.
    pub fn days(&self) -> impl Iterator<Item = Date> + '_ {
        self.from
            .series(jiff::ToSpan::days(1))
            .take_while(|d| d <= &self.to)
    }
}

impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

/// The daemon's call-record file of a local day: `cdr-2026-03-02.csv`.
#[must_use]
pub fn day_file_name(date: Date) -> String {
    format!("cdr-{date}.csv")
}

/// The files of a data dir that hold the calls of some periods, and the days of the
/// periods that have no file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayFiles {
    /// Existing files, in date order, each once.
    pub files: Vec<PathBuf>,
    /// Days of a period without a file (a day after a period, read only for the calls
    /// that ended after midnight, is not missing when absent).
    pub missing: Vec<Date>,
}

/// The call-record files of `dir` for `periods`: every day of each and the day after it
/// (calls are filed by the day they ended).
pub fn data_dir_files(dir: &Path, periods: &[Days]) -> io::Result<DayFiles> {
    day_files(dir, periods, "cdr-", true)
}

/// The event-log files of `dir` (`events-YYYY-MM-DD.csv`) for `periods`: every day of
/// each (events are filed by their own time).
pub fn event_files(dir: &Path, periods: &[Days]) -> io::Result<DayFiles> {
    day_files(dir, periods, "events-", false)
}

/// The daily files `{prefix}YYYY-MM-DD.csv` of `dir` for `periods`, with the day after each
/// period when `day_after`.
fn day_files(dir: &Path, periods: &[Days], prefix: &str, day_after: bool) -> io::Result<DayFiles> {
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    let mut wanted: Vec<(Date, bool)> = Vec::new();
    for p in periods {
        wanted.extend(p.days().map(|d| (d, true)));
        if day_after && let Ok(next) = p.to.tomorrow() {
            wanted.push((next, false));
        }
    }
    // A day of a period counts as wanted even if it is also another's day after.
    wanted.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    wanted.dedup_by_key(|w| w.0);
    let mut out = DayFiles::default();
    for (day, required) in wanted {
        let path = dir.join(format!("{prefix}{day}.csv"));
        if path.is_file() {
            out.files.push(path);
        } else if required {
            out.missing.push(day);
        }
    }
    Ok(out)
}

/// Lines skipped by `--skip-bad`: how many, and the first few errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub count: u64,
    pub first: Vec<String>,
}

/// The errors of [`Skipped`] kept to show.
const SKIPPED_SHOWN: usize = 5;

/// Passes every record of `reader` to `each`. A damaged line (a cell or a row the format
/// refuses) stops the reading with its error (file, line and column), or with
/// `skip_bad` is counted in `skipped` and passed over. A read error always stops.
pub fn feed<T>(
    reader: impl Iterator<Item = Result<T, SimError>>,
    skip_bad: bool,
    skipped: &mut Skipped,
    mut each: impl FnMut(&T),
) -> Result<(), SimError> {
    for item in reader {
        match item {
            Ok(r) => each(&r),
            Err(e @ (SimError::Cell { .. } | SimError::Row { .. })) if skip_bad => {
                skipped.count += 1;
                if skipped.first.len() < SKIPPED_SHOWN {
                    skipped.first.push(e.to_string());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends each record to the periods its arrival falls in: a report period and an optional
/// baseline (`None` as the report period takes every record, as for call-record files
/// given without dates).
#[derive(Debug)]
pub struct Splitter {
    clock: LocalClock,
    period: Option<Days>,
    baseline: Option<Days>,
}

/// Where a record goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Belongs {
    pub period: bool,
    pub baseline: bool,
}

impl Splitter {
    /// Local dates in `tz`.
    #[must_use]
    pub fn new(tz: jiff::tz::TimeZone, period: Option<Days>, baseline: Option<Days>) -> Splitter {
        Splitter {
            clock: LocalClock::new(tz),
            period,
            baseline,
        }
    }

    /// The periods `r` belongs to, by its local date of arrival.
    pub fn belongs(&mut self, r: &CallRecord) -> Belongs {
        let date = self.clock.slot(r.arrived).date;
        Belongs {
            period: self.period.is_none_or(|p| p.contains(date)),
            baseline: self.baseline.is_some_and(|p| p.contains(date)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::CdrReader;
    use crate::cdr::tests::record;
    use jiff::civil::date;
    use vaxel_core::Timestamp;

    #[test]
    fn ranges_parse_and_refuse() {
        let d = Days::parse_range("2026-03-01..2026-03-03").unwrap();
        assert_eq!(d.days().count(), 3);
        assert_eq!(d.to_string(), "2026-03-01..2026-03-03");
        assert!(Days::parse_range("2026-03-03..2026-03-01").is_err());
        assert!(Days::parse_range("2026-03-01").is_err());
        assert!(
            Days::parse_range("2026-02-30..2026-03-01")
                .unwrap_err()
                .contains("\"2026-02-30\" is not a date")
        );
    }

    #[test]
    fn data_dir_files_name_missing_days_but_not_the_day_after() {
        let tmp = tempfile::Builder::new()
            .prefix("vaxel-period-")
            .tempdir()
            .unwrap();
        let dir = tmp.path();
        for day in ["2026-03-01", "2026-03-03", "2026-03-04", "2026-03-09"] {
            std::fs::write(dir.join(format!("cdr-{day}.csv")), "").unwrap();
        }
        let period = Days::new(date(2026, 3, 1), date(2026, 3, 3)).unwrap();
        let baseline = Days::new(date(2026, 3, 7), date(2026, 3, 8)).unwrap();
        let got = data_dir_files(dir, &[period, baseline]).unwrap();
        let names: Vec<String> = got
            .files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "cdr-2026-03-01.csv",
                "cdr-2026-03-03.csv",
                "cdr-2026-03-04.csv",
                "cdr-2026-03-09.csv"
            ]
        );
        assert_eq!(
            got.missing,
            [date(2026, 3, 2), date(2026, 3, 7), date(2026, 3, 8)]
        );
        tmp.close().unwrap();
    }

    #[test]
    fn records_split_by_local_date_of_arrival() {
        let tz = jiff::tz::TimeZone::get("Europe/Stockholm").unwrap();
        let period = Days::new(date(2026, 3, 2), date(2026, 3, 2)).unwrap();
        let baseline = Days::new(date(2026, 3, 1), date(2026, 3, 1)).unwrap();
        let mut s = Splitter::new(tz, Some(period), Some(baseline));
        let mut r = record("c");
        // 2026-03-01T23:30:00Z is 00:30 on 2 March in Stockholm.
        r.arrived = Timestamp(1_772_407_800_000);
        assert_eq!(
            s.belongs(&r),
            Belongs {
                period: true,
                baseline: false
            }
        );
        // 2026-03-01T22:59:59.999Z is 23:59:59.999 on 1 March.
        r.arrived = Timestamp(1_772_405_999_999);
        assert_eq!(
            s.belongs(&r),
            Belongs {
                period: false,
                baseline: true
            }
        );
        let mut all = Splitter::new(jiff::tz::TimeZone::UTC, None, None);
        assert!(all.belongs(&r).period);
    }

    #[test]
    fn feed_stops_at_a_damaged_line_or_skips_and_counts() {
        let head = crate::cdr::CDR_COLUMNS.join(",");
        let good = "c1,city,,0,,,1000,,abandoned_ivr,0,0,0,,,,,,,";
        let bad = "c2,city,,0,,,1000,,answred,0,0,0,,,,,,,";
        let text = format!("{head}\n{good}\n{bad}\n{good}\n");
        let mut n = 0;
        let mut skipped = Skipped::default();
        let e = feed(
            CdrReader::new(text.as_bytes(), "d.csv").unwrap(),
            false,
            &mut skipped,
            |_| n += 1,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("d.csv:3: column 9 (outcome)"),
            "{e}"
        );
        assert_eq!(n, 1);
        n = 0;
        feed(
            CdrReader::new(text.as_bytes(), "d.csv").unwrap(),
            true,
            &mut skipped,
            |_| n += 1,
        )
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(skipped.count, 1);
        assert!(skipped.first[0].starts_with("d.csv:3:"));
    }
}
