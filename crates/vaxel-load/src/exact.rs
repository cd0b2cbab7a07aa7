//! `vaxel load --exact`: the daemon fed the very inputs `vaxel replay` gives its engine, as
//! fast as it takes them, every command it sends checked against the replay's.
//!
//! A faithful simulation over a round trip is bound by the round trip: a caller answers a
//! `connect` only after reading it, so few events are ever in flight. But the engine is
//! deterministic and, on the event clock, the daemon's engine *is* the replay's engine: the
//! same inputs at the same `at` give the same commands, whenever they arrive (timers fire at
//! their own deadlines when a later `at` comes in). So this mode runs the replay itself, on
//! a thread of its own ([`Script`], a [`ReplayTap`]), encodes each input the engine accepted
//! as the platform event that gives it (with `seq` and `at`), and streams them with at most
//! `--window` unanswered. A reader thread compares every line the daemon sends with the
//! commands the replay's engine gave for that event, byte for byte (both sides encode with
//! `vaxel-proto`), and times the answers. Any difference is an error: the daemon was not
//! fresh, runs another configuration, or routes differently from the replay.
//!
//! Protocol version 2 (the default): the expected commands carry the numbers the daemon
//! must give them (`cmd_no`, 1, 2, … on a fresh daemon), so the byte comparison also proves
//! every command came exactly once, in order; the writer acknowledges the commands the
//! reader has checked (an `ack` before each chunk). A run cut short (the daemon killed)
//! says the last command it processed, for a `hello` that resumes after it.
//!
//! Threads: the producer (replay → encoded chunks, running ahead by [`AHEAD`] chunks, all
//! of a short trace before the clock starts), the writer (this one: the window and the
//! socket) and the reader (answers, comparison, latencies).

