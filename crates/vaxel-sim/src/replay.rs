//! The replay driver: the production engine run in simulated time, with simulated callers
//! and agents following docs/formats.md's replay semantics exactly.
//!
//! - Callers arrive at their trace time with their trace `digits` pre-collected (an empty
//!   choice at a level = no input); a menu reached after the digits run out gets no input.
//!   They hang up once they have waited `patience_s` since they were queued, unless an agent
//!   answered first; a callback offer is accepted when `accept_callback` is true.
//! - Agents log in at their shift's start and out at its end (after a call in progress);
//!   back-to-back shifts of one agent are one stretch. They answer an offered call after the
//!   group's `ring_s`, talk `talk_s`, then wrap up `wrapup_s` (the group's default when the
//!   trace leaves it empty), registering the call's case type and resolution.
//! - At the same millisecond, the engine's own timers (wrap-ups ending, widening, overflow)
//!   come first, then logouts, logins, answers and callback connections, hang-ups after
//!   talk, arrivals in trace order, and last callers' patience running out: so a caller
//!   whose wait equals its patience is answered.
//!
//! Memory holds the calls in flight and the roster, never the whole trace.

use crate::error::SimError;
use crate::in_flight::InFlight;
use crate::roster::{Shift, stretches};
use crate::trace::TraceCall;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use vaxel_core::keyed_heap::KeyedHeap;
use vaxel_core::site::{Site, Text};
use vaxel_core::{CallRecord, Command, Engine, EngineError, Event, Input, Output, Timestamp};

/// Ordering of simulated events at the same millisecond (smaller first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Logout = 0,
    Login = 1,
    Answer = 2,
    TalkEnd = 3,
    Arrival = 4,
    Patience = 5,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Logout(u32),
    Login(u32),
    /// The agent picks up (or the citizen answers a callback dial).
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
        epoch: u64,
    },
}

/// What the driver knows of a call in flight.
#[derive(Debug)]
struct SimCall {
    id: Arc<str>,
    talk_ms: u64,
    wrapup_ms: Option<u64>,
    patience_ms: Option<u64>,
    case_type: Option<Text>,
    resolved: Option<bool>,
    accept_callback: bool,
    /// Patience has started (the call reached a queue or an agent).
    queued: bool,
    /// The agent ringing or talking, and whether this is a callback dial.
    agent: Option<Text>,
    dialing: bool,
    talking: bool,
    /// Bumped when the call's pending events lose their meaning.
    epoch: u64,
}

/// Figures of a finished replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Calls read from the trace.
    pub calls: u64,
    /// Inputs given to the engine, timer firings included.
    pub events: u64,
    /// Inputs the engine refused: zero for a consistent trace and roster.
    pub refused: u64,
    /// The first refusals, for diagnosis.
    pub first_refusals: Vec<String>,
    /// Logged-in time per agent (ms), from the roster.
    pub logged_in_ms: Vec<(Text, u64)>,
    /// Calls still in flight a day after the last caller or agent event (waiting for an
    /// agent or a callback that never came): ended then as `platform_lost`, so each still
    /// has its record. Zero for a roster that covers its trace.
    pub unfinished: u64,
    /// The most calls in flight at once.
    pub peak_in_flight: usize,
    /// The engine's time when callers, agents and timers were done (before unfinished
    /// calls were ended).
    pub end: Timestamp,
}

/// A trace call made ready for the engine: its id, numbers and case type as the shared
/// strings the engine keeps. [`Preparer`] makes them, on the thread that reads the trace
/// when there is one, so the replay itself does no copying or hashing of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayCall {
    pub id: Arc<str>,
    pub arrival: Timestamp,
    pub to: Dialed,
    pub from: Text,
    pub digits: String,
    pub patience_ms: Option<u64>,
    pub talk_ms: u64,
    pub wrapup_ms: Option<u64>,
    pub case_type: Option<Text>,
    pub resolved: Option<bool>,
    pub accept_callback: bool,
}

