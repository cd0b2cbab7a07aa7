//! A node's call records and event log in cluster mode: every node, active or standby,
//! writes every row the journal stream produces into its own data dir, in the stream's
//! order and with the writers of single-node mode, so each node's `cdr-*.csv` and
//! `events-*.csv` are byte for byte the files a single daemon would write for the same
//! journal, and the same on every node. The PostgreSQL sink relies on that: the positions
//! the database confirmed (byte and line per day file) mean the same on the node that
//! takes over (docs/postgres.md, "Cluster mode").
//!
//! Rows are numbered in the stream's order, call records and events each from 1. A node
//! knows the number of its files' last row of each kind (the rows its files hold, a torn
//! last line cut, after the base of `records_base.rs`), and the number of the last row the
//! stream has produced where it follows (0 at the stream's start, a checkpoint's
//! [`Counts`] when it starts from one): a row the files hold already is not written
//! again, one past them is. The same counts name the checkpoints the active makes, so
//! that a node choosing where to start compares like with like.
//!
//! Rows are also counted per day file, the stream's rows filed under each recent day
//! ([`DayRows`], carried in each checkpoint): a node that starts from a checkpoint its
//! files have not reached writes only the rows after it, and notes for each day file it
//! begins there how many lines a whole copy holds before its first (`records_base.rs`),
//! so that the PostgreSQL sink keys its lines as a whole file's (docs/postgres.md).

use super::records_base;
use crate::commit::Commit;
use crate::machine::Made;
use crate::records::{self, Cdr, DayFiles, DayLog, DaySpan, Events};
use crate::snapshot::DayRows;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rows of each kind: how many the stream had produced up to a point, or where a node's
/// files reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Counts {
    pub records: u64,
    pub events: u64,
}

impl Counts {
    /// Whether files reaching `self` hold every row up to `point` (of both kinds).
    #[must_use]
    pub fn holds(self, point: Counts) -> bool {
        point.records <= self.records && point.events <= self.events
    }

    /// Rows of each kind in `self` beyond `other` (0 where there are none).
    #[must_use]
    pub fn beyond(self, other: Counts) -> Counts {
        Counts {
            records: self.records.saturating_sub(other.records),
            events: self.events.saturating_sub(other.events),
        }
    }

    #[must_use]
    pub fn is_zero(self) -> bool {
        self == Counts::default()
    }
}

/// Days whose rows are counted at most (the newest by date): a row is filed under its
/// day in the site's zone, at most a call's length before the newest day.
const COUNTED_DAYS: usize = 7;

/// One kind of daily file.
struct Resumed<L: DayLog> {
    files: DayFiles<L>,
    /// Rows the files hold (the stream's numbers base + 1 ..= base + on_disk).
    on_disk: u64,
    /// The files holding rows when opened, by name.
    holding: BTreeMap<String, u64>,
    /// Rows produced so far per recent day (the newest [`COUNTED_DAYS`]).
    days: BTreeMap<String, u64>,
    /// The day of the last row produced.
    day: Option<DaySpan>,
    /// The stream's number of the files' last row.
    reached: u64,
    /// The stream's number of the last row produced so far.
    produced: u64,
}

impl<L: DayLog> Resumed<L> {
    /// The files in `dir` made whole (a torn last line cut), beginning after `base`.
    fn open(dir: &Path, base: u64) -> anyhow::Result<Resumed<L>> {
        records::repair::<L>(dir, None)?;
        let mut holding = records::count_since::<L>(dir, None)?;
        holding.retain(|_, n| *n > 0);
        let on_disk = holding.values().sum();
        Ok(Resumed {
            files: DayFiles::new(dir),
            on_disk,
            holding,
            days: BTreeMap::new(),
            day: None,
            reached: base + on_disk,
            produced: 0,
        })
    }

    /// Follows the stream from its row `at`, `days` its rows per day: files behind it begin
    /// again there (the rows between are not theirs to write). Returns the base they need,
    /// and when they begin there, the lines before theirs of each day file not begun yet.
    fn start_at(&mut self, at: u64, days: &BTreeMap<String, u64>) -> (u64, BTreeMap<String, u64>) {
        let behind = self.reached < at;
        self.produced = at;
        self.reached = self.reached.max(at);
        self.days.clone_from(days);
        let mut first_lines = BTreeMap::new();
        if behind {
            for (day, &n) in days {
                let file = records::file_name::<L>(day);
                match self.holding.get(&file).copied().unwrap_or(0) {
                    0 => {
                        first_lines.insert(file, n);
                    }
                    // Every line of it before the checkpoint is here: a whole copy's.
                    held if held == n => {}
                    // Some lines of it before the checkpoint are here, others are not: its
                    // keys cannot be a whole file's (docs/postgres.md, "Cluster mode").
                    _ => tracing::warn!(
                        file,
                        "this file lacks rows the trimmed stream cannot replay: the report \
                         database keys its lines after the gap as they are numbered here"
                    ),
                }
            }
        }
        (self.reached - self.on_disk, first_lines)
    }

    fn write(&mut self, row: &L::Row, tz: &TimeZone) -> anyhow::Result<()> {
        self.produced += 1;
        if self.produced > self.reached {
            self.files.write(row, tz)?;
            self.on_disk += 1;
            self.reached = self.produced;
        }
        let day = &DaySpan::refresh(&mut self.day, L::at(row), tz).name;
        match self.days.get_mut(day) {
            Some(n) => *n += 1,
            None => {
                self.days.insert(day.clone(), 1);
            }
        }
        while self.days.len() > COUNTED_DAYS {
            self.days.pop_first();
        }
        Ok(())
    }
}