use anyhow::{Context as _, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use vaxel_core::site::Site;
use vaxel_core::{Input, Output, Timestamp};
use vaxel_proto::{
    Event, PROTOCOL_V2, PlatformMessage, ServerMessage, decode_server, encode_numbered,
};
use vaxel_sim::{ReplaySummary, ReplayTap, Shift, SimError, TraceReader};

use super::conn::{ack_line, check_welcome, hello_line, shorten};
use super::latency::{Latency, LatencySummary};

/// Events per chunk handed from the producer to the writer (at most half the window).
const CHUNK: usize = 512;
/// Chunks the producer may run ahead of the writer.
const AHEAD: usize = 1024;
/// How long the daemon may leave events unanswered before the run stops.
const STALL: Duration = Duration::from_secs(30);
const READ_BUFFER: usize = 256 * 1024;
/// Answers start with these bytes (`vaxel-proto`'s encoding; anything else is decoded).
const OK_PREFIX: &[u8] = br#"{"cmd":"ok","seq":"#;
const ERROR_PREFIX: &[u8] = br#"{"cmd":"error""#;

/// What `--exact` needs besides the daemon's address.
#[derive(Debug)]
pub struct ExactRun {
    pub addr: String,
    pub platform: String,
    pub token: Option<String>,
    /// The protocol version to speak (1 or 2).
    pub protocol: u64,
    pub window: usize,
    pub site: Arc<Site>,
    pub trace: TraceReader<std::io::BufReader<std::fs::File>>,
    pub shifts: Vec<Shift>,
}

/// The report of an exact run (`--report json`).
#[derive(Debug, Serialize)]
pub struct ExactReport {
    pub mode: &'static str,
    /// Calls announced.
    pub calls: u64,
    /// Events sent (the final `tick` included).
    pub events: u64,
    /// Wall time from the first event written to the last answer read.
    pub wall_s: f64,
    pub events_per_s: f64,
    /// `call.arrived` written → the first command of its answer read.
    pub latency_ms: LatencySummary,
    /// Event written → its `ok` (or `error`) read. With a full window this is mostly
    /// queueing: the events ahead of it in the window.
    pub ack_latency_ms: LatencySummary,
    /// Commands read.
    pub commands: u64,
    /// Commands the replay's engine gave for the same inputs.
    pub expected_commands: u64,
    /// Events whose answer differed from the replay's (any → exit status 1).
    pub mismatches: u64,
    /// The first difference, for diagnosis.
    pub first_mismatch: Option<String>,
    /// Errors by code (any → exit status 1).
    pub errors: BTreeMap<String, u64>,
    pub first_errors: Vec<String>,
    /// Calls still in flight when callers, agents and timers were done (ended by the
    /// replay as `platform_lost`; on the daemon they stay until its grace period ends).
    pub unfinished_calls: u64,
    /// Inputs the replay's engine refused (a number no entry has, a duplicate call id):
    /// not sent, since the daemon would refuse them too. Zero for a trace that fits the
    /// site.
    pub refused_by_replay: u64,
    /// Simulated time covered, seconds.
    pub sim_s: f64,
    pub window: usize,
    /// Version 2: the number of the last command read and checked (each one exactly once,
    /// in order, up to it).
    pub last_cmd: Option<u64>,
}

impl ExactReport {
    /// Whether the run failed: a difference or an error.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.mismatches > 0 || !self.errors.is_empty()
    }

    /// The report as aligned text.
    #[must_use]
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let lat = |l: &LatencySummary| {
            format!(
                "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3} ms  ({} samples)",
                l.p50, l.p90, l.p99, l.p999, l.max, l.count
            )
        };
        let _ = writeln!(
            s,
            "vaxel load --exact: event clock, window {}; the replay's inputs, its commands \
             expected back",
            self.window
        );
        let _ = writeln!(
            s,
            "events        {} in {:.3} s: {:.0} events/s; {} commands ({} expected)",
            self.events, self.wall_s, self.events_per_s, self.commands, self.expected_commands
        );
        let _ = writeln!(
            s,
            "calls         {} announced, {} unfinished; {:.0} s simulated; {} input(s) the \
             replay refused, not sent",
            self.calls, self.unfinished_calls, self.sim_s, self.refused_by_replay
        );
        let _ = writeln!(s, "arrival→cmd   {}", lat(&self.latency_ms));
        let _ = writeln!(s, "event→ok      {}", lat(&self.ack_latency_ms));
        let _ = writeln!(s, "mismatches    {}", self.mismatches);
        if let Some(m) = &self.first_mismatch {
            let _ = writeln!(s, "  {m}");
        }
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "errors        {errors}");
        if let Some(n) = self.last_cmd {
            let _ = writeln!(
                s,
                "protocol 2    commands 1..={n} each read once, in order, and acknowledged"
            );
        }
        for e in &self.first_errors {
            let _ = writeln!(s, "  {e}");
        }
        s
    }
}

/// Events encoded for the socket, with the answers expected for them.
#[derive(Debug, Default)]
struct Chunk {
    /// The events, one line each.
    events: Vec<u8>,
    /// The commands expected for them, one line each, in order.
    expected: Vec<u8>,
    /// Per event, in order.
    marks: Vec<Mark>,
    /// The `seq` and `at` of the first event.
    first_seq: u64,
    first_at: u64,
}

#[derive(Clone, Copy, Debug)]
struct Mark {
    /// Where the event's expected commands end in `expected` (they start where the
    /// previous event's end).
    expected_end: usize,
    /// A `call.arrived`: its first command is timed.
    arrival: bool,
}

/// The replay's tap: turns accepted inputs into events and their outputs into the lines
/// expected back, in chunks for the writer.
struct Script {
    tx: SyncSender<Chunk>,
    chunk: Chunk,
    chunk_len: usize,
    seq: u64,
    calls: u64,
    /// Commands the engine's timers gave since the last input: the daemon gives them before
    /// the next input's own.
    pending: Vec<u8>,
    /// The writer went away: the rest is not worth encoding.
    closed: bool,
    /// Version 2: the number of the last command encoded (`None`: version 1, unnumbered).
    cmd_no: Option<u64>,
}

