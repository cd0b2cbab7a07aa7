//! Rows split from bytes as the `csv` crate's default reader splits them.

use super::*;

/// Splits CSV bytes into records the way `csv::Reader` does with its default settings and
/// `flexible(true)`: fields separated by `,`; a field that starts with `"` is quoted, `""`
/// inside it is one `"`, and text after its closing quote is appended as is; `\n`, `\r` and
/// `\r\n` end a record; blank lines are skipped; a UTF-8 byte order mark at the very start
/// of the input is dropped. Line numbers follow `csv_core`: one more for every `\n` consumed,
/// and a record's line is the count when reading it began (so in a `\r\n` file it is that of
/// the line before, the `\n` being consumed with the next record, as `csv` does).
#[derive(Debug)]
pub(super) struct RecordReader<R> {
    src: R,
    buf: Box<[u8]>,
    /// The unread input is `buf[pos..len]`.
    pos: usize,
    len: usize,
    pub(super) line: u64,
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
    pub(super) fn new(src: R) -> Self {
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
    pub(super) fn fill(&mut self) -> io::Result<bool> {
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
    pub(super) fn read_record(
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
pub(super) fn next_low(input: &[u8], mut i: usize) -> Option<usize> {
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
pub(super) fn decode(raw: Vec<u8>, spans: &[(usize, usize)]) -> Result<String, usize> {
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
pub(super) fn utf8_reason(field: usize) -> String {
    format!("field {} is not valid UTF-8", field + 1)
}
