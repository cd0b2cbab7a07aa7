//! The CSV plumbing the readers and writers share: a header whose columns are found by name
//! (extra columns allowed, in any order), one reused record, errors that point at the cell,
//! and a writer that maps I/O errors to the file.
//!
//! Reading does not go through the `csv` crate's reader: a year's trace is 1.8 million rows
//! and the replay's reader thread shares two cores with the engine, so [`RecordReader`]
//! splits rows itself, copying whole runs of plain bytes at a time. It reproduces what the
//! `csv` crate's default reader did before (the tests below compare the two on random
//! input), line numbers included, so errors point at the same lines as before.

use crate::error::SimError;
use crate::timefmt::{self, DurationParseError, TimeParseError};
use std::{io, mem};
use vaxel_core::Timestamp;

/// Splits CSV bytes into records the way `csv::Reader` does with its default settings and
/// `flexible(true)`: fields separated by `,`; a field that starts with `"` is quoted, `""`
/// inside it is one `"`, and text after its closing quote is appended as is; `\n`, `\r` and
/// `\r\n` end a record; blank lines are skipped; a UTF-8 byte order mark at the very start
/// of the input is dropped. Line numbers follow `csv_core`: one more for every `\n` consumed,
/// and a record's line is the count when reading it began (so in a `\r\n` file it is that of
/// the line before, the `\n` being consumed with the next record, as `csv` does).
#[derive(Debug)]
struct RecordReader<R> {
    src: R,
    buf: Box<[u8]>,
    /// The unread input is `buf[pos..len]`.
    pos: usize,
    len: usize,
    line: u64,
    /// The last record ended at a `\r`: a `\n` right after it belongs to that record's end.
    after_cr: bool,
    /// The first read (the only one that may begin with a byte order mark) is done.
    started: bool,
}

/// Bytes that end a field outside quotes.
const ENDS_FIELD: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// Where a record being read is, between bytes.
#[derive(Clone, Copy)]
enum State {
    /// Before a record: line ends are skipped (blank lines).
    StartRecord,
    /// Right after the `\r` that ended the previous record.
    AfterCr,
    StartField,
    InField,
    InQuoted,
    /// After a `"` inside a quoted field: either the first half of `""` or its end.
    QuoteInQuoted,
}

impl<R: io::Read> RecordReader<R> {
    fn new(src: R) -> Self {
        RecordReader {
            src,
            buf: vec![0; 1 << 16].into_boxed_slice(),
            pos: 0,
            len: 0,
            line: 1,
            after_cr: false,
            started: false,
        }
    }

    /// Refills the buffer with one read (as `BufRead::fill_buf` would); `false` at the end.
    /// As in `csv_core`, a first read of nothing but the byte order mark counts as the end.
    fn fill(&mut self) -> io::Result<bool> {
        self.len = self.src.read(&mut self.buf)?;
        self.pos = 0;
        if !self.started {
            self.started = true;
            if self.buf[..self.len].starts_with(b"\xef\xbb\xbf") {
                self.pos = 3;
            }
        }
        Ok(self.pos < self.len)
    }

