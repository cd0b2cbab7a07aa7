//! The simulated platform(s), callers and agents of `vaxel load`, without sockets: lines in
//! ([`Driver::on_message`]), lines out ([`Driver::pump`] encodes into one buffer per
//! connection). The roles are those of the replay driver (`vaxel_sim::replay`, docs/formats.md):
//!
//! - Callers arrive at their trace time with their trace `digits`; a `menu` gets no input;
//!   a callback offer is accepted when `accept_callback` is true. Patience starts at the
//!   first `queue` or `connect`; the caller hangs up when it runs out unless talking.
//! - Agents log in at their shift's start and out at its end; back-to-back shifts of one
//!   agent are one stretch; a login refused because the agent is still on (finishing a
//!   call of a shift that ended) becomes `agent.ready`, as in replay. They answer a
//!   `connect` after its `ring_s` (a `dial` at once), talk `talk_s`, register the case on
//!   answering, and at the end of the talk plan the trace's wrap-up with
//!   `agent.wrapup_until` (the group's default otherwise) before hanging up.
//! - At the same millisecond: reactions to commands first, then logouts, logins, answers,
//!   hang-ups after talk, arrivals in trace order, patience last.
//!
//! Unlike replay the driver learns what the engine did only from the daemon's commands,
//! some time after it happened, and the engine's own timers (ring time-outs, wrap-ups
//! ending, overflow) act when time reaches them on the daemon. A reaction is sent at its
//! natural time (when the command's event was applied plus the reaction's delay), or at
//! the latest `at` already sent when that is later, so `at` never goes backwards.
//!
//! Flow control: every event carries `seq`; at most `window` events are unacknowledged;
//! at `--speed max` no event goes more than `max_lag` of simulated time past the oldest
//! unacknowledged one (so reactions lag by at most that); with the event clock and several
//! connections, events on different connections overlap only at one same `at` (the daemon
//! may interleave connections, and the event clock refuses time going backwards).

use super::latency::Latency;
use anyhow::{Context as _, bail};
use bytes::BytesMut;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vaxel_core::{Command, Input, Timestamp};
use vaxel_proto::{ErrorCode, Event, PlatformMessage, ServerMessage, encode_platform};
use vaxel_sim::{Shift, SimError, TraceCall};

/// `pending` slot for events about no call.
const NO_CALL: u32 = u32::MAX;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Reaction = 0,
    Logout = 1,
    Login = 2,
    Answer = 3,
    TalkEnd = 4,
    Arrival = 5,
    Patience = 6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Logout(u32),
    Login(u32),
    Ready(u32),
    /// A call's reply to a `menu` (no input) or a callback offer.
    Digits {
        slot: u32,
        uid: u64,
        reply: Reply,
    },
    /// The ringing agent picks up (or the citizen answers a callback `dial`).
    Answer {
        slot: u32,
        uid: u64,
        epoch: u32,
    },
    TalkEnd {
        slot: u32,
        uid: u64,
        epoch: u32,
    },
    Patience {
        slot: u32,
        uid: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reply {
    NoInput,
    Accept,
    Decline,
}

/// Where the next event comes from.
#[derive(Clone, Copy, Debug)]
enum Src {
    Heap(Ev),
    Shift(Ev),
    Trace,
    Tick,
}

/// A call as the platform sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Arrived; no queue or agent yet (menus, greetings).
    Ivr,
    Queued,
    Ringing,
    Dialing,
    Talking,
    /// The caller accepted a callback: the line is free, the place kept.
    CallbackWaiting,
    /// The tool sent `call.hangup`; waiting for its answer.
    HangingUp,
    /// Ended (by a command, or by the tool's acknowledged hang-up).
    Done,
}

impl St {
    fn as_str(self) -> &'static str {
        match self {
            St::Ivr => "ivr",
            St::Queued => "queued",
            St::Ringing => "ringing",
            St::Dialing => "dialing",
            St::Talking => "talking",
            St::CallbackWaiting => "callback_waiting",
            St::HangingUp => "hanging_up",
            St::Done => "done",
        }
    }
}

#[derive(Debug)]
struct Call {
    uid: u64,
    id: Arc<str>,
    conn: usize,
    talk_ms: u64,
    wrapup_ms: Option<u64>,
    patience_ms: Option<u64>,
    case_type: Option<Arc<str>>,
    resolved: Option<bool>,
    accept_callback: bool,
    state: St,
    agent: Option<Arc<str>>,
    /// Bumped whenever a pending answer or talk end loses its meaning.
    epoch: u32,
    patience_started: bool,
    /// When patience runs out (simulated time), once started.
    patience_at: Option<u64>,
    /// The caller accepted a callback offer: its line is freed, patience no longer applies.
    accepted: bool,
    /// When `call.arrived` was written, until the first command for the call is read.
    arrived_sent: Option<Instant>,
    /// Events about the call not yet answered by the daemon.
    inflight: u32,
}

