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

use super::records_base;
use crate::commit::Commit;
use crate::machine::Made;
use crate::records::{self, Cdr, DayFiles, DayLog, Events};
use jiff::tz::TimeZone;
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

/// One kind of daily file.
struct Resumed<L: DayLog> {
    files: DayFiles<L>,
    /// Rows the files hold (the stream's numbers base + 1 ..= base + on_disk).
    on_disk: u64,
    /// The stream's number of the files' last row.
    reached: u64,
    /// The stream's number of the last row produced so far.
    produced: u64,
}

impl<L: DayLog> Resumed<L> {
    /// The files in `dir` made whole (a torn last line cut), beginning after `base`.
    fn open(dir: &Path, base: u64) -> anyhow::Result<Resumed<L>> {
        records::repair::<L>(dir, None)?;
        let on_disk = records::count_since::<L>(dir, None)?.values().sum();
        Ok(Resumed {
            files: DayFiles::new(dir),
            on_disk,
            reached: base + on_disk,
            produced: 0,
        })
    }

    /// Follows the stream from its row `at`: files behind it begin again there (the rows
    /// between are not theirs to write), and the base they need is returned.
    fn start_at(&mut self, at: u64) -> u64 {
        self.produced = at;
        self.reached = self.reached.max(at);
        self.reached - self.on_disk
    }

    fn write(&mut self, row: &L::Row, tz: &TimeZone) -> anyhow::Result<()> {
        self.produced += 1;
        if self.produced <= self.reached {
            return Ok(());
        }
        self.files.write(row, tz)?;
        self.on_disk += 1;
        self.reached = self.produced;
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

    /// Follows the stream from a checkpoint made after `at`'s rows. Files behind it hold
    /// the rows after it only, and their new base is noted durably before any is written,
    /// so that the next start counts where they reach. Returns the rows they lack.
    pub fn start_at(&mut self, at: Counts) -> anyhow::Result<Counts> {
        let missing = at.beyond(self.reached());
        let base = Counts {
            records: self.records.start_at(at.records),
            events: self.events.start_at(at.events),
        };
        if !missing.is_zero() {
            records_base::write(&self.dir, base)?;
        }
        Ok(missing)
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
}
