//! Incremental line framing: bytes from any number of reads in, lines out.
//!
//! Lines end at `\n`; one `\r` before it is stripped. A line is at most
//! [`MAX_LINE`] bytes without its terminator. A longer line is reported once
//! ([`FrameError::LineTooLong`]) and the rest of it is dropped as it arrives, up to its
//! `\n`, without being buffered; then framing goes on. The framer never holds more than
//! `max_line + 1` bytes of an unfinished line plus the chunk last pushed.
//!
//! Blank lines (empty or only ASCII whitespace) are skipped, but counted: line numbers are
//! those an editor shows for the byte stream of the connection, starting at 1.

use crate::error::{ProtoError, ProtoErrorKind};
use bytes::{Buf, BytesMut};

/// The longest line accepted, in bytes, without its `\n` or `\r\n` (docs/protocol.md: 64 KiB).
pub const MAX_LINE: usize = 65536;

/// One complete, non-blank, UTF-8 line, borrowed from the framer until its next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// Line number on the connection, from 1.
    pub number: u64,
    /// The line without its terminator.
    pub text: &'a str,
}

/// A line the framer cannot hand out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Reported once per over-long line; the line is discarded.
    #[error("line {line}: longer than {max} bytes")]
    LineTooLong { line: u64, max: usize },
    /// The line is not UTF-8 (`at`: offset of the first bad byte in the line, from 0).
    #[error("line {line}: invalid UTF-8 at column {}", .at + 1)]
    InvalidUtf8 { line: u64, at: usize },
}

impl FrameError {
    /// The number of the line at fault.
    #[must_use]
    pub fn line(&self) -> u64 {
        match self {
            FrameError::LineTooLong { line, .. } | FrameError::InvalidUtf8 { line, .. } => *line,
        }
    }
}

impl From<FrameError> for ProtoError {
    /// `line_too_long` or `bad_json`; the line number is left to the caller
    /// ([`FrameError::line`]).
    fn from(e: FrameError) -> ProtoError {
        ProtoError::new(match e {
            FrameError::LineTooLong { max, .. } => ProtoErrorKind::LineTooLong { max },
            FrameError::InvalidUtf8 { at, .. } => ProtoErrorKind::InvalidUtf8 { at },
        })
    }
}

/// The framer of one connection.
///
/// ```
/// use vaxel_proto::Framer;
/// let mut f = Framer::new();
/// f.push(b"{\"ev\":\"tick\",\"at\":1}\r\n{\"ev\":");
/// assert_eq!(f.next_line().unwrap().unwrap().text, r#"{"ev":"tick","at":1}"#);
/// assert!(f.next_line().is_none()); // waits for the rest of line 2
/// f.push(b"\"tick\",\"at\":2}\n");
/// assert_eq!(f.next_line().unwrap().unwrap().number, 2);
/// ```
///
/// Call [`next_line`](Self::next_line) until it returns `None` after each
/// [`push`](Self::push): the memory bound assumes it.
#[derive(Debug)]
pub struct Framer {
    /// Unconsumed bytes: the line handed out last (`consumed` bytes) and what follows.
    buf: BytesMut,
    /// Bytes at the front of `buf` that belong to lines already handed out; dropped at the
    /// next call (the returned `Line` borrows them until then).
    consumed: usize,
    /// How far past `consumed` the search for `\n` has looked without finding one, so that
    /// a long line arriving in many reads is scanned once.
    scanned: usize,
    /// Inside an over-long line that was already reported: drop bytes up to its `\n`.
    discarding: bool,
    /// Number of the last line started (handed out, skipped or reported).
    line: u64,
    /// The limit in force ([`MAX_LINE`] unless built with [`Framer::with_max_line`]).
    max_line: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    /// A framer with the protocol's limit, [`MAX_LINE`].
    #[must_use]
    pub fn new() -> Framer {
        Framer::with_max_line(MAX_LINE)
    }

    /// A framer with another line limit (tests, tools).
    #[must_use]
    pub fn with_max_line(max_line: usize) -> Framer {
        Framer {
            buf: BytesMut::new(),
            consumed: 0,
            scanned: 0,
            discarding: false,
            line: 0,
            max_line,
        }
    }

