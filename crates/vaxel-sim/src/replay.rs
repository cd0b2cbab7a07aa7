//! The replay driver: the production engine run in simulated time against the simulated
//! world ([`crate::world`]: the callers and agents of docs/formats.md's replay semantics),
//! in process.
//!
//! At the same millisecond the engine's own timers (wrap-ups ending, widening, overflow)
//! come first, then the world's events in their order (`crate::world`). A command's
//! reaction (a menu reply, a callback answer) is given at once, before the engine's next
//! output, and so is the `agent.ready` of a refused login.
//!
//! Memory holds the calls in flight and the roster, never the whole trace.

use crate::error::SimError;
use crate::roster::Shift;
use crate::trace::TraceCall;
use crate::world::{Act, ByAddress, Prepared, World};
use std::collections::VecDeque;
use std::sync::Arc;
use vaxel_core::site::{Site, Text};
use vaxel_core::{CallRecord, Engine, EngineError, Event, Input, Output, Timestamp};

pub use crate::world::{Dialed, Preparer, ReplayCall, site_numbers};

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
    let calls = Prepared::new(trace, Preparer::for_site(&site));
    replay_prepared(site, calls, roster, on_record)
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
    let calls = Prepared::new(trace, Preparer::for_site(&site));
    run(site, calls, roster, on_record, Some(tap), None)
}

/// How long the engine's timers may run on after the world's last event.
const WIND_DOWN_MS: u64 = 24 * 3_600_000;

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
    let platform: Text = Arc::from("replay");
    let world: World<I, ByAddress> = World::new(trace, roster, site_numbers(&site), platform)?;
    let mut d = Driver {
        engine: Engine::new(site, world.start()),
        world,
        summary: ReplaySummary::default(),
        tap,
        outbox: VecDeque::new(),
    };
    d.summary.logged_in_ms = d.world.logged_in_ms().to_vec();
    d.engine.set_events(on_event.is_some());
    let mut quiet_until: Option<Timestamp> = None;
    loop {
        let peeked = d.world.peek();
        let next = peeked.map(|n| n.at);
        // Once callers and agents have nothing left to do, the engine's timers run for at
        // most a day more: a caller who never hangs up in a group nobody serves would
        // otherwise hear announcements forever.
        if next.is_none() && quiet_until.is_none() {
            quiet_until = Some(d.engine.now().plus_ms(WIND_DOWN_MS));
        }
        // The engine's own timers at the same millisecond go first.
        if let Some(deadline) = d.engine.poll_timeout()
            && next.is_none_or(|t| deadline <= t)
            && quiet_until.is_none_or(|q| deadline <= q)
        {
            d.summary.events += 1;
            d.fire_timers(deadline);
            d.drain(&mut on_record, &mut on_event)?;
            continue;
        }
        let Some(peeked) = peeked else {
            break;
        };
        d.world.pop_peeked(peeked)?;
        d.give_acts();
        d.drain(&mut on_record, &mut on_event)?;
    }
    let stats = d.world.stats();
    d.summary.calls = stats.arrived;
    d.summary.peak_in_flight = stats.peak_in_flight;
    // Calls still in flight (waiting for a callback no agent will make, or for an agent
    // who never comes) end as the platform's, so that every call has its one record.
    d.summary.unfinished = d.world.in_flight() as u64;
    d.summary.end = d.engine.now();
    // Ending them is the replay's own business, not a platform's: the tap does not see it.
    d.tap = None;
    if d.world.in_flight() > 0 {
        let now = d.engine.now();
        let platform = Arc::from("replay");
        let _ = d.feed(now, Input::PlatformLost { platform });
        d.drain(&mut on_record, &mut on_event)?;
    }
    Ok(d.summary)
}

struct Driver<'t, I> {
    engine: Engine,
    world: World<I, ByAddress>,
    summary: ReplaySummary,
    tap: Option<&'t mut dyn ReplayTap>,
    /// With a tap: outputs taken from the engine to show them, not yet acted on.
    outbox: VecDeque<Output>,
}