/// An event written and not yet answered.
#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: u64,
    line: u64,
    at: u64,
    sent: Instant,
    /// The event's `ev`.
    kind: &'static str,
    /// The call (`NO_CALL` for agent events and ticks) and its uid.
    slot: u32,
    uid: u64,
    /// The agent of agent events (roster index).
    agent: u32,
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
}

/// The simulated platform(s) and agents.
pub struct Driver<I> {
    s: Settings,
    trace: I,
    next_call: Option<TraceCall>,
    trace_done: bool,
    shifts: Vec<(u64, Class, Ev)>,
    next_shift: usize,
    agents: Vec<Arc<str>>,
    heap: BinaryHeap<Reverse<(u64, Class, u64, Ev)>>,
    order: u64,
    calls: Vec<Option<Call>>,
    free: Vec<u32>,
    by_id: FxHashMap<Arc<str>, u32>,
    next_uid: u64,
    /// Calls queued or ringing (ticks are sent for them).
    waiting: usize,
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
            .field("calls", &self.by_id.len())
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
    pub fn new(s: Settings, mut trace: I, roster: &[Shift]) -> anyhow::Result<Driver<I>> {
        let next_call = match trace.next() {
            Some(r) => Some(r.context("reading the trace")?),
            None => None,
        };
        let first = roster
            .iter()
            .map(|s| s.start.0)
            .chain(next_call.as_ref().map(|c| c.arrival.0))
            .min()
            .unwrap_or(0);
        let last_shift = roster.iter().map(|s| s.end.0).max().unwrap_or(first);
        let connections = s.connections.max(1);
        let mut s = s;
        if let Pacing::Speed(x) = s.pacing
            && s.tick_ms > 0
        {
            // At most one tick per wall millisecond.
            s.tick_ms = s.tick_ms.max(x.ceil() as u64);
        }
        let mut d = Driver {
            s,
            trace_done: next_call.is_none(),
            trace,
            next_call,
            shifts: Vec::new(),
            next_shift: 0,
            agents: Vec::new(),
            heap: BinaryHeap::new(),
            order: 0,
            calls: Vec::new(),
            free: Vec::new(),
            by_id: FxHashMap::default(),
            next_uid: 0,
            waiting: 0,
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
        };
        d.s.connections = connections;
        d.schedule_roster(roster);
        Ok(d)
    }

    /// Lists each agent's logins and logouts in time order, a pair per stretch of work
    /// (as replay does).
    fn schedule_roster(&mut self, roster: &[Shift]) {
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        for (a, s, e) in vaxel_sim::roster::stretches(roster) {
            let ix = *index.entry(a).or_insert_with(|| {
                self.agents.push(Arc::from(a));
                (self.agents.len() - 1) as u32
            });
            self.shifts.push((s.0, Class::Login, Ev::Login(ix)));
            self.shifts.push((e.0, Class::Logout, Ev::Logout(ix)));
        }
        self.shifts.sort_unstable();
    }

    /// Calls in progress (announced, not ended).
    #[must_use]
    pub fn calls_in_progress(&self) -> usize {
        self.by_id.len()
    }