/// The number a call dialed: one of the site's entry numbers, by its place in
/// [`site_numbers`], or another (which the engine will refuse).
///
/// Nearly every call dials one of a handful of numbers. Were each call to carry a shared
/// string, the thread that reads the trace would take a reference to it for every call and
/// the engine's thread release one, both on the same counter: a cache line passed between
/// the two cores for every call. An index crosses threads as a plain number; the driver
/// then hands the engine its own copy of the site's string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialed {
    Site(u32),
    Other(Text),
}

/// The site's entry numbers in a fixed order: what [`Dialed::Site`] indexes.
#[must_use]
pub fn site_numbers(site: &Site) -> Vec<Text> {
    let mut numbers: Vec<Text> = site.entry_by_number.keys().cloned().collect();
    numbers.sort();
    numbers
}

/// Turns [`TraceCall`]s into [`ReplayCall`]s, sharing the few distinct case types instead
/// of allocating each call's own copy (at most 4,096 are kept), and naming the site's
/// numbers by index ([`Dialed`]).
#[derive(Debug)]
pub struct Preparer {
    interned: FxHashMap<Text, Text>,
    numbers: FxHashMap<Text, u32>,
}

impl Preparer {
    /// A preparer for calls to `site`.
    #[must_use]
    pub fn for_site(site: &Site) -> Preparer {
        Preparer {
            interned: FxHashMap::default(),
            numbers: site_numbers(site)
                .into_iter()
                .enumerate()
                .map(|(i, n)| (n, i as u32))
                .collect(),
        }
    }

    /// The call, ready for [`replay_prepared`].
    pub fn prepare(&mut self, c: TraceCall) -> ReplayCall {
        let to = match self.numbers.get(c.to.as_str()) {
            Some(&i) => Dialed::Site(i),
            None => Dialed::Other(Text::from(c.to)),
        };
        ReplayCall {
            id: Arc::from(c.call_id),
            arrival: c.arrival,
            to,
            from: Text::from(c.from),
            digits: c.digits,
            patience_ms: c.patience_ms,
            talk_ms: c.talk_ms,
            wrapup_ms: c.wrapup_ms,
            case_type: c.case_type.map(|t| self.intern(&t)),
            resolved: c.resolved,
            accept_callback: c.accept_callback,
        }
    }

    fn intern(&mut self, s: &str) -> Text {
        if let Some(t) = self.interned.get(s) {
            return t.clone();
        }
        let t = Text::from(s);
        if self.interned.len() < 4096 {
            self.interned.insert(t.clone(), t.clone());
        }
        t
    }
}

/// Runs `trace` through a fresh engine on `site` with agents following `roster`, calling
/// `on_record` for every call record as it is produced. Trace errors stop the replay.
pub fn replay<I, F>(
    site: Arc<Site>,
    trace: I,
    roster: &[Shift],
    on_record: F,
) -> Result<ReplaySummary, SimError>
where
    I: Iterator<Item = Result<TraceCall, SimError>>,
    F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
{
    let calls = prepared(&site, trace);
    replay_prepared(site, calls, roster, on_record)
}

/// The trace's calls, prepared as they are read.
fn prepared<I>(site: &Site, trace: I) -> impl Iterator<Item = Result<ReplayCall, SimError>> + use<I>
where
    I: Iterator<Item = Result<TraceCall, SimError>>,
{
    let mut prep = Preparer::for_site(site);
    trace.map(move |c| c.map(|c| prep.prepare(c)))
}

/// [`replay`] of calls already prepared (see [`Preparer`]).
pub fn replay_prepared<I, F>(
    site: Arc<Site>,
    trace: I,
    roster: &[Shift],
    on_record: F,
) -> Result<ReplaySummary, SimError>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
{
    run(site, trace, roster, on_record, None, None)
}

/// Takes the event log's events during a replay (`vaxel replay --events`).
pub type OnEvent<'a> = &'a mut dyn FnMut(Box<Event>) -> Result<(), SimError>;