impl Script {
    fn push(&mut self, at: Timestamp, body: Event, outputs: &[Output]) {
        if self.closed {
            return;
        }
        if self.chunk.marks.is_empty() {
            self.chunk.first_seq = self.seq + 1;
            self.chunk.first_at = at.0;
        }
        self.seq += 1;
        let arrival = matches!(body, Event::Input(Input::CallArrived { .. }));
        self.calls += u64::from(arrival);
        let msg = PlatformMessage {
            seq: Some(self.seq),
            at: Some(at),
            attrs: None,
            body,
        };
        vaxel_proto::encode_platform(&msg, &mut self.chunk.events);
        self.chunk.expected.append(&mut self.pending);
        encode_commands(outputs, &mut self.cmd_no, &mut self.chunk.expected);
        self.chunk.marks.push(Mark {
            expected_end: self.chunk.expected.len(),
            arrival,
        });
        if self.chunk.marks.len() >= self.chunk_len {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.chunk.marks.is_empty() || self.closed {
            return;
        }
        let chunk = std::mem::take(&mut self.chunk);
        self.closed = self.tx.send(chunk).is_err();
    }
}

/// The commands among `outputs` as the daemon sends them: numbered after `cmd_no` (then
/// moved on) when it is `Some` (version 2).
fn encode_commands(outputs: &[Output], cmd_no: &mut Option<u64>, buf: &mut Vec<u8>) {
    for out in outputs {
        if let Output::Command { command, .. } = out {
            let no = cmd_no.as_mut().map(|n| {
                *n += 1;
                *n
            });
            encode_numbered(command, no, buf);
        }
    }
}

impl ReplayTap for Script {
    fn input(&mut self, at: Timestamp, input: &Input, outputs: &[Output]) {
        match Event::from_input(input) {
            Some(body) => self.push(at, body, outputs),
            // Not a platform's (never in a replay): its commands come with the next event.
            None => encode_commands(outputs, &mut self.cmd_no, &mut self.pending),
        }
    }

    fn timers(&mut self, outputs: &[Output]) {
        encode_commands(outputs, &mut self.cmd_no, &mut self.pending);
    }
}

/// What the writer tells the reader.
enum Sent {
    /// A chunk, written at `at`.
    Chunk { chunk: Chunk, at: Instant },
    /// Every event is written; this many in all.
    End { events: u64 },
}

/// Answers read so far, shared with the writer for the window.
#[derive(Debug, Default)]
struct Progress {
    answered: u64,
    /// Commands read and checked (version 2: the last number processed).
    processed: u64,
    /// Differences from the replay found so far.
    mismatches: u64,
    /// The reader stopped (error or end); the writer must not wait for it.
    stopped: bool,
}

type Shared = Arc<(Mutex<Progress>, Condvar)>;

/// Runs an exact load: see the module docs.
pub fn run(r: ExactRun) -> anyhow::Result<ExactReport> {
    let window = r.window.max(1);
    let chunk_len = CHUNK.min(window.div_ceil(2)).max(1);

    // The producer: the replay, encoded.
    let (tx, chunks) = sync_channel::<Chunk>(AHEAD);
    let (site, trace, shifts) = (r.site, r.trace, r.shifts);
    let v2 = r.protocol >= PROTOCOL_V2;
    let producer = std::thread::Builder::new()
        .name("vaxel-load-script".into())
        .spawn(move || -> Result<(ReplaySummary, u64, u64), SimError> {
            let mut script = Script {
                tx,
                chunk: Chunk::default(),
                chunk_len,
                seq: 0,
                calls: 0,
                pending: Vec::new(),
                closed: false,
                cmd_no: (r.protocol >= PROTOCOL_V2).then_some(0),
            };
            let summary = vaxel_sim::replay_tapped(site, trace, &shifts, |_| Ok(()), &mut script)?;
            // The engine's last timers: a final tick brings the daemon to the same time.
            script.push(summary.end, Event::Input(Input::Tick), &[]);
            script.flush();
            Ok((summary, script.seq, script.calls))
        })
        .context("cannot start the script thread")?;

    // Connect and say hello.
    let stream = TcpStream::connect(&r.addr)
        .with_context(|| format!("cannot connect to the daemon at {}", r.addr))?;
    let _ = stream.set_nodelay(true);
    let mut wr = stream.try_clone().context("cannot clone the connection")?;
    let mut rd = BufReader::with_capacity(READ_BUFFER, stream);
    let _ = rd.get_ref().set_read_timeout(Some(STALL));
    wr.write_all(&hello_line(
        &r.platform,
        r.token.as_deref(),
        r.protocol,
        None,
    ))
    .with_context(|| format!("{}: cannot send hello", r.addr))?;
    let mut first = Vec::new();
    rd.read_until(b'\n', &mut first)
        .with_context(|| format!("{}: reading the welcome", r.addr))?;
    if first.is_empty() {
        bail!("{}: the daemon closed the connection after hello", r.addr);
    }
    let welcome = decode_server(first.strip_suffix(b"\n").unwrap_or(&first))
        .map_err(|e| anyhow::anyhow!("{}: bad first line: {e}", r.addr))?;
    // A daemon that is not fresh resumes after some command: what it re-sends differs
    // from the replay's first commands, and the comparison says so.
    check_welcome(&r.addr, welcome, r.protocol)?;

    // Let the producer run ahead before the clock starts (all of a short trace).
    let mut ready = Vec::new();
    while ready.len() < AHEAD {
        match chunks.recv() {
            Ok(c) => ready.push(c),
            Err(_) => break,
        }
    }

    let shared: Shared = Arc::default();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<Sent>();
    let reader = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("vaxel-load-read".into())
            .spawn(move || {
                let mut reader = Reader::new(sent_rx);
                let r = reader.read(&mut rd, &shared);
                let (lock, cv) = &*shared;
                if let Ok(mut p) = lock.lock() {
                    p.stopped = true;
                    p.processed = reader.checked;
                    p.mismatches = reader.mismatches;
                }
                cv.notify_all();
                r.map(|()| reader)
            })
            .context("cannot start the reader thread")?
    };

