//! The engine: owns every call and agent, applies inputs in time order and queues the
//! resulting commands and records. Submodules hold the transitions, each named for what it
//! handles; this file holds the state and the public surface.

mod agents;
mod arrival;
mod by_address;
mod call_index;
mod calls;
mod desk;
mod events;
mod ewt;
mod finish;
mod membership;
mod occupancy;
mod queueing;
mod queues;
mod rank_set;
mod recheck;
mod reload;
mod state;
mod timers;
mod view;

use crate::calendar::OpenState;
use crate::error::EngineError;
use crate::input::Input;
use crate::output::{Command, Output};
use crate::site::{AgentIdx, GroupIdx, Site, Target, Text};
use crate::time::Timestamp;
use by_address::ByAddress;
use call_index::CallIndex;
pub use desk::AgentCall;
use queues::GroupState;
use serde::{Deserialize, Serialize};
use state::{Agent, Call, Slot};
use std::collections::VecDeque;
use std::sync::Arc;
use timers::{Timer, Timers};

/// The groups one agent can serve, each with the first widen step it qualifies at.
type AgentGroups = Vec<(GroupIdx, u8)>;

/// For each agent of `site`, the groups it can serve with the first widen step it qualifies
/// at, and its `most-skilled` score in each.
fn memberships(site: &Site) -> (Vec<AgentGroups>, Vec<Vec<u32>>) {
    site.agents
        .iter()
        .map(|def| {
            site.groups
                .iter()
                .enumerate()
                .filter_map(|(gi, group)| {
                    let step = group.qualifying_step(&def.skills)?;
                    Some((
                        (GroupIdx(gi as u32), step as u8),
                        group.skill_score(&def.skills),
                    ))
                })
                .unzip::<_, _, Vec<_>, Vec<_>>()
        })
        .unzip()
}

/// The call in `slot` of `calls`, for code that borrows the site beside it (which
/// [`Engine::call_mut`] would not allow).
fn live_call(calls: &mut [Option<Call>], slot: Slot) -> &mut Call {
    match &mut calls[slot as usize] {
        Some(c) => c,
        None => unreachable!("slot {slot} is free: an engine invariant is broken"),
    }
}

/// Buckets (as a power of two) of the live calls' lookup by address: more than the calls
/// a city has in flight at once.
const CALL_ADDRESS_BITS: u32 = 12;

/// The site's agents by where their ids live.
fn agents_by_address(site: &Site) -> ByAddress {
    let mut t = ByAddress::new(10);
    for (i, a) in site.agents.iter().enumerate() {
        t.put(&a.id, i as u32);
    }
    t
}

/// Crisis mode as switched on by an admin.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ActiveCrisis {
    prompt: Option<Text>,
    route: Option<Target>,
}

/// The routing engine. One owner drives it: `handle` inputs, `handle_timeout` when
/// `poll_timeout` is due, drain `poll_output`.
#[derive(Debug)]
pub struct Engine {
    site: Arc<Site>,
    /// Per calendar: the last answer and until when it holds (derived; not saved).
    open_cache: Vec<Option<OpenState>>,
    /// The empty text of records with no entry or agent, shared instead of allocated.
    empty: Text,
    /// Live calls' slots and the site's agents by where their ids live (derived; not
    /// saved): see [`by_address`].
    call_addr: ByAddress,
    agent_addr: ByAddress,
    /// The calendars' watch for waiting calls (derived; not saved): see [`recheck`].
    edges: recheck::CalendarEdges,
    /// Groups whose last serving agent just left, to re-check once the transition that
    /// caused it is done (empty between inputs).
    recheck: Vec<GroupIdx>,
    /// Local midnight beginning the current day of the `today` figures (derived from
    /// `day_end`; not saved).
    day_start: Timestamp,
    /// The event log is on (not saved: see [`Engine::set_events`]).
    events: bool,
    /// Who is ending the call being hung up (set by `call.hangup` around its transition),
    /// for the `ended` event.
    hangup_by: Option<crate::event::EndedBy>,
    st: EngineState,
}