/// [`replay_prepared`] with the engine's event log on: `on_event` takes every event as it
/// is produced (docs/formats.md, `events.csv`).
pub fn replay_prepared_events<I, F>(
    site: Arc<Site>,
    trace: I,
    roster: &[Shift],
    on_record: F,
    on_event: OnEvent<'_>,
) -> Result<ReplaySummary, SimError>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
{
    run(site, trace, roster, on_record, None, Some(on_event))
}

/// Sees what a replay does, for a tool that repeats it elsewhere: `vaxel load --exact`
/// sends the very inputs to a daemon and expects the very commands back.
pub trait ReplayTap {
    /// The engine accepted `input` at `at` and gave `outputs` for it, the outputs of its
    /// own timers due by `at` first (as a daemon gives them before the input's `ok`).
    /// Refused inputs are not shown.
    fn input(&mut self, at: Timestamp, input: &Input, outputs: &[Output]);
    /// The engine's timers gave `outputs` with no input: a daemon on the event clock gives
    /// them when the next input arrives, before that input's own.
    fn timers(&mut self, outputs: &[Output]);
}

/// [`replay`], showing every accepted input and every command to `tap`.
pub fn replay_tapped<I, F>(
    site: Arc<Site>,
    trace: I,
    roster: &[Shift],
    on_record: F,
    tap: &mut dyn ReplayTap,
) -> Result<ReplaySummary, SimError>
where
    I: Iterator<Item = Result<TraceCall, SimError>>,
    F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
{
    let calls = prepared(&site, trace);
    run(site, calls, roster, on_record, Some(tap), None)
}

fn run<I, F>(
    site: Arc<Site>,
    trace: I,
    roster: &[Shift],
    mut on_record: F,
    tap: Option<&mut dyn ReplayTap>,
    mut on_event: Option<OnEvent<'_>>,
) -> Result<ReplaySummary, SimError>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
{
    let mut trace = trace;
    // The next caller to arrive (the trace is read one call ahead).
    let mut next_call = trace.next().transpose()?;
    let start = match &next_call {
        Some(c) => c.arrival,
        None => roster.iter().map(|s| s.start).min().unwrap_or(Timestamp(0)),
    };
    let start = roster
        .iter()
        .map(|s| s.start)
        .min()
        .map_or(start, |r| r.min(start));
    let mut d = Driver {
        numbers: site_numbers(&site),
        shifts: Vec::new(),
        next_shift: 0,
        epochs: 0,
        engine: Engine::new(site, start),
        heap: KeyedHeap::default(),
        seq: 0,
        calls: Vec::new(),
        free: Vec::new(),
        by_id: InFlight::default(),
        platform: Arc::from("replay"),
        agents: Vec::new(),
        summary: ReplaySummary::default(),
        tap,
        outbox: VecDeque::new(),
    };
    d.engine.set_events(on_event.is_some());
    d.schedule_roster(roster);
    let mut quiet_until: Option<Timestamp> = None;
    loop {
        let arrival = next_call.as_ref().map(|c| c.arrival);
        d.due_shifts(arrival);
        let next_sim = d.heap.peek().map(|(k, _)| k);
        let next_driver = match (next_sim, arrival) {
            // Ranked before an arrival at `a` (the heap holds no arrivals).
            (Some(k), Some(a)) if k < event_key(a, Class::Arrival, 0) => {
                Some((event_time(k), None))
            }
            (_, Some(a)) => Some((a, Some(()))),
            (Some(k), None) => Some((event_time(k), None)),
            (None, None) => None,
        };
        // Once callers and agents have nothing left to do, the engine's timers run for at
        // most a day more: a caller who never hangs up in a group nobody serves would
        // otherwise hear announcements forever.
        if next_driver.is_none() && d.next_shift == d.shifts.len() && quiet_until.is_none() {
            quiet_until = Some(d.engine.now().plus_ms(WIND_DOWN_MS));
        }
        // The engine's own timers at the same millisecond go first.
        if let Some(deadline) = d.engine.poll_timeout()
            && next_driver.is_none_or(|(t, _)| deadline <= t)
            && quiet_until.is_none_or(|q| deadline <= q)
        {
            d.summary.events += 1;
            d.fire_timers(deadline);
            d.drain(&mut on_record, &mut on_event)?;
            continue;
        }
        match next_driver {
            None => break,
            Some((at, Some(()))) => {
                let Some(call) = std::mem::replace(&mut next_call, trace.next().transpose()?)
                else {
                    continue;
                };
                d.arrive(at, call);
            }
            Some((at, None)) => {
                let Some((_, ev)) = d.heap.pop() else {
                    continue;
                };
                d.event(at, ev);
            }
        }
        d.drain(&mut on_record, &mut on_event)?;
    }
    // Calls still in flight (waiting for a callback no agent will make, or for an agent
    // who never comes) end as the platform's, so that every call has its one record.
    d.summary.unfinished = d.by_id.len() as u64;
    d.summary.end = d.engine.now();
    // Ending them is the replay's own business, not a platform's: the tap does not see it.
    d.tap = None;
    if !d.by_id.is_empty() {
        let now = d.engine.now();
        let platform = d.platform.clone();
        let _ = d.feed(now, Input::PlatformLost { platform });
        d.drain(&mut on_record, &mut on_event)?;
    }
    Ok(d.summary)
}

