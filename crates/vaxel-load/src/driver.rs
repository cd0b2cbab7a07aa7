//! The simulated platform(s) of `vaxel load`, without sockets: lines in
//! ([`Driver::on_message`]), lines out ([`Driver::pump`] encodes into one buffer per
//! connection). The callers and agents are `vaxel_sim::world`'s, the very ones `vaxel
//! replay` plays in process (docs/formats.md); this file is what the wire adds to them.
//!
//! Unlike replay the driver learns what the engine did only from the daemon's commands,
//! some time after it happened, and the engine's own timers (ring time-outs, wrap-ups
//! ending, overflow) act when time reaches them on the daemon. A command is handed to the
//! world with the time it was decided (the `at` of the oldest event not yet answered on
//! its connection); a reaction is sent at its natural time, or at the latest `at` already
//! sent when that is later, so `at` never goes backwards. A refusal of a reaction that
//! came too late (`unknown_call`, `invalid_state`) is counted apart (`stale`), unless
//! `--strict`.
//!
//! Flow control: every event carries `seq`; at most `window` events are unacknowledged;
//! at `--speed max` no event goes more than `max_lag` of simulated time past the oldest
//! unacknowledged one (so reactions lag by at most that); with the event clock and several
//! connections, events on different connections overlap only at one same `at` (the daemon
//! may interleave connections, and the event clock refuses time going backwards).

use super::latency::Latency;
use anyhow::{Context as _, bail};
use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vaxel_core::{CallId, Command, Input, Timestamp};
use vaxel_proto::{ErrorCode, Event, PlatformMessage, ServerMessage, encode_platform};
use vaxel_sim::world::{About, Act, ByName, Prepared, Preparer, Refusal, World};
use vaxel_sim::{Shift, SimError, TraceCall};

/// How events are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// As fast as the window (and the lag bound) allow.
    Max,
    /// Simulated time runs this many times faster than wall time.
    Speed(f64),
}

/// The driver's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub connections: usize,
    pub pacing: Pacing,
    /// Unacknowledged events at most.
    pub window: usize,
    /// `--speed max`: simulated time an event may run ahead of the oldest unacknowledged
    /// one; `None` = only the window bounds it.
    pub max_lag_ms: Option<u64>,
    /// Event clock (`at` on every event) or live clock (`at` only on ticks).
    pub event_clock: bool,
    /// Event clock: simulated time without an event after which a `tick` is sent while a
    /// caller waits, up to the last trace or roster time (so that the engine's timers act
    /// on time); 0 = never.
    pub tick_ms: u64,
    /// After the last trace or roster event: how far the final `tick` moves time on while
    /// calls are still in progress.
    pub drain_ms: u64,
    /// Live clock: the wrap-up planned when the trace leaves it empty (the group's default
    /// would run in wall time, not scaled by the speed).
    pub live_wrapup_ms: u64,
    /// Refusals of late reactions count as errors.
    pub strict: bool,
    /// Keep each line written until it is answered, to send it again on a new connection
    /// ([`Driver::resume`], `--reconnect`).
    pub keep_lines: bool,
}

impl Settings {
    /// Checks the settings that would make the run meaningless.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.window == 0 {
            bail!("--window must be at least 1");
        }
        if let Pacing::Speed(x) = self.pacing
            && !(x.is_finite() && x > 0.0)
        {
            bail!("--speed must be a positive number or `max`");
        }
        Ok(())
    }
}

/// What the caller of [`Driver::pump`] should wait for before pumping again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The next event is due at this instant (paced).
    Until(Instant),
    /// The window, the lag bound or the connection barrier: an answer from the daemon.
    Answers,
    /// Everything was sent and answered.
    Done,
}

/// An event written and not yet answered.
#[derive(Clone, Debug)]
struct Pending {
    seq: u64,
    line: u64,
    /// The line as written ([`Settings::keep_lines`]).
    text: Option<Bytes>,
    /// Written again on a new connection ([`Driver::resume`]).
    resent: bool,
    at: u64,
    sent: Instant,
    /// The event's `ev`.
    kind: &'static str,
    /// What the world made it for ([`About::NOTHING`] for ticks).
    about: About,
}

