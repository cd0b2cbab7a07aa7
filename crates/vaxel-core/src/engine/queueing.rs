//! Queues and dispatch: a call entering a group, widening, overflow rules, max wait,
//! announcements, callback offers, and the matching of waiting calls with free agents.

use super::ewt::Told;
use super::queues::{AgentFacts, IdleKey, QKey, idle_key};
use super::state::{CallState, Member, Slot, Status};
use super::timers::Timer;
use super::{Engine, EngineState};
use crate::event::EventKind;
use crate::output::{CallbackNote, Command, Outcome};
use crate::site::{
    AgentIdx, Condition, GroupIdx, LangPolicy, OverflowMode, SkillIdx, Strategy, Target, Text,
    skill_level,
};
use crate::time::Timestamp;

impl EngineState {
    /// Marks the agents found in the free sets as free (after a restore: saved sets hold
    /// the free agents only).
    pub(super) fn mark_free_agents(&mut self) {
        for gs in &self.groups {
            for set in &gs.idle {
                for key in set.iter() {
                    if let Some(a) = self.agents.get_mut(key.agent.ix()) {
                        a.free = true;
                    }
                }
            }
        }
    }
}

impl Engine {
    pub(super) fn qkey(&self, slot: Slot) -> QKey {
        let c = self.call(slot);
        QKey {
            neg_priority: -i64::from(c.priority),
            place: c.place.0,
            seq: c.seq,
            slot,
        }
    }

    /// Puts the call into the queue sets of all its memberships.
    pub(super) fn insert_sets(&mut self, slot: Slot) {
        let key = self.qkey(slot);
        for i in 0..self.call(slot).members.len() {
            let m = self.call(slot).members[i];
            self.st.groups[m.group.ix()].queues[usize::from(m.step)].insert(key);
        }
    }

    /// Takes the call out of the queue sets (it keeps its memberships and places).
    pub(super) fn remove_sets(&mut self, slot: Slot) {
        let key = self.qkey(slot);
        for i in 0..self.call(slot).members.len() {
            let m = self.call(slot).members[i];
            self.st.groups[m.group.ix()].queues[usize::from(m.step)].remove(&key);
        }
    }

    /// Ends the call's membership in `group` (out of the set too if it is in one).
    pub(super) fn leave_group(&mut self, slot: Slot, group: GroupIdx) {
        let key = self.qkey(slot);
        let in_queue = self.call(slot).state.in_queue();
        let call = self.call_mut(slot);
        let Some(i) = call.members.iter().position(|m| m.group == group) else {
            return;
        };
        let m = call.members.remove(i);
        if in_queue {
            self.st.groups[group.ix()].queues[usize::from(m.step)].remove(&key);
        }
    }

    /// Ends every membership, counting the call as `outcome` in each group's figures
    /// (abandoned; overflowed is counted once per call, by [`Engine::finish`]).
    pub(super) fn leave_all_groups(&mut self, slot: Slot, outcome: Option<Outcome>) {
        let now = self.st.now;
        let place = self.call(slot).place;
        let waited = self.call(slot).queued.map_or(0, |q| now.since(q));
        while let Some(g) = self.call(slot).members.last().map(|m| m.group) {
            self.leave_group(slot, g);
            let gs = &mut self.st.groups[g.ix()];
            if outcome == Some(Outcome::Abandoned) {
                // The caller's patience ran out after `waited`: the expected wait's
                // abandonment rate learns it.
                gs.learned.observe_wait(waited, true);
            }
            let today = &mut gs.today;
            if outcome == Some(Outcome::Abandoned) {
                today.abandoned += 1;
                if now.since(place) < 5_000 {
                    today.short_abandoned += 1;
                }
            }
        }
    }

