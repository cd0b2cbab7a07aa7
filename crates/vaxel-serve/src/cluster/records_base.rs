//! Where a cluster node's call-record and event-log files begin in the stream's rows: the
//! file `cluster-records-base` in its data dir, holding two numbers, *records* and
//! *events*, such that the call-record files' last row is the stream's record number
//! records + (records in the files), and the same for events. Absent, 0 and 0: the files
//! are a whole copy from the stream's start. A node that starts from a checkpoint its files
//! have not reached (a new node, or one down for longer than the kept checkpoints cover)
//! writes the rows after the checkpoint only, and notes the new bases here (`logs.rs`), so
//! that its next start still counts where its files reach (and neither doubles nor drops a
//! row).
//!
//! Beside it, `cluster-records-first-lines`: for each day file such a node began after a
//! checkpoint, the lines a whole copy of it holds before this node's first (one `NAME
//! COUNT` a line). The PostgreSQL sink numbers the file's lines after them, so that its
//! keys are a whole file's (docs/postgres.md, "Cluster mode").

use super::logs::Counts;
use crate::journal::replace_durably;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

pub const FILE: &str = "cluster-records-base";
pub const FIRST_LINES: &str = "cluster-records-first-lines";

/// The bases noted in `dir` (0 and 0 without the file). A file that does not hold two
/// numbers is an error naming it: guessing would double or drop rows.
pub fn read(dir: &Path) -> anyhow::Result<Counts> {
    let path = dir.join(FILE);
    match fs::read_to_string(&path) {
        Ok(text) => parse(&text).with_context(|| {
            format!(
                "{} does not hold the numbers of call records and events before the files \
                 ({text:?}): restore it or remove the data dir's call-record and event-log \
                 files with it (docs/operations.md, \"Cluster mode\")",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Counts::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn parse(text: &str) -> anyhow::Result<Counts> {
    let mut numbers = text.split_whitespace().map(str::parse::<u64>);
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(records), Some(events), None) => Ok(Counts {
            records: records?,
            events: events?,
        }),
        _ => anyhow::bail!("two numbers expected"),
    }
}

/// Notes `base` in `dir` durably (a temporary file, fsynced, renamed, the directory
/// fsynced), before any row after it is written.
pub fn write(dir: &Path, base: Counts) -> anyhow::Result<()> {
    replace(dir, FILE, &format!("{} {}\n", base.records, base.events))
}

/// The lines before this node's first of each day file it began after a checkpoint (none
/// without the file). A line that is not a name and a number is an error naming the file:
/// guessing would misplace rows in the report database.
pub fn read_first_lines(dir: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
    let path = dir.join(FIRST_LINES);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(Ok(n)), None) = (
            words.next(),
            words.next().map(str::parse::<u64>),
            words.next(),
        ) else {
            anyhow::bail!(
                "{} holds {line:?}, not a file name and a number of lines: restore it \
                 (docs/postgres.md, \"Cluster mode\")",
                path.display()
            );
        };
        out.insert(name.to_owned(), n);
    }
    Ok(out)
}

/// Notes `first_lines` in `dir` durably, as [`write`] does.
pub fn write_first_lines(dir: &Path, first_lines: &BTreeMap<String, u64>) -> anyhow::Result<()> {
    let text: String = first_lines
        .iter()
        .map(|(name, n)| format!("{name} {n}\n"))
        .collect();
    replace(dir, FIRST_LINES, &text)
}

/// Replaces `dir`'s file `name` by `text` durably.
fn replace(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    replace_durably(dir, name, text.as_bytes())
        .map(drop)
        .with_context(|| format!("cannot write {}", dir.join(name).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_zero_written_reads_back_and_garbage_is_named() {
        let tmp = crate::scratch::fresh_dir("records-base");
        let dir = tmp.path();
        assert_eq!(read(dir).ok(), Some(Counts::default()));
        let base = Counts {
            records: 1234,
            events: 56789,
        };
        assert!(write(dir, base).is_ok());
        assert_eq!(read(dir).ok(), Some(base));
        for garbage in ["12x 3\n", "12\n", "1 2 3\n"] {
            fs::write(dir.join(FILE), garbage).ok();
            let e = read(dir)
                .map_err(|e| format!("{e:#}"))
                .err()
                .unwrap_or_default();
            assert!(
                e.contains("cluster-records-base does not hold the numbers"),
                "{garbage:?}: {e}"
            );
        }
    }

    #[test]
    fn first_lines_read_back_and_garbage_is_named() {
        let tmp = crate::scratch::fresh_dir("first-lines");
        let dir = tmp.path();
        assert_eq!(read_first_lines(dir).ok(), Some(BTreeMap::new()));
        let lines = BTreeMap::from([
            ("cdr-2026-03-02.csv".to_owned(), 17),
            ("events-2026-03-02.csv".to_owned(), 170),
        ]);
        assert!(write_first_lines(dir, &lines).is_ok());
        assert_eq!(read_first_lines(dir).ok(), Some(lines));
        fs::write(dir.join(FIRST_LINES), "cdr-2026-03-02.csv x\n").ok();
        let e = read_first_lines(dir)
            .map_err(|e| format!("{e:#}"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a file name and a number"), "{e}");
    }
}
