//! Cluster-mode trials: a protocol version 2 platform that checks every command number as
//! it processes it and resumes with `hello`'s `last_cmd` on whichever node serves
//! (docs/protocol.md, "Version 2"), and a seeded random source for the moments of faults.

use super::Client;
use serde_json::Value;
use std::io::{BufRead as _, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The platform acknowledges its commands every this many.
const ACK_EVERY: u64 = 8;

/// A version 2 platform: one connection at a time, to the active node.
pub struct Platform {
    id: String,
    token: Option<String>,
    conn: Option<Client>,
    /// The last command processed: the next must carry the next number (no gap, none
    /// twice), also on a new connection to another node.
    pub last_cmd: u64,
    /// The last command acknowledged with `ack`.
    acked: u64,
    /// Every command processed, in the order of its number.
    pub commands: Vec<String>,
    /// Commands a resume brought (those between `welcome` and the answer to the `ack`
    /// the platform sends right after it), over all connections.
    pub resumed: u64,
    /// What was read of a line not yet whole.
    partial: String,
}

/// What [`Platform::next_answer`] heard.
#[derive(Debug)]
pub enum Heard {
    /// The answer to the line with this `seq`: `Ok`, or the error's code.
    Answer(u64, Result<(), String>),
    /// Nothing within the read timeout.
    Silent,
    /// The connection ended (or there is none).
    Closed,
}

impl Platform {
    #[must_use]
    pub fn new(id: &str, token: Option<&str>) -> Platform {
        Platform {
            id: id.to_owned(),
            token: token.map(str::to_owned),
            conn: None,
            last_cmd: 0,
            acked: 0,
            commands: Vec::new(),
            resumed: 0,
            partial: String::new(),
        }
    }

    /// Says `hello` (version 2, `last_cmd` the last command processed) to `addr`: `Ok` once
    /// welcomed (resuming where the platform is), else why not (a standby's `not_active`,
    /// nobody listening).
    pub fn hello(&mut self, addr: SocketAddr) -> Result<(), String> {
        self.drop_connection();
        let mut c = Client::try_connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        let token = self
            .token
            .as_ref()
            .map_or_else(String::new, |t| format!(r#","token":"{t}""#));
        let hello = format!(
            r#"{{"ev":"hello","platform":"{}"{token},"protocol":2,"last_cmd":{}}}"#,
            self.id, self.last_cmd
        );
        if !c.try_send(&hello) {
            return Err(format!("{addr}: closed"));
        }
        let line = c.recv().unwrap_or_default();
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        if v["cmd"] != "welcome" {
            return Err(line);
        }
        assert_eq!(
            v["last_cmd"].as_u64(),
            Some(self.last_cmd),
            "welcome must resume after the last command processed: {line}"
        );
        self.conn = Some(c);
        // The commands kept for the platform come right after `welcome`, before anything
        // its lines cause: an `ack` with a `seq` (it causes no command) marks their end.
        let before = self.last_cmd;
        assert!(self.send(&format!(r#"{{"ev":"ack","upto":{before},"seq":0}}"#)));
        match self.next_answer() {
            Heard::Answer(0, Ok(())) => {}
            other => panic!("the resume's `ack` was answered with {other:?}"),
        }
        self.resumed += self.last_cmd - before;
        Ok(())
    }

    /// Says `hello` to each of `addrs` in turn until one welcomes (bounded by `within`):
    /// its index.
    #[track_caller]
    pub fn hello_any(&mut self, addrs: &[SocketAddr], within: Duration) -> usize {
        let until = Instant::now() + within;
        loop {
            let mut why = Vec::new();
            for (i, a) in addrs.iter().enumerate() {
                match self.hello(*a) {
                    Ok(()) => return i,
                    Err(e) => why.push(e),
                }
            }
            assert!(Instant::now() < until, "nobody serves: {why:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `line`; `false` without a connection or when it is gone.
    pub fn send(&mut self, line: &str) -> bool {
        self.conn.as_mut().is_some_and(|c| c.try_send(line))
    }

    /// The connection is dropped with whatever it had not read: the platform never saw
    /// those commands (a crash, a cut link); a resume must bring them again.
    pub fn drop_connection(&mut self) {
        self.conn = None;
        self.partial.clear();
    }

    /// The next answer (`ok` or `error` with `seq`), processing the commands before it.
    pub fn next_answer(&mut self) -> Heard {
        loop {
            let Some(c) = &mut self.conn else {
                return Heard::Closed;
            };
            // A read that times out keeps what it read of a line in `partial`.
            match c.reader_mut().read_line(&mut self.partial) {
                Ok(0) => {
                    self.conn = None;
                    self.partial.clear();
                    return Heard::Closed;
                }
                Ok(_) if self.partial.ends_with('\n') => {}
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Heard::Silent;
                }
                Err(_) => {
                    self.conn = None;
                    self.partial.clear();
                    return Heard::Closed;
                }
            }
            let line = std::mem::take(&mut self.partial).trim_end().to_owned();
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON from the daemon ({e}): {line}"));
            if let Some(no) = v.get("cmd_no").and_then(Value::as_u64) {
                self.process(no, line);
                continue;
            }
            return match (v["cmd"].as_str(), v["seq"].as_u64()) {
                (Some("ok"), Some(seq)) => Heard::Answer(seq, Ok(())),
                (Some("error"), Some(seq)) => {
                    Heard::Answer(seq, Err(v["code"].as_str().unwrap_or_default().to_owned()))
                }
                _ => panic!("a line that is neither a command nor an answer: {line}"),
            };
        }
    }

    /// Processes command `no`: it must be the next; acknowledged every [`ACK_EVERY`].
    fn process(&mut self, no: u64, line: String) {
        assert!(
            no > self.last_cmd,
            "command {no} came twice (the last processed is {}): {line}",
            self.last_cmd
        );
        assert_eq!(
            no,
            self.last_cmd + 1,
            "commands {} to {} were lost: {line}",
            self.last_cmd + 1,
            no - 1
        );
        self.last_cmd = no;
        self.commands.push(line);
        if self.last_cmd >= self.acked + ACK_EVERY {
            let ack = format!(r#"{{"ev":"ack","upto":{}}}"#, self.last_cmd);
            if self.send(&ack) {
                self.acked = self.last_cmd;
            }
        }
    }

    /// Sets how long [`next_answer`](Self::next_answer) waits for a line on this connection
    /// (a new one waits `WAIT`).
    pub fn read_timeout(&mut self, d: Duration) {
        if let Some(c) = &mut self.conn {
            let _ = c.reader_mut().get_ref().set_read_timeout(Some(d));
        }
    }

    /// Whether a connection is open.
    #[must_use]
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }
}

/// A seeded random source (SplitMix64): the same seed makes the same trial.
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}