    /// The call joins `group`'s queue (keeping its place), is offered to a free agent if
    /// one qualifies, and otherwise meets the group's overflow rules and announcements.
    pub(super) fn enter_group(&mut self, slot: Slot, group: GroupIdx, depth: u32) {
        if self.call(slot).member(group).is_some() {
            return;
        }
        let now = self.st.now;
        let g = self.site.group(group);
        // The widen steps that apply from the start, and the first announcement.
        let mut step = 0u8;
        while usize::from(step) < g.widen.len() && g.widen[usize::from(step)].after_ms == 0 {
            step += 1;
        }
        let next_announce = (g.announce_every_ms > 0).then(|| now.plus_ms(g.announce_every_ms));
        let call = self.call_mut(slot);
        if call.queued.is_none() {
            call.queued = Some(now);
            call.place = now;
        }
        if !call.state.in_queue() {
            call.state = CallState::Queued;
        }
        let first_visit = !call.path.contains(&group);
        if call.path.last() != Some(&group) {
            call.path.push(group);
        }
        let mseq = call.next_mseq;
        call.next_mseq += 1;
        call.members.push(Member {
            group,
            step,
            entered: now,
            mseq,
            fired: 0,
            max_wait_done: false,
            next_announce,
            armed: None,
        });
        let state = call.state;
        if first_visit {
            let gs = &mut self.st.groups[group.ix()];
            gs.today.offered += 1;
            gs.learned.observe_entry(now);
        }
        self.ev_queued(slot, group);
        let offer_to = if state.in_queue() {
            self.pick_agent(slot, group, step)
        } else {
            None
        };
        // A caller offered straight to an agent rings until the ring time-out at most (a
        // callback is dialled instead, with no time-out).
        let ring_end = offer_to
            .filter(|_| state == CallState::Queued)
            .and_then(|_| self.ring_deadline(group));
        self.arm_member_within(slot, group, ring_end);
        if let Some(agent) = offer_to {
            // Straight to a free agent: the call never waits in this group's set (its
            // place and membership are kept as for any call offered to an agent).
            self.connect(slot, agent, group);
            return;
        }
        let key = self.qkey(slot);
        self.st.groups[group.ix()].queues[usize::from(step)].insert(key);
        if self.call(slot).state == CallState::Queued {
            // A callback (line already freed) just waits; a caller meets the rules.
            self.entry_rules(slot, group, depth);
        }
    }

    /// Overflow rules checked when a call enters a group and finds no free agent: the
    /// first matching rule wins. Then the `queue` command and, if the wait is long, a
    /// callback offer.
    fn entry_rules(&mut self, slot: Slot, group: GroupIdx, depth: u32) {
        let site = self.site.clone();
        let g = site.group(group);
        let gs = &self.st.groups[group.ix()];
        let closed = g.calendar.is_some_and(|c| !self.is_open_peek(c));
        let ahead = gs.waiting().saturating_sub(1);
        // The caller's own place, which a higher priority puts ahead of others.
        let told = self.told(slot, group);
        let ewt = told.ewt_ms;
        let staffed = gs.staffed();
        let matched = g.overflow.iter().position(|r| match r.when {
            Condition::WaitOver(ms) => ms == 0,
            Condition::QueueOver(n) => ahead >= n,
            Condition::NoAgents => staffed == 0 || closed,
            // Unknown (nobody to serve) counts as over.
            Condition::EwtOver(ms) => ewt.is_none_or(|e| e > ms),
        });
        let in_place = |r: usize| {
            matches!(g.overflow[r].to, Target::Callback)
                || (g.overflow[r].mode == OverflowMode::Expand
                    && matches!(g.overflow[r].to, Target::Group(_)))
        };
        if let Some(r) = matched
            && !in_place(r)
        {
            self.apply_rule(slot, group, r, depth);
            return;
        }
        if closed && matched.is_none() {
            // A closed group with no rule for it: no service.
            self.hang_up_and_finish(slot, None, Outcome::Closed);
            return;
        }
        self.send_queue_told(slot, group, told);
        if g.announce_every_ms == 0 {
            // "Only when the call enters the queue": once, now.
            let _ = self.play_queue_prompt(slot, group, Some(told));
        }
        if let Some(r) = matched {
            self.apply_rule(slot, group, r, depth);
        }
        if self.live_in_queue(slot)
            && let Some(limit) = g.callback_offer_ewt_ms
            && ewt.is_none_or(|e| e > limit)
        {
            self.offer_callback(slot, group);
        }
    }

    /// `is_open` without touching the cache (for use behind shared borrows).
    fn is_open_peek(&self, cal: crate::site::CalendarIdx) -> bool {
        match self.open_cache[cal.ix()] {
            Some(s) if self.st.now < s.until => s.open,
            _ => {
                self.site.calendars[cal.ix()]
                    .state_at(self.st.now, &self.site.timezone)
                    .open
            }
        }
    }