    /// Reads the next record into `raw`, field `i` being `raw[spans[i].0..spans[i].1]`
    /// (unquoted). Each field is followed in `raw` by an ASCII byte or the end of `raw`.
    /// `false` at the end of the input.
    fn read_record(
        &mut self,
        raw: &mut Vec<u8>,
        spans: &mut Vec<(usize, usize)>,
    ) -> io::Result<bool> {
        raw.clear();
        spans.clear();
        let mut state = if mem::take(&mut self.after_cr) {
            State::AfterCr
        } else {
            State::StartRecord
        };
        let mut field_start = 0;
        loop {
            if self.pos == self.len && !self.fill()? {
                return Ok(match state {
                    State::StartRecord | State::AfterCr => false,
                    _ => {
                        spans.push((field_start, raw.len()));
                        true
                    }
                });
            }
            let input = &self.buf[self.pos..self.len];
            let mut i = 0;
            let mut lines = 0;
            let mut done = false;
            while i < input.len() {
                let c = input[i];
                match state {
                    State::AfterCr => {
                        state = State::StartRecord;
                        if c == b'\n' {
                            lines += 1;
                            i += 1;
                        }
                        continue;
                    }
                    State::StartRecord => {
                        if c == b'\n' || c == b'\r' {
                            lines += u64::from(c == b'\n');
                            i += 1;
                            continue;
                        }
                        if let Some((end, term)) = plain_record(&input[i..], spans) {
                            raw.extend_from_slice(&input[i..i + end]);
                            i += end + 1;
                            lines += u64::from(term == b'\n');
                            self.after_cr = term == b'\r';
                            done = true;
                            break;
                        }
                        state = State::StartField;
                        continue;
                    }
                    State::StartField if c == b'"' => {
                        state = State::InQuoted;
                        i += 1;
                        continue;
                    }
                    State::StartField | State::InField => {
                        let start = i;
                        while i < input.len() && !ENDS_FIELD[usize::from(input[i])] {
                            i += 1;
                        }
                        raw.extend_from_slice(&input[start..i]);
                        state = State::InField;
                        if i == input.len() {
                            break;
                        }
                    }
                    State::InQuoted => {
                        let run = &input[i..];
                        let n = run.iter().position(|&b| b == b'"').unwrap_or(run.len());
                        let run = &run[..n];
                        lines += run.iter().filter(|&&b| b == b'\n').count() as u64;
                        raw.extend_from_slice(run);
                        i += n;
                        if i < input.len() {
                            state = State::QuoteInQuoted;
                            i += 1;
                        }
                        continue;
                    }
                    State::QuoteInQuoted => {
                        if c == b'"' {
                            raw.push(b'"');
                            state = State::InQuoted;
                            i += 1;
                            continue;
                        }
                        if !ENDS_FIELD[usize::from(c)] {
                            raw.push(c);
                            state = State::InField;
                            i += 1;
                            continue;
                        }
                    }
                }
                // At a byte that ends the field: a comma, or the end of the record.
                let c = input[i];
                i += 1;
                spans.push((field_start, raw.len()));
                if c == b',' {
                    // Fields stay apart in `raw`, as in the line (see `decode`).
                    raw.push(b',');
                    field_start = raw.len();
                    state = State::StartField;
                } else {
                    lines += u64::from(c == b'\n');
                    self.after_cr = c == b'\r';
                    done = true;
                    break;
                }
            }
            self.pos += i;
            self.line += lines;
            if done {
                return Ok(true);
            }
        }
    }
}

/// The usual record, split in one pass: a whole line in the buffer whose quoted fields (if
/// any) hold no `"` and no line end and are followed directly by a comma or the line's end.
/// Then each field is a span of `input` (quotes excluded). Returns the index of the byte
/// ending the record and that byte (`\n` or `\r`). `None`, with `spans` left empty, for
/// anything else: the general reader takes the record from its start.
fn plain_record(input: &[u8], spans: &mut Vec<(usize, usize)>) -> Option<(usize, u8)> {
    let found = plain_fields(input, spans);
    if found.is_none() {
        spans.clear();
    }
    found
}

