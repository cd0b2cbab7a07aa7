//! The sink's source: a kind's daily files in the data dir, read forward from the position
//! the database has confirmed for each ([`Position`]). The files are the durable copy: the
//! commit thread appends whole records to them and recovery rewrites what a crash kept off
//! disk, each day's file always being a prefix of the records a replay re-produces for
//! that day (records.rs). So line N of a day's file is the same record whenever it is
//! read, and `(day, N)` is a key that a restart, a journal replay or a rebuilt file cannot
//! change.
//!
//! Only whole lines are read (the last one may be half written), at most [`MAX_BATCH_BYTES`]
//! and [`MAX_BATCH_ROWS`] at a time: memory stays bounded however long the database was
//! away.

use super::kind::RecordKind;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

/// Rows per insert at most (22 parameters each at most, far below PostgreSQL's 65535).
pub const MAX_BATCH_ROWS: usize = 500;
/// Bytes of a file read for one batch at most (500 records are about 100 KiB); a line
/// longer than this is damage.
pub const MAX_BATCH_BYTES: usize = 256 << 10;

/// How far a file has been written to the database: the byte after the last line sent
/// (0: nothing yet, not even the header) and the records up to there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub bytes: u64,
    pub lines: u64,
}

/// One batch of rows from one file: rows `first_line..` of `day`, and the file's position
/// once they are in.
#[derive(Debug)]
pub struct Batch {
    pub file: String,
    pub day: String,
    /// The record number (1 = the first after the header) of the first row.
    pub first_line: u64,
    pub rows: Vec<Vec<Option<String>>>,
    /// The file's position once they are in, in this file's bytes and lines.
    pub end: Position,
    /// Lines a whole copy of the file holds before this one's first: 0 but on a cluster
    /// node that began the file after a checkpoint (`cluster-records-first-lines`).
    pub before: u64,
    /// Lines that could not be read (named in the log), skipped: they stay in the file.
    pub skipped: Vec<String>,
}

