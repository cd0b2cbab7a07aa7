//! The daemon's wall-clock deadlines on tokio's paused clock: a platform's grace period
//! (docs/protocol.md "Session"), a connection's `hello` deadline, the HTTP header and body
//! deadlines (docs/operations.md, "Failure modes") and the event stream's one snapshot a
//! second (docs/operations.md, "GET /api/v1/stream"). The daemon runs in
//! process on this test's own runtime, and the test moves time on with
//! `tokio::time::advance` instead of sleeping, to the millisecond either side of each
//! deadline.
//!
//! The clock must not move by itself: tokio advances a paused clock whenever the runtime
//! has nothing to do, and the daemon has nothing to do while its commit thread syncs the
//! journal (real time, on a thread of its own). A blocking task held for the whole test
//! keeps it from doing so ([`hold_the_clock`]); what takes real time (the commit, the
//! sockets) is awaited by yielding, bounded in real time ([`within`]).
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::advance;
use tokio_util::sync::CancellationToken;
use vaxel_serve::in_process::serve_args;
use vaxel_serve::{Listening, serve};

/// The daemon tests' site (two entries and groups, agents `a1` and `a2` in both, a
/// one-second grace period), shared with the `vaxel` package's process-level tests.
const SITE: &str = include_str!("../../../tests/serve_support/site.toml");

/// The call records in a data dir, read as the process-level tests read them (whole lines
/// only: the commit thread may be writing the last one).
#[path = "../../../tests/serve_support/data_dir.rs"]
mod data_dir;
use data_dir::records;

/// How long, in real time, one step may take before the test fails: the daemon answers in
/// milliseconds; this only bounds a hang.
const WITHIN: Duration = Duration::from_secs(20);

/// Polls `fut` to its end, yielding to the daemon's tasks between polls; fails after
/// [`WITHIN`] of real time (the paused clock cannot bound it).
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    let until = std::time::Instant::now() + WITHIN;
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            () = tokio::task::yield_now() => {}
        }
        assert!(
            std::time::Instant::now() < until,
            "{what}: nothing within {WITHIN:?}"
        );
    }
}

/// Keeps the paused clock from moving by itself until the sender is dropped (tokio does
/// not auto-advance while a blocking task runs).
fn hold_the_clock() -> (std::sync::mpsc::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let held = tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    (tx, held)
}