    /// The line limit in force.
    #[must_use]
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// The number of the last line handed out, skipped or reported (0 before the first).
    #[must_use]
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// Bytes held for lines not handed out yet.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.consumed
    }

    /// Feeds bytes as read from the connection, in any chunking.
    pub fn push(&mut self, mut data: &[u8]) {
        self.release();
        if self.discarding {
            match find_newline(data) {
                None => return,
                Some(i) => {
                    self.discarding = false;
                    data = &data[i + 1..];
                }
            }
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete line, an error for a line that cannot be handed out, or `None`
    /// when more bytes are needed.
    pub fn next_line(&mut self) -> Option<Result<Line<'_>, FrameError>> {
        self.release();
        let len = loop {
            let Some(i) = find_newline(&self.buf[self.scanned..]) else {
                self.scanned = self.buf.len();
                return self.check_unterminated();
            };
            let end = self.scanned + i;
            self.scanned = 0;
            self.consumed = end + 1;
            self.line += 1;
            let len = content_len(&self.buf[..end]);
            if !self.is_blank(len) {
                break len;
            }
            self.release();
        };
        Some(self.complete(len))
    }

    /// At the end of the stream: the last line if it had no `\n` (treated as if it had).
    /// The framer is then empty.
    pub fn finish(&mut self) -> Option<Result<Line<'_>, FrameError>> {
        self.release();
        self.scanned = 0;
        if self.discarding {
            self.discarding = false;
            self.buf.clear();
            return None;
        }
        if self.buf.is_empty() {
            return None;
        }
        self.line += 1;
        self.consumed = self.buf.len();
        let len = content_len(&self.buf);
        if self.is_blank(len) {
            return None;
        }
        Some(self.complete(len))
    }

    /// Whether `buf[..len]` is a blank line (skipped; an over-long one is not blank).
    fn is_blank(&self, len: usize) -> bool {
        len <= self.max_line && self.buf[..len].iter().all(u8::is_ascii_whitespace)
    }

    /// Hands out the non-blank line `buf[..len]` (already counted and marked consumed).
    fn complete(&self, len: usize) -> Result<Line<'_>, FrameError> {
        if len > self.max_line {
            return Err(FrameError::LineTooLong {
                line: self.line,
                max: self.max_line,
            });
        }
        match std::str::from_utf8(&self.buf[..len]) {
            Ok(text) => Ok(Line {
                number: self.line,
                text,
            }),
            Err(e) => Err(FrameError::InvalidUtf8 {
                line: self.line,
                at: e.valid_up_to(),
            }),
        }
    }

    /// With no `\n` in `buf`: reports the unfinished line once it can no longer fit, and
    /// drops it.
    fn check_unterminated(&mut self) -> Option<Result<Line<'_>, FrameError>> {
        let n = self.buf.len();
        // `max_line + 1` bytes ending in `\r` may still be a full line if `\n` follows.
        let may_fit = n <= self.max_line || (n == self.max_line + 1 && self.buf[n - 1] == b'\r');
        if may_fit {
            return None;
        }
        self.line += 1;
        self.buf.clear();
        self.scanned = 0;
        self.discarding = true;
        Some(Err(FrameError::LineTooLong {
            line: self.line,
            max: self.max_line,
        }))
    }

    /// Drops the bytes of the line handed out last.
    fn release(&mut self) {
        if self.consumed > 0 {
            self.buf.advance(self.consumed);
            self.consumed = 0;
        }
    }
}

/// Length of a line without one trailing `\r`.
fn content_len(line: &[u8]) -> usize {
    match line.last() {
        Some(b'\r') => line.len() - 1,
        _ => line.len(),
    }
}

