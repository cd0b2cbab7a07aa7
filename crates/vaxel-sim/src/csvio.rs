//! The CSV plumbing the readers and writers share: a header whose columns are found by name
//! (extra columns allowed, in any order), one reused record, errors that point at the cell,
//! and a writer that maps I/O errors to the file.

use crate::error::SimError;
use crate::timefmt::{self, DurationParseError, TimeParseError};
use std::io;
use vaxel_core::Timestamp;

/// A CSV file being read row by row.
pub(crate) struct CsvIn<R: io::Read> {
    pub(crate) file: String,
    rdr: csv::Reader<R>,
    header: Vec<String>,
    pub(crate) rec: csv::StringRecord,
    /// Set after an I/O error: the reader yields nothing more.
    done: bool,
}

impl<R: io::Read> CsvIn<R> {
    /// Reads the header line. An empty file or a header with a repeated name is an error.
    pub(crate) fn new(reader: R, file: String) -> Result<CsvIn<R>, SimError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(reader);
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| SimError::from_csv(&file, e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
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
            rec: csv::StringRecord::new(),
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

    /// Reads the next row into `rec`. `None` at the end of the file or after an I/O error.
    pub(crate) fn next_record(&mut self) -> Option<Result<(), SimError>> {
        if self.done {
            return None;
        }
        match self.rdr.read_record(&mut self.rec) {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) if self.rec.len() != self.header.len() => Some(Err(self.row_err(format!(
                "{} fields, but the header has {}",
                self.rec.len(),
                self.header.len()
            )))),
            Ok(true) => Some(Ok(())),
            Err(e) => {
                if e.is_io_error() {
                    self.done = true;
                }
                Some(Err(SimError::from_csv(&self.file, e)))
            }
        }
    }

    /// The current row's line number (1 = the header).
    pub(crate) fn line(&self) -> u64 {
        self.rec.position().map_or(0, csv::Position::line)
    }

    /// The cell of column `ix` in the current row; empty when the column is absent.
    pub(crate) fn cell(&self, ix: Option<usize>) -> &str {
        ix.and_then(|i| self.rec.get(i)).unwrap_or("")
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
        if s.trim().is_empty() {
            return Err(self.cell_err(ix, "is empty".into()));
        }
        Ok(s)
    }

    pub(crate) fn timestamp(&self, ix: usize) -> Result<Timestamp, SimError> {
        let s = self.cell(Some(ix));
        timefmt::parse_timestamp(s).map_err(|e: TimeParseError| {
            if s.trim().is_empty() {
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
            Some(i) if !self.cell(ix).trim().is_empty() => self.timestamp(i).map(Some),
            _ => Ok(None),
        }
    }

    /// An optional duration in seconds, as milliseconds: empty (or absent column) = `None`.
    pub(crate) fn opt_duration(&self, ix: Option<usize>) -> Result<Option<u64>, SimError> {
        let s = self.cell(ix);
        match ix {
            Some(i) if !s.trim().is_empty() => timefmt::parse_duration_ms(s)
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

    /// An optional boolean: `true`/`false` (any case) or `1`/`0`; empty = `None`.
    pub(crate) fn opt_bool(&self, ix: Option<usize>) -> Result<Option<bool>, SimError> {
        let s = self.cell(ix).trim();
        let Some(i) = ix else { return Ok(None) };
        if s.is_empty() {
            return Ok(None);
        }
        if s.eq_ignore_ascii_case("true") || s == "1" {
            Ok(Some(true))
        } else if s.eq_ignore_ascii_case("false") || s == "0" {
            Ok(Some(false))
        } else {
            Err(self.cell_err(i, format!("{s:?} is not a boolean (true or false)")))
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