/// The daemon in process on the test's runtime, in a directory of its own (removed when
/// this drops: after it stops, or when the test fails), the clock held ([`hold_the_clock`])
/// until it stops.
struct Daemon {
    at: Listening,
    data: PathBuf,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<ExitCode>>,
    clock: (std::sync::mpsc::Sender<()>, JoinHandle<()>),
    /// Last: fields drop in order, and the directory goes after everything else.
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Started with `more` arguments.
    async fn start(name: &str, more: &[&str]) -> Daemon {
        let clock = hold_the_clock();
        let dir = tempfile::Builder::new()
            .prefix(&format!("vaxel-deadlines-{name}-"))
            .tempdir()
            .unwrap();
        let site = dir.path().join("site.toml");
        std::fs::write(&site, SITE).unwrap();
        let data = dir.path().join("data");
        let (site_arg, data_arg) = (site.display().to_string(), data.display().to_string());
        let mut all = vec!["--config", &site_arg, "--data-dir", &data_arg];
        all.extend_from_slice(more);
        let args = serve_args(&all).unwrap();
        let stop = CancellationToken::new();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { serve(&args, stop, Some(tx)).await }
        });
        let at = within("the daemon listening", rx).await.unwrap();
        Daemon {
            at,
            data,
            stop,
            task,
            clock,
            dir,
        }
    }

    /// `/metrics` as text.
    async fn metrics(&self) -> String {
        let mut http = within("connect", TcpStream::connect(self.at.http))
            .await
            .unwrap();
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: vaxel\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        within("/metrics", http.read_to_string(&mut reply))
            .await
            .unwrap();
        reply
    }

    /// Waits until `/metrics` has the line `line`.
    async fn wait_metric(&self, line: &str) {
        let until = std::time::Instant::now() + WITHIN;
        while !self.metrics().await.lines().any(|l| l == line) {
            assert!(std::time::Instant::now() < until, "never {line}");
        }
    }

    /// Platforms lost so far (`vaxel_platform_events_total{type="lost"}`).
    async fn lost(&self) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(r#"vaxel_platform_events_total{type="lost"} "#))
            .map_or(0, |n| n.parse().unwrap())
    }

    async fn platform(&self, name: &str) -> Platform {
        let stream = within("connect", TcpStream::connect(self.at.tcp))
            .await
            .unwrap();
        let (read, write) = stream.into_split();
        let mut p = Platform {
            lines: BufReader::new(read).lines(),
            write,
        };
        p.send(&format!(
            r#"{{"ev":"hello","platform":"{name}","protocol":1}}"#
        ))
        .await;
        p.expect(r#"{"cmd":"welcome","protocol":1,"server":"vaxel/0.1.0"}"#)
            .await;
        p
    }

    /// Stops it cleanly, lets the clock go and removes its directory.
    async fn stop(self) {
        self.stop.cancel();
        let code = within("the daemon's stop", self.task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let (holder, held) = self.clock;
        drop(holder);
        within("the clock's holder", held).await.unwrap();
        drop(self.dir);
    }

    /// pbx-1 says `hello`, `calls` calls arrive and queue, and it leaves; once the daemon
    /// has seen it go (its grace period runs from then), the desk platform connects.
    async fn gone_with_calls(&self, calls: u64) -> Platform {
        let mut p1 = self.platform("pbx-1").await;
        for n in 1..=calls {
            let at = 900 + 100 * n;
            p1.call(
                &format!(
                    r#"{{"ev":"call.arrived","call":"c{n}","to":"+4610100","from":"+467{n}","at":{at},"seq":{n}}}"#
                ),
                n,
                &[&format!(
                    r#"{{"cmd":"queue","call":"c{n}","group":"sales","position":{n}}}"#
                )],
            )
            .await;
        }
        drop(p1);
        self.wait_metric("vaxel_platform_connections 0").await;
        self.platform("desk").await
    }
}

/// One platform connection speaking protocol version 1.
struct Platform {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Platform {
    /// `agent.login` of `agent` at `at` with `seq`, acknowledged.
    async fn log_in(&mut self, agent: &str, at: u64, seq: u64) {
        let line = format!(r#"{{"ev":"agent.login","agent":"{agent}","at":{at},"seq":{seq}}}"#);
        self.call(&line, seq, &[]).await;
    }

    async fn send(&mut self, line: &str) {
        self.write.write_all(line.as_bytes()).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
    }

    async fn expect(&mut self, want: &str) {
        let got = within(want, self.lines.next_line()).await.unwrap();
        assert_eq!(got.as_deref(), Some(want));
    }

    /// Sends an event with `seq` and expects its `ok`, after `before` (its commands).
    async fn call(&mut self, line: &str, seq: u64, before: &[&str]) {
        self.send(line).await;
        for want in before {
            self.expect(want).await;
        }
        self.expect(&format!(r#"{{"cmd":"ok","seq":{seq}}}"#)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_platform_gone_one_millisecond_short_of_its_grace_keeps_its_calls_then_loses_them() {
    let d = Daemon::start("lost", &[]).await;
    let mut desk = d.gone_with_calls(1).await;

    advance(Duration::from_millis(999)).await;
    // An input from another platform: the daemon's loop looks at the grace period's end
    // (ahead of platform input) before it answers. The agent is offered the call; the
    // command is held for pbx-1.
    desk.log_in("a1", 2000, 1).await;
    assert_eq!(d.lost().await, 0, "lost before its grace period ended");

    advance(Duration::from_millis(2)).await;
    desk.call(r#"{"ev":"tick","at":2100,"seq":2}"#, 2, &[])
        .await;
    assert_eq!(d.lost().await, 1);
    let until = std::time::Instant::now() + WITHIN;
    while records(&d.data).is_empty() {
        assert!(std::time::Instant::now() < until, "no record of c1");
        tokio::task::yield_now().await;
    }
    assert_eq!(
        records(&d.data),
        [("c1".to_owned(), "platform_lost".to_owned())]
    );
    // Back now: a new session with nothing held for it (the refusal is its first line);
    // the call is gone and the agent it was ringing is free again.
    let mut p1 = d.platform("pbx-1").await;
    p1.send(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3000,"seq":2}"#)
        .await;
    let error = within("the refusal", p1.lines.next_line()).await.unwrap();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains(r#""code":"unknown_call""#)),
        "{error:?}"
    );
    p1.call(
        r#"{"ev":"call.arrived","call":"c2","to":"+4610100","from":"+4672","at":3100,"seq":3}"#,
        3,
        &[r#"{"cmd":"connect","call":"c2","agent":"a1","extension":"1001","ring_s":20}"#],
    )
    .await;
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_platform_back_within_its_grace_keeps_its_calls_however_long_after() {
    let d = Daemon::start("back", &[]).await;
    let mut desk = d.gone_with_calls(2).await;
    desk.log_in("a1", 2000, 1).await;
    desk.log_in("a2", 2100, 2).await;
    advance(Duration::from_millis(999)).await;
    // Back a millisecond before the end: the commands held for it come first, in order.
    let mut p1 = d.platform("pbx-1").await;
    p1.expect(r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#)
        .await;
    p1.expect(r#"{"cmd":"connect","call":"c2","agent":"a2","extension":"1002","ring_s":20}"#)
        .await;
    p1.call(
        r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3000,"seq":3}"#,
        3,
        &[],
    )
    .await;
    // An hour later the calls are still there: the grace period ended with its return.
    advance(Duration::from_secs(3600)).await;
    p1.call(
        r#"{"ev":"call.answered","call":"c2","agent":"a2","at":3100,"seq":4}"#,
        4,
        &[],
    )
    .await;
    assert_eq!(d.lost().await, 0);
    assert!(records(&d.data).is_empty());
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_without_hello_is_closed_at_its_deadline_not_before() {
    let d = Daemon::start("hello", &["--hello-timeout-s", "1"]).await;
    let silent = within("connect", TcpStream::connect(d.at.tcp))
        .await
        .unwrap();
    // The daemon has taken the connection (a round trip of another platform's after it).
    let mut p = d.platform("pbx-1").await;
    advance(Duration::from_millis(999)).await;
    p.call(r#"{"ev":"tick","at":1000,"seq":1}"#, 1, &[]).await;
    assert!(open(&silent), "closed before its deadline");
    advance(Duration::from_millis(2)).await;
    let mut silent = silent;
    assert!(closed(&mut silent).await, "still open after its deadline");
    d.stop().await;
}

/// Whether the daemon has closed `conn` (end of file or a reset), waiting for it.
async fn closed(conn: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let read = within("the close", conn.read(&mut byte)).await;
    matches!(read, Ok(0)) || read.is_err()
}

/// Whether `conn` is still open with nothing to read.
fn open(conn: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(conn.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test(start_paused = true)]
async fn an_http_connection_that_sends_nothing_is_closed_at_its_header_deadline_not_before() {
    let d = Daemon::start("http", &["--http-header-timeout-s", "1"]).await;
    let connect = || within("connect", TcpStream::connect(d.at.http));
    let mut silent = connect().await.unwrap();
    // Half a request line, then nothing.
    let mut partial = connect().await.unwrap();
    partial.write_all(b"GET /healthz HT").await.unwrap();
    // A kept-alive connection, idle after its answer.
    let mut kept = connect().await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\nok\n") {
        let mut chunk = [0u8; 512];
        let n = within("the answer", kept.read(&mut chunk)).await.unwrap();
        assert!(n > 0, "closed before its answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    advance(Duration::from_millis(999)).await;
    // A request on a connection of its own: the daemon has served the others meanwhile.
    d.metrics().await;
    assert!(
        open(&silent),
        "a silent connection closed before its deadline"
    );
    assert!(
        open(&partial),
        "a partial request closed before its deadline"
    );
    assert!(
        open(&kept),
        "an idle kept-alive connection closed before its deadline"
    );
    advance(Duration::from_millis(2)).await;
    assert!(closed(&mut silent).await, "a silent connection stays");
    assert!(closed(&mut partial).await, "a partial request stays");
    assert!(
        closed(&mut kept).await,
        "an idle kept-alive connection stays"
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_body_that_does_not_all_come_is_answered_408_at_its_deadline_not_before() {
    let d = Daemon::start("body", &["--http-body-timeout-s", "2"]).await;
    let mut trickle = within("connect", TcpStream::connect(d.at.http))
        .await
        .unwrap();
    // Twenty bytes announced, five sent.
    trickle
        .write_all(
            b"POST /api/v1/agents/a1/state HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"sta",
        )
        .await
        .unwrap();
    // A request on a connection of its own, answered after this one was taken (tasks run
    // in the order they were spawned): its body's deadline runs from now.
    d.metrics().await;
    advance(Duration::from_millis(1999)).await;
    d.metrics().await;
    assert!(open(&trickle), "answered before its deadline");
    advance(Duration::from_millis(2)).await;
    let mut answer = Vec::new();
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 512];
        let n = within("the answer", trickle.read(&mut chunk))
            .await
            .unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    d.stop().await;
}

/// The `id`s of the snapshot events in what a stream has sent so far.
fn event_ids(text: &str) -> Vec<u64> {
    text.split("\nid: ")
        .skip(1)
        .filter_map(|rest| rest.split(['\r', '\n']).next()?.parse().ok())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_event_stream_folds_the_changes_of_a_second_into_one_snapshot_sent_at_its_end() {
    let d = Daemon::start("stream", &[]).await;
    let mut stream = within("connect", TcpStream::connect(d.at.http))
        .await
        .unwrap();
    stream
        .write_all(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    let read_more = async |text: &mut String, stream: &mut TcpStream| {
        let mut chunk = [0u8; 4096];
        let n = within("the stream", stream.read(&mut chunk)).await.unwrap();
        assert!(n > 0, "the stream ended");
        text.push_str(&String::from_utf8_lossy(&chunk[..n]));
    };
    // The snapshot at connect.
    while event_ids(&text).is_empty() {
        read_more(&mut text, &mut stream).await;
    }
    let first = event_ids(&text)[0];
    // Two changes, each its own round.
    let mut desk = d.platform("desk").await;
    desk.log_in("a1", 1000, 1).await;
    desk.log_in("a2", 1100, 2).await;
    advance(Duration::from_millis(999)).await;
    d.metrics().await;
    assert!(open(&stream), "a snapshot before the second was over");
    advance(Duration::from_millis(2)).await;
    let sent = text.len();
    while event_ids(&text[sent..]).is_empty() {
        read_more(&mut text, &mut stream).await;
    }
    assert_eq!(
        event_ids(&text[sent..]),
        [first + 2],
        "one snapshot of both changes"
    );
    d.stop().await;
}
