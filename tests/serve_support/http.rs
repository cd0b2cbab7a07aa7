//! A small HTTP/1.1 client over `TcpStream` for the daemon's HTTP side: one request per
//! connection (`Connection: close`), chunked bodies decoded, and a reader of the
//! server-sent event stream. No client library: the tests see the bytes the daemon sends.

use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a connect, a read or a write may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A connection with [`IO_TIMEOUT`] on every step.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s
}

/// A request head with `Connection: close`, the bearer `token` if any, and a
/// `Content-Length` of `len` on a `POST`.
pub fn request_head(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    len: usize,
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Splits a response head: status and headers.
fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

/// One request on a fresh connection (`Connection: close`), the whole response read.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Resp {
    let mut s = connect(addr);
    let body = body.unwrap_or_default();
    let head = request_head(addr, method, path, token, body.len());
    s.write_all(head.as_bytes()).expect("write request");
    // A server may answer (413) before reading everything: a failed write is not fatal.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        assert!(!raw.is_empty(), "read response: {e}");
    }
    let split = find(&raw, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(&raw)));
    let (status, headers) = parse_head(&String::from_utf8_lossy(&raw[..split]));
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut d = Dechunk {
            raw: body,
            ..Dechunk::default()
        };
        d.decode();
        body = d.out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Incremental `Transfer-Encoding: chunked` decoding.
#[derive(Default)]
struct Dechunk {
    raw: Vec<u8>,
    out: Vec<u8>,
    done: bool,
}

impl Dechunk {
    fn decode(&mut self) {
        while !self.done {
            let Some(eol) = find(&self.raw, b"\r\n") else {
                return;
            };
            let size_text = String::from_utf8_lossy(&self.raw[..eol]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
            if size == 0 {
                self.done = true;
                return;
            }
            if self.raw.len() < eol + 2 + size + 2 {
                return;
            }
            self.out
                .extend_from_slice(&self.raw[eol + 2..eol + 2 + size]);
            self.raw.drain(..eol + 2 + size + 2);
        }
    }
}

/// A server-sent event.
#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
}

/// A `GET /api/v1/stream` being read.
pub struct SseClient {
    stream: TcpStream,
    chunks: Dechunk,
    chunked: bool,
    pub status: u16,
    pub content_type: String,
}

impl SseClient {
    pub fn open(addr: SocketAddr, token: Option<&str>) -> SseClient {
        let mut s = connect(addr);
        let head = request_head(addr, "GET", "/api/v1/stream", token, 0);
        s.write_all(head.as_bytes()).expect("write request");
        let mut raw = Vec::new();
        let deadline = Instant::now() + IO_TIMEOUT;
        let split = loop {
            if let Some(i) = find(&raw, b"\r\n\r\n") {
                break i;
            }
            assert!(Instant::now() < deadline, "no response head");
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).expect("read head");
            assert!(n > 0, "connection closed before the head");
            raw.extend_from_slice(&buf[..n]);
        };
        let (status, headers) = parse_head(&String::from_utf8_lossy(&raw[..split]));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let chunked = get("transfer-encoding").contains("chunked");
        let content_type = get("content-type");
        let chunks = Dechunk {
            raw: raw[split + 4..].to_vec(),
            ..Dechunk::default()
        };
        SseClient {
            stream: s,
            chunks,
            chunked,
            status,
            content_type,
        }
    }

    /// The next event (keep-alive comments skipped), or `None` at `deadline`.
    pub fn next(&mut self, deadline: Instant) -> Option<SseEvent> {
        loop {
            if !self.chunked {
                let raw = std::mem::take(&mut self.chunks.raw);
                self.chunks.out.extend_from_slice(&raw);
            } else {
                self.chunks.decode();
            }
            if let Some(end) = find(&self.chunks.out, b"\n\n") {
                let block: Vec<u8> = self.chunks.out.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&block).into_owned();
                let mut e = SseEvent {
                    event: String::new(),
                    id: String::new(),
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        e.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        e.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        e.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if e.event.is_empty() && e.data.is_empty() {
                    continue; // a comment (keep-alive) or `retry:` alone
                }
                return Some(e);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("timeout");
            let mut buf = [0u8; 16 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.chunks.raw.extend_from_slice(&buf[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Events until one whose snapshot satisfies `ok`, or panics at `deadline`.
    pub fn until(&mut self, within: Duration, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(e) = self.next(deadline) {
            assert_eq!(e.event, "snapshot", "{e:?}");
            let v: Value = serde_json::from_str(&e.data).expect("event data is JSON");
            if ok(&v) {
                return v;
            }
            seen.push(e.id);
        }
        panic!("no snapshot event with {what} within {within:?} (events seen: {seen:?})");
    }
}