impl<I> Driver<'_, I>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
{
    /// Gives the engine an input, counted, a refusal noted.
    #[inline]
    fn feed(&mut self, at: Timestamp, input: Input) -> Result<(), EngineError> {
        self.summary.events += 1;
        let r = self.handle(at, input);
        if let Err(e) = &r {
            self.note_refusal(at, e);
        }
        r
    }

    #[cold]
    fn note_refusal(&mut self, at: Timestamp, e: &EngineError) {
        self.summary.refused += 1;
        if self.summary.first_refusals.len() < 10 {
            self.summary.first_refusals.push(format!("at {at}: {e}"));
        }
    }

    /// Gives the engine the world's inputs, telling the world of refusals.
    fn give_acts(&mut self) {
        while let Some(Act { at, input, about }) = self.world.take() {
            if matches!(input, Input::AgentLogin { .. }) {
                // A login refused because the agent is still on is no refusal: the agent
                // stays on with `agent.ready` (counted as one input).
                match self.handle(at, input) {
                    Err(EngineError::InvalidState(_)) => {
                        self.world.refused(at, about, true);
                        self.world.react(at);
                    }
                    _ => self.summary.events += 1,
                }
                continue;
            }
            if let Err(e) = self.feed(at, input) {
                let still_on = matches!(e, EngineError::InvalidState(_));
                self.world.refused(at, about, still_on);
            }
        }
    }

    /// The engine's `handle`. Inline, with the tap's path apart: the world's input moves
    /// into the engine without a copy per call level (there are two inputs a call).
    #[inline]
    fn handle(&mut self, at: Timestamp, input: Input) -> Result<(), EngineError> {
        if self.tap.is_none() {
            return self.engine.handle(at, input);
        }
        self.handle_tapped(at, input)
    }