#[derive(Debug, Default)]
struct ConnState {
    pending: VecDeque<Pending>,
    /// Lines written on the connection (`hello` is line 1).
    lines: u64,
}

/// Counters of the run, for the report.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Calls announced (`call.arrived` written).
    pub calls: u64,
    /// Calls that ended: by a `forward` or final `hangup`, or by the tool's acknowledged
    /// hang-up.
    pub ended: u64,
    /// `call.arrived` refused (errors).
    pub refused_arrivals: u64,
    /// Calls the daemon stopped knowing without a command ending them.
    pub vanished: u64,
    /// Lines written (events, ticks included).
    pub events: u64,
    pub ticks: u64,
    /// Commands read (not counting `ok`, `error`).
    pub commands: u64,
    /// Commands for calls this run does not know (e.g. held for the platform id from an
    /// earlier run).
    pub foreign_commands: u64,
    /// Errors by code (protocol codes, and `missing_answer`, `unexpected_answer`,
    /// `bad_line` for anomalies of the daemon's output).
    pub errors: BTreeMap<String, u64>,
    /// The first errors, for diagnosis.
    pub first_errors: Vec<String>,
    /// Refusals of late reactions (`unknown_call`, `invalid_state`) by code.
    pub stale: BTreeMap<String, u64>,
    /// Logins refused because the agent was still on, turned into `agent.ready`.
    pub relogins: u64,
    /// Paced: how far behind schedule the latest-sent event was at worst (ms).
    pub max_behind_ms: u64,
    /// The most calls in progress at once.
    pub peak_calls: usize,
    /// Simulated time covered (first to last `at` sent), ms.
    pub sim_ms: u64,
    /// Events written again on a new connection ([`Driver::resume`]).
    pub resent: u64,
    /// Of which the daemon had applied before the old connection closed (it refused them
    /// as applied: `duplicate_call`, `invalid_state`, `unknown_call`).
    pub resent_applied: u64,
}

/// The trace as the world reads it: prepared without a site (every number as dialled).
type Trace<I> = Prepared<I>;

/// The simulated platform(s) in front of the world's callers and agents.
pub struct Driver<I> {
    s: Settings,
    world: World<Trace<I>, ByName>,
    /// When each call's `call.arrived` was written, until its first command is read.
    arrived_sent: FxHashMap<CallId, Instant>,
    conns: Vec<ConnState>,
    unacked: usize,
    seq: u64,
    /// The simulated time the run starts at, and the latest `at` sent.
    sim_start: u64,
    last_at: u64,
    /// The last trace or roster time: the drain starts after it.
    horizon: u64,
    final_sent: bool,
    wall_start: Option<Instant>,
    epoch_start_ms: u64,
    pub first_sent: Option<Instant>,
    pub last_answer: Option<Instant>,
    pub stats: Stats,
    pub cmd_latency: Latency,
    pub ack_latency: Latency,
    fatal: Option<String>,
}

