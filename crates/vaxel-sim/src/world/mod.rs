//! The simulated world: the callers of a trace and the agents of a roster, as
//! docs/formats.md's replay semantics has them act. Sans-IO: the engine's commands come in
//! ([`World::command`]), timed inputs go out ([`World::pop`], then [`World::take`]); no
//! socket, no clock. `vaxel replay` drives it in process against an engine
//! (`crate::replay`), `vaxel load` over TCP against a daemon (`vaxel-load`'s driver), so the
//! two play the very same callers and agents.
//!
//! - Callers arrive at their trace time with their trace `digits` pre-collected (an empty
//!   choice at a level = no input); a menu reached after the digits run out gets no input.
//!   They hang up once they have waited `patience_s` since they were first queued (or rung
//!   for), unless an agent answered first; a callback offer is accepted when
//!   `accept_callback` is true, and the caller then waits no more.
//! - Agents log in at their shift's start and out at its end; back-to-back shifts of one
//!   agent are one stretch. A login refused because the agent is still on (finishing a call
//!   of a shift that ended) becomes `agent.ready`. They answer a `connect` after its
//!   `ring_s` (a callback `dial` at once), register the case as they answer, talk `talk_s`,
//!   and at the end of the talk plan the trace's wrap-up (`agent.wrapup_until`, so that it
//!   replaces the group's default even when that is zero) before hanging up.
//! - At the same millisecond: reactions to commands (menu and callback replies, a refused
//!   login's `agent.ready`) first, then logouts, logins, answers, hang-ups after talk,
//!   arrivals in trace order, and last callers' patience running out: so a caller whose
//!   wait equals its patience is answered. (In process the engine's own timers at that
//!   millisecond go before all of them; that is the driver's business.)
//!
//! The world learns what became of its inputs from its driver: a refusal
//! ([`World::refused`]: an answer that came too late puts the call back in its queue), an
//! acknowledged hang-up ([`World::acked`]), a call's record ([`World::ended`]). A driver
//! that lags (over TCP) hands in each command with the time it was decided and each event
//! is checked when it is due, so a reaction the call no longer needs is never sent.
//!
//! Memory holds the calls in flight and the roster, never the whole trace.

mod caller;
mod commands;
mod events;
mod feedback;
mod in_flight;
mod index;

pub use caller::{Dialed, Prepared, Preparer, ReplayCall, site_numbers};
pub use index::{ByAddress, ByName, CallIndex};

use crate::error::SimError;
use crate::roster::{Shift, stretches};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use vaxel_core::keyed_heap::KeyedHeap;
use vaxel_core::site::Text;
use vaxel_core::{CallId, Input, Timestamp};

/// Ordering of the world's events at the same millisecond (smaller first).
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Logout(u32),
    Login(u32),
    Ready(u32),
    /// A caller's reply to a `menu` (no input) or a callback offer.
    Digits {
        slot: u32,
        uid: u64,
        reply: Reply,
    },
    /// The ringing agent picks up (or the citizen answers a callback `dial`).
    Answer {
        slot: u32,
        epoch: u64,
    },
    TalkEnd {
        slot: u32,
        epoch: u64,
    },
    Patience {
        slot: u32,
        mark: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    NoInput,
    Accept,
    Decline,
}

/// A call as the platform sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Arrived, or sent to a menu; no queue or agent yet.
    Ivr,
    Queued,
    Ringing,
    Dialing,
    Talking,
    /// The caller accepted a callback: the line is free, the place kept.
    CallbackWaiting,
    /// The caller hung up; waiting for that to be taken.
    HangingUp,
}

impl CallState {
    /// Whether the caller waits for an agent: the calls [`World::waiting`] counts.
    fn waits(self) -> bool {
        matches!(self, CallState::Queued | CallState::Ringing)
    }

    /// The state's name in `vaxel load`'s report.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ivr => "ivr",
            CallState::Queued => "queued",
            CallState::Ringing => "ringing",
            CallState::Dialing => "dialing",
            CallState::Talking => "talking",
            CallState::CallbackWaiting => "callback_waiting",
            CallState::HangingUp => "hanging_up",
        }
    }
}