    /// The call's place in `group`'s queue (1 = next), without the cost of an estimate
    /// (the event log's positions).
    pub(super) fn queue_position(&self, slot: Slot, group: GroupIdx) -> u32 {
        self.st.groups[group.ix()].ahead_of(&self.qkey(slot)) + 1
    }

    /// The call's position (1 = next) and expected wait in `group` (`None`: unknown, with
    /// nobody to serve), with the model's estimate before the group's factor (kept with
    /// the first announcement to learn the factor from).
    pub(super) fn told(&self, slot: Slot, group: GroupIdx) -> Told {
        let position = self.queue_position(slot, group);
        let raw_ms = self.call_ewt_raw_ms(slot, group, position);
        Told {
            position,
            raw_ms,
            ewt_ms: raw_ms.map(|raw| self.calibrated(group, raw)),
        }
    }

    pub(super) fn send_queue(&mut self, slot: Slot, group: GroupIdx) {
        let told = self.told(slot, group);
        self.send_queue_told(slot, group, told);
    }

    /// The `queue` command with figures just computed (one estimate per entry).
    fn send_queue_told(&mut self, slot: Slot, group: GroupIdx, told: Told) {
        let Told {
            position, ewt_ms, ..
        } = told;
        let ewt_s = ewt_ms.map(Timestamp::ms_to_secs_ceil);
        self.ev_announced(slot, group, position, ewt_s);
        if self.call(slot).announced.is_none() {
            self.note_first_announcement(slot, group, told);
        }
        let call = self.call(slot).id.clone();
        let group_id = self.site.group(group).id.clone();
        self.emit_for(
            slot,
            Command::Queue {
                call,
                group: group_id,
                position,
                ewt_s,
            },
        );
    }

    /// Applies overflow rule `r` of `group` to the call.
    pub(super) fn apply_rule(&mut self, slot: Slot, group: GroupIdx, r: usize, depth: u32) {
        let site = self.site.clone();
        let rule = &site.group(group).overflow[r];
        if let Some(m) = self.call_mut(slot).member_mut(group) {
            m.fired |= 1 << r.min(31);
        }
        let expand = rule.mode == OverflowMode::Expand;
        self.ev_rule(slot, group, Some(r), &rule.to, expand);
        match (&rule.to, rule.mode) {
            (Target::Group(t), OverflowMode::Expand) => self.enter_group(slot, *t, depth + 1),
            (Target::Callback, _) => self.offer_callback(slot, group),
            (target, _) => self.move_out(slot, group, target, depth),
        }
    }

    /// The call leaves `group` for `target` (another group, a number, a menu).
    fn move_out(&mut self, slot: Slot, group: GroupIdx, target: &Target, depth: u32) {
        match target {
            Target::Group(t) => {
                let t = *t;
                self.leave_group(slot, group);
                if self.call(slot).member(t).is_none() {
                    self.enter_group(slot, t, depth + 1);
                } else if self.call(slot).members.is_empty() {
                    unreachable!("member of the target, so members is not empty");
                } else {
                    let first = self.call(slot).members[0].group;
                    self.send_queue(slot, first);
                }
            }
            Target::Callback => self.offer_callback(slot, group),
            other => {
                self.leave_all_groups(slot, None);
                self.call_mut(slot).state = CallState::Queued;
                self.route_to(slot, other, depth + 1);
            }
        }
    }

    /// Picks the free agent `group`'s strategy prefers for the call in `slot` at widen
    /// `step`, not the agent who just let it ring out unless nobody else is free, and
    /// heeding the group's language policy.
    pub(super) fn pick_agent(&mut self, slot: Slot, group: GroupIdx, step: u8) -> Option<AgentIdx> {
        let avoid = self.call(slot).declined_by;
        match self.lang_need(slot, group) {
            None => self.pick_among(group, step, avoid, None),
            Some((LangPolicy::Require, lang)) => self.pick_among(group, step, avoid, Some(lang)),
            Some((_, lang)) => self
                .pick_among(group, step, avoid, Some(lang))
                .or_else(|| self.pick_among(group, step, avoid, None)),
        }
    }