/// Position of the first `\n` (memchr: vectorised where the CPU allows).
fn find_newline(hay: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', hay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a framer hands out, owned.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Item {
        Line(u64, String),
        Err(FrameError),
    }

    fn own(item: Result<Line<'_>, FrameError>) -> Item {
        match item {
            Ok(l) => Item::Line(l.number, l.text.to_owned()),
            Err(e) => Item::Err(e),
        }
    }

    fn drain(f: &mut Framer, out: &mut Vec<Item>) {
        while let Some(item) = f.next_line() {
            out.push(own(item));
        }
    }

    /// Frames `stream` cut at `cuts`, checking the memory bound after every push.
    fn frame(max: usize, stream: &[u8], cuts: &[usize]) -> Vec<Item> {
        let mut f = Framer::with_max_line(max);
        let mut out = Vec::new();
        let mut at = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
        cuts.sort_unstable();
        cuts.push(stream.len());
        for c in cuts {
            let chunk = &stream[at..c];
            f.push(chunk);
            assert!(f.buffered() <= max + 1 + chunk.len(), "buffer bound");
            drain(&mut f, &mut out);
            at = c;
        }
        if let Some(item) = f.finish() {
            out.push(own(item));
        }
        assert!(f.finish().is_none());
        out
    }

    /// The reference: split on `\n`, strip one `\r`, judge each line alone.
    fn model(max: usize, stream: &[u8]) -> Vec<Item> {
        let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
        if parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let mut out = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            let line = i as u64 + 1;
            let part = part.strip_suffix(b"\r").unwrap_or(part);
            if part.len() > max {
                out.push(Item::Err(FrameError::LineTooLong { line, max }));
            } else if part.iter().all(u8::is_ascii_whitespace) {
            } else {
                match std::str::from_utf8(part) {
                    Ok(s) => out.push(Item::Line(line, s.to_owned())),
                    Err(e) => out.push(Item::Err(FrameError::InvalidUtf8 {
                        line,
                        at: e.valid_up_to(),
                    })),
                }
            }
        }
        out
    }

    #[test]
    fn lines_split_and_joined() {
        let mut f = Framer::new();
        f.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 1,
                text: "{\"a\":1}"
            }))
        );
        assert_eq!(f.next_line(), None);
        f.push(b":2}\r\n\n  \r\n{\"c\":3}\n");
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 2,
                text: "{\"b\":2}"
            }))
        );
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 5,
                text: "{\"c\":3}"
            }))
        );
        assert_eq!(f.next_line(), None);
        assert_eq!(f.line_number(), 5);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn over_long_line_is_reported_once_and_skipped() {
        let mut f = Framer::with_max_line(8);
        f.push(b"123456789");
        assert_eq!(
            f.next_line(),
            Some(Err(FrameError::LineTooLong { line: 1, max: 8 }))
        );
        assert_eq!(f.buffered(), 0);
        f.push(&[b'x'; 1000]);
        assert_eq!(f.buffered(), 0, "the rest of the line is not buffered");
        assert_eq!(f.next_line(), None);
        f.push(b"xx\nok\n");
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 2,
                text: "ok"
            }))
        );
        assert_eq!(f.next_line(), None);
    }

    #[test]
    fn max_line_exactly_with_crlf_arriving_late() {
        let mut f = Framer::with_max_line(4);
        f.push(b"abcd\r");
        assert_eq!(f.next_line(), None);
        f.push(b"\n");
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 1,
                text: "abcd"
            }))
        );
        f.push(b"abcd\rx\n");
        assert_eq!(
            f.next_line(),
            Some(Err(FrameError::LineTooLong { line: 2, max: 4 }))
        );
        assert_eq!(f.next_line(), None);
    }

    #[test]
    fn the_real_limit_is_64_kib() {
        let mut f = Framer::new();
        let mut line = vec![b' '; MAX_LINE - 2];
        line.insert(0, b'{');
        line.push(b'}');
        f.push(&line);
        f.push(b"\n");
        assert_eq!(
            f.next_line().map(|r| r.map(|l| l.text.len())),
            Some(Ok(MAX_LINE))
        );
        line.push(b' ');
        line.push(b'\n');
        f.push(&line);
        assert_eq!(
            f.next_line(),
            Some(Err(FrameError::LineTooLong {
                line: 2,
                max: MAX_LINE
            }))
        );
    }

    #[test]
    fn invalid_utf8_is_an_item_not_a_panic() {
        let mut f = Framer::new();
        f.push(b"ab\xffcd\nok\n");
        assert_eq!(
            f.next_line(),
            Some(Err(FrameError::InvalidUtf8 { line: 1, at: 2 }))
        );
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 2,
                text: "ok"
            }))
        );
        let e: ProtoError = FrameError::InvalidUtf8 { line: 1, at: 2 }.into();
        assert_eq!(e.code().as_str(), "bad_json");
        assert_eq!(e.to_string(), "invalid UTF-8 at column 3");
        let e: ProtoError = FrameError::LineTooLong {
            line: 1,
            max: MAX_LINE,
        }
        .into();
        assert_eq!(e.code().as_str(), "line_too_long");
        assert_eq!(e.to_string(), "line longer than 65536 bytes");
    }

    #[test]
    fn finish_hands_out_the_unterminated_tail() {
        let mut f = Framer::new();
        f.push(b"a\nb\r");
        assert_eq!(
            f.next_line(),
            Some(Ok(Line {
                number: 1,
                text: "a"
            }))
        );
        assert_eq!(f.next_line(), None);
        assert_eq!(
            f.finish(),
            Some(Ok(Line {
                number: 2,
                text: "b"
            }))
        );
        assert_eq!(f.finish(), None);
    }

    fn stream_strategy() -> impl Strategy<Value = Vec<u8>> {
        let line = prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(b"{}\"ab ".to_vec()),
                1 => Just(b'\r'),
                1 => Just(b' '),
                1 => any::<u8>().prop_filter("no newline", |&b| b != b'\n'),
            ],
            0..40,
        );
        prop::collection::vec((line, any::<bool>()), 0..12).prop_map(|lines| {
            let mut s = Vec::new();
            for (l, crlf) in lines {
                s.extend_from_slice(&l);
                if crlf {
                    s.push(b'\r');
                }
                s.push(b'\n');
            }
            s
        })
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_model_lines(
            max in 1usize..24,
            stream in stream_strategy(),
            tail in prop::collection::vec(any::<u8>(), 0..4),
            cuts in prop::collection::vec(0usize..600, 0..20),
        ) {
            let mut stream = stream;
            stream.extend(tail.iter().filter(|&&b| b != b'\n'));
            let expected = model(max, &stream);
            prop_assert_eq!(frame(max, &stream, &[]), expected.clone());
            prop_assert_eq!(frame(max, &stream, &cuts), expected.clone());
            let every_byte: Vec<usize> = (0..stream.len()).collect();
            prop_assert_eq!(frame(max, &stream, &every_byte), expected);
        }

        #[test]
        fn find_newline_is_position(hay in prop::collection::vec(
            prop_oneof![Just(b'\n'), any::<u8>()], 0..70)) {
            prop_assert_eq!(find_newline(&hay), hay.iter().position(|&b| b == b'\n'));
        }
    }
}
