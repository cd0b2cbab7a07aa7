//! The live feed of `vaxel top`: `GET /api/v1/stream` over a plain TCP connection (HTTP/1.1,
//! chunked or not), its server-sent events parsed into snapshots, on a thread of its own
//! that reconnects by itself. The token goes in the `Authorization` header.
//!
//! Everything read from the network is bounded: a header block of 64 KiB, an event of
//! 16 MiB, a read that waits 30 s (the daemon sends a keep-alive every 15 s).

use super::model::Snap;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::sync::mpsc::Sender;
use std::time::Duration;

/// Longest header block accepted.
const MAX_HEADERS: usize = 64 * 1024;
/// Longest event accepted (a snapshot of a large site is well below).
const MAX_EVENT: usize = 16 * 1024 * 1024;
/// Silence after which the connection counts as dropped.
const SILENCE: Duration = Duration::from_secs(30);

/// What the feed tells the screen.
#[derive(Debug)]
pub enum Feed {
    Snapshot(Box<Snap>),
    /// The stream dropped (why); the feed reconnects.
    Stale(String),
    /// The daemon refused the token: reconnecting would not help.
    Refused(String),
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: String,
    pub token: Option<String>,
}

/// Runs the feed until `tx`'s receiver is gone; reconnects after 2 s, then up to 10 s.
pub fn run(target: &Target, tx: &Sender<Feed>) {
    let mut delay = Duration::from_secs(2);
    loop {
        let r = stream(target, &mut |snap| {
            delay = Duration::from_secs(2);
            tx.send(Feed::Snapshot(Box::new(snap))).is_ok()
        });
        let msg = match r {
            Ok(()) => "the stream ended".to_owned(),
            Err(Failure::Refused(m)) => {
                let _ = tx.send(Feed::Refused(m));
                return;
            }
            Err(Failure::Gone) => return,
            Err(Failure::Other(m)) => m,
        };
        if tx.send(Feed::Stale(msg)).is_err() {
            return;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Why a connection ended.
#[derive(Debug)]
pub enum Failure {
    Refused(String),
    /// The screen is gone: stop.
    Gone,
    Other(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Other(e.to_string())
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, Failure> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| Failure::Other(format!("{addr}: no address")))
}

/// One connection: calls `on_snap` for every snapshot until the stream ends, fails, or
/// `on_snap` returns false.
pub fn stream(target: &Target, on_snap: &mut dyn FnMut(Snap) -> bool) -> Result<(), Failure> {
    let addr = resolve(&target.addr)?;
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    sock.set_read_timeout(Some(SILENCE))?;
    let auth = target
        .token
        .as_deref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        sock,
        "GET /api/v1/stream HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{auth}Connection: close\r\n\r\n",
        target.addr
    )?;
    let mut r = BufReader::new(sock);
    let (status, chunked) = headers(&mut r)?;
    match status {
        200 => {}
        401 | 403 => {
            return Err(Failure::Refused(format!(
                "the daemon refused the token (HTTP {status}); give an operator token with --token or VAXEL_TOKEN"
            )));
        }
        s => return Err(Failure::Other(format!("HTTP {s}"))),
    }
    let mut events = Events::default();
    if chunked {
        loop {
            let mut size = String::new();
            if read_line(&mut r, &mut size, 1024)? == 0 {
                return Ok(());
            }
            let hex = size.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(hex, 16)
                .map_err(|_| Failure::Other(format!("bad chunk size {hex:?}")))?;
            if n == 0 {
                return Ok(());
            }
            if n > MAX_EVENT {
                return Err(Failure::Other(format!("a chunk of {n} bytes")));
            }
            let mut buf = vec![0; n];
            r.read_exact(&mut buf)?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
            if !events.feed(&buf, on_snap)? {
                return Err(Failure::Gone);
            }
        }
    } else {
        let mut buf = [0u8; 8192];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            if !events.feed(&buf[..n], on_snap)? {
                return Err(Failure::Gone);
            }
        }
    }
}

/// A line of at most `max` bytes (longer is an error), CRLF or LF kept.
fn read_line(r: &mut impl BufRead, out: &mut String, max: usize) -> Result<usize, Failure> {
    let n = r.take(max as u64 + 1).read_line(out)?;
    if n > max {
        return Err(Failure::Other("a line too long".into()));
    }
    Ok(n)
}

/// The status code, and whether the body is chunked.
fn headers(r: &mut impl BufRead) -> Result<(u16, bool), Failure> {
    let mut line = String::new();
    read_line(r, &mut line, 1024)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::Other(format!("not an HTTP answer: {:?}", line.trim())))?;
    let mut chunked = false;
    let mut total = 0;
    loop {
        line.clear();
        let n = read_line(r, &mut line, MAX_HEADERS)?;
        total += n;
        if n == 0 || total > MAX_HEADERS {
            return Err(Failure::Other("the headers did not end".into()));
        }
        let l = line.trim();
        if l.is_empty() {
            return Ok((status, chunked));
        }
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("transfer-encoding")
            && v.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
}

/// Server-sent events: lines in, the `data` of each event out.
#[derive(Debug, Default)]
struct Events {
    line: Vec<u8>,
    data: String,
}

impl Events {
    /// Feeds bytes; false when `on_snap` asked to stop.
    fn feed(
        &mut self,
        bytes: &[u8],
        on_snap: &mut dyn FnMut(Snap) -> bool,
    ) -> Result<bool, Failure> {
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                if self.line.len() > MAX_EVENT {
                    return Err(Failure::Other("an event too long".into()));
                }
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.line.clear();
            if line.is_empty() {
                if !self.data.is_empty() {
                    let data = std::mem::take(&mut self.data);
                    if let Ok(snap) = serde_json::from_str::<Snap>(&data)
                        && !on_snap(snap)
                    {
                        return Ok(false);
                    }
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(d.strip_prefix(' ').unwrap_or(d));
                if self.data.len() > MAX_EVENT {
                    return Err(Failure::Other("an event too long".into()));
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads_make_snapshots() {
        let mut ev = Events::default();
        let mut got = Vec::new();
        let text = "event: snapshot\r\nid: 3\r\ndata: {\"at\":5,\"site\":\"S\",\"crisis\":true,\"groups\":[],\"agents\":[]}\r\n\r\n:keep-alive\n\n";
        let (a, b) = text.as_bytes().split_at(40);
        for part in [a, b] {
            let r = ev.feed(part, &mut |s| {
                got.push(s);
                true
            });
            assert!(r.is_ok());
        }
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].at, got[0].crisis), (5, true));
    }
}