fn plain_fields(input: &[u8], spans: &mut Vec<(usize, usize)>) -> Option<(usize, u8)> {
    let mut start = 0;
    let mut i = 0;
    loop {
        i = next_low(input, i)?;
        match input[i] {
            b',' => {
                spans.push((start, i));
                start = i + 1;
            }
            c @ (b'\n' | b'\r') => {
                spans.push((start, i));
                return Some((i, c));
            }
            b'"' if i == start => {
                let q = i
                    + 1
                    + input[i + 1..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\n')?;
                let after = *input.get(q + 1)?;
                if input[q] != b'"' || !matches!(after, b',' | b'\n' | b'\r') {
                    return None;
                }
                spans.push((i + 1, q));
                if after != b',' {
                    return Some((q + 1, after));
                }
                start = q + 2;
                i = q + 1;
            }
            _ => {}
        }
        i += 1;
    }
}

/// The index of the first byte in `input[i..]` that is at most `,`: every byte that
/// matters to a record (`,` `"` `\r` `\n`) and a few that do not (`+`, space). Eight bytes at
/// a time, with the classic "has a byte less than n" test, whose lowest flagged byte is
/// exact (a borrow only runs upwards). Measured faster, on a trace, than a byte loop or than
/// visiting every flagged byte of a word.
fn next_low(input: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(w) = input.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*w);
        let low = w.wrapping_sub(ONES * u64::from(b',' + 1)) & !w & HIGHS;
        if low != 0 {
            return Some(i + (low.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let n = input.get(i..)?.iter().position(|&b| b <= b',')?;
    Some(i + n)
}

/// A record's text, or the 0-based index of its first field that is not UTF-8 (the field a
/// `csv::StringRecord` would name). Every field starts at the start of `raw` or after an
/// ASCII byte and ends at the end of `raw` or before one, so the text is valid UTF-8 exactly
/// when every field is.
fn decode(raw: Vec<u8>, spans: &[(usize, usize)]) -> Result<String, usize> {
    let bytes = match String::from_utf8(raw) {
        Ok(s) => return Ok(s),
        Err(e) => e.into_bytes(),
    };
    let bad = spans
        .iter()
        .position(|&(a, b)| std::str::from_utf8(&bytes[a..b]).is_err());
    // Always found (see above); the last field is the best guess otherwise.
    Err(bad.unwrap_or(spans.len().saturating_sub(1)))
}

/// The message `csv` gave for a row with a field that is not UTF-8 (`field` is 0-based).
fn utf8_reason(field: usize) -> String {
    format!("field {} is not valid UTF-8", field + 1)
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hands out its bytes at most `step` at a time, to split records across refills.
    struct Chunked<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl io::Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Each record as `line [fields]`, or the error, as the `csv` crate's reader gives them
    /// (configured as `CsvIn` used to configure it).
    fn by_csv_crate(input: &[u8], step: usize) -> Vec<String> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Chunked { data: input, step });
        let mut rec = csv::StringRecord::new();
        let mut out = Vec::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(false) => return out,
                Ok(true) => out.push(format!(
                    "{} {:?}",
                    rec.position().map_or(0, csv::Position::line),
                    rec.iter().collect::<Vec<_>>()
                )),
                Err(e) => out.push(SimError::from_csv("f.csv", e).to_string()),
            }
        }
    }

    /// The same from [`RecordReader`] and [`decode`].
    fn by_record_reader(input: &[u8], step: usize) -> Vec<String> {
        let mut rdr = RecordReader::new(Chunked { data: input, step });
        let (mut raw, mut spans) = (Vec::new(), Vec::new());
        let mut out = Vec::new();
        loop {
            let line = rdr.line;
            match rdr.read_record(&mut raw, &mut spans) {
                Ok(false) => return out,
                Ok(true) => match decode(mem::take(&mut raw), &spans) {
                    Ok(text) => {
                        let fields: Vec<&str> = spans.iter().map(|&(a, b)| &text[a..b]).collect();
                        out.push(format!("{line} {fields:?}"));
                    }
                    Err(field) => out.push(format!("f.csv:{line}: {}", utf8_reason(field))),
                },
                Err(e) => out.push(e.to_string()),
            }
        }
    }

    fn same_as_csv_crate(input: &[u8]) {
        for step in [1, 2, 3, 5, 1 << 16] {
            assert_eq!(
                by_record_reader(input, step),
                by_csv_crate(input, step),
                "{:?} read {step} bytes at a time",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn splits_records_as_the_csv_crate() {
        for input in [
            &b""[..],
            b"\n\n",
            b"a,b\n1,2\n",
            b"a,b\r\n1,2\r\n\r\n3,4",
            b"a,b\r1,2\r3\n",
            b"\xef\xbb\xbfa,b\n",
            b"\xef\xbb\xbf",
            b"x,\xef\xbb\xbfa\n",
            b"\"a,\"\"b\"\"\",c\n\"multi\nline\",d\n\"e\"f,\"g\"\"\n",
            b"\"unterminated\n,x",
            b"a\"b,c\"\n",
            b",,\n,\n",
            b" a , b \n",
            b"ok,\xc3\xa9\nbad,\xc3\n\xff,x\n\xc3,\xa9\n",
            b"c1,\"8,1\",x\n\"a\",b\r\n\"a\"b,c\n\"a\"\"b\",c\nx,\"\"\n\"\",\n\"\xc3\",\"\xa9\"\n",
            b"\"a\nb\",c\n\"a\rb\",c\r\"last\"",
            b"c0000216,2026-03-02T08:00:00.320+01:00,+4685080000,+4682321976,\"8,1\",171.9,83.3,\
              10.3,english:hanvisning,false,true\nc0000217,2026-03-02T08:00:00.320+01:00,\
              +4685080000,,,171.9,83.3,,\"english: h\xc3\xa4nvisning\"\r\nc2,x,\"\"\"\",\n",
        ] {
            same_as_csv_crate(input);
        }
    }

    proptest! {
        #[test]
        fn splits_random_bytes_as_the_csv_crate(
            parts in prop::collection::vec(
                prop::sample::select(vec![
                    &b"a"[..], b"bc", b",", b"\"", b"\r", b"\n", b"\r\n", b" ", b"\xc3\xa9",
                    b"\xc3", b"\xa9", b"\xff", b"\xef\xbb\xbf", b"\xe2\x80\x83",
                ]),
                0..40,
            )
        ) {
            same_as_csv_crate(&parts.concat());
        }
    }

    #[test]
    fn next_low_finds_the_first_byte_up_to_a_comma() {
        let bytes: Vec<u8> = (0..=255).collect();
        for from in 0..bytes.len() {
            for len in from..bytes.len().min(from + 20) {
                let mut input = bytes[from..=len].to_vec();
                input.reverse();
                let want = input.iter().position(|&b| b <= b',');
                assert_eq!(next_low(&input, 0), want, "{input:?}");
            }
        }
        assert_eq!(next_low(b"abcdefghijkl,", 3), Some(12));
        assert_eq!(next_low(b"abc", 4), None);
    }

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\r",
            "\u{b}a",
            "a\u{b}",
            "\u{a0}a",
            "a\u{2003}",
            "é",
            "\u{85}",
            "x y",
            "~",
            "\u{7f}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    /// Cells of the rows `text` holds after its header, or the first error.
    fn rows(text: &[u8]) -> Result<Vec<Vec<String>>, String> {
        let mut csv = CsvIn::new(text, "f.csv".into()).map_err(|e| e.to_string())?;
        let n = csv.header.len();
        let mut out = Vec::new();
        while let Some(r) = csv.next_record() {
            r.map_err(|e| e.to_string())?;
            out.push((0..n).map(|i| csv.cell(Some(i)).to_owned()).collect());
        }
        Ok(out)
    }

    #[test]
    fn rows_errors_and_cells() {
        let text = b"\xef\xbb\xbfa,b\r\n\"x,1\",\r\n,\"\"\r\n";
        let csv = CsvIn::new(&text[..], "f.csv".into()).unwrap();
        assert_eq!(
            csv.column("a"),
            Some(0),
            "the byte order mark is not in the name"
        );
        assert_eq!(
            rows(text),
            Ok(vec![
                vec!["x,1".into(), String::new()],
                vec![String::new(); 2]
            ])
        );
        assert_eq!(
            rows(b"a,b\n1,2\n\xc3\xa9,\xff\n"),
            Err("f.csv:3: field 2 is not valid UTF-8".into())
        );
        // As the `csv` crate counted: the `\n` of a `\r\n` is read with the next row.
        assert_eq!(
            rows(b"a,b\r\n1,2\r\n1,2,3\r\n"),
            Err("f.csv:2: 3 fields, but the header has 2".into())
        );
        assert_eq!(
            rows(b"a,\xff\n"),
            Err("f.csv:1: field 2 is not valid UTF-8".into())
        );
        assert_eq!(
            rows(b"\n\n").map(|_| ()),
            Err("f.csv:1: no header line (the file is empty)".into())
        );
    }

    #[test]
    fn an_io_error_ends_the_rows() {
        struct Failing(bool);
        impl io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if mem::replace(&mut self.0, true) {
                    return Err(io::Error::other("disk on fire"));
                }
                buf[..8].copy_from_slice(b"a,b\n1,2\n");
                Ok(8)
            }
        }
        let mut csv = CsvIn::new(Failing(false), "f.csv".into()).unwrap();
        assert!(matches!(csv.next_record(), Some(Ok(()))));
        assert_eq!(csv.cell(Some(1)), "2");
        let e = csv.next_record().unwrap().unwrap_err();
        assert_eq!(e.to_string(), "f.csv: disk on fire");
        assert!(csv.next_record().is_none());
    }
}