/// What the world knows of a call in flight.
#[derive(Debug)]
struct Caller {
    id: CallId,
    /// Unique in the run: a slot reused by a later call does not inherit events.
    uid: u64,
    /// Bumped (to a value unique in the run) whenever a pending answer or talk end loses
    /// its meaning.
    epoch: u64,
    /// The pending patience event's mark (unique in the run).
    patience_gen: u64,
    talk_ms: u64,
    wrapup_ms: Option<u64>,
    patience_ms: Option<u64>,
    case_type: Option<Text>,
    resolved: Option<bool>,
    accept_callback: bool,
    state: CallState,
    /// The agent ringing or talking.
    agent: Option<Text>,
    patience_started: bool,
    /// When patience runs out, once started.
    patience_at: Option<Timestamp>,
    /// The caller accepted a callback offer: the line is freed, patience no longer applies.
    accepted: bool,
}

/// What an input is about, for the world to learn its fate ([`World::refused`],
/// [`World::acked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct About(Subject);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subject {
    Nothing,
    Agent(u32),
    Login(u32),
    Arrival { slot: u32, uid: u64 },
    Answer { slot: u32, uid: u64, dialing: bool },
    Hangup { slot: u32, uid: u64 },
    Call { slot: u32, uid: u64 },
}

impl About {
    /// An input the world did not make (a driver's `tick`).
    pub const NOTHING: About = About(Subject::Nothing);

    fn call(self) -> Option<(u32, u64)> {
        match self.0 {
            Subject::Arrival { slot, uid }
            | Subject::Answer { slot, uid, .. }
            | Subject::Hangup { slot, uid }
            | Subject::Call { slot, uid } => Some((slot, uid)),
            Subject::Nothing | Subject::Agent(_) | Subject::Login(_) => None,
        }
    }
}

/// One input the world gives, at its time.
#[derive(Clone, Debug, PartialEq)]
pub struct Act {
    pub at: Timestamp,
    pub input: Input,
    pub about: About,
}

/// What a refusal meant to the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A `call.arrived`: the call never existed.
    Arrival,
    /// A login of an agent still on: `agent.ready` follows instead.
    Relogin,
    /// An answer that came too late: the call is back waiting (patience runs again).
    Unanswered,
    /// A caller's hang-up for a call the engine no longer knows, with no command that
    /// ended it.
    Vanished,
    /// Nothing the world acts on.
    Other,
}

/// The next thing the world will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    pub at: Timestamp,
    /// A caller arriving from the trace.
    pub arrival: bool,
    /// Where it comes from, so that [`World::pop_peeked`] need not look again.
    src: Src,
}

/// Counts of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Calls read from the trace (`call.arrived` given).
    pub arrived: u64,
    /// Calls that ended: by a `forward` or final `hangup`, by an acknowledged hang-up of the
    /// caller, or by their record.
    pub ended: u64,
    /// The most calls in flight at once.
    pub peak_in_flight: usize,
}

/// Where the next event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Heap,
    Shift,
    Trace,
}

/// A world event's place: by time, then [`Class`], then the order it was scheduled in
/// (`seq` < 2⁶⁰, far more events than any trace gives).
fn event_key(t: Timestamp, class: Class, seq: u64) -> u128 {
    (u128::from(t.0) << 64) | (u128::from(class as u8) << 60) | u128::from(seq)
}

/// Above every event's key: no event.
const NO_EVENT: u128 = u128::MAX;

/// The key of the caller's arrival ([`NO_EVENT`] when the trace is done): arrivals go in
/// trace order, one at a time, so they need no sequence number.
fn arrival_key(call: Option<&ReplayCall>) -> u128 {
    call.map_or(NO_EVENT, |c| event_key(c.arrival, Class::Arrival, 0))
}

fn event_time(key: u128) -> Timestamp {
    Timestamp((key >> 64) as u64)
}

fn key_class(key: u128) -> u8 {
    ((key >> 60) & 0xf) as u8
}

