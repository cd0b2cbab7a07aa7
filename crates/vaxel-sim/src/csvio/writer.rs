//! The writers of the CSV files (trace, roster, call records, event log): one frame for all
//! four, each format saying only what its columns are and how a row becomes cells.

use super::CsvOut;
use crate::error::SimError;
use crate::timefmt::{TimeFormatter, write_duration_s};
use jiff::tz::TimeZone;
use std::fs::File;
use std::io;
use std::path::Path;
use vaxel_core::Timestamp;

/// A CSV format written a row at a time by [`CsvWriter`].
pub trait CsvFormat {
    /// What one row is written from.
    type Row;
    /// Space a writer keeps from row to row (cells formatted out of order), so that a row
    /// allocates nothing.
    type Scratch: Default;
    /// The columns, in order.
    const COLUMNS: &'static [&'static str];
    /// How many leading columns an older version's file has. Rows appended to such a file
    /// (a daemon upgraded in the middle of a day) go on in its columns; empty: only the
    /// current header is taken.
    const OLDER: &'static [usize] = &[];
    /// The format in the error for a file with another header (`a call-record`).
    const A_NAME: &'static str;
    /// Writes `row`'s cells, [`Cells::columns`] of them, and ends the row.
    fn write_row<W: io::Write>(
        row: &Self::Row,
        cells: &mut Cells<'_, W>,
        scratch: &mut Self::Scratch,
    ) -> Result<(), SimError>;
}

/// The row being written: cells in column order, times and durations formatted as every
/// file has them (RFC 3339 with milliseconds in the site's zone; seconds with at most three
/// decimals).
pub struct Cells<'a, W: io::Write> {
    out: &'a mut CsvOut<W>,
    fmt: &'a mut TimeFormatter,
    buf: &'a mut String,
    columns: usize,
}

impl<W: io::Write> std::fmt::Debug for Cells<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cells")
            .field("file", &self.out.file)
            .finish_non_exhaustive()
    }
}

impl<W: io::Write> Cells<'_, W> {
    /// How many columns the file has (fewer than the format's for an older version's file).
    #[must_use]
    pub fn columns(&self) -> usize {
        self.columns
    }

    pub fn text(&mut self, value: &str) -> Result<(), SimError> {
        self.out.field(value)
    }

    /// `true`, `false`, or empty for `None`.
    pub fn opt_bool(&mut self, value: Option<bool>) -> Result<(), SimError> {
        self.out.field(match value {
            Some(true) => "true",
            Some(false) => "false",
            None => "",
        })
    }

    /// A time, or empty for `None`.
    pub fn time(&mut self, t: Option<Timestamp>) -> Result<(), SimError> {
        self.buf.clear();
        if let Some(t) = t {
            self.fmt.write(t, self.buf);
        }
        self.out.field(self.buf)
    }

    /// A duration in seconds, or empty for `None`.
    pub fn duration(&mut self, ms: Option<u64>) -> Result<(), SimError> {
        self.buf.clear();
        if let Some(ms) = ms {
            write_duration_s(ms, self.buf);
        }
        self.out.field(self.buf)
    }

    /// A cell made by `write` (into an emptied buffer).
    pub fn made(&mut self, write: impl FnOnce(&mut String)) -> Result<(), SimError> {
        self.buf.clear();
        write(self.buf);
        self.out.field(self.buf)
    }

    /// Writes `t` into `into` as a time cell has it, for a format that fills its cells out
    /// of order.
    pub fn format_time(&mut self, t: Timestamp, into: &mut String) {
        self.fmt.write(t, into);
    }

    /// Ends the row.
    pub fn end(&mut self) -> Result<(), SimError> {
        self.out.end()
    }
}

/// Writes rows of the format `F` to a file: the header first, then one line per row.
pub struct CsvWriter<W: io::Write, F: CsvFormat> {
    out: CsvOut<W>,
    fmt: TimeFormatter,
    buf: String,
    scratch: F::Scratch,
    columns: usize,
}

impl<W: io::Write, F: CsvFormat> std::fmt::Debug for CsvWriter<W, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvWriter")
            .field("format", &F::A_NAME)
            .field("file", &self.out.file)
            .finish_non_exhaustive()
    }
}

impl<F: CsvFormat> CsvWriter<io::BufWriter<File>, F> {
    /// Creates (truncates) the file at `path`; errors name it as given.
    pub fn create(path: &Path, tz: TimeZone) -> Result<Self, SimError> {
        let (file, name) = super::create(path)?;
        Self::new(file, name, tz)
    }
}