/// The identity of a call id in flight: its address (see [`InFlight`]).
fn addr(id: &Arc<str>) -> usize {
    Arc::as_ptr(id).cast::<u8>() as usize
}

/// A simulated event's place: by time, then [`Class`], then the order it was scheduled in
/// (`seq` < 2⁶⁰, far more events than any trace gives).
fn event_key(t: Timestamp, class: Class, seq: u64) -> u128 {
    (u128::from(t.0) << 64) | (u128::from(class as u8) << 60) | u128::from(seq)
}

fn event_time(key: u128) -> Timestamp {
    Timestamp((key >> 64) as u64)
}

/// How long the engine's timers may run on after the last caller or agent event.
const WIND_DOWN_MS: u64 = 24 * 3_600_000;

struct Driver<'t> {
    /// The site's numbers ([`Dialed::Site`]), this thread's own references.
    numbers: Vec<Text>,
    /// Logins and logouts, sorted; moved into the heap as their time comes, so the heap
    /// only ever holds what is near.
    shifts: Vec<(Timestamp, Class, Ev)>,
    next_shift: usize,
    /// Epochs handed out so far.
    epochs: u64,
    engine: Engine,
    /// Simulated events by [`event_key`].
    heap: KeyedHeap<Ev>,
    seq: u64,
    calls: Vec<Option<SimCall>>,
    free: Vec<u32>,
    /// Calls in flight by the address of their id: the engine hands back the very `Arc`
    /// the driver gave it (in commands and records), so identity is enough and no string
    /// is hashed. The driver holds each id while the call is in flight, so an address is
    /// never reused for two live calls.
    by_id: InFlight,
    platform: Text,
    /// Agent ids by roster index.
    agents: Vec<Text>,
    summary: ReplaySummary,
    tap: Option<&'t mut dyn ReplayTap>,
    /// With a tap: outputs taken from the engine to show them, not yet acted on.
    outbox: VecDeque<Output>,
}