    /// The calls still in progress by state (`queued`, `talking`, …), for the report.
    #[must_use]
    pub fn in_progress(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for c in self.calls.iter().flatten() {
            if c.state != St::Done {
                *m.entry(c.state.as_str().to_owned()).or_default() += 1;
            }
        }
        m
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

    fn at(&mut self, t: u64, class: Class, ev: Ev) {
        self.order += 1;
        self.heap.push(Reverse((t, class, self.order, ev)));
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
                    self.on_ok(p);
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
                self.on_command(conn, read_at, cmd);
            }
        }
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
        let mut skipped = Vec::new();
        let found = {
            let c = self.conns.get_mut(conn)?;
            loop {
                match c.pending.front() {
                    Some(p) if p.seq < seq => skipped.extend(c.pending.pop_front()),
                    Some(p) if p.seq == seq => break c.pending.pop_front(),
                    _ => break None,
                }
            }
        };
        if !skipped.is_empty() {
            self.unacked -= skipped.len();
            for p in &skipped {
                if p.slot != NO_CALL {
                    self.release(p.slot, p.uid);
                }
            }
            self.error(
                "missing_answer",
                format!(
                    "load-{}: {} event(s) before seq {seq} got no answer",
                    conn + 1,
                    skipped.len()
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

    fn call(&self, slot: u32, uid: u64) -> Option<&Call> {
        self.calls
            .get(slot as usize)?
            .as_ref()
            .filter(|c| c.uid == uid)
    }

    fn call_mut(&mut self, slot: u32, uid: u64) -> Option<&mut Call> {
        self.calls
            .get_mut(slot as usize)?
            .as_mut()
            .filter(|c| c.uid == uid)
    }

    /// One event about the call is answered; forgets a finished call with nothing pending.
    fn release(&mut self, slot: u32, uid: u64) {
        let Some(c) = self.call_mut(slot, uid) else {
            return;
        };
        c.inflight = c.inflight.saturating_sub(1);
        if c.inflight == 0 && c.state == St::Done {
            self.forget(slot);
        }
    }

    fn forget(&mut self, slot: u32) {
        if let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::take) {
            self.by_id.remove(&c.id);
            self.free.push(slot);
        }
    }

    fn set_state(&mut self, slot: u32, state: St) {
        let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let was = matches!(c.state, St::Queued | St::Ringing);
        let now = matches!(state, St::Queued | St::Ringing);
        c.state = state;
        match (was, now) {
            (false, true) => self.waiting += 1,
            (true, false) => self.waiting -= 1,
            _ => {}
        }
    }

    /// The call ended (a command, or the tool's hang-up acknowledged).
    fn end(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        if c.state == St::Done {
            return;
        }
        c.epoch += 1;
        let inflight = c.inflight;
        self.set_state(slot, St::Done);
        self.stats.ended += 1;
        if inflight == 0 {
            self.forget(slot);
        }
    }

    fn on_ok(&mut self, p: Pending) {
        if p.slot == NO_CALL {
            return;
        }
        if p.kind == "call.hangup"
            && self
                .call(p.slot, p.uid)
                .is_some_and(|c| c.state == St::HangingUp)
        {
            self.end(p.slot);
        }
        self.release(p.slot, p.uid);
    }

    fn on_error(&mut self, conn: usize, p: Option<Pending>, code: ErrorCode, message: &str) {
        let Some(p) = p else {
            self.error(
                code.as_str(),
                format!("load-{}: {}: {message}", conn + 1, code.as_str()),
            );
            return;
        };
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
        match p.kind {
            "agent.login" if code == ErrorCode::InvalidState => {
                // Still on from a shift that ended while finishing a call: stay on.
                self.stats.relogins += 1;
                let t = self.last_at;
                self.at(t, Class::Reaction, Ev::Ready(p.agent));
                return;
            }
            "call.arrived" => {
                self.stats.refused_arrivals += 1;
                if let Some(c) = self.call_mut(p.slot, p.uid) {
                    c.epoch += 1;
                    let slot = p.slot;
                    self.set_state(slot, St::Done);
                }
            }
            "call.answered" | "callback.result" => {
                // Rung out (or ended) on the daemon before the answer arrived: the call is
                // back in its queue, or gone (a command says so).
                let dialing = p.kind == "callback.result";
                if let Some(c) = self.call_mut(p.slot, p.uid)
                    && c.state == St::Talking
                {
                    c.epoch += 1;
                    // Patience, dropped when the call was answered, applies again.
                    let (slot, uid, patience) = (p.slot, p.uid, c.patience_at);
                    if let Some(t) = patience.filter(|_| !dialing) {
                        self.at(t, Class::Patience, Ev::Patience { slot, uid });
                    }
                    self.set_state(
                        slot,
                        if dialing {
                            St::CallbackWaiting
                        } else {
                            St::Queued
                        },
                    );
                }
            }
            "call.hangup" => {
                // The daemon no longer knows the call. Fine when a command ended it; else
                // it vanished.
                if let Some(c) = self.call_mut(p.slot, p.uid)
                    && c.state != St::Done
                {
                    c.epoch += 1;
                    let slot = p.slot;
                    self.set_state(slot, St::Done);
                    self.stats.vanished += 1;
                }
            }
            _ => {}
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
        if p.slot != NO_CALL {
            self.release(p.slot, p.uid);
        }
    }

    fn on_command(&mut self, conn: usize, read_at: Instant, cmd: Command) {
        let Some(&slot) = self.by_id.get(cmd.call()) else {
            self.stats.foreign_commands += 1;
            return;
        };
        self.stats.commands += 1;
        let base = self.decided_at(conn);
        let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        if let Some(t) = c.arrived_sent.take() {
            self.cmd_latency
                .record(read_at.saturating_duration_since(t));
        }
        if matches!(c.state, St::Done | St::HangingUp) {
            // The caller already hung up (or the call is over): nothing to do.
            if matches!(cmd, Command::Forward { .. })
                || (matches!(cmd, Command::Hangup { .. }) && !cmd.is_callback_accepted())
            {
                self.end(slot);
            }
            return;
        }
        let uid = c.uid;
        match cmd {
            Command::Play { .. } => {}
            Command::Menu { .. } => self.at(
                base,
                Class::Reaction,
                Ev::Digits {
                    slot,
                    uid,
                    reply: Reply::NoInput,
                },
            ),
            Command::OfferCallback { .. } => {
                let reply = if c.accept_callback {
                    Reply::Accept
                } else {
                    Reply::Decline
                };
                self.at(base, Class::Reaction, Ev::Digits { slot, uid, reply });
            }
            Command::Queue { .. } => {
                if c.state == St::Ivr {
                    self.set_state(slot, St::Queued);
                }
                self.start_patience(slot, base);
            }
            Command::Connect { agent, ring_s, .. } => {
                c.agent = Some(agent);
                c.epoch += 1;
                let epoch = c.epoch;
                self.set_state(slot, St::Ringing);
                self.start_patience(slot, base);
                self.at(
                    base.saturating_add(ring_s.saturating_mul(1000)),
                    Class::Answer,
                    Ev::Answer { slot, uid, epoch },
                );
            }
            Command::Dial { agent, .. } => {
                c.agent = Some(agent);
                c.epoch += 1;
                let epoch = c.epoch;
                self.set_state(slot, St::Dialing);
                self.at(base, Class::Answer, Ev::Answer { slot, uid, epoch });
            }
            Command::Hangup { .. } if cmd.is_callback_accepted() => {
                c.epoch += 1;
                self.set_state(slot, St::CallbackWaiting);
            }
            Command::Hangup { .. } | Command::Forward { .. } => self.end(slot),
        }
    }

    fn start_patience(&mut self, slot: u32, base: u64) {
        let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        if c.patience_started {
            return;
        }
        c.patience_started = true;
        if let Some(p) = c.patience_ms {
            let (uid, t) = (c.uid, base.saturating_add(p));
            c.patience_at = Some(t);
            self.at(t, Class::Patience, Ev::Patience { slot, uid });
        }
    }

    // ------------------------------------------------------------------ outgoing

    /// Whether a scheduled event still means something (else it is dropped unsent).
    fn live(&self, ev: Ev) -> bool {
        match ev {
            Ev::Logout(_) | Ev::Login(_) | Ev::Ready(_) => true,
            Ev::Digits { slot, uid, reply } => self.call(slot, uid).is_some_and(|c| match reply {
                Reply::NoInput => c.state == St::Ivr,
                // An offer is withdrawn when the call is offered to an agent.
                Reply::Accept | Reply::Decline => c.state == St::Queued,
            }),
            Ev::Answer { slot, uid, epoch } => self
                .call(slot, uid)
                .is_some_and(|c| c.epoch == epoch && matches!(c.state, St::Ringing | St::Dialing)),
            Ev::TalkEnd { slot, uid, epoch } => self
                .call(slot, uid)
                .is_some_and(|c| c.epoch == epoch && c.state == St::Talking),
            Ev::Patience { slot, uid } => self
                .call(slot, uid)
                .is_some_and(|c| !c.accepted && matches!(c.state, St::Queued | St::Ringing)),
        }
    }

    fn ev_conn(&self, ev: Ev) -> usize {
        match ev {
            Ev::Logout(_) | Ev::Login(_) | Ev::Ready(_) => 0,
            Ev::Digits { slot, uid, .. }
            | Ev::Answer { slot, uid, .. }
            | Ev::TalkEnd { slot, uid, .. }
            | Ev::Patience { slot, uid } => self.call(slot, uid).map_or(0, |c| c.conn),
        }
    }

    fn trace_conn(&self, id: &str) -> usize {
        (fnv1a(id) % self.s.connections as u64) as usize
    }

    /// Loads the next trace call into `next_call`.
    fn refill(&mut self) -> anyhow::Result<()> {
        if self.next_call.is_none() && !self.trace_done {
            match self.trace.next() {
                Some(r) => self.next_call = Some(r.context("reading the trace")?),
                None => self.trace_done = true,
            }
        }
        Ok(())
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
        loop {
            self.refill()?;
            // The earliest of: scheduled reactions, roster, trace (in that order at a tie).
            let mut next: Option<(u64, Class, Src)> = None;
            let mut consider = |t: u64, c: Class, src: Src| {
                if next.is_none_or(|(nt, nc, _)| (t, c) < (nt, nc)) {
                    next = Some((t, c, src));
                }
            };
            if let Some(Reverse((t, c, _, ev))) = self.heap.peek() {
                consider(*t, *c, Src::Heap(*ev));
            }
            if let Some(&(t, c, ev)) = self.shifts.get(self.next_shift) {
                consider(t, c, Src::Shift(ev));
            }
            if let Some(call) = &self.next_call {
                consider(call.arrival.0, Class::Arrival, Src::Trace);
            }
            // Ticks fill silences while callers wait, so that the engine's timers act.
            let tick =
                (self.s.event_clock && self.s.tick_ms > 0 && self.waiting > 0 && !self.final_sent)
                    .then(|| self.last_at.saturating_add(self.s.tick_ms))
                    .filter(|&t| t <= self.horizon)
                    .filter(|&t| next.is_none_or(|(n, _, _)| t < n));
            let (t, src) = match (tick, next) {
                (Some(t), _) => (t, Src::Tick),
                (None, Some((t, _, src))) => (t, src),
                (None, None) => return self.finish(now, bufs),
            };
            if let Src::Heap(ev) = src
                && !self.live(ev)
            {
                self.heap.pop();
                continue;
            }
            let at = t.max(self.last_at);
            let conn = match src {
                Src::Trace => self
                    .next_call
                    .as_ref()
                    .map_or(0, |c| self.trace_conn(&c.call_id)),
                Src::Heap(ev) | Src::Shift(ev) => self.ev_conn(ev),
                Src::Tick => 0,
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
            match src {
                Src::Tick => self.tick(at, now, bufs),
                Src::Trace => {
                    if let Some(call) = self.next_call.take() {
                        self.arrive(at, call, now, bufs);
                    }
                }
                Src::Shift(ev) => {
                    self.next_shift += 1;
                    self.fire(at, ev, now, bufs);
                }
                Src::Heap(ev) => {
                    self.heap.pop();
                    self.fire(at, ev, now, bufs);
                }
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
        let at = if self.by_id.is_empty() {
            self.last_at
        } else {
            self.last_at
                .max(self.horizon.saturating_add(self.s.drain_ms))
        };
        self.tick(at, now, bufs);
        Ok(Wait::Answers)
    }

    /// Writes one event on `conn`.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        conn: usize,
        at: u64,
        body: Input,
        slot: u32,
        agent: u32,
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
        if let Some(buf) = bufs.get_mut(conn) {
            encode_platform(&msg, buf);
        }
        let uid = if slot == NO_CALL {
            0
        } else {
            match self.calls.get_mut(slot as usize).and_then(Option::as_mut) {
                Some(c) => {
                    c.inflight += 1;
                    c.uid
                }
                None => 0,
            }
        };
        let c = &mut self.conns[conn];
        c.lines += 1;
        c.pending.push_back(Pending {
            seq: self.seq,
            line: c.lines,
            at,
            sent: now,
            kind,
            slot,
            uid,
            agent,
        });
        self.unacked += 1;
        self.stats.events += 1;
        if self.first_sent.is_none() {
            self.first_sent = Some(now);
        }
        self.last_at = self.last_at.max(at);
        self.stats.sim_ms = self.last_at.saturating_sub(self.sim_start);
    }

    fn tick(&mut self, at: u64, now: Instant, bufs: &mut [BytesMut]) {
        self.stats.ticks += 1;
        self.emit(0, at, Input::Tick, NO_CALL, 0, now, bufs);
    }

    fn arrive(&mut self, at: u64, t: TraceCall, now: Instant, bufs: &mut [BytesMut]) {
        self.stats.calls += 1;
        self.horizon = self.horizon.max(t.arrival.0);
        let id: Arc<str> = Arc::from(t.call_id);
        let conn = self.trace_conn(&id);
        self.next_uid += 1;
        let call = Call {
            uid: self.next_uid,
            id: id.clone(),
            conn,
            talk_ms: t.talk_ms,
            wrapup_ms: t.wrapup_ms,
            patience_ms: t.patience_ms,
            case_type: t.case_type.map(Arc::from),
            resolved: t.resolved,
            accept_callback: t.accept_callback,
            state: St::Ivr,
            agent: None,
            epoch: 0,
            patience_started: false,
            patience_at: None,
            accepted: false,
            arrived_sent: Some(now),
            inflight: 0,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.calls[s as usize] = Some(call);
                s
            }
            None => {
                self.calls.push(Some(call));
                (self.calls.len() - 1) as u32
            }
        };
        if let Some(old) = self.by_id.insert(id.clone(), slot) {
            // The same id twice in a trace is refused by the trace reader; keep the map
            // consistent anyway.
            self.calls[old as usize] = None;
            self.free.push(old);
        }
        self.stats.peak_calls = self.stats.peak_calls.max(self.by_id.len());
        let body = Input::CallArrived {
            call: id,
            // Not sent: the connection's `hello` names the platform.
            platform: Arc::from(""),
            to: t.to.into(),
            from: t.from.into(),
            digits: (!t.digits.is_empty()).then_some(t.digits),
            lang: None,
        };
        self.emit(conn, at, body, slot, 0, now, bufs);
    }

    fn fire(&mut self, at: u64, ev: Ev, now: Instant, bufs: &mut [BytesMut]) {
        match ev {
            Ev::Login(a) | Ev::Logout(a) | Ev::Ready(a) => {
                let Some(agent) = self.agents.get(a as usize).cloned() else {
                    return;
                };
                let body = match ev {
                    Ev::Login(_) => Input::AgentLogin {
                        agent,
                        extension: None,
                    },
                    Ev::Logout(_) => Input::AgentLogout { agent },
                    _ => Input::AgentReady { agent },
                };
                self.emit(0, at, body, NO_CALL, a, now, bufs);
            }
            Ev::Digits { slot, uid, reply } => {
                let Some(c) = self.call(slot, uid) else {
                    return;
                };
                let digits = match reply {
                    Reply::NoInput => String::new(),
                    Reply::Accept => "1".to_owned(),
                    Reply::Decline => "2".to_owned(),
                };
                let (conn, call) = (c.conn, c.id.clone());
                if reply == Reply::Accept
                    && let Some(c) = self.call_mut(slot, uid)
                {
                    // The line is freed as the daemon takes the answer: the caller no
                    // longer hangs up.
                    c.accepted = true;
                }
                self.emit(
                    conn,
                    at,
                    Input::CallDigits { call, digits },
                    slot,
                    0,
                    now,
                    bufs,
                );
            }
            Ev::Answer { slot, uid, .. } => {
                let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::as_mut) else {
                    return;
                };
                let Some(agent) = c.agent.clone() else {
                    return;
                };
                let dialing = c.state == St::Dialing;
                c.epoch += 1;
                let (conn, call, epoch, talk) = (c.conn, c.id.clone(), c.epoch, c.talk_ms);
                let disposition = c.case_type.clone().zip(c.resolved);
                self.set_state(slot, St::Talking);
                let body = if dialing {
                    Input::CallbackResult {
                        callback: call.clone(),
                        connected: true,
                    }
                } else {
                    Input::CallAnswered {
                        call: call.clone(),
                        agent: agent.clone(),
                    }
                };
                self.emit(conn, at, body, slot, 0, now, bufs);
                // The case is registered as soon as the call is answered (as in replay).
                if let Some((case_type, resolved)) = disposition {
                    let body = Input::CallDisposition {
                        call,
                        agent,
                        case_type,
                        resolved,
                    };
                    self.emit(conn, at, body, slot, 0, now, bufs);
                }
                self.at(
                    at.saturating_add(talk),
                    Class::TalkEnd,
                    Ev::TalkEnd { slot, uid, epoch },
                );
            }
            Ev::TalkEnd { slot, uid, .. } => {
                let Some(c) = self.call(slot, uid) else {
                    return;
                };
                let (conn, call, agent) = (c.conn, c.id.clone(), c.agent.clone());
                let wrapup = if self.s.event_clock {
                    c.wrapup_ms
                } else {
                    Some(c.wrapup_ms.unwrap_or(self.s.live_wrapup_ms))
                };
                // The trace's wrap-up, planned before the hang-up so that it replaces the
                // group's default even when that is zero.
                if let (Some(agent), Some(w)) = (agent, wrapup) {
                    let until = Timestamp(self.daemon_ms(at.saturating_add(w)));
                    self.emit(
                        conn,
                        at,
                        Input::AgentWrapupUntil { agent, until },
                        slot,
                        0,
                        now,
                        bufs,
                    );
                }
                self.hang_up(slot, conn, call, at, now, bufs);
            }
            Ev::Patience { slot, uid } => {
                let Some(c) = self.call(slot, uid) else {
                    return;
                };
                let (conn, call) = (c.conn, c.id.clone());
                self.hang_up(slot, conn, call, at, now, bufs);
            }
        }
    }

    fn hang_up(
        &mut self,
        slot: u32,
        conn: usize,
        call: Arc<str>,
        at: u64,
        now: Instant,
        bufs: &mut [BytesMut],
    ) {
        if let Some(c) = self.calls.get_mut(slot as usize).and_then(Option::as_mut) {
            c.epoch += 1;
        }
        self.set_state(slot, St::HangingUp);
        let body = Input::CallHangup { call, reason: None };
        self.emit(conn, at, body, slot, 0, now, bufs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_proto::decode_platform;

    const T0: u64 = 1_772_438_400_000;

    fn settings(connections: usize) -> Settings {
        Settings {
            connections,
            pacing: Pacing::Max,
            window: 100,
            max_lag_ms: Some(5_000),
            event_clock: true,
            tick_ms: 0,
            drain_ms: 0,
            live_wrapup_ms: 0,
            strict: false,
        }
    }

    fn call(id: &str, at: u64, patience_ms: Option<u64>) -> TraceCall {
        TraceCall {
            call_id: id.to_owned(),
            arrival: Timestamp(at),
            to: "+4610100".to_owned(),
            from: "+4670".to_owned(),
            digits: String::new(),
            patience_ms,
            talk_ms: 60_000,
            wrapup_ms: Some(5_000),
            case_type: Some("order".to_owned()),
            resolved: Some(true),
            accept_callback: false,
        }
    }

    type Trace = std::vec::IntoIter<Result<TraceCall, SimError>>;

    fn driver(s: Settings, calls: Vec<TraceCall>, roster: &[Shift]) -> Driver<Trace> {
        let trace: Vec<Result<TraceCall, SimError>> = calls.into_iter().map(Ok).collect();
        Driver::new(s, trace.into_iter(), roster).unwrap()
    }

    fn shift(agent: &str, start: u64, end: u64) -> Shift {
        Shift {
            agent: agent.to_owned(),
            start: Timestamp(start),
            end: Timestamp(end),
        }
    }

    /// Pumps and decodes what was written, per connection.
    fn pump(d: &mut Driver<Trace>) -> (Wait, Vec<Vec<PlatformMessage>>) {
        let mut bufs: Vec<BytesMut> = (0..d.conns.len()).map(|_| BytesMut::new()).collect();
        let wait = d.pump(Instant::now(), &mut bufs).unwrap();
        let lines = bufs
            .iter()
            .map(|b| {
                b[..]
                    .split(|&c| c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| decode_platform(l).unwrap())
                    .collect()
            })
            .collect();
        (wait, lines)
    }

    fn ok(d: &mut Driver<Trace>, conn: usize, seq: u64) {
        d.on_message(conn, Instant::now(), ServerMessage::Ok { seq });
    }

    fn refuse(d: &mut Driver<Trace>, seq: u64, code: ErrorCode) {
        let msg = ServerMessage::Error {
            seq: Some(seq),
            line: None,
            code,
            message: "no".into(),
        };
        d.on_message(0, Instant::now(), msg);
    }

    fn cmd(d: &mut Driver<Trace>, c: Command) {
        d.on_message(0, Instant::now(), ServerMessage::Cmd(c));
    }

    fn connect(call: &str, ring_s: u64) -> Command {
        Command::Connect {
            call: call.into(),
            agent: "a1".into(),
            extension: "1001".into(),
            ring_s,
        }
    }

    fn kinds(msgs: &[PlatformMessage]) -> Vec<&'static str> {
        msgs.iter().map(|m| m.body.kind()).collect()
    }

    fn seq_of(msgs: &[PlatformMessage], kind: &str) -> u64 {
        msgs.iter()
            .find(|m| m.body.kind() == kind)
            .and_then(|m| m.seq)
            .unwrap()
    }

    #[test]
    fn a_call_from_arrival_to_hang_up() {
        let mut d = driver(
            settings(1),
            vec![call("c1", T0 + 1_000, Some(30_000))],
            &[shift("a1", T0, T0 + 3_600_000)],
        );
        let (w, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["agent.login", "call.arrived"]);
        assert_eq!(out[0][1].at, Some(Timestamp(T0 + 1_000)));
        // The logout is an hour away: beyond the lag bound while events are unanswered.
        assert_eq!(w, Wait::Answers);
        ok(&mut d, 0, 1);
        cmd(&mut d, connect("c1", 5));
        ok(&mut d, 0, 2);
        // Answered 5 s after the connect was decided (at the arrival), registered at once.
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["call.answered", "call.disposition"]);
        assert_eq!(out[0][0].at, Some(Timestamp(T0 + 6_000)));
        ok(&mut d, 0, 3);
        ok(&mut d, 0, 4);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["agent.wrapup_until", "call.hangup"]);
        assert_eq!(out[0][1].at, Some(Timestamp(T0 + 66_000)));
        match &out[0][0].body {
            Event::Input(Input::AgentWrapupUntil { until, .. }) => {
                assert_eq!(*until, Timestamp(T0 + 71_000));
            }
            other => panic!("{other:?}"),
        }
        ok(&mut d, 0, 5);
        ok(&mut d, 0, 6);
        assert_eq!(d.stats.ended, 1);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["agent.logout"]);
        ok(&mut d, 0, 7);
        let (w, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["tick"], "the final tick");
        assert_eq!(w, Wait::Answers);
        ok(&mut d, 0, 8);
        assert_eq!(pump(&mut d).0, Wait::Done);
        assert!(d.stats.errors.is_empty(), "{:?}", d.stats.errors);
        assert_eq!(d.unfinished(), 0);
        assert_eq!(d.calls_in_progress(), 0);
        assert_eq!(d.ack_latency.summary().count, 8);
        assert_eq!(d.cmd_latency.summary().count, 1);
    }

    #[test]
    fn a_late_answer_is_a_late_refusal_and_patience_still_runs() {
        let mut d = driver(settings(1), vec![call("c1", T0, Some(8_000))], &[]);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["call.arrived"]);
        cmd(&mut d, connect("c1", 5));
        ok(&mut d, 0, 1);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["call.answered", "call.disposition"]);
        // The daemon rang out first.
        refuse(&mut d, 2, ErrorCode::InvalidState);
        refuse(&mut d, 3, ErrorCode::InvalidState);
        assert!(d.stats.errors.is_empty());
        assert_eq!(d.stats.stale.get("invalid_state"), Some(&2));
        // Back in the queue: the caller hangs up when patience runs out.
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["call.hangup"]);
        assert_eq!(out[0][0].at, Some(Timestamp(T0 + 8_000)));
        ok(&mut d, 0, 4);
        assert_eq!(d.stats.ended, 1);
        assert_eq!(d.unfinished(), 0);
    }

    #[test]
    fn strict_counts_late_refusals_as_errors() {
        let mut s = settings(1);
        s.strict = true;
        let mut d = driver(s, vec![call("c1", T0, None)], &[]);
        let _ = pump(&mut d);
        cmd(&mut d, connect("c1", 0));
        ok(&mut d, 0, 1);
        let _ = pump(&mut d);
        refuse(&mut d, 2, ErrorCode::UnknownCall);
        assert_eq!(d.stats.errors.get("unknown_call"), Some(&1));
    }

    #[test]
    fn a_refused_login_becomes_ready() {
        let mut d = driver(settings(1), vec![], &[shift("a1", T0, T0 + 1_000)]);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["agent.login", "agent.logout"]);
        refuse(&mut d, 1, ErrorCode::InvalidState);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["agent.ready"]);
        assert_eq!(d.stats.relogins, 1);
        assert!(d.stats.errors.is_empty());
        // An agent the daemon does not know is an error.
        refuse(&mut d, 2, ErrorCode::UnknownAgent);
        assert_eq!(d.stats.errors.get("unknown_agent"), Some(&1));
    }

    #[test]
    fn callbacks_menus_and_the_daemon_ending_calls() {
        let mut c2 = call("c2", T0, Some(1_000));
        c2.accept_callback = true;
        let mut d = driver(
            settings(1),
            vec![call("c1", T0, Some(1_000)), c2, call("c3", T0, None)],
            &[],
        );
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["call.arrived"; 3]);
        // c1: a menu without digits, then forwarded.
        cmd(
            &mut d,
            Command::Menu {
                call: "c1".into(),
                menu: "main".into(),
                prompt: "p".into(),
                max_digits: 1,
                timeout_s: 5,
            },
        );
        ok(&mut d, 0, 1);
        // c2: queued, offered a callback, accepts.
        cmd(
            &mut d,
            Command::Queue {
                call: "c2".into(),
                group: "g".into(),
                position: 1,
                ewt_s: Some(300),
            },
        );
        cmd(
            &mut d,
            Command::OfferCallback {
                call: "c2".into(),
                prompt: "p".into(),
            },
        );
        ok(&mut d, 0, 2);
        ok(&mut d, 0, 3);
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0]), ["call.digits", "call.digits"]);
        let digits: Vec<&str> = out[0]
            .iter()
            .map(|m| match &m.body {
                Event::Input(Input::CallDigits { digits, .. }) => digits.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(digits, ["", "1"]);
        cmd(
            &mut d,
            Command::Forward {
                call: "c1".into(),
                number: "+46".into(),
            },
        );
        cmd(&mut d, Command::callback_accepted("c2".into()));
        ok(&mut d, 0, 4);
        ok(&mut d, 0, 5);
        assert_eq!(d.stats.ended, 1);
        // c2's patience no longer applies; the callback is dialled and answered at once.
        let (_, out) = pump(&mut d);
        assert!(kinds(&out[0]).iter().all(|k| *k == "tick"), "{out:?}");
        cmd(
            &mut d,
            Command::Dial {
                callback: "c2".into(),
                agent: "a1".into(),
                extension: "1001".into(),
                number: "+4670".into(),
            },
        );
        // c3: the daemon ends it (no service).
        cmd(
            &mut d,
            Command::Hangup {
                call: "c3".into(),
                prompt: None,
            },
        );
        let (_, out) = pump(&mut d);
        assert_eq!(kinds(&out[0])[..2], ["callback.result", "call.disposition"]);
        assert_eq!(d.stats.ended, 2);
        // A command for a call this run never announced.
        cmd(&mut d, connect("zz", 1));
        assert_eq!(d.stats.foreign_commands, 1);
    }

    #[test]
    fn a_hang_up_for_a_call_the_daemon_forgot_is_counted() {
        let mut d = driver(settings(1), vec![call("c1", T0, Some(1_000))], &[]);
        let _ = pump(&mut d);
        cmd(
            &mut d,
            Command::Queue {
                call: "c1".into(),
                group: "g".into(),
                position: 1,
                ewt_s: Some(1),
            },
        );
        ok(&mut d, 0, 1);
        let (_, out) = pump(&mut d);
        let seq = seq_of(&out[0], "call.hangup");
        refuse(&mut d, seq, ErrorCode::UnknownCall);
        assert_eq!(d.stats.vanished, 1);
        assert_eq!(d.unfinished(), 1);
        assert_eq!(d.calls_in_progress(), 0);
    }

    #[test]
    fn odd_daemon_output_is_counted_not_fatal() {
        let mut d = driver(settings(1), vec![call("c1", T0, None)], &[]);
        let _ = pump(&mut d);
        ok(&mut d, 0, 99);
        d.on_bad_line(0, "line 3: not JSON");
        d.on_message(
            0,
            Instant::now(),
            ServerMessage::Welcome {
                protocol: 1,
                server: "x".into(),
            },
        );
        assert_eq!(d.stats.errors.get("bad_line"), Some(&1));
        assert_eq!(d.stats.errors.get("unexpected_answer"), Some(&2));
        // seq 99 answered before seq 1: seq 1 never will be.
        assert_eq!(d.stats.errors.get("missing_answer"), Some(&1));
        assert_eq!(d.unacked(), 0);
    }

    #[test]
    fn with_the_event_clock_connections_overlap_only_at_one_time() {
        // Calls whose ids hash to different connections, at different times.
        let mut s = settings(2);
        s.max_lag_ms = None;
        let ids: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let calls: Vec<TraceCall> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| call(id, T0 + i as u64, None))
            .collect();
        let mut d = driver(s, calls, &[]);
        let (w, out) = pump(&mut d);
        assert_eq!(w, Wait::Answers);
        // Everything written so far is on one connection.
        let used: Vec<usize> = (0..2).filter(|&c| !out[c].is_empty()).collect();
        assert_eq!(used.len(), 1, "{out:?}");
        let conn = used[0];
        let last = out[conn].last().and_then(|m| m.seq).unwrap();
        for seq in 1..=last {
            ok(&mut d, conn, seq);
        }
        let (_, out) = pump(&mut d);
        assert!(out.iter().any(|o| !o.is_empty()));
        assert!(d.stats.errors.is_empty(), "{:?}", d.stats.errors);
    }
}
