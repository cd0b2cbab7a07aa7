//! A node's call records and event log in cluster mode: every node, active or standby,
//! writes every row the journal stream produces into its own data dir, in the stream's
//! order and with the writers of single-node mode, so each node's `cdr-*.csv` and
//! `events-*.csv` are byte for byte the files a single daemon would write for the same
//! journal, and the same on every node. The PostgreSQL sink relies on that: the positions
//! the database confirmed (byte and line per day file) mean the same on the node that
//! takes over (docs/postgres.md, "Cluster mode").
//!
//! A node that starts again replays the stream from its start: the rows its files hold
//! already (a torn last line cut) are the first ones the replay produces, and are not
//! written again.

use crate::commit::Commit;
use crate::machine::Made;
use crate::records::{self, Cdr, DayFiles, DayLog, Events};
use jiff::tz::TimeZone;
use std::path::Path;

/// One kind of daily file, written after the rows it held when the node started.
pub struct Resumed<L: DayLog> {
    files: DayFiles<L>,
    /// Rows the files hold already: the first this many produced are not written again.
    skip: u64,
}

impl<L: DayLog> Resumed<L> {
    /// The files in `dir` made whole (a torn last line cut), and the rows they hold.
    fn open(dir: &Path) -> anyhow::Result<Resumed<L>> {
        records::repair::<L>(dir, None)?;
        let skip = records::count_since::<L>(dir, None)?.values().sum();
        Ok(Resumed {
            files: DayFiles::new(dir),
            skip,
        })
    }

    fn write(&mut self, row: &L::Row, tz: &TimeZone) -> anyhow::Result<()> {
        if self.skip > 0 {
            self.skip -= 1;
            Ok(())
        } else {
            self.files.write(row, tz)
        }
    }
}

/// This node's call-record and event-log files.
pub struct Logs {
    records: Resumed<Cdr>,
    events: Resumed<Events>,
}

impl Logs {
    /// The files of `dir`, resuming after the rows they hold.
    pub fn open(dir: &Path) -> anyhow::Result<Logs> {
        Ok(Logs {
            records: Resumed::open(dir)?,
            events: Resumed::open(dir)?,
        })
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
    pub fn stop_skipping(&mut self) -> (u64, u64) {
        let extra = (self.records.skip, self.events.skip);
        self.records.skip = 0;
        self.events.skip = 0;
        extra
    }
}