/// The callers of a trace (read as they come) and the agents of a roster; `X` finds calls
/// by id ([`ByAddress`] in process, [`ByName`] over the wire).
pub struct World<I, X = ByName> {
    trace: I,
    /// The next caller to arrive (the trace is read one call ahead).
    next_call: Option<ReplayCall>,
    /// Its [`arrival_key`], kept so that looking for the next event builds no key.
    next_arrival: u128,
    /// The site's numbers ([`Dialed::Site`]).
    numbers: Vec<Text>,
    /// The platform named in `call.arrived`.
    platform: Text,
    /// The wrap-up planned when the trace leaves it empty (`None`: the group's default).
    default_wrapup_ms: Option<u64>,
    /// Logins and logouts by [`event_key`] (sequence 0: before the scheduled events of
    /// their time and class), sorted; keyed once here rather than at every look for the
    /// next event.
    shifts: Vec<(u128, Ev)>,
    next_shift: usize,
    /// Agent ids by roster index.
    agents: Vec<Text>,
    logged_in_ms: Vec<(Text, u64)>,
    start: Timestamp,
    /// Events by [`event_key`].
    heap: KeyedHeap<Ev>,
    seq: u64,
    /// Marks handed out so far (uids, epochs, patience marks).
    marks: u64,
    calls: Vec<Option<Caller>>,
    free: Vec<u32>,
    index: X,
    /// Calls queued or ringing.
    waiting: usize,
    /// Inputs made by the last event, in order.
    outbox: VecDeque<Act>,
    stats: WorldStats,
}

