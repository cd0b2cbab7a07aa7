//! The CSV plumbing the readers and writers share: a header whose columns are found by name
//! (extra columns allowed, in any order), one reused record, errors that point at the cell,
//! and the writers' frame ([`writer`]).
//!
//! Reading does not go through the `csv` crate's reader: a year's trace is 1.8 million rows
//! and the replay's reader thread shares two cores with the engine, so [`RecordReader`]
//! splits rows itself, copying whole runs of plain bytes at a time. It reproduces what the
//! `csv` crate's default reader did before (the tests compare the two on random
//! input), line numbers included, so errors point at the same lines as before.

mod records;
#[cfg(test)]
mod tests;
pub(crate) mod writer;

use records::{RecordReader, decode, utf8_reason};

use crate::error::SimError;
use crate::timefmt::{self, DurationParseError, TimeParseError};
use std::{io, mem};
use vaxel_core::Timestamp;

/// `str::trim` (Unicode white space), without its cost for the usual cell that neither
/// starts nor ends with a space: a printable ASCII byte at both ends is not white space.
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if (0x21..0x7f).contains(&f) && (0x21..0x7f).contains(&l) => s,
        _ => s.trim(),
    }
}

/// A CSV file being read row by row.
pub(crate) struct CsvIn<R: io::Read> {
    pub(crate) file: String,
    rdr: RecordReader<R>,
    header: Vec<String>,
    /// The current row's text; field `i` is `text[spans[i].0..spans[i].1]`.
    text: String,
    spans: Vec<(usize, usize)>,
    /// The current row's line number (1 = the header).
    line: u64,
    /// Set at the end or after an I/O error: the reader yields nothing more.
    done: bool,
}

impl<R: io::Read> CsvIn<R> {
    /// Reads the header line. An empty file or a header with a repeated name is an error.
    pub(crate) fn new(reader: R, file: String) -> Result<CsvIn<R>, SimError> {
        let mut rdr = RecordReader::new(reader);
        let mut raw = Vec::new();
        let mut spans = Vec::new();
        let line = rdr.line;
        if let Err(err) = rdr.read_record(&mut raw, &mut spans) {
            return Err(SimError::Io { file, err });
        }
        let text = match decode(raw, &spans) {
            Ok(text) => text,
            Err(field) => {
                return Err(SimError::Row {
                    file,
                    line,
                    reason: utf8_reason(field),
                });
            }
        };
        let header: Vec<String> = spans
            .iter()
            .map(|&(a, b)| {
                let h = text.get(a..b).unwrap_or("");
                h.trim_start_matches('\u{feff}').trim().to_owned()
            })
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(SimError::Header {
                file,
                reason: "no header line (the file is empty)".into(),
            });
        }
        for (i, h) in header.iter().enumerate() {
            if let Some(j) = header[..i].iter().position(|x| x == h) {
                return Err(SimError::Header {
                    file,
                    reason: format!(
                        "column \"{h}\" appears twice (columns {} and {})",
                        j + 1,
                        i + 1
                    ),
                });
            }
        }
        Ok(CsvIn {
            file,
            rdr,
            header,
            text: String::new(),
            spans: Vec::new(),
            line: 0,
            done: false,
        })
    }
    /// The 0-based index of a column, if the header has it.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The 0-based index of a column the format requires.
    pub(crate) fn require(&self, name: &'static str) -> Result<usize, SimError> {
        self.column(name).ok_or_else(|| SimError::MissingColumn {
            file: self.file.clone(),
            name,
            found: self.header.join(","),
        })
    }

    /// Header names the format does not know (to warn about a misspelt optional column).
    pub(crate) fn unknown_columns(&self, known: &[&str]) -> Vec<String> {
        self.header
            .iter()
            .filter(|h| !known.contains(&h.as_str()))
            .cloned()
            .collect()
    }

    /// Reads the next row. `None` at the end of the file or after an I/O error.
    pub(crate) fn next_record(&mut self) -> Option<Result<(), SimError>> {
        if self.done {
            return None;
        }
        self.line = self.rdr.line;
        let mut raw = mem::take(&mut self.text).into_bytes();
        match self.rdr.read_record(&mut raw, &mut self.spans) {
            Err(err) => {
                self.done = true;
                self.spans.clear();
                Some(Err(SimError::Io {
                    file: self.file.clone(),
                    err,
                }))
            }
            Ok(false) => {
                self.done = true;
                self.spans.clear();
                None
            }
            Ok(true) => match decode(raw, &self.spans) {
                Err(field) => {
                    self.spans.clear();
                    Some(Err(self.row_err(utf8_reason(field))))
                }
                Ok(text) => {
                    self.text = text;
                    if self.spans.len() == self.header.len() {
                        Some(Ok(()))
                    } else {
                        Some(Err(self.row_err(format!(
                            "{} fields, but the header has {}",
                            self.spans.len(),
                            self.header.len()
                        ))))
                    }
                }
            },
        }
    }

    /// The current row's line number (1 = the header).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The cell of column `ix` in the current row; empty when the column is absent.
    pub(crate) fn cell(&self, ix: Option<usize>) -> &str {
        match ix.and_then(|i| self.spans.get(i)) {
            Some(&(a, b)) => self.text.get(a..b).unwrap_or(""),
            None => "",
        }
    }

    pub(crate) fn cell_err(&self, ix: usize, reason: String) -> SimError {
        SimError::Cell {
            file: self.file.clone(),
            line: self.line(),
            column: ix + 1,
            name: self.header.get(ix).cloned().unwrap_or_default(),
            reason,
        }
    }

    pub(crate) fn row_err(&self, reason: String) -> SimError {
        SimError::Row {
            file: self.file.clone(),
            line: self.line(),
            reason,
        }
    }

    /// A required, non-empty text cell.
    pub(crate) fn text(&self, ix: usize) -> Result<&str, SimError> {
        let s = self.cell(Some(ix));
        if trim(s).is_empty() {
            return Err(self.cell_err(ix, "is empty".into()));
        }
        Ok(s)
    }

    pub(crate) fn timestamp(&self, ix: usize) -> Result<Timestamp, SimError> {
        let s = self.cell(Some(ix));
        timefmt::parse_timestamp(s).map_err(|e: TimeParseError| {
            if trim(s).is_empty() {
                self.cell_err(
                    ix,
                    "is empty; expected a timestamp (RFC 3339 or epoch ms)".into(),
                )
            } else {
                self.cell_err(ix, format!("{s:?} {e}"))
            }
        })
    }

    /// An optional timestamp: empty (or absent column) = `None`.
    pub(crate) fn opt_timestamp(&self, ix: Option<usize>) -> Result<Option<Timestamp>, SimError> {
        match ix {
            Some(i) if !trim(self.cell(ix)).is_empty() => self.timestamp(i).map(Some),
            _ => Ok(None),
        }
    }

    /// An optional duration in seconds, as milliseconds: empty (or absent column) = `None`.
    pub(crate) fn opt_duration(&self, ix: Option<usize>) -> Result<Option<u64>, SimError> {
        let s = self.cell(ix);
        match ix {
            Some(i) if !trim(s).is_empty() => timefmt::parse_duration_ms(s)
                .map(Some)
                .map_err(|e: DurationParseError| self.cell_err(i, format!("{s:?} {e}"))),
            _ => Ok(None),
        }
    }

    /// A required duration.
    pub(crate) fn duration(&self, ix: usize) -> Result<u64, SimError> {
        self.opt_duration(Some(ix))?
            .ok_or_else(|| self.cell_err(ix, "is empty; expected a duration in seconds".into()))
    }

    /// An optional whole number: empty (or absent column) = `None`.
    pub(crate) fn opt_u64(&self, ix: Option<usize>) -> Result<Option<u64>, SimError> {
        let s = trim(self.cell(ix));
        match ix {
            Some(i) if !s.is_empty() => s
                .parse()
                .map(Some)
                .map_err(|_| self.cell_err(i, format!("{s:?} is not a whole number"))),
            _ => Ok(None),
        }
    }

    /// An optional boolean: `true`/`false` (any case) or `1`/`0`; empty = `None`.
    pub(crate) fn opt_bool(&self, ix: Option<usize>) -> Result<Option<bool>, SimError> {
        let s = trim(self.cell(ix));
        let Some(i) = ix else { return Ok(None) };
        if s.is_empty() {
            return Ok(None);
        }
        match s.as_bytes() {
            b"true" | b"1" => Ok(Some(true)),
            b"false" | b"0" => Ok(Some(false)),
            b if b.eq_ignore_ascii_case(b"true") => Ok(Some(true)),
            b if b.eq_ignore_ascii_case(b"false") => Ok(Some(false)),
            _ => Err(self.cell_err(i, format!("{s:?} is not a boolean (true or false)"))),
        }
    }
}