    /// [`Driver::handle`] shown to the tap with the outputs it gave.
    #[inline(never)]
    fn handle_tapped(&mut self, at: Timestamp, input: Input) -> Result<(), EngineError> {
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

    /// Hands the engine's outputs to the world (records end calls, commands are reacted
    /// to at once). Inline, with the loop apart: about half the inputs and timer firings
    /// give no output, and those then cost a look at two lengths, not a call.
    #[inline]
    fn drain<F>(
        &mut self,
        on_record: &mut F,
        on_event: &mut Option<OnEvent<'_>>,
    ) -> Result<(), SimError>
    where
        F: FnMut(Box<CallRecord>) -> Result<(), SimError>,
    {
        if self.outbox.is_empty() && self.engine.pending_outputs() == 0 {
            return Ok(());
        }
        self.drain_outputs(on_record, on_event)
    }

    /// [`Driver::drain`] of outputs there are.
    #[inline(never)]
    fn drain_outputs<F>(
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
                    self.world.ended(&r.call_id);
                    on_record(r)?;
                }
                Output::Command { command, .. } => {
                    // The act queue is empty here (`give_acts` empties it): only a
                    // reaction the command scheduled can fill it.
                    if self.world.command(now, &command) {
                        self.world.react(now);
                        self.give_acts();
                    }
                }
                Output::Event(e) => {
                    if let Some(f) = on_event {
                        f(e)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Shift;

    const T0: u64 = 1_772_438_400_000;

    fn site() -> Arc<Site> {
        let toml = "[site]\nname = \"s\"\ntimezone = \"UTC\"\nservice_level_s = 20\n\
            service_level_target = 0.8\n\n\
            [[entries]]\nid = \"e\"\nnumber = \"+4685080000\"\nroute = \"group:g\"\n\n\
            [[groups]]\nid = \"g\"\nrequires = { g = 1 }\nring_s = 3\nwrapup_s = 0\n\n\
            [[agents]]\nid = \"a0\"\nname = \"A\"\nextension = \"1000\"\nskills = { g = 1 }\n";
        match vaxel_config::load_site(toml) {
            Ok(v) => Arc::new(v.site),
            Err(d) => panic!("{d:?}"),
        }
    }

    /// Counts what it is shown.
    #[derive(Debug, Default)]
    struct Count {
        inputs: u64,
        timers: u64,
    }

    impl ReplayTap for Count {
        fn input(&mut self, _: Timestamp, _: &Input, _: &[Output]) {
            self.inputs += 1;
        }
        fn timers(&mut self, _: &[Output]) {
            self.timers += 1;
        }
    }

    /// `Driver::drain` returns at once when the engine has no output pending and nothing
    /// waits in the tap's outbox: after a drain the engine has none left, and an input
    /// with outputs leaves them pending until then (a call's arrival: its prompts and
    /// routing), which the world then takes in.
    #[test]
    fn drain_takes_every_pending_output_and_then_finds_none() {
        let arrival = TraceCall {
            call_id: "c1".to_owned(),
            arrival: Timestamp(T0),
            to: "+4685080000".to_owned(),
            from: "+4670".to_owned(),
            talk_ms: 30_000,
            patience_ms: Some(20_000),
            ..TraceCall::default()
        };
        let site = site();
        let trace = Prepared::new(std::iter::once(Ok(arrival)), Preparer::for_site(&site));
        let world: World<_, ByAddress> =
            World::new(trace, &[], site_numbers(&site), Arc::from("replay")).unwrap();
        let mut d = Driver {
            engine: Engine::new(site, world.start()),
            world,
            summary: ReplaySummary::default(),
            tap: None,
            outbox: VecDeque::new(),
        };
        let mut records = 0;
        let mut on_record = |_: Box<CallRecord>| {
            records += 1;
            Ok(())
        };
        let next = d.world.peek().unwrap();
        d.world.pop_peeked(next).unwrap();
        d.give_acts();
        assert!(d.engine.pending_outputs() > 0);
        d.drain(&mut on_record, &mut None).unwrap();
        assert_eq!(d.engine.pending_outputs(), 0);
        assert!(d.engine.poll_output().is_none());
        // The engine queued the call (no agent is on): the world took the command in.
        assert_eq!(d.world.waiting(), 1);
        d.drain(&mut on_record, &mut None).unwrap();
        assert_eq!(d.world.waiting(), 1);
        assert_eq!(records, 0);
    }

    /// The driver gives the engine its inputs on an inline path when nothing taps the
    /// replay and on the tap's own path otherwise: both give the same records and the same
    /// summary, a refused input (a call to a number the site does not have) counted and
    /// noted once, and the tap sees every input given and every timer firing (a refused
    /// input shown as the timers its time fired).
    #[test]
    fn inputs_untapped_and_tapped_give_the_same_replay() {
        let calls = || {
            [
                ("c1", "+4685080000", 0),
                ("c2", "+4600000", 500),
                ("c3", "+4685080000", 1_000),
            ]
            .map(|(id, to, at)| {
                Ok(TraceCall {
                    call_id: id.to_owned(),
                    arrival: Timestamp(T0 + at),
                    to: to.to_owned(),
                    from: "+4670".to_owned(),
                    talk_ms: 30_000,
                    patience_ms: Some(20_000),
                    ..TraceCall::default()
                })
            })
        };
        let roster = [Shift {
            agent: "a0".to_owned(),
            start: Timestamp(T0),
            end: Timestamp(T0 + 3_600_000),
        }];
        let run = |tap: Option<&mut Count>| {
            let mut records = Vec::new();
            let keep = |r: Box<CallRecord>| {
                records.push(r.call_id.to_string());
                Ok(())
            };
            let summary = match tap {
                Some(tap) => replay_tapped(site(), calls().into_iter(), &roster, keep, tap),
                None => replay(site(), calls().into_iter(), &roster, keep),
            };
            (summary.unwrap(), records)
        };
        let (untapped, records) = run(None);
        let mut tap = Count::default();
        let (tapped, tapped_records) = run(Some(&mut tap));
        assert_eq!(untapped, tapped);
        assert_eq!(records, tapped_records);
        assert_eq!(records.len(), 2);
        assert_eq!(untapped.refused, 1);
        assert_eq!(untapped.first_refusals.len(), 1);
        assert!(untapped.first_refusals[0].contains("+4600000"));
        assert_eq!(tap.inputs + tap.timers, untapped.events);
    }
}
