//! One platform connection of the load generator: connect, `hello` → `welcome`, then a
//! writer task (writes the batches the driver hands it) and a reader task (frames and
//! decodes the daemon's lines, stamps them with the moment they were read, and passes
//! them on). Nothing the daemon sends can make these tasks panic: a line that does not
//! decode is passed on as text, a closed or broken socket as [`Incoming::Closed`].
//!
//! Protocol version 2 (the default; `--protocol 1` for the first version): the reader
//! checks that command numbers (`cmd_no`) follow each other without a gap or a repeat
//! (anything else is passed on as a bad line) and hands the driver plain commands, with
//! the last number of each batch ([`Incoming::Lines::last_cmd`]); the caller acknowledges
//! a batch once the driver has processed it ([`ack_line`]).

use anyhow::{Context as _, bail};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use vaxel_proto::{
    Event, Framer, Hello, PROTOCOL_V2, PROTOCOL_VERSION, PlatformMessage, ServerMessage,
    decode_server, encode_platform,
};

/// How long connecting and the `hello` exchange may take.
const HANDSHAKE: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 256 * 1024;
/// Batches waiting for a connection's writer at most (backpressure on the driver).
const WRITE_QUEUE: usize = 64;

/// Which connection a message comes from: its index among the tool's connections, and
/// the session (each connection made, the first or again after a reconnect, has its own),
/// so that what a closed connection's tasks still pass on is told apart from its
/// successor's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub conn: usize,
    pub session: u64,
}

/// What the reader tasks pass to the driver.
#[derive(Debug)]
pub enum Incoming {
    /// Lines read from connection `link` in one read (or a few back to back).
    Lines {
        link: Link,
        read_at: Instant,
        msgs: Vec<Result<ServerMessage, String>>,
        /// Version 2: the number of the last command among them, to acknowledge once
        /// they are processed.
        last_cmd: Option<u64>,
    },
    /// The connection ended (closed by the daemon, or an I/O error).
    Closed { link: Link, reason: String },
}

/// Who says `hello`, and (version 2) from which command on.
#[derive(Clone, Copy, Debug)]
pub struct Greeting<'a> {
    pub platform: &'a str,
    pub token: Option<&'a str>,
    pub protocol: u64,
    /// Version 2: resume after this command (the last one processed).
    pub last_cmd: Option<u64>,
}

/// The driver's side of a connection: where its bytes go.
#[derive(Debug)]
pub struct ConnHandle {
    pub platform: String,
    pub tx: mpsc::Sender<Bytes>,
    /// Version 2: the command the daemon resumed after (`welcome`'s `last_cmd`).
    pub resumed_after: Option<u64>,
}

/// Connects, says `hello` and waits for `welcome`; then starts the reader and writer
/// tasks, which pass on what they see as `link`. Refusals (`unauthorized`,
/// `unsupported_protocol`, `resume_gone`), a closed connection and timeouts are errors
/// that say what happened.
pub async fn open(
    addr: &str,
    hello: Greeting<'_>,
    link: Link,
    incoming: mpsc::UnboundedSender<Incoming>,
) -> anyhow::Result<ConnHandle> {
    let stream = tokio::time::timeout(HANDSHAKE, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {addr}: no answer within {HANDSHAKE:?}"))?
        .with_context(|| format!("cannot connect to the daemon at {addr}"))?;
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = Framer::new();

    let line = hello_line(hello.platform, hello.token, hello.protocol, hello.last_cmd);
    let welcome = tokio::time::timeout(HANDSHAKE, async {
        wr.write_all(&line)
            .await
            .with_context(|| format!("{addr}: cannot send hello"))?;
        first_line(&mut rd, &mut framer, addr).await
    })
    .await
    .map_err(|_| anyhow::anyhow!("{addr}: no welcome within {HANDSHAKE:?} after hello"))??;
    let resumed_after = check_welcome(addr, welcome, hello.protocol)?;

    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    let numbers = resumed_after.map(Numbers::after);
    tokio::spawn(read_loop(rd, framer, link, numbers, incoming.clone()));
    tokio::spawn(write_loop(wr, rx, link, incoming));
    Ok(ConnHandle {
        platform: hello.platform.to_owned(),
        tx,
        resumed_after,
    })
}

/// The `hello` line for `platform` in `protocol`; version 2 resumes after `last_cmd`.
pub fn hello_line(
    platform: &str,
    token: Option<&str>,
    protocol: u64,
    last_cmd: Option<u64>,
) -> BytesMut {
    let hello = Hello {
        platform: platform.into(),
        token: token.map(Into::into),
        protocol,
    };
    let body = match last_cmd {
        Some(last_cmd) => Event::Resume { hello, last_cmd },
        None => Event::Hello(hello),
    };
    let mut line = BytesMut::new();
    encode_platform(&PlatformMessage::new(body), &mut line);
    line
}

/// The version 2 acknowledgement of every command up to `upto`.
pub fn ack_line(upto: u64, out: &mut BytesMut) {
    encode_platform(&PlatformMessage::new(Event::Ack { upto }), out);
}

/// Whether the daemon's first line is a `welcome` for `protocol`; says what it was if
/// not. Version 2: the number the daemon resumes after.
pub fn check_welcome(
    addr: &str,
    first: ServerMessage,
    protocol: u64,
) -> anyhow::Result<Option<u64>> {
    match first {
        ServerMessage::Welcome { protocol: p, .. } if p == protocol && p == PROTOCOL_VERSION => {
            Ok(None)
        }
        ServerMessage::WelcomeV2 { last_cmd, .. } if protocol == PROTOCOL_V2 => Ok(Some(last_cmd)),
        ServerMessage::Welcome { protocol: p, .. } => {
            bail!("{addr}: the daemon speaks protocol {p}, this tool asked for {protocol}")
        }
        ServerMessage::WelcomeV2 { .. } => {
            bail!("{addr}: the daemon answered protocol 2, this tool asked for {protocol}")
        }
        ServerMessage::Error { code, message, .. } => {
            bail!(
                "{addr}: hello refused: {} ({message}){}",
                code.as_str(),
                if code.as_str() == "unauthorized" {
                    "; pass the platform token with --token"
                } else {
                    ""
                }
            )
        }
        other => bail!("{addr}: expected welcome after hello, got {other:?}"),
    }
}

/// Reads up to the daemon's first line.
async fn first_line(
    rd: &mut OwnedReadHalf,
    framer: &mut Framer,
    addr: &str,
) -> anyhow::Result<ServerMessage> {
    let mut buf = vec![0u8; 4096];
    loop {
        if let Some(line) = framer.next_line() {
            let line = line.map_err(|e| anyhow::anyhow!("{addr}: bad first line: {e}"))?;
            return decode_server(line.text.as_bytes())
                .map_err(|e| anyhow::anyhow!("{addr}: bad first line {:?}: {e}", line.text));
        }
        let n = rd
            .read(&mut buf)
            .await
            .with_context(|| format!("{addr}: reading the welcome"))?;
        if n == 0 {
            bail!("{addr}: the daemon closed the connection after hello");
        }
        framer.push(&buf[..n]);
    }
}

/// Version 2: the number the next command must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Numbers {
    next: u64,
}