/// A kind's files in `dir`, by name (= by day).
pub fn files(dir: &Path, kind: &dyn RecordKind) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if kind.day_of_file(&name).is_some() {
            out.push((name, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The next rows of `kind` not yet in the database: from the first file (by day) with whole
/// lines past its position in `confirmed`, numbered after the file's lines in
/// `first_lines`. `None`: everything written is in.
pub fn next_batch(
    dir: &Path,
    kind: &dyn RecordKind,
    confirmed: &BTreeMap<String, Position>,
    first_lines: &BTreeMap<String, u64>,
) -> anyhow::Result<Option<Batch>> {
    for (name, path) in
        files(dir, kind).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut pos = confirmed.get(&name).copied().unwrap_or_default();
        if len == pos.bytes {
            continue;
        }
        if len < pos.bytes {
            // Cut or rebuilt since (recovery, --salvage, an operator): read it again from
            // the start; rows already in are skipped by their key.
            tracing::warn!(
                file = %path.display(),
                "records file is shorter than what the database has of it; reading it again from the start"
            );
            pos = Position::default();
        }
        let before = first_lines.get(&name).copied().unwrap_or(0);
        if let Some(b) = read_batch(&path, &name, kind, pos, before)? {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// Rows of `path` after `pos`, `None` when there is no whole line there yet.
fn read_batch(
    path: &Path,
    name: &str,
    kind: &dyn RecordKind,
    mut pos: Position,
    before: u64,
) -> anyhow::Result<Option<Batch>> {
    let what = || format!("cannot read {}", path.display());
    let mut f = File::open(path).with_context(what)?;
    let mut header = String::new();
    let header_len = BufReader::new(&f)
        .take(MAX_BATCH_BYTES as u64)
        .read_line(&mut header)
        .with_context(what)?;
    if !header.ends_with('\n') {
        return Ok(None);
    }
    let from_start = Position {
        bytes: header_len as u64,
        lines: 0,
    };
    if pos.bytes < header_len as u64 {
        pos = from_start;
    } else if pos.bytes > from_start.bytes && !ends_a_line(&mut f, pos.bytes).with_context(what)? {
        // The position is not where a line ends, so this is not the file the database was
        // filled from (in cluster mode every node's files are byte-identical copies, so
        // it never happens there; a file replaced by hand would do it): read it again from
        // the start, rows already in are skipped by their key.
        tracing::warn!(
            file = %path.display(),
            bytes = pos.bytes,
            "the position the database has of this file is not at the end of a line; reading it again from the start"
        );
        pos = from_start;
    }
    let parser = kind
        .parser(header.trim_end())
        .with_context(|| format!("{}: line 1", path.display()))?;
    f.seek(SeekFrom::Start(pos.bytes)).with_context(what)?;
    let mut buf = Vec::new();
    let got = f
        .take(MAX_BATCH_BYTES as u64)
        .read_to_end(&mut buf)
        .with_context(what)?;
    let Some(whole) = buf.iter().rposition(|&b| b == b'\n') else {
        if got == MAX_BATCH_BYTES {
            anyhow::bail!(
                "{}: a line longer than {MAX_BATCH_BYTES} bytes after byte {}",
                path.display(),
                pos.bytes
            );
        }
        return Ok(None);
    };
    let day = kind.day_of_file(name).unwrap_or_default().to_owned();
    let mut batch = Batch {
        file: name.to_owned(),
        day,
        first_line: before + pos.lines + 1,
        rows: Vec::new(),
        end: pos,
        before,
        skipped: Vec::new(),
    };
    for line in buf[..=whole].split_inclusive(|&b| b == b'\n') {
        if batch.rows.len() == MAX_BATCH_ROWS {
            break;
        }
        batch.end.bytes += line.len() as u64;
        batch.end.lines += 1;
        let cells = std::str::from_utf8(line)
            .context("not UTF-8")
            .and_then(|l| parser.cells(l.trim_end_matches(['\n', '\r'])));
        match cells {
            Ok(c) => batch.rows.push(c),
            Err(e) => {
                // An empty row keeps the line's number; nothing is inserted for it, and
                // the line stays in the file.
                batch.skipped.push(format!(
                    "{}: record {}: {e:#}",
                    path.display(),
                    before + batch.end.lines
                ));
                batch.rows.push(Vec::new());
            }
        }
    }
    Ok(Some(batch))
}

/// Whether the byte before `at` is a newline.
fn ends_a_line(f: &mut File, at: u64) -> io::Result<bool> {
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at.saturating_sub(1)))?;
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

/// What is on disk and not yet in the database: records (whole lines) and bytes.
pub fn backlog(
    dir: &Path,
    kind: &dyn RecordKind,
    confirmed: &BTreeMap<String, Position>,
) -> anyhow::Result<(u64, u64)> {
    let (mut rows, mut bytes) = (0u64, 0u64);
    for (name, path) in files(dir, kind)? {
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        let pos = confirmed.get(&name).copied().unwrap_or_default();
        if meta.len() <= pos.bytes {
            continue;
        }
        let mut f = File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
        f.seek(SeekFrom::Start(pos.bytes))?;
        let mut r = BufReader::new(f);
        loop {
            let chunk = r.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            let n = chunk.len();
            bytes += n as u64;
            r.consume(n);
        }
        if pos.bytes == 0 {
            rows = rows.saturating_sub(1); // the header
        }
    }
    Ok((rows, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgsink::kind::CallRecords;

    const HEADER: &str = "call_id,entry,from,arrived,queued,answered,ended,agent,outcome,wait_s,talk_s,wrapup_s,groups,digits,case_type,resolved,callback,announced_position,announced_ewt_s\n";
    const ROW: &str = "c1,main,,2026-03-02T08:15:03.250+01:00,,,2026-03-02T08:16:00.000+01:00,,closed,0,0,0,,,,,,,\n";

    fn dir(name: &str) -> tempfile::TempDir {
        crate::scratch::fresh_dir(&format!("pgsource-{name}"))
    }

    #[test]
    fn reads_whole_lines_forward_from_the_confirmed_position() {
        let tmp = dir("forward");
        let d = tmp.path();
        let file = d.join("cdr-2026-03-02.csv");
        fs::write(&file, format!("{HEADER}{ROW}{ROW}c3,ma")).expect("write");
        fs::write(d.join("journal-1.log"), "x").expect("write");
        let mut confirmed = BTreeMap::new();
        assert_eq!(backlog(d, &CallRecords, &confirmed).expect("backlog").0, 2);

        let b = next_batch(d, &CallRecords, &confirmed, &BTreeMap::new())
            .expect("read")
            .expect("a batch");
        assert_eq!(
            (b.day.as_str(), b.first_line, b.rows.len()),
            ("2026-03-02", 1, 2)
        );
        assert_eq!(b.end.lines, 2);
        assert_eq!(
            b.end.bytes,
            (HEADER.len() + 2 * ROW.len()) as u64,
            "the half line waits"
        );
        confirmed.insert(b.file.clone(), b.end);
        assert!(
            next_batch(d, &CallRecords, &confirmed, &BTreeMap::new())
                .expect("read")
                .is_none()
        );
        assert_eq!(backlog(d, &CallRecords, &confirmed).expect("backlog").0, 0);

        // The line is finished, and a new day begins.
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .expect("open");
        io::Write::write_all(&mut f, b"in,,2026-03-02T09:00:00.000+01:00,,,2026-03-02T09:01:00.000+01:00,,closed,0,0,0,,,,,,,\n").expect("append");
        fs::write(d.join("cdr-2026-03-03.csv"), format!("{HEADER}{ROW}")).expect("write");
        assert_eq!(backlog(d, &CallRecords, &confirmed).expect("backlog").0, 2);
        let b = next_batch(d, &CallRecords, &confirmed, &BTreeMap::new())
            .expect("read")
            .expect("a batch");
        assert_eq!(
            (b.file.as_str(), b.first_line, b.rows.len()),
            ("cdr-2026-03-02.csv", 3, 1)
        );
        assert_eq!(b.rows[0][0].as_deref(), Some("c3"));
        confirmed.insert(b.file.clone(), b.end);
        let b = next_batch(d, &CallRecords, &confirmed, &BTreeMap::new())
            .expect("read")
            .expect("a batch");
        assert_eq!((b.day.as_str(), b.first_line), ("2026-03-03", 1));

        // A file cut below its position is read again from the start.
        confirmed.insert(b.file.clone(), b.end);
        fs::write(&file, HEADER).expect("cut");
        fs::write(&file, format!("{HEADER}{ROW}")).expect("rewrite");
        let b = next_batch(d, &CallRecords, &confirmed, &BTreeMap::new())
            .expect("read")
            .expect("a batch");
        assert_eq!(
            (b.file.as_str(), b.first_line, b.rows.len()),
            ("cdr-2026-03-02.csv", 1, 1)
        );
    }

    /// A confirmed position inside a line is not a position in this file (it was read
    /// from another): the file is read again from its first record, numbered from 1.
    #[test]
    fn a_position_inside_a_line_reads_the_file_again_from_the_start() {
        let tmp = dir("inside");
        let d = tmp.path();
        fs::write(d.join("cdr-2026-03-02.csv"), format!("{HEADER}{ROW}{ROW}")).expect("write");
        let confirmed = BTreeMap::from([(
            "cdr-2026-03-02.csv".to_owned(),
            Position {
                bytes: (HEADER.len() + ROW.len() + 3) as u64,
                lines: 2,
            },
        )]);
        let b = next_batch(d, &CallRecords, &confirmed, &BTreeMap::new())
            .expect("read")
            .expect("a batch");
        assert_eq!((b.first_line, b.rows.len(), b.end.lines), (1, 2, 2));
    }

    #[test]
    fn a_damaged_line_is_skipped_and_named() {
        let tmp = dir("damaged");
        let d = tmp.path();
        fs::write(
            d.join("cdr-2026-03-02.csv"),
            format!("{HEADER}c1,too,few\n{ROW}"),
        )
        .expect("write");
        let b = next_batch(d, &CallRecords, &BTreeMap::new(), &BTreeMap::new())
            .expect("read")
            .expect("a batch");
        assert_eq!(b.rows.len(), 2);
        assert!(b.rows[0].is_empty(), "no row for the damaged line");
        assert_eq!(b.skipped.len(), 1);
        assert!(
            b.skipped[0].contains("record 1: 3 fields where the header has 19"),
            "{:?}",
            b.skipped
        );
    }
}