    /// The language policy of `group` and the skill of the caller's language, when both
    /// apply: the group heeds languages, the caller's is known, and the site has the
    /// skill `lang:xx` at all.
    fn lang_need(&self, slot: Slot, group: GroupIdx) -> Option<(LangPolicy, SkillIdx)> {
        let policy = self.site.group(group).lang;
        if policy == LangPolicy::Ignore {
            return None;
        }
        let lang = self.call(slot).lang.as_deref()?;
        Some((policy, self.site.lang_skill(lang)?))
    }

    /// Whether `agent` speaks the language with skill `lang` (any level).
    fn speaks(&self, agent: AgentIdx, lang: SkillIdx) -> bool {
        skill_level(&self.site.agent(agent).skills, lang) > 0
    }

    /// Whether `agent` may be offered the call in `slot` from `group`: only a group that
    /// requires the caller's language turns anyone away.
    fn may_take(&self, agent: AgentIdx, slot: Slot, group: GroupIdx) -> bool {
        match self.lang_need(slot, group) {
            Some((LangPolicy::Require, lang)) => self.speaks(agent, lang),
            _ => true,
        }
    }

    /// [`pick_agent`](Self::pick_agent) among the free agents who speak `lang` (all when
    /// `None`).
    fn pick_among(
        &mut self,
        group: GroupIdx,
        step: u8,
        avoid: Option<AgentIdx>,
        lang: Option<SkillIdx>,
    ) -> Option<AgentIdx> {
        if self.site.group(group).strategy == Strategy::Random {
            return self.pick_random(group, step, avoid, lang);
        }
        let gs = &self.st.groups[group.ix()];
        let mut best: Option<IdleKey> = None;
        let mut fallback = None;
        for tier in gs.idle.iter().take(usize::from(step) + 1) {
            let speaking = tier
                .iter()
                .filter(|k| lang.is_none_or(|l| self.speaks(k.agent, l)));
            for k in speaking.take(2) {
                if Some(k.agent) == avoid {
                    fallback = Some(k.agent);
                    continue;
                }
                if best.is_none_or(|b| *k < b) {
                    best = Some(*k);
                }
                break;
            }
        }
        best.map(|k| k.agent).or(fallback)
    }

    /// The `random` strategy: one of the free agents who qualify at `step` (not `avoid`
    /// unless nobody else is free), each as likely, drawn now from the seeded generator.
    /// Counting them costs the free set's length: tens of agents.
    fn pick_random(
        &mut self,
        group: GroupIdx,
        step: u8,
        avoid: Option<AgentIdx>,
        lang: Option<SkillIdx>,
    ) -> Option<AgentIdx> {
        let mut all = Vec::new();
        for tier in self.st.groups[group.ix()]
            .idle
            .iter()
            .take(usize::from(step) + 1)
        {
            all.extend(
                tier.iter()
                    .map(|k| k.agent)
                    .filter(|&a| lang.is_none_or(|l| self.speaks(a, l))),
            );
        }
        let others = all.iter().filter(|&&a| Some(a) != avoid).count();
        if others == 0 {
            return all.first().copied();
        }
        // Lemire's multiply-shift: uniform up to a bias of n / 2^64.
        let r = ((u128::from(self.next_random()) * others as u128) >> 64) as usize;
        all.into_iter().filter(|&a| Some(a) != avoid).nth(r)
    }

    /// A free agent takes the best call among all groups it serves (highest priority, then
    /// the earliest place); with no call waiting it joins the groups' free sets.
    pub(super) fn serve_agent(&mut self, agent: AgentIdx) {
        let mut best: Option<(QKey, GroupIdx)> = None;
        let mut fallback: Option<(QKey, GroupIdx)> = None;
        for &(g, tier) in &self.st.agent_groups[agent.ix()] {
            // Most queues are empty when an agent comes free, and a B-tree's iterator
            // walks down to both ends before it yields anything: ask its length first.
            for q in self.st.groups[g.ix()].queues[usize::from(tier)..]
                .iter()
                .filter(|q| !q.is_empty())
            {
                let takes = |k: &&QKey| self.may_take(agent, k.slot, g);
                for k in q.iter().filter(takes).take(2) {
                    if self.call(k.slot).declined_by == Some(agent) {
                        if fallback.is_none_or(|(b, _)| *k < b) {
                            fallback = Some((*k, g));
                        }
                        continue;
                    }
                    if best.is_none_or(|(b, _)| *k < b) {
                        best = Some((*k, g));
                    }
                    break;
                }
            }
        }
        match best.or(fallback) {
            Some((k, g)) => self.connect(k.slot, agent, g),
            None => self.add_idle(agent),
        }
    }