/// Everything the engine holds but its site, as plain data: [`Engine::save`] gives it,
/// [`Engine::restore`] takes it back with the same site, and the engine goes on exactly as
/// if it had never stopped. The daemon writes it as a checkpoint so that recovery replays
/// only the journal since.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineState {
    now: Timestamp,
    /// Calls by slot; `None` = free slot (listed in `free`).
    calls: Vec<Option<Call>>,
    free: Vec<Slot>,
    /// Live calls by id (derived from `calls`; not saved, made again on restore).
    #[serde(skip)]
    by_id: CallIndex,
    next_seq: u64,
    agents: Vec<Agent>,
    /// For each agent, the groups it can serve and the first widen step it qualifies at.
    /// Derived from the site; fixed until a reload.
    agent_groups: Vec<AgentGroups>,
    /// Parallel to `agent_groups`: the agent's `most-skilled` score in each group.
    agent_scores: Vec<Vec<u32>>,
    groups: Vec<GroupState>,
    timers: Timers,
    out: VecDeque<Output>,
    /// SplitMix64 state, seeded from the site: the `random` strategy's only source.
    rng: u64,
    /// Assignments so far: the `round-robin` stamp.
    assignments: u64,
    crisis: Option<ActiveCrisis>,
    /// Local midnight ending the current day of the `today` figures.
    day_end: Timestamp,
}

impl Engine {
    /// A new engine on `site`, its clock at `now`, every agent logged out.
    #[must_use]
    pub fn new(site: Arc<Site>, now: Timestamp) -> Engine {
        let agents = site
            .agents
            .iter()
            .map(|a| Agent::new(a.extension.clone()))
            .collect();
        let st = EngineState {
            now,
            calls: Vec::new(),
            free: Vec::new(),
            by_id: CallIndex::default(),
            next_seq: 0,
            agents,
            agent_groups: Vec::new(),
            agent_scores: Vec::new(),
            groups: Vec::new(),
            timers: Timers::default(),
            out: VecDeque::new(),
            rng: site.seed ^ 0x5eed_5eed_5eed_5eed,
            assignments: 0,
            crisis: None,
            day_end: Timestamp(0),
        };
        let mut engine = Engine::around(site, st);
        engine.derive_memberships();
        engine.roll_day();
        engine.watch_calendars();
        engine
    }

    /// Computes which groups each agent serves, from skills and widen steps.
    fn derive_memberships(&mut self) {
        let (groups, scores) = memberships(&self.site);
        self.st.agent_groups = groups;
        self.st.agent_scores = scores;
        let site = &self.site;
        self.st.groups = site
            .groups
            .iter()
            .map(|g| GroupState::new(g, site.default_handle_ms))
            .collect();
        self.index_serving();
    }

    /// Counts each group's staffed agents from the agents' own states (after a restore or
    /// a reload; from then on `set_status` keeps the counts).
    fn count_staffed(&mut self) {
        self.index_serving();
        for gs in &mut self.st.groups {
            gs.staffed = 0;
        }
        for (a, groups) in self.st.agents.iter().zip(&self.st.agent_groups) {
            if queues::is_staffed(a.view_state()) {
                for &(g, _) in groups {
                    self.st.groups[g.ix()].staff(1);
                }
            }
        }
    }

    /// An engine on `site` holding `st`, with the fields derived from them (and not saved)
    /// not yet worked out: [`Engine::new`] and [`Engine::restore`] go on from here.
    fn around(site: Arc<Site>, st: EngineState) -> Engine {
        Engine {
            open_cache: vec![None; site.calendars.len()],
            empty: Text::from(""),
            call_addr: ByAddress::new(CALL_ADDRESS_BITS),
            agent_addr: agents_by_address(&site),
            edges: recheck::CalendarEdges::default(),
            recheck: Vec::new(),
            day_start: Timestamp(0),
            events: false,
            hangup_by: None,
            site,
            st,
        }
    }

    /// The engine's whole state but the site, to checkpoint it (pending outputs included).
    #[must_use]
    pub fn save(&self) -> EngineState {
        self.st.clone()
    }

    /// An engine that goes on from `state`, saved from an engine running `site` (the same
    /// configuration): it gives exactly the outputs the saved engine would have given.
    /// Refused if the state does not fit the site's agents, groups and skills.
    pub fn restore(site: Arc<Site>, state: EngineState) -> Result<Engine, EngineError> {
        let (groups, scores) = memberships(&site);
        let widen_fits = state
            .groups
            .iter()
            .zip(&site.groups)
            .all(|(gs, g)| gs.queues.len() == g.widen.len() + 1);
        if state.agents.len() != site.agents.len()
            || state.groups.len() != site.groups.len()
            || state.agent_groups != groups
            || state.agent_scores != scores
            || !widen_fits
        {
            return Err(EngineError::InvalidState(
                "the saved engine state was made with another configuration".into(),
            ));
        }
        let mut engine = Engine::around(site, state);
        engine.day_start = engine.local_midnight(Timestamp(engine.st.day_end.0.saturating_sub(1)));
        engine.st.by_id = CallIndex::rebuild(&engine.st.calls);
        engine.st.mark_free_agents();
        engine.count_staffed();
        engine.watch_calendars();
        Ok(engine)
    }

