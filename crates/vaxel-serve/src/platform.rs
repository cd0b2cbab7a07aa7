//! One platform connection (docs/protocol.md "Session"): the first line must be an
//! accepted `hello`; then a reader turns everything available on the socket into one
//! batch of decoded lines for the engine task, and a writer writes what the engine task
//! releases. The outbound queue is bounded by bytes ([`OUTBOUND_BYTES`], and [`OUTBOUND`]
//! batches), the batches waiting for the engine task by bytes over all connections
//! ([`INBOX_BYTES`]): the engine task never waits on a socket, it closes a connection
//! whose queue is full (`slow_consumer`, once). When
//! the connection ends, the writer hands the commands it had not written back to the
//! engine task, which keeps them for the platform's return.

use crate::auth::{TokenStore, Tokens};
use crate::engine_task::{Item, OutQueue, Outbound, Request};
use crate::observe::{Observer, PlatformEvent};
use crate::pending::PendingHellos;
use crate::registry::ConnId;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use vaxel_core::Command;
use vaxel_proto::{
    Event, FrameError, Framer, Hello, Line, PROTOCOL_V2, PROTOCOL_VERSION, ProtoError,
    ProtoErrorKind, ServerMessage, decode_platform_str, encode_command, encode_server,
};

/// Batches queued for a connection's writer at most; past it the connection is a slow
/// consumer and is closed.
pub const OUTBOUND: usize = 1024;
/// Bytes (of memory, [`queued_bytes`]) queued for a connection's writer at most
/// (`--outbound-limit-bytes`): a platform that sends but never reads costs about this,
/// its socket buffers and its read buffers, not the hundreds of MB a count of batches
/// let it hold.
pub const OUTBOUND_BYTES: usize = 1 << 20;
/// Bytes of lines read and not yet applied, over every connection (the engine's inbox).
pub const INBOX_BYTES: usize = 16 << 20;
/// Bytes read from a socket into one batch at most.
const BATCH_BYTES: usize = 256 * 1024;
/// Lines in one batch at most.
const BATCH_LINES: usize = 1024;
const READ_CHUNK: usize = 64 * 1024;
/// How long a connection the daemon closes is still read (and discarded) from.
const DRAIN: Duration = Duration::from_secs(1);

/// What every connection shares.
#[derive(Debug)]
pub struct ConnCtx {
    pub engine: mpsc::Sender<Request>,
    pub tokens: Arc<TokenStore>,
    /// Outbound queue bound ([`OUTBOUND`] unless tests lower it).
    pub outbound: usize,
    pub observer: Arc<dyn Observer>,
    pub shutdown: CancellationToken,
    /// Connections not yet past `hello` (`--max-pending-hellos`).
    pub pending: PendingHellos,
    /// How long a connection may take to say `hello` (`--hello-timeout-s`).
    pub hello_timeout: Duration,
    /// Slots of sessions past `hello` (`--max-connections`).
    pub sessions: Arc<Semaphore>,
    /// The engine's inbox bound in bytes ([`INBOX_BYTES`]): a batch takes its share
    /// before it is sent and gives it back once applied.
    pub inbox: Arc<Semaphore>,
    /// Cluster mode: this node's role (a standby refuses `hello` with `not_active`);
    /// `None` in single-node mode.
    pub role: Option<Arc<crate::cluster::Role>>,
}

/// What a batch of outbound messages holds in memory: the messages themselves, and what
/// each owns alone (an error's text; a command's call id, which may outlive its call
/// there). Prompts, groups and agents are the site's shared strings.
#[must_use]
pub fn queued_bytes(msgs: &[ServerMessage]) -> usize {
    const ARC_STR: usize = 2 * std::mem::size_of::<usize>();
    let own = |m: &ServerMessage| match m {
        ServerMessage::Welcome { server, .. } => server.len(),
        ServerMessage::Ok { .. } => 0,
        ServerMessage::Error { message, .. } => message.len(),
        ServerMessage::WelcomeV2 { server, .. } => server.len(),
        ServerMessage::Cmd(c) | ServerMessage::Numbered { cmd: c, .. } => ARC_STR + c.call().len(),
    };
    std::mem::size_of::<Outbound>()
        + msgs
            .iter()
            .map(|m| std::mem::size_of::<ServerMessage>() + own(m))
            .sum::<usize>()
}

