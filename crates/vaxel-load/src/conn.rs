//! One platform connection of the load generator: connect, `hello` → `welcome`, then a
//! writer task (writes the batches the driver hands it) and a reader task (frames and
//! decodes the daemon's lines, stamps them with the moment they were read, and passes
//! them on). Nothing the daemon sends can make these tasks panic: a line that does not
//! decode is passed on as text, a closed or broken socket as [`Incoming::Closed`].

use anyhow::{Context as _, bail};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use vaxel_proto::{
    Event, Framer, Hello, PROTOCOL_VERSION, PlatformMessage, ServerMessage, decode_server,
    encode_platform,
};

/// How long connecting and the `hello` exchange may take.
const HANDSHAKE: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 256 * 1024;
/// Batches waiting for a connection's writer at most (backpressure on the driver).
const WRITE_QUEUE: usize = 64;

/// What the reader tasks pass to the driver.
#[derive(Debug)]
pub enum Incoming {
    /// Lines read from connection `conn` in one read (or a few back to back).
    Lines {
        conn: usize,
        read_at: Instant,
        msgs: Vec<Result<ServerMessage, String>>,
    },
    /// The connection ended (closed by the daemon, or an I/O error).
    Closed { conn: usize, reason: String },
}

/// The driver's side of a connection: where its bytes go.
#[derive(Debug)]
pub struct ConnHandle {
    pub platform: String,
    pub tx: mpsc::Sender<Bytes>,
}

/// Connects, says `hello` as `platform` and waits for `welcome`; then starts the reader and
/// writer tasks. Refusals (`unauthorized`, `unsupported_protocol`), a closed connection
/// and timeouts are errors that say what happened.
pub async fn open(
    addr: &str,
    platform: &str,
    token: Option<&str>,
    conn: usize,
    incoming: mpsc::UnboundedSender<Incoming>,
) -> anyhow::Result<ConnHandle> {
    let stream = tokio::time::timeout(HANDSHAKE, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {addr}: no answer within {HANDSHAKE:?}"))?
        .with_context(|| format!("cannot connect to the daemon at {addr}"))?;
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = Framer::new();

    let line = hello_line(platform, token);
    let welcome = tokio::time::timeout(HANDSHAKE, async {
        wr.write_all(&line)
            .await
            .with_context(|| format!("{addr}: cannot send hello"))?;
        first_line(&mut rd, &mut framer, addr).await
    })
    .await
    .map_err(|_| anyhow::anyhow!("{addr}: no welcome within {HANDSHAKE:?} after hello"))??;
    check_welcome(addr, welcome)?;

    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    tokio::spawn(read_loop(rd, framer, conn, incoming.clone()));
    tokio::spawn(write_loop(wr, rx, conn, incoming));
    Ok(ConnHandle {
        platform: platform.to_owned(),
        tx,
    })
}

/// The `hello` line for `platform`.
pub fn hello_line(platform: &str, token: Option<&str>) -> BytesMut {
    let hello = PlatformMessage::new(Event::Hello(Hello {
        platform: platform.into(),
        token: token.map(Into::into),
        protocol: PROTOCOL_VERSION,
    }));
    let mut line = BytesMut::new();
    encode_platform(&hello, &mut line);
    line
}

/// Whether the daemon's first line is a `welcome` for our protocol; says what it was if not.
pub fn check_welcome(addr: &str, first: ServerMessage) -> anyhow::Result<()> {
    match first {
        ServerMessage::Welcome { protocol, .. } if protocol == PROTOCOL_VERSION => Ok(()),
        ServerMessage::Welcome { protocol, .. } => {
            bail!("{addr}: the daemon speaks protocol {protocol}, this tool {PROTOCOL_VERSION}")
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

async fn read_loop(
    mut rd: OwnedReadHalf,
    mut framer: Framer,
    conn: usize,
    incoming: mpsc::UnboundedSender<Incoming>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut read_at = Instant::now();
    loop {
        let mut msgs = Vec::new();
        while let Some(line) = framer.next_line() {
            msgs.push(match line {
                Ok(l) => decode_server(l.text.as_bytes())
                    .map_err(|e| format!("line {}: {e}: {}", l.number, shorten(l.text))),
                Err(e) => Err(e.to_string()),
            });
        }
        if !msgs.is_empty()
            && incoming
                .send(Incoming::Lines {
                    conn,
                    read_at,
                    msgs,
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
        let _ = incoming.send(Incoming::Closed { conn, reason });
        return;
    }
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Bytes>,
    conn: usize,
    incoming: mpsc::UnboundedSender<Incoming>,
) {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = wr.write_all(&bytes).await {
            let _ = incoming.send(Incoming::Closed {
                conn,
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