impl<I, X: CallIndex> std::fmt::Debug for World<I, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("in_flight", &self.index.len())
            .field("events", &self.heap.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<I, X> World<I, X>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    X: CallIndex,
{
    /// The world of `trace` (streamed) and `roster`; `numbers` are the site's
    /// ([`site_numbers`]) that [`Dialed::Site`] names, `platform` the name its calls
    /// arrive on. Reads the first call.
    pub fn new(
        mut trace: I,
        roster: &[Shift],
        numbers: Vec<Text>,
        platform: Text,
    ) -> Result<World<I, X>, SimError> {
        let next_call = trace.next().transpose()?;
        let start = roster
            .iter()
            .map(|s| s.start)
            .chain(next_call.as_ref().map(|c| c.arrival))
            .min()
            .unwrap_or(Timestamp(0));
        let mut w = World {
            trace,
            next_arrival: arrival_key(next_call.as_ref()),
            next_call,
            numbers,
            platform,
            default_wrapup_ms: None,
            shifts: Vec::new(),
            next_shift: 0,
            agents: Vec::new(),
            logged_in_ms: Vec::new(),
            start,
            heap: KeyedHeap::default(),
            seq: 0,
            marks: 0,
            calls: Vec::new(),
            free: Vec::new(),
            index: X::default(),
            waiting: 0,
            outbox: VecDeque::new(),
            stats: WorldStats::default(),
        };
        w.schedule_roster(roster);
        Ok(w)
    }

    /// Plans `ms` of wrap-up when the trace leaves it empty, instead of the group's
    /// default (a daemon on the live clock would run that default in wall time).
    #[must_use]
    pub fn with_default_wrapup(mut self, ms: u64) -> Self {
        self.default_wrapup_ms = Some(ms);
        self
    }

    /// Schedules each agent's logins and logouts, a pair per stretch of work.
    fn schedule_roster(&mut self, roster: &[Shift]) {
        let mut logged: FxHashMap<u32, u64> = FxHashMap::default();
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        for (a, s, e) in stretches(roster) {
            let ix = *index.entry(a).or_insert_with(|| {
                self.agents.push(Text::from(a));
                (self.agents.len() - 1) as u32
            });
            *logged.entry(ix).or_default() += e.since(s);
            self.shifts
                .push((event_key(s, Class::Login, 0), Ev::Login(ix)));
            self.shifts
                .push((event_key(e, Class::Logout, 0), Ev::Logout(ix)));
        }
        self.shifts.sort_unstable_by_key(|&(k, ev)| {
            let ix = match ev {
                Ev::Login(ix) | Ev::Logout(ix) => ix,
                _ => 0,
            };
            (k, ix)
        });
        let mut logged: Vec<(Text, u64)> = logged
            .into_iter()
            .map(|(ix, ms)| (self.agents[ix as usize].clone(), ms))
            .collect();
        logged.sort();
        self.logged_in_ms = logged;
    }

    /// The earliest time in the trace or the roster.
    #[must_use]
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The last time in the roster (the start when it is empty).
    #[must_use]
    pub fn roster_end(&self) -> Timestamp {
        self.shifts
            .last()
            .map_or(self.start, |s| event_time(s.0).max(self.start))
    }

    /// Logged-in time per agent (ms), from the roster.
    #[must_use]
    pub fn logged_in_ms(&self) -> &[(Text, u64)] {
        &self.logged_in_ms
    }

    #[must_use]
    pub fn stats(&self) -> &WorldStats {
        &self.stats
    }

    /// Calls in flight (arrived, not ended).
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.index.len()
    }

    /// Calls queued or ringing.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Whether the call is in flight.
    #[must_use]
    pub fn knows(&self, id: &CallId) -> bool {
        self.index.get(id).is_some()
    }

    /// The calls in flight by state, for a report.
    #[must_use]
    pub fn in_progress(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for c in self.calls.iter().flatten() {
            *m.entry(c.state.as_str().to_owned()).or_default() += 1;
        }
        m
    }

    fn at(&mut self, t: Timestamp, class: Class, ev: Ev) {
        self.seq += 1;
        self.heap.push(event_key(t, class, self.seq), ev);
    }

    /// A mark never handed out before in this run.
    fn mark(&mut self) -> u64 {
        self.marks += 1;
        self.marks
    }

    fn caller(&self, slot: u32) -> Option<&Caller> {
        self.calls.get(slot as usize)?.as_ref()
    }

    fn caller_mut(&mut self, slot: u32) -> Option<&mut Caller> {
        self.calls.get_mut(slot as usize)?.as_mut()
    }

    /// Whether a scheduled event still means something (else it is dropped).
    fn live(&self, ev: Ev) -> bool {
        match ev {
            Ev::Logout(_) | Ev::Login(_) | Ev::Ready(_) => true,
            Ev::Digits { slot, uid, reply } => self.caller(slot).is_some_and(|c| {
                c.uid == uid
                    && match reply {
                        Reply::NoInput => c.state == CallState::Ivr,
                        // An offer is withdrawn when the call is offered to an agent.
                        Reply::Accept | Reply::Decline => c.state == CallState::Queued,
                    }
            }),
            Ev::Answer { slot, epoch } => self.caller(slot).is_some_and(|c| {
                c.epoch == epoch && matches!(c.state, CallState::Ringing | CallState::Dialing)
            }),
            Ev::TalkEnd { slot, epoch } => self
                .caller(slot)
                .is_some_and(|c| c.epoch == epoch && c.state == CallState::Talking),
            Ev::Patience { slot, mark } => self.caller(slot).is_some_and(|c| {
                c.patience_gen == mark
                    && !c.accepted
                    && matches!(
                        c.state,
                        CallState::Ivr | CallState::Queued | CallState::Ringing
                    )
            }),
        }
    }

    /// The first of the heap's next event (its key `heap`, or [`NO_EVENT`]), the next shift
    /// and the next caller. Keys of different sources never tie.
    fn first(&self, heap: u128) -> (u128, Src) {
        let mut next = (heap, Src::Heap);
        let shift = self.shifts.get(self.next_shift).map_or(NO_EVENT, |s| s.0);
        if shift < next.0 {
            next = (shift, Src::Shift);
        }
        if self.next_arrival < next.0 {
            next = (self.next_arrival, Src::Trace);
        }
        next
    }

    /// The next source of an event, dead events dropped on the way.
    fn next_src(&mut self) -> Option<(u128, Src)> {
        let mut heap = NO_EVENT;
        while let Some((k, &ev)) = self.heap.peek() {
            if self.live(ev) {
                heap = k;
                break;
            }
            self.heap.pop();
        }
        let (k, src) = self.first(heap);
        (k != NO_EVENT).then_some((k, src))
    }

    /// The next thing the world will do, if anything is left.
    pub fn peek(&mut self) -> Option<Next> {
        self.next_src().map(|(k, src)| Next {
            at: event_time(k),
            arrival: matches!(src, Src::Trace),
            src,
        })
    }

    /// The call the next event is about, if any (after [`World::peek`]).
    #[must_use]
    pub fn peek_call(&self) -> Option<&CallId> {
        let heap = self.heap.peek();
        match self.first(heap.map_or(NO_EVENT, |(k, _)| k)) {
            (NO_EVENT, _) | (_, Src::Shift) => None,
            (_, Src::Trace) => self.next_call.as_ref().map(|c| &c.id),
            (_, Src::Heap) => {
                let slot = match heap?.1 {
                    Ev::Digits { slot, .. }
                    | Ev::Answer { slot, .. }
                    | Ev::TalkEnd { slot, .. }
                    | Ev::Patience { slot, .. } => *slot,
                    Ev::Logout(_) | Ev::Login(_) | Ev::Ready(_) => return None,
                };
                self.caller(slot).map(|c| &c.id)
            }
        }
    }

    /// Carries out the next event (the one [`World::peek`] shows) at `at` (its own time,
    /// or later when the driver lags): its inputs wait in [`World::take`].
    pub fn pop(&mut self, at: Timestamp) -> Result<(), SimError> {
        match self.next_src() {
            Some((_, src)) => self.pop_from(at, src),
            None => Ok(()),
        }
    }

    /// [`World::pop`] of the event `next` that [`World::peek`] has just returned, the
    /// world unchanged since, at its own time: the replay's loop, which would otherwise
    /// look for the next event twice per step (dead events dropped, three sources
    /// compared).
    pub fn pop_peeked(&mut self, next: Next) -> Result<(), SimError> {
        self.pop_from(next.at, next.src)
    }

    /// Carries out the next event of `src` at `at`. Inline, with the trace's path apart:
    /// the replay's loop comes here for every event, and most are scheduled ones.
    #[inline]
    fn pop_from(&mut self, at: Timestamp, src: Src) -> Result<(), SimError> {
        match src {
            Src::Trace => return self.arrive_next(at),
            Src::Shift => {
                let (_, ev) = self.shifts[self.next_shift];
                self.next_shift += 1;
                self.fire(at, ev);
            }
            Src::Heap => {
                if let Some((_, ev)) = self.heap.pop() {
                    self.fire(at, ev);
                }
            }
        }
        Ok(())
    }

    /// The next caller arrives at `at`, once the trace has been read one call further (a
    /// trace error stops the world before the caller arrives, and leaves it as it was).
    ///
    /// The call read goes straight into its place, and the arriving one is moved once: a
    /// call is a few hundred bytes, which `transpose` and `mem::replace` would copy twice
    /// more.
    #[inline(never)]
    fn arrive_next(&mut self, at: Timestamp) -> Result<(), SimError> {
        let call = self.next_call.take();
        match self.trace.next() {
            Some(Ok(next)) => {
                self.next_arrival = arrival_key(Some(&next));
                self.next_call = Some(next);
            }
            Some(Err(e)) => {
                self.next_call = call;
                return Err(e);
            }
            None => self.next_arrival = arrival_key(None),
        }
        if let Some(call) = call {
            self.arrive(at, call);
        }
        Ok(())
    }

    /// Carries out the reactions due at `at` (a driver in process gives them at once,
    /// before the engine's next output).
    pub fn react(&mut self, at: Timestamp) {
        while let Some((k, &ev)) = self.heap.peek() {
            if event_time(k) != at || key_class(k) != Class::Reaction as u8 {
                return;
            }
            self.heap.pop();
            if self.live(ev) {
                self.fire(at, ev);
            }
        }
    }

    /// The next input made by the events carried out, in order.
    pub fn take(&mut self) -> Option<Act> {
        self.outbox.pop_front()
    }

    fn give(&mut self, at: Timestamp, input: Input, about: Subject) {
        self.outbox.push_back(Act {
            at,
            input,
            about: About(about),
        });
    }

    fn set_state(&mut self, slot: u32, state: CallState) {
        let Some(c) = self.caller_mut(slot) else {
            return;
        };
        let (was, now) = (c.state.waits(), state.waits());
        c.state = state;
        match (was, now) {
            (false, true) => self.waiting += 1,
            (true, false) => self.waiting -= 1,
            _ => {}
        }
    }

    /// Forgets the call in `slot` (its index entry already gone).
    fn drop_slot(&mut self, slot: u32) {
        let Some(entry) = self.calls.get_mut(slot as usize) else {
            return;
        };
        let Some(c) = entry else {
            return;
        };
        if c.state.waits() {
            self.waiting -= 1;
        }
        *entry = None;
        self.free.push(slot);
    }

    /// The call ended; `count`: as calls end (not refused or vanished).
    fn end(&mut self, slot: u32, count: bool) {
        // Out of the index by the id its slot holds, borrowed: no copy of the id to count
        // up and down.
        let Some(Some(c)) = self.calls.get(slot as usize) else {
            return;
        };
        self.index.remove(&c.id);
        self.drop_slot(slot);
        if count {
            self.stats.ended += 1;
        }
    }
}

#[cfg(test)]
mod tests;