    fn add_idle(&mut self, agent: AgentIdx) {
        let st = &mut self.st;
        let a = &mut st.agents[agent.ix()];
        a.free = true;
        let mut facts = AgentFacts {
            idle_since: a.idle_since,
            skill_score: 0,
            rr_stamp: a.rr_stamp,
            calls_today: a.calls_today,
            talk_ms_today: a.talk_ms_today,
        };
        // The memberships and their scores walked together (parallel vectors), borrowed
        // apart from the groups they go into: no indexing again on every turn.
        let memberships = st.agent_groups[agent.ix()].iter();
        for (&(g, tier), &score) in memberships.zip(&st.agent_scores[agent.ix()]) {
            facts.skill_score = score;
            let key = idle_key(self.site.group(g).strategy, &facts, agent);
            st.groups[g.ix()].idle[usize::from(tier)].insert(key);
        }
    }

    /// The agent is no longer free: its entries leave the free sets of its groups.
    pub(super) fn remove_idle(&mut self, agent: AgentIdx) {
        let a = &mut self.st.agents[agent.ix()];
        if !a.free {
            return;
        }
        a.free = false;
        for &(g, tier) in &self.st.agent_groups[agent.ix()] {
            self.st.groups[g.ix()].idle[usize::from(tier)].remove(agent);
        }
    }

    /// Offers the waiting call to `agent` from `group`: `connect` (or `dial` for a
    /// callback). The call keeps its places, out of the sets, until answered.
    pub(super) fn connect(&mut self, slot: Slot, agent: AgentIdx, group: GroupIdx) {
        let ring_ms = self.site.group(group).ring_ms;
        let ring_deadline = self.ring_deadline(group);
        let agent_id = self.site.agent(agent).id.clone();
        self.remove_sets(slot);
        self.remove_idle(agent);
        self.st.assignments += 1;
        self.st.agents[agent.ix()].rr_stamp = self.st.assignments;
        self.st.agents[agent.ix()].last_group = Some(group);
        let extension = self.st.agents[agent.ix()].extension.clone();
        let call = self.call_mut(slot);
        call.serving = Some(group);
        call.offering = None;
        let id = call.id.clone();
        if call.state == CallState::CallbackWaiting {
            call.state = CallState::CallbackDialing { agent };
            let mut attempt = 0;
            if let CallbackNote::Accepted { attempts, .. } = &mut call.callback {
                *attempts += 1;
                attempt = *attempts;
            }
            let number = call.from.clone();
            self.ev_call(slot, Some(agent), || EventKind::CallbackDialled { attempt });
            self.emit_for(
                slot,
                Command::Dial {
                    callback: id,
                    agent: agent_id,
                    extension,
                    number,
                },
            );
        } else {
            call.state = CallState::Ringing { agent };
            call.nonce += 1;
            call.deadline = ring_deadline;
            let (seq, nonce) = (call.seq, call.nonce);
            self.ev_call(slot, Some(agent), || EventKind::Offered);
            self.emit_for(
                slot,
                Command::Connect {
                    call: id,
                    agent: agent_id,
                    extension,
                    ring_s: Timestamp::ms_to_secs_ceil(ring_ms),
                },
            );
            if let Some(t) = ring_deadline {
                self.st.timers.at(t, Timer::Ring { slot, seq, nonce });
            }
        }
        self.set_status(agent, Status::Ringing { call: slot });
    }

    /// When a ring offered now from `group` times out: `ring_s` and the platform's grace
    /// later (`ring_s = 0`: never).
    fn ring_deadline(&self, group: GroupIdx) -> Option<Timestamp> {
        let ring_ms = self.site.group(group).ring_ms;
        (ring_ms > 0).then(|| {
            self.st
                .now
                .plus_ms(ring_ms + self.site.platform.ring_grace_ms)
        })
    }