/// A CSV file being written: RFC 4180 quoting (only where needed), `\n` line ends.
pub(crate) struct CsvOut<W: io::Write> {
    pub(crate) file: String,
    wtr: csv::Writer<W>,
}

impl<W: io::Write> CsvOut<W> {
    pub(crate) fn new(writer: W, file: String, header: &[&str]) -> Result<CsvOut<W>, SimError> {
        let mut out = CsvOut {
            file,
            wtr: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(writer),
        };
        out.wtr
            .write_record(header)
            .map_err(|e| SimError::from_csv(&out.file, e))?;
        Ok(out)
    }

    pub(crate) fn field(&mut self, value: &str) -> Result<(), SimError> {
        self.wtr
            .write_field(value)
            .map_err(|e| SimError::from_csv(&self.file, e))
    }

    /// Ends the current row.
    pub(crate) fn end(&mut self) -> Result<(), SimError> {
        self.wtr
            .write_record(None::<&[u8]>)
            .map_err(|e| SimError::from_csv(&self.file, e))
    }

    pub(crate) fn flush(&mut self) -> Result<(), SimError> {
        self.wtr.flush().map_err(|err| SimError::Io {
            file: self.file.clone(),
            err,
        })
    }

    pub(crate) fn into_inner(self) -> Result<W, SimError> {
        let file = self.file;
        self.wtr.into_inner().map_err(|e| SimError::Io {
            file,
            err: io::Error::other(e.error().to_string()),
        })
    }
}

/// Checks a `digits` cell: per menu level one or more of `0-9 * #`, levels separated by
/// commas; empty = no choice at all, an empty level = no choice at that menu.
pub(crate) fn valid_digits(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || c == b'*' || c == b'#' || c == b',')
}

/// Opens a file for one of the readers (trace, roster, call records, event log), buffered
/// for streaming; errors, and the name the reader's errors give, are the path as given.
pub(crate) fn open(
    path: &std::path::Path,
) -> Result<(io::BufReader<std::fs::File>, String), SimError> {
    let name = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(f) => Ok((io::BufReader::with_capacity(1 << 16, f), name)),
        Err(err) => Err(SimError::Io { file: name, err }),
    }
}

/// Creates (truncates) the file at `path` for writing, buffered, with the name its errors
/// give.
pub(crate) fn create(
    path: &std::path::Path,
) -> Result<(io::BufWriter<std::fs::File>, String), SimError> {
    let name = path.display().to_string();
    match std::fs::File::create(path) {
        Ok(f) => Ok((io::BufWriter::with_capacity(1 << 16, f), name)),
        Err(err) => Err(SimError::Io { file: name, err }),
    }
}