    let started = Instant::now();
    let mut written = 0u64;
    let mut write_failed = None;
    let mut acked = 0u64;
    for mut chunk in ready.into_iter().chain(chunks.iter()) {
        let last = chunk.first_seq + chunk.marks.len() as u64 - 1;
        if !wait_for(&shared, last.saturating_sub(window as u64))? {
            break;
        }
        // The reader needs the rest of the chunk, not its events.
        let mut events = std::mem::take(&mut chunk.events);
        if v2 {
            // What the reader has checked is processed: acknowledged ahead of the chunk.
            let processed = processed(&shared);
            if processed > acked {
                let mut ack = bytes::BytesMut::new();
                ack_line(processed, &mut ack);
                events.splice(0..0, ack.iter().copied());
                acked = processed;
            }
        }
        if sent_tx
            .send(Sent::Chunk {
                chunk,
                at: Instant::now(),
            })
            .is_err()
        {
            break;
        }
        if let Err(e) = wr.write_all(&events) {
            write_failed = Some(e);
            break;
        }
        written = last;
    }
    let _ = sent_tx.send(Sent::End { events: written });
    drop(sent_tx);
    let read = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    // Stop the producer if it is still going (the channel is gone), then take its figures.
    drop(chunks);
    let produced = producer
        .join()
        .map_err(|_| anyhow::anyhow!("the script thread panicked"))?;
    // Cut short: say where a `hello` resumes (version 2).
    let resume = if v2 {
        let mismatches = shared.0.lock().map_or(0, |p| p.mismatches);
        format!(
            "; last command processed: last_cmd {}; {mismatches} difference(s) from the replay",
            processed(&shared)
        )
    } else {
        String::new()
    };
    let reader = read.map_err(|e| anyhow::anyhow!("{e:#}{resume}"))?;
    if let Some(e) = write_failed {
        bail!(
            "{}: write failed after {written} event(s): {e}{resume}",
            r.addr
        );
    }
    let (summary, events, calls) = produced?;
    if written < events {
        bail!("{}: stopped after {written} of {events} event(s)", r.addr);
    }
    let wall = reader
        .last_answer
        .map_or(0.0, |t| t.saturating_duration_since(started).as_secs_f64());
    let sim_ms = summary
        .end
        .0
        .saturating_sub(reader.first_at.unwrap_or(summary.end.0));
    Ok(ExactReport {
        mode: "exact",
        calls,
        events,
        wall_s: wall,
        events_per_s: if wall > 0.0 {
            events as f64 / wall
        } else {
            0.0
        },
        latency_ms: reader.cmd_latency.summary(),
        ack_latency_ms: reader.ack_latency.summary(),
        commands: reader.commands,
        expected_commands: reader.expected_commands,
        mismatches: reader.mismatches,
        first_mismatch: reader.first_mismatch,
        errors: reader.errors,
        first_errors: reader.first_errors,
        unfinished_calls: summary.unfinished,
        refused_by_replay: summary.refused,
        sim_s: sim_ms as f64 / 1000.0,
        window,
        last_cmd: v2.then_some(reader.checked),
    })
}