impl<W: io::Write, F: CsvFormat> CsvWriter<W, F> {
    /// Writes the header. `file` is the name errors give.
    pub fn new(writer: W, file: impl Into<String>, tz: TimeZone) -> Result<Self, SimError> {
        Self::with_columns(writer, file.into(), tz, F::COLUMNS.len())
    }

    /// Writes rows in the columns of an existing file whose first line is `header` (with or
    /// without its line end): the current ones or an older version's ([`CsvFormat::OLDER`]).
    /// Any other header is refused, naming the file. The header is written again: the
    /// daemon's writer gives it to a sink that drops it.
    pub fn continuing(
        writer: W,
        file: impl Into<String>,
        tz: TimeZone,
        header: &str,
    ) -> Result<Self, SimError> {
        let file = file.into();
        let cells: Vec<&str> = header.trim_end_matches(['\r', '\n']).split(',').collect();
        let columns = std::iter::once(F::COLUMNS.len())
            .chain(F::OLDER.iter().copied())
            .find(|&n| F::COLUMNS.get(..n) == Some(&cells[..]))
            .ok_or_else(|| SimError::Header {
                file: file.clone(),
                reason: format!(
                    "its header is not {} header (expected {:?})",
                    F::A_NAME,
                    F::COLUMNS.join(",")
                ),
            })?;
        Self::with_columns(writer, file, tz, columns)
    }

    fn with_columns(
        writer: W,
        file: String,
        tz: TimeZone,
        columns: usize,
    ) -> Result<Self, SimError> {
        Ok(CsvWriter {
            out: CsvOut::new(writer, file, &F::COLUMNS[..columns])?,
            fmt: TimeFormatter::new(tz),
            buf: String::with_capacity(64),
            scratch: F::Scratch::default(),
            columns,
        })
    }

    pub fn write(&mut self, row: &F::Row) -> Result<(), SimError> {
        let mut cells = Cells {
            out: &mut self.out,
            fmt: &mut self.fmt,
            buf: &mut self.buf,
            columns: self.columns,
        };
        F::write_row(row, &mut cells, &mut self.scratch)
    }

    pub fn flush(&mut self) -> Result<(), SimError> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> Result<W, SimError> {
        self.out.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two columns, the second added in a later version.
    enum Pairs {}

    impl CsvFormat for Pairs {
        type Row = (&'static str, u64);
        type Scratch = ();
        const COLUMNS: &'static [&'static str] = &["name", "wait_s"];
        const OLDER: &'static [usize] = &[1];
        const A_NAME: &'static str = "a pairs";

        fn write_row<W: io::Write>(
            &(name, ms): &(&'static str, u64),
            out: &mut Cells<'_, W>,
            (): &mut (),
        ) -> Result<(), SimError> {
            out.text(name)?;
            if out.columns() > 1 {
                out.duration(Some(ms))?;
            }
            out.end()
        }
    }

    fn written(w: CsvWriter<Vec<u8>, Pairs>) -> String {
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn a_new_file_gets_the_header_and_every_column() {
        let mut w = CsvWriter::<_, Pairs>::new(Vec::new(), "p.csv", TimeZone::UTC).unwrap();
        w.write(&("a", 1_500)).unwrap();
        assert_eq!(written(w), "name,wait_s\na,1.5\n");
    }

    #[test]
    fn rows_go_on_in_the_columns_of_the_file_they_continue() {
        for (header, rows) in [
            ("name,wait_s\r\n", "a,2\n"),
            ("name\n", "a\n"),
            ("name", "a\n"),
        ] {
            let mut w =
                CsvWriter::<_, Pairs>::continuing(Vec::new(), "p.csv", TimeZone::UTC, header)
                    .unwrap();
            w.write(&("a", 2_000)).unwrap();
            let text = written(w);
            assert_eq!(text.split_once('\n').unwrap().1, rows, "after {header:?}");
        }
    }

    #[test]
    fn another_header_is_refused_naming_the_file_and_the_format() {
        for header in ["wait_s,name", "name,wait_s,extra", ""] {
            let e = CsvWriter::<_, Pairs>::continuing(Vec::new(), "p.csv", TimeZone::UTC, header)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(
                    "p.csv:1: its header is not a pairs header (expected \"name,wait_s\")"
                ),
                "{header:?}: {e}"
            );
        }
    }
}
