//! Read-only views of the engine for wallboards, desktops and metrics.

use super::Engine;
use super::occupancy::Busy;
use super::queues::service_level;
use super::state::{CallState, Status};
use crate::site::GroupIdx;
use crate::snapshot::{
    AgentCounts, AgentSnapshot, CallSnapshot, DirectoryHit, GroupSnapshot, Occupancy, Presence,
    Snapshot,
};
use crate::time::Timestamp;

impl Engine {
    /// The live state at the engine's time: groups with their figures, agents, and calls
    /// waiting (oldest first).
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_at(self.st.now)
    }

    /// The live state as read at `now` (the daemon's clock): waits and ages run to `now`,
    /// not to the last input or timer, so a quiet queue's oldest wait keeps growing between
    /// events. A `now` before the engine's time reads at the engine's time. Nothing is
    /// changed: timers due by `now` have not fired yet.
    #[must_use]
    pub fn snapshot_at(&self, now: Timestamp) -> Snapshot {
        let now = now.max(self.st.now);
        let site = &self.site;
        let mut counts = vec![AgentCounts::default(); self.st.groups.len()];
        let mut busy = vec![(Busy::default(), Busy::default()); self.st.groups.len()];
        let mut site_busy = (Busy::default(), Busy::default());
        for (a, groups) in self.st.agents.iter().zip(&self.st.agent_groups) {
            let state = a.view_state();
            let (today, recent) = a.busy.at(state, a.since, now, self.day_start);
            site_busy.0.add(today);
            site_busy.1.add(recent);
            for &(g, _) in groups {
                counts[g.ix()].add(state);
                busy[g.ix()].0.add(today);
                busy[g.ix()].1.add(recent);
            }
        }
        let occupancy = |(today, recent): (Busy, Busy)| Occupancy {
            today: today.ratio(),
            last_15_min: recent.ratio(),
        };
        let groups = site
            .groups
            .iter()
            .zip(&self.st.groups)
            .zip(counts)
            .zip(busy)
            .enumerate()
            .map(|(i, (((g, gs), agents), busy))| {
                let mut today = gs.today;
                today.service_level = service_level(&today);
                GroupSnapshot {
                    id: g.id.clone(),
                    name: g.name.clone(),
                    waiting: gs.waiting(),
                    oldest_wait_s: gs
                        .oldest_place()
                        .map_or(0.0, |p| now.since(Timestamp(p)) as f64 / 1000.0),
                    ewt_s: self
                        .newcomer_ewt_ms(
                            GroupIdx(u32::try_from(i).unwrap_or(u32::MAX)),
                            gs.waiting() + 1,
                        )
                        .map(Timestamp::ms_to_secs_ceil),
                    agents,
                    today,
                    wallboard: site
                        .wallboard
                        .board(GroupIdx(u32::try_from(i).unwrap_or(u32::MAX))),
                    occupancy: occupancy(busy),
                }
            })
            .collect();
        let agents = site
            .agents
            .iter()
            .zip(&self.st.agents)
            .enumerate()
            .map(|(i, (def, a))| {
                let (pause_reason, until) = match &a.status {
                    Status::Paused { reason, until } => (reason.clone(), *until),
                    Status::Wrapup { until, .. } => (None, *until),
                    _ => (None, None),
                };
                let call_detail = match a.status {
                    Status::Ringing { call }
                    | Status::Talking { call }
                    | Status::Wrapup {
                        call: Some(call), ..
                    } => self.desk_call(call, now),
                    _ => None,
                };
                let call = call_detail.as_ref().map(|d| d.call.clone());
                AgentSnapshot {
                    id: def.id.clone(),
                    name: def.name.clone(),
                    extension: a.extension.clone(),
                    department: def.department.clone(),
                    state: a.view_state(),
                    since: a.since,
                    call,
                    skills: def
                        .skills
                        .iter()
                        .map(|&(s, l)| (site.skills[s.ix()].clone(), l))
                        .collect(),
                    groups: self.st.agent_groups[i]
                        .iter()
                        .map(|&(g, _)| site.group(g).id.clone())
                        .collect(),
                    pause_reason,
                    note: a.note.clone(),
                    until,
                    logout_pending: a.logout_pending,
                    calls_today: a.calls_today,
                    talk_s_today: a.talk_ms_today / 1000,
                    call_detail,
                }
            })
            .collect();
        let positions = self.first_group_positions();
        let mut calls: Vec<CallSnapshot> = self
            .st
            .calls
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| {
                let c = c.as_ref()?;
                let state = match c.state {
                    CallState::Queued if c.offering.is_some() => "offering_callback",
                    CallState::Queued => "queued",
                    CallState::Ringing { .. } => "ringing",
                    CallState::Parked { .. } => "parked",
                    CallState::CallbackWaiting
                    | CallState::CallbackRetry
                    | CallState::CallbackDialing { .. } => "callback",
                    _ => return None,
                };
                let position = positions[slot];
                Some(CallSnapshot {
                    call: c.id.clone(),
                    from: c.from.clone(),
                    entry: c
                        .entry
                        .map_or_else(|| "".into(), |e| site.entry(e).id.clone()),
                    lang: c.lang.clone(),
                    state,
                    groups: c
                        .members
                        .iter()
                        .map(|m| site.group(m.group).id.clone())
                        .collect(),
                    position,
                    wait_s: c.queued.map_or(0.0, |q| now.since(q) as f64 / 1000.0),
                    priority: c.priority,
                    parked_by: match c.state {
                        CallState::Parked { agent, .. } => Some(site.agent(agent).id.clone()),
                        _ => None,
                    },
                })
            })
            .collect();
        calls.sort_by(|a, b| {
            b.wait_s
                .total_cmp(&a.wait_s)
                .then_with(|| a.call.cmp(&b.call))
        });
        Snapshot {
            at: now,
            site: site.name.clone(),
            crisis: self.st.crisis.is_some(),
            lang: site.wallboard.lang,
            groups,
            agents,
            calls,
            calls_in_progress: u32::try_from(self.st.by_id.len()).unwrap_or(u32::MAX),
            occupancy: occupancy(site_busy),
        }
    }

    /// Each waiting call's place (1 = next) in the first of its groups, by slot (0 for a
    /// call not in a queue): one sorted pass per group, so a snapshot of a long queue costs
    /// O(n log n), not a rank count per call.
    fn first_group_positions(&self) -> Vec<u32> {
        let mut positions = vec![0u32; self.st.calls.len()];
        let mut keys = Vec::new();
        for (g, gs) in self.st.groups.iter().enumerate() {
            keys.clear();
            keys.extend(gs.queues.iter().flatten().copied());
            keys.sort_unstable();
            for (rank, k) in keys.iter().enumerate() {
                let first = self.st.calls[k.slot as usize]
                    .as_ref()
                    .and_then(|c| c.members.first())
                    .map(|m| m.group.ix());
                if first == Some(g) {
                    positions[k.slot as usize] = u32::try_from(rank + 1).unwrap_or(u32::MAX);
                }
            }
        }
        positions
    }

    /// Directory search: every word of `query` must occur (case-insensitively) in the
    /// entry's name, department, extension or keywords. Linked agents show presence.
    #[must_use]
    pub fn directory(&self, query: &str) -> Vec<DirectoryHit> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        self.site
            .directory
            .iter()
            .filter(|d| {
                let hay = [Some(&d.name), d.department.as_ref(), d.extension.as_ref()]
                    .into_iter()
                    .flatten()
                    .chain(d.keywords.iter())
                    .map(|t| t.to_lowercase())
                    .collect::<Vec<_>>();
                words
                    .iter()
                    .all(|w| hay.iter().any(|h| h.contains(w.as_str())))
            })
            .map(|d| DirectoryHit {
                name: d.name.clone(),
                department: d.department.clone(),
                extension: d.extension.clone(),
                number: d.number.clone(),
                keywords: d.keywords.clone(),
                presence: d.agent.map(|a| {
                    let st = &self.st.agents[a.ix()];
                    Presence {
                        agent: self.site.agent(a).id.clone(),
                        state: st.view_state(),
                        note: st.note.clone(),
                        until: match st.status {
                            Status::Paused { until, .. } => until,
                            _ => None,
                        },
                    }
                }),
            })
            .collect()
    }
}