impl Numbers {
    /// Commands numbered after `last` (the `welcome`'s `last_cmd`).
    #[must_use]
    pub fn after(last: u64) -> Numbers {
        Numbers {
            next: last.saturating_add(1),
        }
    }

    /// The last number taken (0: none).
    #[must_use]
    pub fn last(self) -> u64 {
        self.next.saturating_sub(1)
    }

    /// A numbered command as the driver takes it (plain), or why its number is wrong: every
    /// command exactly once, in order.
    pub fn take(&mut self, msg: ServerMessage) -> Result<ServerMessage, String> {
        match msg {
            ServerMessage::Numbered { no, cmd } if no == self.next => {
                self.next += 1;
                Ok(ServerMessage::Cmd(cmd))
            }
            ServerMessage::Numbered { no, cmd } => Err(format!(
                "command number {no} ({} for {}) where {} was expected: {}",
                cmd.kind(),
                cmd.call(),
                self.next,
                if no < self.next { "a repeat" } else { "a gap" }
            )),
            ServerMessage::Cmd(cmd) => Err(format!(
                "a {} for {} without its number (cmd_no) on a version 2 session",
                cmd.kind(),
                cmd.call()
            )),
            other => Ok(other),
        }
    }
}

async fn read_loop(
    mut rd: OwnedReadHalf,
    mut framer: Framer,
    link: Link,
    mut numbers: Option<Numbers>,
    incoming: mpsc::UnboundedSender<Incoming>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut read_at = Instant::now();
    loop {
        let mut msgs = Vec::new();
        let before = numbers;
        while let Some(line) = framer.next_line() {
            let msg = match line {
                Ok(l) => decode_server(l.text.as_bytes())
                    .map_err(|e| format!("line {}: {e}: {}", l.number, shorten(l.text))),
                Err(e) => Err(e.to_string()),
            };
            msgs.push(match (msg, numbers.as_mut()) {
                (Ok(m), Some(n)) => n.take(m),
                (m, _) => m,
            });
        }
        let last_cmd = numbers.filter(|n| Some(*n) != before).map(Numbers::last);
        if !msgs.is_empty()
            && incoming
                .send(Incoming::Lines {
                    link,
                    read_at,
                    msgs,
                    last_cmd,
                })
                .is_err()
        {
            return;
        }
        let reason = match rd.read(&mut buf).await {
            Ok(0) => "closed by the daemon".to_owned(),
            Ok(n) => {
                read_at = Instant::now();
                framer.push(&buf[..n]);
                continue;
            }
            Err(e) => format!("read failed: {e}"),
        };
        let _ = incoming.send(Incoming::Closed { link, reason });
        return;
    }
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Bytes>,
    link: Link,
    incoming: mpsc::UnboundedSender<Incoming>,
) {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = wr.write_all(&bytes).await {
            let _ = incoming.send(Incoming::Closed {
                link,
                reason: format!("write failed: {e}"),
            });
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// The start of a long line, for messages.
pub fn shorten(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_core::Command;

    fn numbered(no: u64) -> ServerMessage {
        ServerMessage::Numbered {
            no,
            cmd: Command::Hangup {
                call: "c1".into(),
                prompt: None,
            },
        }
    }

    #[test]
    fn numbers_must_follow_each_other_from_where_the_welcome_resumed() {
        let mut n = Numbers::after(4);
        assert!(matches!(n.take(numbered(5)), Ok(ServerMessage::Cmd(_))));
        assert_eq!(n.last(), 5);
        let gap = n.take(numbered(7)).unwrap_err();
        assert!(gap.contains("where 6 was expected: a gap"), "{gap}");
        let repeat = n.take(numbered(5)).unwrap_err();
        assert!(repeat.contains("a repeat"), "{repeat}");
        assert!(n.take(ServerMessage::Ok { seq: 1 }).is_ok());
        assert_eq!(n.last(), 5, "a refused number moves nothing");
    }
}