impl Driver<'_> {
    fn at(&mut self, t: Timestamp, class: Class, ev: Ev) {
        self.seq += 1;
        self.heap.push(event_key(t, class, self.seq), ev);
    }

    /// Schedules each agent's logins and logouts, a pair per stretch of work.
    fn schedule_roster(&mut self, roster: &[Shift]) {
        let mut logged: FxHashMap<Text, u64> = FxHashMap::default();
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        for (a, s, e) in stretches(roster) {
            let ix = *index.entry(a).or_insert_with(|| {
                self.agents.push(Text::from(a));
                (self.agents.len() - 1) as u32
            });
            *logged.entry(self.agents[ix as usize].clone()).or_default() += e.since(s);
            self.shifts.push((s, Class::Login, Ev::Login(ix)));
            self.shifts.push((e, Class::Logout, Ev::Logout(ix)));
        }
        self.shifts.sort();
        let mut logged: Vec<(Text, u64)> = logged.into_iter().collect();
        logged.sort();
        self.summary.logged_in_ms = logged;
    }

    /// Moves the roster events up to the next moment anything else happens into the heap.
    fn due_shifts(&mut self, arrival: Option<Timestamp>) {
        while let Some(&(t, class, ev)) = self.shifts.get(self.next_shift) {
            // Later than anything else due: not yet.
            if arrival.is_some_and(|a| t > a)
                || self.heap.peek().is_some_and(|(k, _)| t > event_time(k))
                || self.engine.poll_timeout().is_some_and(|d| t > d)
            {
                return;
            }
            self.next_shift += 1;
            self.at(t, class, ev);
        }
    }

    fn feed(&mut self, at: Timestamp, input: Input) -> Result<(), EngineError> {
        self.summary.events += 1;
        let r = self.handle(at, input);
        if let Err(e) = &r {
            self.summary.refused += 1;
            if self.summary.first_refusals.len() < 10 {
                self.summary.first_refusals.push(format!("at {at}: {e}"));
            }
        }
        r
    }

    /// The engine's `handle`, shown to the tap with the outputs it gave.
    fn handle(&mut self, at: Timestamp, input: Input) -> Result<(), EngineError> {
        if self.tap.is_none() {
            return self.engine.handle(at, input);
        }
        let shown = input.clone();
        let r = self.engine.handle(at, input);
        let new = self.take_outputs();
        if let Some(tap) = self.tap.as_deref_mut() {
            let outputs = &self.outbox.make_contiguous()[new..];
            match r {
                Ok(()) => tap.input(at, &shown, outputs),
                // Refused, but its time may have fired timers.
                Err(_) => tap.timers(outputs),
            }
        }
        r
    }

    /// The engine's timers due by `deadline`.
    fn fire_timers(&mut self, deadline: Timestamp) {
        // Deadlines never lie behind the engine's time: nothing to refuse here.
        let _ = self.engine.handle_timeout(deadline);
        if self.tap.is_some() {
            let new = self.take_outputs();
            if let Some(tap) = self.tap.as_deref_mut() {
                tap.timers(&self.outbox.make_contiguous()[new..]);
            }
        }
    }

    /// With a tap: moves the engine's new outputs to the outbox (where `drain` finds
    /// them), returning where they start there.
    fn take_outputs(&mut self) -> usize {
        let start = self.outbox.len();
        while let Some(out) = self.engine.poll_output() {
            self.outbox.push_back(out);
        }
        start
    }

    fn arrive(&mut self, at: Timestamp, c: ReplayCall) {
        self.summary.calls += 1;
        let id = c.id;
        let sim = SimCall {
            id: id.clone(),
            talk_ms: c.talk_ms,
            wrapup_ms: c.wrapup_ms,
            patience_ms: c.patience_ms,
            case_type: c.case_type,
            resolved: c.resolved,
            accept_callback: c.accept_callback,
            queued: false,
            agent: None,
            dialing: false,
            talking: false,
            epoch: self.new_epoch(),
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.calls[s as usize] = Some(sim);
                s
            }
            None => {
                self.calls.push(Some(sim));
                (self.calls.len() - 1) as u32
            }
        };
        self.by_id.insert(addr(&id), slot);
        self.summary.peak_in_flight = self.summary.peak_in_flight.max(self.by_id.len());
        let to = match c.to {
            Dialed::Site(i) => self.numbers[i as usize].clone(),
            Dialed::Other(t) => t,
        };
        let input = Input::CallArrived {
            call: id.clone(),
            platform: self.platform.clone(),
            to,
            from: c.from,
            // As a platform sends them: none when the caller chose nothing (the first menu
            // is then played and gets no input, as docs/formats.md says).
            digits: Some(c.digits).filter(|d| !d.is_empty()),
            lang: None,
        };
        if self.feed(at, input).is_err() {
            // Refused (unknown number, duplicate id): the call never existed.
            self.forget(&id);
        }
    }

    fn forget(&mut self, id: &Arc<str>) {
        if let Some(slot) = self.by_id.remove(addr(id)) {
            self.calls[slot as usize] = None;
            self.free.push(slot);
        }
    }

    /// A fresh epoch, never used before in this replay: a slot reused by a later call
    /// cannot inherit the earlier call's pending events.
    fn new_epoch(&mut self) -> u64 {
        self.epochs += 1;
        self.epochs
    }

    /// Retires the call's pending events; returns its new epoch.
    fn bump(&mut self, slot: u32) -> u64 {
        let e = self.new_epoch();
        if let Some(c) = self.calls[slot as usize].as_mut() {
            c.epoch = e;
        }
        e
    }

    fn call_mut(&mut self, slot: u32, epoch: u64) -> Option<&mut SimCall> {
        self.calls
            .get_mut(slot as usize)?
            .as_mut()
            .filter(|c| c.epoch == epoch)
    }

    fn event(&mut self, at: Timestamp, ev: Ev) {
        match ev {
            Ev::Login(a) => {
                let agent = self.agents[a as usize].clone();
                let input = Input::AgentLogin {
                    agent: agent.clone(),
                    extension: None,
                };
                if let Err(EngineError::InvalidState(_)) = self.handle(at, input) {
                    // Still finishing a call from a shift that ended: stay on.
                    let _ = self.feed(at, Input::AgentReady { agent });
                } else {
                    self.summary.events += 1;
                }
            }
            Ev::Logout(a) => {
                let agent = self.agents[a as usize].clone();
                let _ = self.feed(at, Input::AgentLogout { agent });
            }
            Ev::Answer { slot, epoch } => {
                let Some(c) = self.call_mut(slot, epoch) else {
                    return;
                };
                let Some(agent) = c.agent.clone() else {
                    return;
                };
                c.talking = true;
                let (id, dialing, talk) = (c.id.clone(), c.dialing, c.talk_ms);
                let epoch = self.bump(slot);
                let input = if dialing {
                    Input::CallbackResult {
                        callback: id.clone(),
                        connected: true,
                    }
                } else {
                    Input::CallAnswered {
                        call: id.clone(),
                        agent: agent.clone(),
                    }
                };
                if self.feed(at, input).is_ok() {
                    self.after_answer(at, slot, id, agent);
                    self.at(
                        at.plus_ms(talk),
                        Class::TalkEnd,
                        Ev::TalkEnd { slot, epoch },
                    );
                }
            }
            Ev::TalkEnd { slot, epoch } => {
                let Some(c) = self.call_mut(slot, epoch) else {
                    return;
                };
                let id = c.id.clone();
                let agent = c.agent.clone();
                let wrapup = c.wrapup_ms;
                // The trace's own wrap-up, planned before the hang-up so it replaces the
                // group's default even when that is zero.
                if let (Some(agent), Some(w)) = (agent, wrapup) {
                    let _ = self.feed(
                        at,
                        Input::AgentWrapupUntil {
                            agent,
                            until: at.plus_ms(w),
                        },
                    );
                }
                let _ = self.feed(
                    at,
                    Input::CallHangup {
                        call: id,
                        reason: None,
                    },
                );
            }
            Ev::Patience { slot, epoch } => {
                let Some(c) = self.call_mut(slot, epoch) else {
                    return;
                };
                if c.talking {
                    return;
                }
                let id = c.id.clone();
                let _ = self.feed(
                    at,
                    Input::CallHangup {
                        call: id,
                        reason: None,
                    },
                );
            }
        }
    }

    /// Registers the case as soon as the call is answered (as agents do on their desktop).
    fn after_answer(&mut self, at: Timestamp, slot: u32, id: Arc<str>, agent: Text) {
        let Some(c) = self.calls[slot as usize].as_ref() else {
            return;
        };
        if let (Some(case_type), Some(resolved)) = (c.case_type.clone(), c.resolved) {
            let _ = self.feed(
                at,
                Input::CallDisposition {
                    call: id,
                    agent,
                    case_type,
                    resolved,
                },
            );
        }
    }

    /// Acts on the engine's outputs as a platform and its callers would.
    fn drain<F>(
        &mut self,
        on_record: &mut F,
        on_event: &mut Option<OnEvent<'_>>,
    ) -> Result<(), SimError>
    where
        F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
    {
        let now = self.engine.now();
        while let Some(out) = self
            .outbox
            .pop_front()
            .or_else(|| self.engine.poll_output())
        {
            match out {
                Output::Record(r) => {
                    self.forget(&r.call_id);
                    on_record(r)?;
                }
                Output::Command { command, .. } => self.command(now, command),
                Output::Event(e) => {
                    if let Some(f) = on_event {
                        f(e)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn command(&mut self, now: Timestamp, command: Command) {
        // Prompts and forwards ask nothing of the caller (the most common commands after
        // `connect`): no need to find the call.
        if matches!(command, Command::Play { .. } | Command::Forward { .. }) {
            return;
        }
        let Some(slot) = self.by_id.get(addr(command.call())) else {
            return;
        };
        match command {
            Command::Queue { .. } => self.start_patience(now, slot, None),
            Command::Connect { agent, ring_s, .. } => {
                self.start_patience(now, slot, Some(ring_s * 1000));
                self.ring(now, slot, agent, ring_s * 1000, false);
            }
            Command::Dial { agent, .. } => self.ring(now, slot, agent, 0, true),
            Command::Menu { call, .. } => {
                // No digits left for this level: no input.
                let _ = self.feed(
                    now,
                    Input::CallDigits {
                        call,
                        digits: String::new(),
                    },
                );
            }
            Command::OfferCallback { call, .. } => {
                let accept = self.calls[slot as usize]
                    .as_ref()
                    .is_some_and(|c| c.accept_callback);
                let digits = if accept { "1" } else { "2" }.to_owned();
                let _ = self.feed(now, Input::CallDigits { call, digits });
            }
            Command::Hangup { .. } => {
                // The caller's line ends; for an accepted callback the call goes on
                // without the caller waiting: patience no longer applies.
                self.bump(slot);
            }
            // Answered above.
            Command::Play { .. } | Command::Forward { .. } => {}
        }
    }

    /// The caller starts waiting: patience runs from now. `answer_in`: the call rings at an
    /// agent who answers after that long.
    ///
    /// A patience that lasts at least until that answer is not scheduled at all: the
    /// answer comes first (or at the same millisecond, and answers go first) and retires
    /// it, and nothing else retires the answer but the end of the caller's line, which
    /// ends patience too. Most calls go straight to a free agent, so this keeps one event
    /// per call out of the heap.
    fn start_patience(&mut self, now: Timestamp, slot: u32, answer_in: Option<u64>) {
        let Some(c) = self.calls[slot as usize].as_mut() else {
            return;
        };
        if c.queued {
            return;
        }
        c.queued = true;
        if let Some(p) = c.patience_ms
            && answer_in.is_none_or(|ring_ms| p < ring_ms)
        {
            let epoch = c.epoch;
            self.at(
                now.plus_ms(p),
                Class::Patience,
                Ev::Patience { slot, epoch },
            );
        }
    }

    /// An agent's phone rings (or a callback is dialled): answered after `ring_ms`.
    fn ring(&mut self, now: Timestamp, slot: u32, agent: Text, ring_ms: u64, dialing: bool) {
        let Some(c) = self.calls[slot as usize].as_mut() else {
            return;
        };
        c.agent = Some(agent);
        c.dialing = dialing;
        let epoch = c.epoch;
        self.at(
            now.plus_ms(ring_ms),
            Class::Answer,
            Ev::Answer { slot, epoch },
        );
    }
}