/// This node's call-record and event-log files.
pub struct Logs {
    dir: PathBuf,
    records: Resumed<Cdr>,
    events: Resumed<Events>,
}

impl Logs {
    /// The files of `dir`, at the stream's start.
    pub fn open(dir: &Path) -> anyhow::Result<Logs> {
        let base = records_base::read(dir)?;
        Ok(Logs {
            dir: dir.to_path_buf(),
            records: Resumed::open(dir, base.records)?,
            events: Resumed::open(dir, base.events)?,
        })
    }

    /// The stream's numbers of the files' last rows.
    pub fn reached(&self) -> Counts {
        Counts {
            records: self.records.reached,
            events: self.events.reached,
        }
    }

    /// The stream's numbers of the last rows produced where this node follows (a
    /// checkpoint made here is marked with them).
    pub fn produced(&self) -> Counts {
        Counts {
            records: self.records.produced,
            events: self.events.produced,
        }
    }

    /// Follows the stream from a checkpoint made after `at`'s rows, `days` of them per
    /// day. Files behind it hold the rows after it only, and their new base, and the lines
    /// before theirs of the day files they begin, are noted durably before any is written,
    /// so that the next start counts where they reach and the PostgreSQL sink keys their
    /// lines as a whole file's. Returns the rows they lack.
    pub fn start_at(&mut self, at: Counts, days: &DayRows) -> anyhow::Result<Counts> {
        let missing = at.beyond(self.reached());
        let (records, mut first_lines) = self.records.start_at(at.records, &days.records);
        let (events, more) = self.events.start_at(at.events, &days.events);
        first_lines.extend(more);
        if !missing.is_zero() {
            if !first_lines.is_empty() {
                let mut all = records_base::read_first_lines(&self.dir)?;
                all.extend(first_lines);
                records_base::write_first_lines(&self.dir, &all)?;
            }
            records_base::write(&self.dir, Counts { records, events })?;
        }
        Ok(missing)
    }

    /// The rows the stream produced so far per recent day (a checkpoint made here carries
    /// them).
    pub fn day_rows(&self) -> DayRows {
        DayRows {
            records: self.records.days.clone(),
            events: self.events.days.clone(),
        }
    }

    /// Writes what applying one journal entry made, its rows filed in `tz` (the site's
    /// zone after the entry, as recovery does); commands are the active's to send.
    pub fn write_made(&mut self, made: Made, tz: &TimeZone) -> anyhow::Result<()> {
        match made {
            Made::Record(r) => self.records.write(&r, tz),
            Made::Event(e) => self.events.write(&e, tz),
            Made::Command { .. } => Ok(()),
        }
    }

    /// Writes the rows of the active's commits, once the stream has them.
    pub fn write_commits(&mut self, group: &[Commit]) -> anyhow::Result<()> {
        for c in group {
            for r in &c.records {
                self.records.write(r, &c.tz)?;
            }
            for e in &c.events {
                self.events.write(e, &c.tz)?;
            }
        }
        Ok(())
    }

    /// Hands everything written to the OS (it survives the process, not a power loss:
    /// a node that starts again rewrites what its files lack from the stream).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.records.files.flush()?;
        self.events.files.flush()?;
        Ok(())
    }

    /// Makes everything written durable.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.records.files.sync()?;
        self.events.files.sync()
    }

    /// Becoming the active: rows the files held beyond what the stream produced (another
    /// cluster's data dir?) are left as they are and new rows written after them.
    /// Returns how many records and events that was.
    pub fn stop_skipping(&mut self) -> Counts {
        let extra = self.reached().beyond(self.produced());
        self.records.reached = self.records.produced;
        self.events.reached = self.events.produced;
        extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hold_a_point_only_with_both_kinds() {
        let files = Counts {
            records: 10,
            events: 40,
        };
        let at = |records, events| Counts { records, events };
        assert!(files.holds(at(10, 40)));
        assert!(files.holds(at(3, 12)));
        assert!(!files.holds(at(11, 12)));
        assert!(!files.holds(at(3, 41)));
        assert_eq!(at(12, 30).beyond(files), at(2, 0));
        assert!(Counts::default().is_zero());
    }

    /// An empty data dir starting from a checkpoint notes, for each day file the checkpoint
    /// counted rows of, the lines a whole copy holds before its first; files with every
    /// such line already are whole copies, and files not behind note nothing.
    #[test]
    fn a_start_behind_a_checkpoint_notes_each_day_files_lines_before_it() {
        let tmp = crate::scratch::fresh_dir("logs-start");
        let dir = tmp.path();
        let header = "h\n";
        std::fs::write(
            dir.join("events-2026-03-01.csv"),
            format!("{header}e\ne\ne\n"),
        )
        .ok();
        let days = DayRows {
            records: BTreeMap::from([("2026-03-02".to_owned(), 5)]),
            events: BTreeMap::from([("2026-03-01".to_owned(), 3), ("2026-03-02".to_owned(), 9)]),
        };
        let mut logs = Logs::open(dir).expect("open");
        let at = Counts {
            records: 5,
            events: 12,
        };
        assert_eq!(
            logs.start_at(at, &days).ok(),
            Some(Counts {
                records: 5,
                events: 9
            })
        );
        assert_eq!(logs.day_rows(), days);
        assert_eq!(
            records_base::read_first_lines(dir).ok(),
            Some(BTreeMap::from([
                ("cdr-2026-03-02.csv".to_owned(), 5),
                ("events-2026-03-02.csv".to_owned(), 9),
            ]))
        );
        assert_eq!(
            records_base::read(dir).ok(),
            Some(Counts {
                records: 5,
                events: 9
            })
        );
    }
}