/// Takes `conn` out of the pending set however its wait ends.
struct Waiting<'a> {
    ctx: &'a ConnCtx,
    conn: ConnId,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.ctx.pending.leave(self.conn);
    }
}

/// Serves one connection to its end.
pub async fn serve(stream: TcpStream, conn: ConnId, ctx: Arc<ConnCtx>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = Framer::new();
    let mut buf = vec![0u8; READ_CHUNK];

    let (pushed_out, made_room) = ctx.pending.admit(conn);
    let waiting = Waiting { ctx: &ctx, conn };
    if made_room {
        tracing::debug!(%peer, "connections without hello at their cap: the oldest closed");
    }
    let first = tokio::select! {
        () = ctx.shutdown.cancelled() => return,
        () = pushed_out.cancelled() => return,
        r = tokio::time::timeout(ctx.hello_timeout, first_line(&mut rd, &mut framer, &mut buf)) => r,
    };
    let hello = match first {
        Err(_) => {
            tracing::info!(%peer, "no hello within {:?}: closing", ctx.hello_timeout);
            return;
        }
        Ok(None) => return,
        Ok(Some(Err(refusal))) => {
            refuse(&mut wr, &refusal, &*ctx.observer, &peer).await;
            return;
        }
        Ok(Some(Ok((hello, line, seq)))) => match check_hello(&hello.0, &ctx.tokens.current())
            .and_then(|()| match ctx.role.as_ref().and_then(|r| r.not_active()) {
                // A standby of cluster mode: the platform is told where the active is.
                Some(active) => Err(ProtoErrorKind::NotActive { active }),
                None => Ok(()),
            }) {
            Ok(()) => (hello, seq),
            Err(kind) => {
                let e = ProtoError { seq, kind };
                refuse(
                    &mut wr,
                    &ServerMessage::proto_error(&e, seq.is_none().then_some(line)),
                    &*ctx.observer,
                    &peer,
                )
                .await;
                return;
            }
        },
    };

    // A session slot; beyond `--max-connections` the platform waits here (still among
    // the pending, so it holds no session slot and may be pushed out).
    let _session = tokio::select! {
        () = ctx.shutdown.cancelled() => return,
        () = pushed_out.cancelled() => return,
        p = ctx.sessions.clone().acquire_owned() => match p {
            Ok(p) => p,
            Err(_) => return,
        },
    };
    drop(waiting);
    let (out_tx, out_rx) = mpsc::channel(ctx.outbound);
    let queued = Arc::new(AtomicUsize::new(0));
    let kill = ctx.shutdown.child_token();
    let ((hello, last_cmd), seq) = hello;
    let platform = hello.platform.clone();
    let v2 = hello.protocol >= PROTOCOL_V2;
    tracing::debug!(%peer, platform = %platform, conn, protocol = hello.protocol, "hello accepted");
    let (answer, answered) = oneshot::channel();
    let sent = ctx
        .engine
        .send(Request::Hello {
            conn,
            platform,
            protocol: hello.protocol,
            last_cmd,
            seq,
            out: OutQueue {
                tx: out_tx,
                bytes: queued.clone(),
            },
            kill: kill.clone(),
            answer,
        })
        .await;
    if sent.is_err() {
        return;
    }
    match answered.await {
        Ok(None) => {}
        Ok(Some(refusal)) => {
            refuse(&mut wr, &refusal, &*ctx.observer, &peer).await;
            return;
        }
        Err(_) => return,
    }
    let writer = tokio::spawn(write_loop(
        Session { conn, v2 },
        wr,
        out_rx,
        queued,
        kill.clone(),
        ctx.clone(),
    ));
    let eof = read_loop(&mut rd, &mut framer, &mut buf, conn, &ctx, &kill).await;
    kill.cancel();
    let _ = writer.await;
    if !eof {
        // Closed by the daemon (slow consumer, takeover, shutdown): the writer has sent
        // FIN; read and discard what the platform still sends for a moment, so that the
        // close is not a reset that would throw away commands still in flight to it.
        let _ = tokio::time::timeout(DRAIN, async {
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
}

/// A `hello` and its `last_cmd` (version 2).
type FirstHello = (Hello, Option<u64>);

/// The `hello` of a decoded first line.
fn as_hello(body: Event) -> Option<FirstHello> {
    match body {
        Event::Hello(h) => Some((h, None)),
        Event::Resume { hello, last_cmd } => Some((hello, Some(last_cmd))),
        _ => None,
    }
}

/// Reads up to the first line. `None` at end of stream; `Err` with the line to send
/// before closing when the line is not a `hello`. A `hello` comes with its line number and
/// `seq`, for the answer if it is refused.
async fn first_line(
    rd: &mut OwnedReadHalf,
    framer: &mut Framer,
    buf: &mut [u8],
) -> Option<Result<(FirstHello, u64, Option<u64>), ServerMessage>> {
    // As after `hello`: `seq` when there is one, otherwise the line.
    let answer =
        |e: &ProtoError, line: u64| ServerMessage::proto_error(e, e.seq.is_none().then_some(line));
    loop {
        if let Some(line) = framer.next_line() {
            return Some(match line {
                Err(e) => {
                    let n = e.line();
                    Err(answer(&ProtoError::from(e), n))
                }
                Ok(l) => match decode_platform_str(l.text) {
                    Err(e) => Err(answer(&e, l.number)),
                    Ok(m) => match as_hello(m.body) {
                        Some(h) => Ok((h, l.number, m.seq)),
                        None => Err(answer(
                            &ProtoError {
                                seq: m.seq,
                                kind: ProtoErrorKind::HelloFirst,
                            },
                            l.number,
                        )),
                    },
                },
            });
        }
        match rd.read(buf).await {
            Ok(0) | Err(_) => {
                // A last line without its newline still counts.
                return match framer.finish() {
                    Some(Ok(l)) => match decode_platform_str(l.text) {
                        Ok(m) => as_hello(m.body).map(|h| Ok((h, l.number, m.seq))),
                        Err(_) => None,
                    },
                    _ => None,
                };
            }
            Ok(n) => framer.push(&buf[..n]),
        }
    }
}

/// Token first (an unknown client learns nothing more), then the protocol version.
fn check_hello(h: &Hello, tokens: &Tokens) -> Result<(), ProtoErrorKind> {
    if !tokens.platform_ok(h.token.as_deref()) {
        return Err(ProtoErrorKind::BadToken);
    }
    if h.protocol != PROTOCOL_VERSION && h.protocol != PROTOCOL_V2 {
        return Err(ProtoErrorKind::UnsupportedProtocol { got: h.protocol });
    }
    Ok(())
}

/// Sends the refusal line and closes.
async fn refuse(wr: &mut OwnedWriteHalf, msg: &ServerMessage, observer: &dyn Observer, peer: &str) {
    if let ServerMessage::Error { code, message, .. } = msg {
        tracing::info!(%peer, code = code.as_str(), %message, "connection refused before hello");
        observer.protocol_error(code.as_str());
    }
    observer.platform(PlatformEvent::Rejected);
    let mut out = Vec::new();
    encode_server(msg, &mut out);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = wr.write_all(&out).await;
        let _ = wr.shutdown().await;
    })
    .await;
}

/// Turns the lines waiting in the framer into items; returns their bytes in memory (the
/// items and the lines' text, which the decoded messages hold about as much of).
fn take_lines(framer: &mut Framer, items: &mut Vec<Item>) -> usize {
    let mut bytes = 0;
    while items.len() < BATCH_LINES {
        let Some(line) = framer.next_line() else {
            break;
        };
        if let Ok(l) = &line {
            bytes += l.text.len();
        }
        items.push(item(line));
    }
    bytes + items.len() * std::mem::size_of::<Item>()
}

/// One framed line, decoded for the engine task (or the framing error, with its line).
fn item(line: Result<Line<'_>, FrameError>) -> Item {
    match line {
        Err(e) => Item {
            line: e.line(),
            msg: Err(ProtoError::from(e)),
        },
        Ok(l) => Item {
            line: l.number,
            msg: decode_platform_str(l.text),
        },
    }
}

async fn read_loop(
    rd: &mut OwnedReadHalf,
    framer: &mut Framer,
    buf: &mut [u8],
    conn: ConnId,
    ctx: &ConnCtx,
    kill: &CancellationToken,
) -> bool {
    let mut read_at = Instant::now();
    let mut eof = false;
    loop {
        // Everything decoded so far goes to the engine task as one batch per
        // BATCH_LINES lines.
        loop {
            let mut items = Vec::new();
            let bytes = take_lines(framer, &mut items);
            if eof
                && items.len() < BATCH_LINES
                && let Some(line) = framer.finish()
            {
                items.push(item(line));
            }
            if items.is_empty() {
                break;
            }
            let more = items.len() == BATCH_LINES;
            // Its share of the inbox (at most all of it, or it would wait for ever).
            let share = u32::try_from(bytes.min(INBOX_BYTES)).unwrap_or(u32::MAX);
            let budget = tokio::select! {
                () = kill.cancelled() => return false,
                p = ctx.inbox.clone().acquire_many_owned(share) => match p {
                    Ok(p) => p,
                    Err(_) => return false,
                },
            };
            let req = Request::Batch {
                conn,
                items,
                read_at,
                budget,
            };
            tokio::select! {
                () = kill.cancelled() => return false,
                r = ctx.engine.send(req) => if r.is_err() { return false },
            }
            if !more {
                break;
            }
        }
        if eof {
            return true;
        }
        let n = tokio::select! {
            () = kill.cancelled() => return false,
            r = rd.read(buf) => match r {
                Ok(n) => n,
                Err(_) => return true,
            },
        };
        if n == 0 {
            eof = true;
            continue;
        }
        read_at = Instant::now();
        framer.push(&buf[..n]);
        // Take what else is already there, without waiting.
        let mut total = n;
        while total < BATCH_BYTES {
            match rd.try_read(buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(m) => {
                    framer.push(&buf[..m]);
                    total += m;
                }
                Err(_) => break,
            }
        }
    }
}

fn commands(msgs: Vec<ServerMessage>, into: &mut Vec<(u64, Command)>) {
    into.extend(msgs.into_iter().filter_map(|m| match m {
        ServerMessage::Numbered { no, cmd } => Some((no, cmd)),
        _ => None,
    }));
}

/// Encodes a line for the session: a version 1 session never sees a command's number.
fn encode_for(v2: bool, m: &ServerMessage, buf: &mut Vec<u8>) {
    match m {
        ServerMessage::Numbered { cmd, .. } if !v2 => encode_command(cmd, buf),
        m => encode_server(m, buf),
    }
}

/// Which session a writer writes for.
#[derive(Clone, Copy, Debug)]
struct Session {
    conn: ConnId,
    /// The session speaks protocol version 2 (commands carry their numbers).
    v2: bool,
}

async fn write_loop(
    Session { conn, v2 }: Session,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Outbound>,
    queued: Arc<AtomicUsize>,
    kill: CancellationToken,
    ctx: Arc<ConnCtx>,
) {
    let (engine, observer) = (&ctx.engine, &ctx.observer);
    let mut undelivered = Vec::new();
    let mut buf = Vec::with_capacity(4096);
    loop {
        let ob = tokio::select! {
            biased;
            () = kill.cancelled() => break,
            m = rx.recv() => match m {
                Some(m) => m,
                None => break,
            },
        };
        buf.clear();
        for m in &ob.msgs {
            encode_for(v2, m, &mut buf);
        }
        let written = tokio::select! {
            () = kill.cancelled() => false,
            r = wr.write_all(&buf) => r.is_ok(),
        };
        if !written {
            // Possibly written in part: kept for the platform (at least once).
            commands(ob.msgs, &mut undelivered);
            break;
        }
        queued.fetch_sub(ob.bytes, Ordering::Relaxed);
        let mut any = false;
        for m in &ob.msgs {
            if let ServerMessage::Cmd(c) | ServerMessage::Numbered { cmd: c, .. } = m {
                observer.command(c.kind());
                any = true;
            }
        }
        if let (true, Some(at)) = (any, ob.read_at) {
            observer.decision_latency(at.elapsed());
        }
    }
    kill.cancel();
    rx.close();
    while let Ok(ob) = rx.try_recv() {
        commands(ob.msgs, &mut undelivered);
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
    let _ = engine.send(Request::Closed { conn, undelivered }).await;
}