/// Commands the reader has read and checked so far.
fn processed(shared: &Shared) -> u64 {
    shared.0.lock().map_or(0, |p| p.processed)
}

/// Waits until at least `answered` events are answered; `false` if the reader stopped.
fn wait_for(shared: &Shared, answered: u64) -> anyhow::Result<bool> {
    let (lock, cv) = &**shared;
    let mut p = lock
        .lock()
        .map_err(|_| anyhow::anyhow!("the reader thread failed"))?;
    while p.answered < answered && !p.stopped {
        let (next, timeout) = cv
            .wait_timeout(p, STALL)
            .map_err(|_| anyhow::anyhow!("the reader thread failed"))?;
        p = next;
        if timeout.timed_out() && p.answered < answered && !p.stopped {
            bail!(
                "the daemon answered nothing for {STALL:?} ({} event(s) answered, waiting \
                 for {answered})",
                p.answered
            );
        }
    }
    Ok(!p.stopped)
}

/// The reader's state: the chunk being answered and what was found.
struct Reader {
    sent: Receiver<Sent>,
    chunk: Chunk,
    written_at: Instant,
    /// Index (in `chunk.marks`) of the event being answered, and where its expected
    /// commands are read from.
    event: usize,
    pos: usize,
    /// Whether the event being answered has had a command yet.
    commanded: bool,
    answered: u64,
    /// Events written in all, once the writer is done.
    total: Option<u64>,
    commands: u64,
    /// Commands read that matched the replay's (with their numbers, version 2), before
    /// any difference: processed, to acknowledge.
    checked: u64,
    expected_commands: u64,
    mismatches: u64,
    first_mismatch: Option<String>,
    /// After a difference the daemon's state is not the replay's: stop comparing.
    diverged: bool,
    errors: BTreeMap<String, u64>,
    first_errors: Vec<String>,
    cmd_latency: Latency,
    ack_latency: Latency,
    last_answer: Option<Instant>,
    first_at: Option<u64>,
}

impl Reader {
    fn new(sent: Receiver<Sent>) -> Reader {
        Reader {
            sent,
            chunk: Chunk::default(),
            written_at: Instant::now(),
            event: 0,
            pos: 0,
            commanded: false,
            answered: 0,
            total: None,
            commands: 0,
            checked: 0,
            expected_commands: 0,
            mismatches: 0,
            first_mismatch: None,
            diverged: false,
            errors: BTreeMap::new(),
            first_errors: Vec::new(),
            cmd_latency: Latency::new(),
            ack_latency: Latency::new(),
            last_answer: None,
            first_at: None,
        }
    }

    /// Reads answers until every written event is answered.
    fn read(&mut self, rd: &mut BufReader<TcpStream>, shared: &Shared) -> anyhow::Result<()> {
        let mut line = Vec::with_capacity(512);
        loop {
            if self.total.is_some_and(|t| self.answered >= t) {
                return Ok(());
            }
            if self.event >= self.chunk.marks.len() && !self.next_chunk() {
                continue;
            }
            line.clear();
            let n = rd
                .read_until(b'\n', &mut line)
                .context("reading the daemon's answers")?;
            if n == 0 {
                bail!(
                    "the daemon closed the connection after {} answer(s)",
                    self.answered
                );
            }
            let now = Instant::now();
            self.line(line.strip_suffix(b"\n").unwrap_or(&line), now);
            // The read buffer is empty: tell the writer how far the answers got.
            if rd.buffer().is_empty() {
                let (lock, cv) = &**shared;
                if let Ok(mut p) = lock.lock() {
                    p.answered = self.answered;
                    p.processed = self.checked;
                }
                cv.notify_all();
            }
        }
    }