    /// The running site.
    #[must_use]
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }

    /// The engine's time: the latest `now` it was given.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.st.now
    }

    /// Whether crisis mode is on.
    #[must_use]
    pub fn crisis_active(&self) -> bool {
        self.st.crisis.is_some()
    }

    /// Applies one input at `now`. Timers due by `now` fire first, each at its own time.
    /// A refused input changes nothing (timers due by `now` have still fired: time did pass).
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<(), EngineError> {
        self.handle_timeout(now)?;
        let result = self.apply(input);
        self.settle();
        result
    }

    fn apply(&mut self, input: Input) -> Result<(), EngineError> {
        match input {
            Input::CallArrived {
                call,
                platform,
                to,
                from,
                digits,
                lang,
            } => self.call_arrived(call, platform, &to, from, digits, lang),
            Input::CallDigits { call, digits } => self.call_digits(&call, &digits),
            Input::CallAnswered { call, agent } => self.call_answered(&call, &agent),
            Input::CallNoAnswer { call, agent } => self.call_noanswer(&call, &agent),
            Input::CallHangup { call, reason } => self.call_hangup(&call, reason.as_deref()),
            Input::CallTransfer {
                call,
                agent,
                to,
                priority,
            } => self.call_transfer(&call, &agent, &to, priority.unwrap_or(0)),
            Input::CallPark { call, agent } => self.call_park(&call, &agent),
            Input::CallUnpark { call, agent } => self.call_unpark(&call, &agent),
            Input::CallRequeue {
                call,
                agent,
                group,
                priority,
            } => self.call_requeue(&call, &agent, group.as_deref(), priority.unwrap_or(0)),
            Input::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            } => self.call_disposition(&call, &agent, case_type, resolved),
            Input::CallbackResult {
                callback,
                connected,
            } => self.callback_result(&callback, connected),
            Input::AgentLogin { agent, extension } => self.agent_login(&agent, extension),
            Input::AgentReady { agent } => self.agent_ready(&agent),
            Input::AgentLogout { agent } => self.agent_logout(&agent),
            Input::AgentPause {
                agent,
                reason,
                note,
                until,
            } => self.agent_pause(&agent, reason, note, until),
            Input::AgentWrapupDone { agent } => self.agent_wrapup_done(&agent),
            Input::AgentWrapupUntil { agent, until } => self.agent_wrapup_until(&agent, until),
            Input::Tick => Ok(()),
            Input::Crisis { on, prompt, route } => self.set_crisis(on, prompt, route.as_deref()),
            Input::PlatformLost { platform } => {
                self.platform_lost(&platform);
                Ok(())
            }
        }
    }

    /// Fires every timer due by `now`, each at its own time, and advances the clock.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), EngineError> {
        if now < self.st.now {
            return Err(EngineError::TimeWentBackwards {
                at: now,
                now: self.st.now,
            });
        }
        loop {
            // Calendar edges and timers in time order (an edge first on a tie: a group
            // closing at 17:00 is closed for what comes due at 17:00).
            let edge = self.edges.next();
            if edge <= now && self.st.timers.next_deadline().is_none_or(|t| edge <= t) {
                self.st.now = edge.max(self.st.now);
                self.roll_day();
                self.calendar_edges();
            } else if let Some((at, timer)) = self.st.timers.pop_due(now) {
                self.st.now = at.max(self.st.now);
                self.roll_day();
                self.fire(timer);
            } else {
                break;
            }
            self.settle();
        }
        self.st.now = now;
        self.roll_day();
        Ok(())
    }

    /// The next deadline at which `handle_timeout` has work (possibly none, see timers).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let edge = Some(self.edges.next()).filter(|t| *t != Timestamp(u64::MAX));
        match (self.st.timers.next_deadline(), edge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next command or record, in the order they were produced.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.st.out.pop_front()
    }

    /// Outputs waiting to be drained.
    #[must_use]
    pub fn pending_outputs(&self) -> usize {
        self.st.out.len()
    }

    /// Pending timers (including stale ones), for metrics and tests.
    #[must_use]
    pub fn pending_timers(&self) -> usize {
        self.st.timers.len()
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Member {
                slot,
                seq,
                group,
                mseq,
            } => self.on_member_timer(slot, seq, group, mseq),
            Timer::Ring { slot, seq, nonce } => self.on_ring_timeout(slot, seq, nonce),
            Timer::Park { slot, seq, nonce } => self.on_park_timeout(slot, seq, nonce),
            Timer::CallbackRetry { slot, seq, nonce } => self.on_callback_retry(slot, seq, nonce),
            Timer::Wrapup { agent, nonce } => {
                if self.st.agents[agent.ix()].nonce == nonce {
                    self.end_wrapup(agent);
                }
            }
            Timer::PauseEnd { agent, nonce } => {
                if self.st.agents[agent.ix()].nonce == nonce {
                    self.make_ready(agent);
                }
            }
        }
    }

    /// Emits a command for the call in `slot`.
    fn emit_for(&mut self, slot: Slot, command: Command) {
        let platform = self.call(slot).platform.clone();
        self.st.out.push_back(Output::Command { platform, command });
    }

    fn call(&self, slot: Slot) -> &Call {
        match &self.st.calls[slot as usize] {
            Some(c) => c,
            None => unreachable!("slot {slot} is free: an engine invariant is broken"),
        }
    }

    fn call_mut(&mut self, slot: Slot) -> &mut Call {
        live_call(&mut self.st.calls, slot)
    }

    /// The live call in `slot` if it is still the one with `seq` (timers check this).
    fn live(&self, slot: Slot, seq: u64) -> bool {
        matches!(self.st.calls.get(slot as usize), Some(Some(c)) if c.seq == seq)
    }

    fn find_call(&self, id: &str) -> Result<Slot, EngineError> {
        if let Some(slot) = self.call_addr.get(id)
            && let Some(Some(c)) = self.st.calls.get(slot as usize)
            && by_address::same(&c.id, id)
        {
            return Ok(slot);
        }
        self.st
            .by_id
            .find(call_index::id_hash(id), id, &self.st.calls)
            .ok_or_else(|| EngineError::UnknownCall(id.to_owned()))
    }

    fn find_agent(&self, id: &str) -> Result<AgentIdx, EngineError> {
        if let Some(i) = self.agent_addr.get(id)
            && let Some(def) = self.site.agents.get(i as usize)
            && by_address::same(&def.id, id)
        {
            return Ok(AgentIdx(i));
        }
        self.site
            .agent_by_id
            .get(id)
            .copied()
            .ok_or_else(|| EngineError::UnknownAgent(id.to_owned()))
    }

    /// The next number of the seeded generator (SplitMix64).
    fn next_random(&mut self) -> u64 {
        self.st.rng = self.st.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.st.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Whether calendar `cal` is open now (cached until its next boundary).
    fn is_open(&mut self, cal: crate::site::CalendarIdx) -> bool {
        let now = self.st.now;
        if let Some(state) = self.open_cache[cal.ix()]
            && now < state.until
        {
            return state.open;
        }
        let state = self.site.calendars[cal.ix()].state_at(now, &self.site.timezone);
        self.open_cache[cal.ix()] = Some(state);
        state.open
    }

    /// Starts a new day of `today` figures at local midnight. Called at every input and
    /// timer, so the check is kept apart from the rare work.
    #[inline]
    fn roll_day(&mut self) {
        if self.st.now >= self.st.day_end {
            self.start_day();
        }
    }

    /// The local midnight that begins the day of `at`.
    fn local_midnight(&self, at: Timestamp) -> Timestamp {
        let tz = &self.site.timezone;
        let date = tz.to_datetime(at.to_jiff()).date();
        tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .map_or(Timestamp(0), Timestamp::from_jiff)
    }

    #[cold]
    fn start_day(&mut self) {
        self.day_start = self.local_midnight(self.st.now);
        let tz = &self.site.timezone;
        let local = tz.to_datetime(self.st.now.to_jiff());
        let next_midnight = local.date().tomorrow().ok().and_then(|d| {
            tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        });
        self.st.day_end = next_midnight.map_or(Timestamp(u64::MAX), Timestamp::from_jiff);
        for g in &mut self.st.groups {
            g.today = crate::snapshot::DayStats::default();
        }
        for a in &mut self.st.agents {
            a.calls_today = 0;
            a.talk_ms_today = 0;
            a.busy.new_day();
        }
    }
}