    /// The call is back in its queues after an offer that did not connect: it keeps its
    /// places, meets any rule that came due meanwhile, and is offered on.
    pub(super) fn return_to_queue(&mut self, slot: Slot) {
        if self.call(slot).members.is_empty() {
            // Offered to one agent directly (a transfer): back to the group it came from.
            let serving = self.call(slot).serving;
            self.call_mut(slot).state = CallState::Queued;
            match serving {
                Some(g) => self.enter_group(slot, g, 0),
                None => self.hang_up_and_finish(slot, None, Outcome::Timeout),
            }
            return;
        }
        let call = self.call_mut(slot);
        if !matches!(call.callback, CallbackNote::Accepted { .. }) {
            call.state = CallState::Queued;
        } else {
            call.state = CallState::CallbackWaiting;
        }
        self.insert_sets(slot);
        if self.call(slot).state == CallState::Queued {
            // Rules and max waits that came due while it rang apply now.
            let mut i = 0;
            while let Some(group) = self.st.calls[slot as usize]
                .as_ref()
                .and_then(|c| c.members.get(i))
                .map(|m| m.group)
            {
                self.member_due(slot, group);
                if !self.live_in_queue(slot) {
                    return;
                }
                i += 1;
            }
        }
        self.dispatch(slot);
    }

    /// Offers the waiting call to the best free agent of any group it is in.
    pub(super) fn dispatch(&mut self, slot: Slot) {
        let avoid = self.call(slot).declined_by;
        let mut fallback = None;
        for i in 0..self.call(slot).members.len() {
            let Member { group: g, step, .. } = self.call(slot).members[i];
            match self.pick_agent(slot, g, step) {
                Some(a) if Some(a) == avoid => fallback = fallback.or(Some((a, g))),
                Some(a) => {
                    self.connect(slot, a, g);
                    return;
                }
                None => {}
            }
        }
        if let Some((a, g)) = fallback {
            self.connect(slot, a, g);
        } else if let Some(first) = self.call(slot).members.first().map(|m| m.group)
            && self.call(slot).state == CallState::Queued
        {
            self.send_queue(slot, first);
        }
    }

    pub(super) fn max_wait_reached(&mut self, slot: Slot, group: GroupIdx) {
        let site = self.site.clone();
        match &site.group(group).on_max_wait {
            None => self.hang_up_and_finish(slot, None, Outcome::Timeout),
            Some(Target::Callback) => self.offer_callback(slot, group),
            Some(target) => {
                self.ev_rule(slot, group, None, target, false);
                self.move_out(slot, group, target, 0);
            }
        }
    }

    /// Offers a callback once per call; the caller keeps waiting meanwhile. Only to a
    /// caller whose number can be dialled back (E.164): a withheld or internal number
    /// would free the line for a callback that can never reach the caller, who waits on
    /// in the queue instead.
    pub(super) fn offer_callback(&mut self, slot: Slot, group: GroupIdx) {
        let call = self.call(slot);
        if call.callback != CallbackNote::None
            || call.callback_offered
            || call.offering.is_some()
            || call.state != CallState::Queued
            || !super::arrival::is_e164(&call.from)
        {
            return;
        }
        let prompt: Text = self.site.group(group).callback_prompt.clone();
        let id = call.id.clone();
        let call = self.call_mut(slot);
        call.offering = Some(group);
        call.callback_offered = true;
        self.ev_in(slot, None, Some(group), || EventKind::CallbackOffered);
        self.emit_for(slot, Command::OfferCallback { call: id, prompt });
    }

    /// The caller's answer to a callback offer. Accepted: the line is freed, the place kept.
    pub(super) fn callback_answer(&mut self, slot: Slot, accept: bool) {
        self.ev_callback_answer(slot, accept);
        let call = self.call_mut(slot);
        call.offering = None;
        if !accept {
            call.callback = CallbackNote::Declined;
            return;
        }
        call.callback = CallbackNote::Accepted {
            attempts: 0,
            connected: false,
        };
        call.state = CallState::CallbackWaiting;
        let id = call.id.clone();
        self.emit_for(slot, Command::callback_accepted(id));
    }

    pub(super) fn on_callback_retry(&mut self, slot: Slot, seq: u64, nonce: u32) {
        if !self.live(slot, seq) {
            return;
        }
        let call = self.call(slot);
        if call.nonce != nonce || call.state != CallState::CallbackRetry {
            return;
        }
        self.call_mut(slot).state = CallState::CallbackWaiting;
        self.insert_sets(slot);
        self.dispatch(slot);
    }
}