    /// Takes the next chunk from the writer; `false` when there is none (the end noted).
    fn next_chunk(&mut self) -> bool {
        match self.sent.recv() {
            Ok(Sent::Chunk { chunk, at }) => {
                self.first_at.get_or_insert(chunk.first_at);
                self.expected_commands +=
                    chunk.expected.iter().filter(|&&b| b == b'\n').count() as u64;
                self.chunk = chunk;
                self.written_at = at;
                self.event = 0;
                self.pos = 0;
                self.commanded = false;
                true
            }
            Ok(Sent::End { events }) => {
                self.total = Some(events);
                false
            }
            Err(_) => {
                self.total = Some(self.answered);
                false
            }
        }
    }

    fn seq(&self) -> u64 {
        self.chunk.first_seq + self.event as u64
    }

    fn line(&mut self, line: &[u8], now: Instant) {
        if let Some(rest) = line.strip_prefix(OK_PREFIX) {
            let seq = std::str::from_utf8(rest.strip_suffix(b"}").unwrap_or(rest))
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            if seq != Some(self.seq()) {
                self.mismatch(format!(
                    "expected the answer to event {}, got {}",
                    self.seq(),
                    String::from_utf8_lossy(line)
                ));
            }
            self.answer(now);
        } else if line.starts_with(ERROR_PREFIX) {
            self.error(line, now);
        } else {
            self.command(line, now);
        }
    }

    /// The current event is answered.
    fn answer(&mut self, now: Instant) {
        let Some(mark) = self.chunk.marks.get(self.event).copied() else {
            return;
        };
        if self.pos < mark.expected_end {
            let missing = next_line(&self.chunk.expected, self.pos, mark.expected_end);
            self.mismatch(format!(
                "event {}: the daemon gave fewer commands than the replay; missing {}",
                self.seq(),
                String::from_utf8_lossy(missing)
            ));
        }
        self.ack_latency
            .record(now.saturating_duration_since(self.written_at));
        self.answered += 1;
        self.last_answer = Some(now);
        self.pos = mark.expected_end;
        self.event += 1;
        self.commanded = false;
    }

    fn command(&mut self, line: &[u8], now: Instant) {
        self.commands += 1;
        let Some(mark) = self.chunk.marks.get(self.event).copied() else {
            self.mismatch(format!(
                "a command with no event unanswered: {}",
                String::from_utf8_lossy(line)
            ));
            return;
        };
        if mark.arrival && !self.commanded {
            self.cmd_latency
                .record(now.saturating_duration_since(self.written_at));
        }
        self.commanded = true;
        let expected = next_line(&self.chunk.expected, self.pos, mark.expected_end);
        if expected.is_empty() && self.pos >= mark.expected_end {
            self.mismatch(format!(
                "event {}: a command the replay did not give: {}",
                self.seq(),
                String::from_utf8_lossy(line)
            ));
            return;
        }
        let len = expected.len();
        if expected != line {
            let what = format!(
                "event {}: expected {}, got {}",
                self.seq(),
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(line)
            );
            self.mismatch(what);
        } else if !self.diverged {
            self.checked += 1;
        }
        self.pos = (self.pos + len + 1).min(mark.expected_end);
    }

    fn error(&mut self, line: &[u8], now: Instant) {
        let text = String::from_utf8_lossy(line);
        let (code, seq) = match decode_server(line) {
            Ok(ServerMessage::Error { code, seq, .. }) => (code.as_str().to_owned(), seq),
            _ => ("bad_answer".to_owned(), None),
        };
        *self.errors.entry(code).or_default() += 1;
        if self.first_errors.len() < 10 {
            self.first_errors.push(shorten(&text).to_owned());
        }
        if seq == Some(self.seq()) {
            self.answer(now);
        }
    }

    fn mismatch(&mut self, what: String) {
        if self.diverged {
            return;
        }
        self.diverged = true;
        self.mismatches += 1;
        self.first_mismatch = Some(format!(
            "{what} (is the daemon fresh, on --clock event, with the same --config?)"
        ));
    }
}

/// The line of `buf` starting at `pos`, not past `end` (without its `\n`).
fn next_line(buf: &[u8], pos: usize, end: usize) -> &[u8] {
    let rest = buf.get(pos..end).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\n') {
        Some(i) => &rest[..i],
        None => rest,
    }
}