impl<I> std::fmt::Debug for Driver<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("unacked", &self.unacked)
            .field("last_at", &self.last_at)
            .finish_non_exhaustive()
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn wall_epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<I> Driver<I>
where
    I: Iterator<Item = Result<TraceCall, SimError>>,
{
    /// A driver for `trace` (streamed) and `roster`.
    pub fn new(s: Settings, trace: I, roster: &[Shift]) -> anyhow::Result<Driver<I>> {
        let trace = Prepared::new(trace, Preparer::default());
        // Not sent: the connection's `hello` names the platform.
        let world =
            World::new(trace, roster, Vec::new(), Arc::from("")).context("reading the trace")?;
        let world = if s.event_clock {
            world
        } else {
            world.with_default_wrapup(s.live_wrapup_ms)
        };
        let first = world.start().0;
        let last_shift = world.roster_end().0;
        let connections = s.connections.max(1);
        let mut s = s;
        if let Pacing::Speed(x) = s.pacing
            && s.tick_ms > 0
        {
            // At most one tick per wall millisecond.
            s.tick_ms = s.tick_ms.max(x.ceil() as u64);
        }
        s.connections = connections;
        Ok(Driver {
            s,
            world,
            arrived_sent: FxHashMap::default(),
            conns: (0..connections)
                .map(|_| ConnState {
                    pending: VecDeque::new(),
                    lines: 1,
                })
                .collect(),
            unacked: 0,
            seq: 0,
            sim_start: first,
            last_at: first,
            horizon: last_shift.max(first),
            final_sent: false,
            wall_start: None,
            epoch_start_ms: 0,
            first_sent: None,
            last_answer: None,
            stats: Stats::default(),
            cmd_latency: Latency::new(),
            ack_latency: Latency::new(),
            fatal: None,
        })
    }

    /// Calls in progress (announced, not ended).
    #[must_use]
    pub fn calls_in_progress(&self) -> usize {
        self.world.in_flight()
    }

    /// The calls still in progress by state (`queued`, `talking`, …), for the report.
    #[must_use]
    pub fn in_progress(&self) -> BTreeMap<String, u64> {
        self.world.in_progress()
    }

    /// Events written and not yet answered.
    #[must_use]
    pub fn unacked(&self) -> usize {
        self.unacked
    }

    /// Calls that did not end: in progress at the end, or vanished.
    #[must_use]
    pub fn unfinished(&self) -> u64 {
        self.stats
            .calls
            .saturating_sub(self.stats.refused_arrivals)
            .saturating_sub(self.stats.ended)
    }

    /// An error that stops the run (the daemon's clock is past the trace, …).
    pub fn take_fatal(&mut self) -> Option<String> {
        self.fatal.take()
    }

    /// The world's counts, copied into the report's.
    fn sync_stats(&mut self) {
        let w = self.world.stats();
        self.stats.calls = w.arrived;
        self.stats.ended = w.ended;
        self.stats.peak_calls = w.peak_in_flight;
    }

    // ------------------------------------------------------------------ time

    /// Wall instant at which simulated time `t` is due (paced).
    fn due(&self, t: u64, speed: f64, now: Instant) -> Instant {
        let start = self.wall_start.unwrap_or(now);
        let ms = t.saturating_sub(self.sim_start) as f64 / speed;
        start + Duration::from_secs_f64(ms / 1000.0)
    }

    /// The daemon's time for simulated time `t`: `t` itself on the event clock; on the live
    /// clock the wall clock at which `t` is due.
    fn daemon_ms(&self, t: u64) -> u64 {
        if self.s.event_clock {
            return t;
        }
        match self.s.pacing {
            Pacing::Max => wall_epoch_ms(),
            Pacing::Speed(speed) => {
                let ms = t.saturating_sub(self.sim_start) as f64 / speed;
                self.epoch_start_ms.saturating_add(ms as u64)
            }
        }
    }

    /// When a command read now on `conn` was decided, in simulated time: the `at` of the
    /// oldest event not yet answered on that connection (the daemon answers in order, an
    /// event's commands before its `ok`), else the latest `at` sent.
    fn decided_at(&self, conn: usize) -> u64 {
        self.conns
            .get(conn)
            .and_then(|c| c.pending.front())
            .map_or(self.last_at, |p| p.at)
    }

    // ------------------------------------------------------------------ incoming

    /// Handles one line from connection `conn`, read at `read_at`.
    pub fn on_message(&mut self, conn: usize, read_at: Instant, msg: ServerMessage) {
        match msg {
            ServerMessage::Ok { seq } => {
                if let Some(p) = self.answered(conn, seq, read_at) {
                    self.world.acked(p.about);
                }
            }
            ServerMessage::Error {
                seq,
                line,
                code,
                message,
            } => {
                let p = match (seq, line) {
                    (Some(seq), _) => self.answered(conn, seq, read_at),
                    (None, Some(line)) => self.answered_line(conn, line, read_at),
                    (None, None) => None,
                };
                self.on_error(conn, p, code, &message);
            }
            ServerMessage::Welcome { .. } | ServerMessage::WelcomeV2 { .. } => {
                self.error(
                    "unexpected_answer",
                    format!("load-{}: a second welcome", conn + 1),
                );
            }
            // The connection layer has checked the number (conn.rs).
            ServerMessage::Cmd(cmd) | ServerMessage::Numbered { cmd, .. } => {
                self.on_command(conn, read_at, &cmd);
            }
        }
        self.sync_stats();
    }

    /// A line from the daemon that does not decode.
    pub fn on_bad_line(&mut self, conn: usize, what: &str) {
        self.error("bad_line", format!("load-{}: {what}", conn + 1));
    }

    fn error(&mut self, code: &str, text: String) {
        *self.stats.errors.entry(code.to_owned()).or_default() += 1;
        if self.stats.first_errors.len() < 20 {
            self.stats.first_errors.push(text);
        }
    }

    /// Takes the pending event answered with `seq` on `conn`. Answers come in order: events
    /// skipped over were never answered.
    fn answered(&mut self, conn: usize, seq: u64, read_at: Instant) -> Option<Pending> {
        let mut skipped = 0;
        let found = {
            let c = self.conns.get_mut(conn)?;
            loop {
                match c.pending.front() {
                    Some(p) if p.seq < seq => {
                        c.pending.pop_front();
                        skipped += 1;
                    }
                    Some(p) if p.seq == seq => break c.pending.pop_front(),
                    _ => break None,
                }
            }
        };
        if skipped > 0 {
            self.unacked -= skipped;
            self.error(
                "missing_answer",
                format!(
                    "load-{}: {skipped} event(s) before seq {seq} got no answer",
                    conn + 1,
                ),
            );
        }
        match found {
            Some(p) => {
                self.unacked -= 1;
                self.ack_latency
                    .record(read_at.saturating_duration_since(p.sent));
                self.last_answer = Some(read_at);
                Some(p)
            }
            None => {
                self.error(
                    "unexpected_answer",
                    format!(
                        "load-{}: answer for seq {seq}, which is not pending",
                        conn + 1
                    ),
                );
                None
            }
        }
    }

    /// Takes the pending event written as line `line` on `conn` (an error without `seq`).
    fn answered_line(&mut self, conn: usize, line: u64, read_at: Instant) -> Option<Pending> {
        let seq = self
            .conns
            .get(conn)?
            .pending
            .iter()
            .find(|p| p.line == line)?
            .seq;
        self.answered(conn, seq, read_at)
    }

    fn on_error(&mut self, conn: usize, p: Option<Pending>, code: ErrorCode, message: &str) {
        let Some(p) = p else {
            self.error(
                code.as_str(),
                format!("load-{}: {}: {message}", conn + 1, code.as_str()),
            );
            return;
        };
        if p.resent
            && matches!(
                code,
                ErrorCode::DuplicateCall
                    | ErrorCode::InvalidState
                    | ErrorCode::UnknownCall
                    | ErrorCode::TimeWentBackwards
            )
        {
            // Sent again after a reconnect and refused as done: the daemon had applied it
            // before the old connection closed (docs/protocol.md, "Resume"). Time before
            // the engine's says so too: on the event clock only events move time, and one
            // written after this one on the connection, so applied after it, did.
            self.stats.resent_applied += 1;
            self.world.acked(p.about);
            return;
        }
        let what = format!(
            "load-{} seq {} ({} at {}): {}: {message}",
            conn + 1,
            p.seq,
            p.kind,
            p.at,
            code.as_str()
        );
        if code == ErrorCode::TimeWentBackwards {
            self.fatal.get_or_insert_with(|| {
                format!(
                    "the daemon refused {what}; its clock is past this trace: start it with \
                     an empty --data-dir, or use --clock live for a live-clock daemon"
                )
            });
        }
        let late = matches!(code, ErrorCode::UnknownCall | ErrorCode::InvalidState)
            && !matches!(p.kind, "call.arrived" | "tick");
        let still_on = code == ErrorCode::InvalidState;
        match self
            .world
            .refused(Timestamp(self.last_at), p.about, still_on)
        {
            Refusal::Relogin => {
                self.stats.relogins += 1;
                return;
            }
            Refusal::Arrival => self.stats.refused_arrivals += 1,
            Refusal::Vanished => self.stats.vanished += 1,
            Refusal::Unanswered | Refusal::Other => {}
        }
        if late && !self.s.strict {
            *self
                .stats
                .stale
                .entry(code.as_str().to_owned())
                .or_default() += 1;
        } else {
            self.error(code.as_str(), what);
        }
    }

    fn on_command(&mut self, conn: usize, read_at: Instant, cmd: &Command) {
        if !self.world.knows(cmd.call()) {
            self.stats.foreign_commands += 1;
            return;
        }
        self.stats.commands += 1;
        if let Some(t) = self.arrived_sent.remove(cmd.call()) {
            self.cmd_latency
                .record(read_at.saturating_duration_since(t));
        }
        let base = self.decided_at(conn);
        self.world.command(Timestamp(base), cmd);
    }

    // ------------------------------------------------------------------ outgoing

    fn conn_of(&self, id: &str) -> usize {
        (fnv1a(id) % self.s.connections as u64) as usize
    }

    /// Whether an event at `at` may be written on `conn` now.
    fn may_send(&self, at: u64, conn: usize) -> bool {
        if self.unacked >= self.s.window {
            return false;
        }
        if self.s.pacing == Pacing::Max
            && let Some(lag) = self.s.max_lag_ms
            && let Some(oldest) = self
                .conns
                .iter()
                .filter_map(|c| c.pending.front())
                .map(|p| p.at)
                .min()
            && at > oldest.saturating_add(lag)
        {
            return false;
        }
        if self.s.event_clock && self.conns.len() > 1 {
            for (i, c) in self.conns.iter().enumerate() {
                if i != conn && c.pending.front().is_some_and(|p| p.at != at) {
                    return false;
                }
            }
        }
        true
    }

    /// Writes everything due into `bufs` (one per connection) and says what to wait for.
    pub fn pump(&mut self, now: Instant, bufs: &mut [BytesMut]) -> anyhow::Result<Wait> {
        if self.wall_start.is_none() {
            self.wall_start = Some(now);
            self.epoch_start_ms = wall_epoch_ms();
        }
        let wait = self.pump_world(now, bufs);
        self.sync_stats();
        wait
    }

    fn pump_world(&mut self, now: Instant, bufs: &mut [BytesMut]) -> anyhow::Result<Wait> {
        loop {
            let next = self.world.peek();
            // Ticks fill silences while callers wait, so that the engine's timers act.
            let tick = (self.s.event_clock
                && self.s.tick_ms > 0
                && self.world.waiting() > 0
                && !self.final_sent)
                .then(|| self.last_at.saturating_add(self.s.tick_ms))
                .filter(|&t| t <= self.horizon)
                .filter(|&t| next.is_none_or(|n| t < n.at.0));
            let t = match (tick, next) {
                (Some(t), _) => t,
                (None, Some(n)) => n.at.0,
                (None, None) => return self.finish(now, bufs),
            };
            let at = t.max(self.last_at);
            let conn = if tick.is_some() {
                0
            } else {
                self.world.peek_call().map_or(0, |id| self.conn_of(id))
            };
            if let Pacing::Speed(speed) = self.s.pacing {
                let due = self.due(at, speed, now);
                if due > now {
                    return Ok(Wait::Until(due));
                }
                let behind = now.saturating_duration_since(due).as_millis();
                self.stats.max_behind_ms = self
                    .stats
                    .max_behind_ms
                    .max(u64::try_from(behind).unwrap_or(u64::MAX));
            }
            if !self.may_send(at, conn) {
                return Ok(Wait::Answers);
            }
            if tick.is_some() {
                self.tick(at, now, bufs);
                continue;
            }
            if next.is_some_and(|n| n.arrival) {
                self.horizon = self.horizon.max(t);
            }
            self.world.pop(Timestamp(at)).context("reading the trace")?;
            while let Some(act) = self.world.take() {
                self.emit(act, now, bufs);
            }
        }
    }

    /// Nothing left to schedule: wait for the answers, then one last `tick` (with `seq`)
    /// that moves time on past the drain when calls are still in progress, so that the
    /// engine's timers end what they can; done when that is answered too.
    fn finish(&mut self, now: Instant, bufs: &mut [BytesMut]) -> anyhow::Result<Wait> {
        if self.unacked > 0 {
            return Ok(Wait::Answers);
        }
        if self.final_sent {
            return Ok(Wait::Done);
        }
        self.final_sent = true;
        let at = if self.world.in_flight() == 0 {
            self.last_at
        } else {
            self.last_at
                .max(self.horizon.saturating_add(self.s.drain_ms))
        };
        self.tick(at, now, bufs);
        Ok(Wait::Answers)
    }

    /// Writes one of the world's inputs on the connection of its call (a wrap-up on that
    /// of the call it follows; other agent events on the first).
    fn emit(&mut self, act: Act, now: Instant, bufs: &mut [BytesMut]) {
        let Act {
            at,
            mut input,
            about,
        } = act;
        let conn = self
            .world
            .about_call(about)
            .map_or(0, |id| self.conn_of(id));
        if let Input::AgentWrapupUntil { until, .. } = &mut input {
            *until = Timestamp(self.daemon_ms(until.0));
        }
        if let Input::CallArrived { call, .. } = &input {
            self.arrived_sent.insert(call.clone(), now);
            self.bound_arrived_sent();
        }
        self.write(conn, at.0, input, about, now, bufs);
    }

    /// Forgets the arrival times of calls that ended with no command read (so the map
    /// holds at most about the calls in flight).
    fn bound_arrived_sent(&mut self) {
        if self.arrived_sent.len() > 2 * self.world.in_flight() + 1024 {
            let world = &self.world;
            self.arrived_sent.retain(|id, _| world.knows(id));
        }
    }

    /// Writes one event on `conn`.
    fn write(
        &mut self,
        conn: usize,
        at: u64,
        body: Input,
        about: About,
        now: Instant,
        bufs: &mut [BytesMut],
    ) {
        let conn = conn.min(self.conns.len() - 1);
        self.seq += 1;
        let kind = body.kind();
        let with_at = self.s.event_clock || kind == "tick";
        let msg = PlatformMessage {
            seq: Some(self.seq),
            at: with_at.then(|| Timestamp(self.daemon_ms(at))),
            attrs: None,
            body: Event::Input(body),
        };
        let mut text = None;
        if let Some(buf) = bufs.get_mut(conn) {
            let start = buf.len();
            encode_platform(&msg, buf);
            text = self
                .s
                .keep_lines
                .then(|| Bytes::copy_from_slice(&buf[start..]));
        }
        let c = &mut self.conns[conn];
        c.lines += 1;
        c.pending.push_back(Pending {
            seq: self.seq,
            line: c.lines,
            text,
            resent: false,
            at,
            sent: now,
            kind,
            about,
        });
        self.unacked += 1;
        self.stats.events += 1;
        if self.first_sent.is_none() {
            self.first_sent = Some(now);
        }
        self.last_at = self.last_at.max(at);
        self.stats.sim_ms = self.last_at.saturating_sub(self.sim_start);
    }

    /// Connection `conn` was made again (its `hello` resumed after the last command
    /// processed): every event it had no answer for is written again into `buf`, in order,
    /// with its `seq`, in place of what `buf` held for the old connection. Returns how many.
    /// (An event the daemon had applied is refused as done, and taken as answered.)
    pub fn resume(&mut self, conn: usize, buf: &mut BytesMut) -> usize {
        buf.clear();
        let Some(c) = self.conns.get_mut(conn) else {
            return 0;
        };
        // The new connection's line 1 is its `hello`.
        c.lines = 1;
        for p in &mut c.pending {
            if let Some(text) = &p.text {
                buf.extend_from_slice(text);
            }
            c.lines += 1;
            p.line = c.lines;
            p.resent = true;
        }
        let n = c.pending.len();
        self.stats.resent += n as u64;
        n
    }

    fn tick(&mut self, at: u64, now: Instant, bufs: &mut [BytesMut]) {
        self.stats.ticks += 1;
        self.write(0, at, Input::Tick, About::NOTHING, now, bufs);
    }
}

#[cfg(test)]
mod tests;
