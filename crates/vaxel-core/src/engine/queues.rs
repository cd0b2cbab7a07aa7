//! Per-group ordered sets: waiting calls by place (a [`RankSet`], which also gives a
//! call's position in O(log n)), free agents by the group's strategy (an [`IdleSet`]). An
//! arrival or a freed agent costs O(log n) whatever the queue length, and the order is total (ties broken by arrival sequence and agent index), so
//! decisions never depend on hash order.

use super::ewt::Learned;
use super::rank_set::RankSet;
use super::state::Slot;
use crate::site::{AgentIdx, Group, Strategy};
use crate::snapshot::{AgentState, DayStats};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A call's place in a queue: highest priority first, then the earliest place, then the
/// earliest arrival. The slot comes last so the key finds the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct QKey {
    pub neg_priority: i64,
    pub place: u64,
    pub seq: u64,
    pub slot: Slot,
}

/// A free agent's rank under the group's strategy: smallest first. See [`idle_key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct IdleKey {
    pub primary: u64,
    pub secondary: u64,
    pub agent: AgentIdx,
}

/// The free agents of one group tier, in rank order: a sorted vector whose live part
/// begins at `head`. A group holds at most as many as the agents serving it (tens, rarely
/// thousands); a binary search and a short move beat a B-tree's node walk and allocations.
/// The common changes are at the ends: the best agent is taken from the front (a step of
/// `head`), and under `longest-idle` a newly freed agent ranks last (a push). Unlike a ring
/// buffer the live part is one slice, so searches run straight through it, and a removal
/// inside it moves the shorter side with one copy.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<IdleKey>", into = "Vec<IdleKey>")]
pub(crate) struct IdleSet {
    keys: Vec<IdleKey>,
    /// Entries before it have left from the front.
    head: usize,
}

impl From<Vec<IdleKey>> for IdleSet {
    /// Sorting again makes any saved input a valid set.
    fn from(mut keys: Vec<IdleKey>) -> IdleSet {
        keys.sort_unstable();
        keys.dedup();
        IdleSet { keys, head: 0 }
    }
}

impl From<IdleSet> for Vec<IdleKey> {
    fn from(mut set: IdleSet) -> Vec<IdleKey> {
        set.keys.drain(..set.head);
        set.keys
    }
}

impl IdleSet {
    fn live(&self) -> &[IdleKey] {
        &self.keys[self.head..]
    }

    /// Adds an agent's entry. Checks the back first: under `longest-idle`, `round-robin`
    /// and most others the newly freed agent ranks last.
    pub(crate) fn insert(&mut self, key: IdleKey) {
        let live = self.live();
        if live.last().is_none_or(|last| *last < key) {
            if self.keys.len() == self.keys.capacity() && self.head > 0 {
                // Reuse the room the front has left before growing.
                self.keys.drain(..self.head);
                self.head = 0;
            }
            self.keys.push(key);
        } else if let Err(i) = live.binary_search(&key) {
            if i == 0 && self.head > 0 {
                self.head -= 1;
                self.keys[self.head] = key;
            } else {
                self.keys.insert(self.head + i, key);
            }
        }
    }

    /// Removes `agent`'s entry, if it has one. A search by agent: its key may have been
    /// made from figures that changed since (a new day resets the day's counts). The ends
    /// are tried first, where removing moves nothing: the agent taken for a call is most
    /// often the best ranked (a search by key would cost more there), and a newly freed
    /// agent ranks last under most strategies.
    pub(crate) fn remove(&mut self, agent: AgentIdx) {
        let live = self.live();
        if live.first().is_some_and(|k| k.agent == agent) {
            self.head += 1;
            if self.head == self.keys.len() {
                self.keys.clear();
                self.head = 0;
            }
        } else if live.last().is_some_and(|k| k.agent == agent) {
            self.keys.pop();
        } else if let Some(i) = live.iter().position(|k| k.agent == agent) {
            if i < live.len() / 2 {
                // Fewer before it: they move up one.
                self.keys
                    .copy_within(self.head..self.head + i, self.head + 1);
                self.head += 1;
            } else {
                self.keys.remove(self.head + i);
            }
        }
    }

    /// The free agents, best ranked first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &IdleKey> {
        self.live().iter()
    }
}

/// The facts about an agent a strategy ranks by.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct AgentFacts {
    pub idle_since: Timestamp,
    pub skill_score: u32,
    pub rr_stamp: u64,
    pub calls_today: u32,
    pub talk_ms_today: u64,
}

/// Ranks a free agent for `strategy`:
/// - `longest-idle`: ready the longest;
/// - `most-skilled`: highest sum of levels in the required skills, then longest idle;
/// - `round-robin`: the longest since last given a call, so turns rotate;
/// - `fewest-calls` / `least-talk-time`: today's count / talk time, then longest idle;
/// - `random`: no rank (agent order); the pick itself draws uniformly among the free
///   agents who qualify (`Engine::pick_agent`), since a rank drawn when an agent became
///   free would favour whoever had drawn low and stayed unpicked.
pub(crate) fn idle_key(strategy: Strategy, f: &AgentFacts, agent: AgentIdx) -> IdleKey {
    let idle = f.idle_since.0;
    let (primary, secondary) = match strategy {
        Strategy::LongestIdle => (idle, 0),
        Strategy::MostSkilled => (u64::from(u32::MAX - f.skill_score), idle),
        Strategy::RoundRobin => (f.rr_stamp, idle),
        Strategy::FewestCalls => (u64::from(f.calls_today), idle),
        Strategy::LeastTalkTime => (f.talk_ms_today, idle),
        Strategy::Random => (0, 0),
    };
    IdleKey {
        primary,
        secondary,
        agent,
    }
}

/// The live state of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct GroupState {
    /// Waiting calls by widen step (index = step), with O(log n) positions.
    pub queues: Vec<RankSet<QKey>>,
    /// Free agents by the first widen step they qualify for (index = tier).
    pub idle: Vec<IdleSet>,
    /// Agents serving the group who are logged in and not paused (the expected wait's
    /// divisor). Kept as agents log in, pause and leave; their breakdown by state is
    /// counted only when a snapshot asks, since agents change state several times a call
    /// and most agents serve several groups. Not saved: counted again on restore.
    #[serde(skip)]
    pub staffed: u32,
    /// The agents serving the group and the widen step each qualifies at (derived from
    /// the site, for the expected wait; not saved).
    #[serde(skip)]
    pub serving: Vec<(AgentIdx, u8)>,
    /// Moving average of handle time (talk + wrap-up), for the expected wait.
    pub aht_ms: f64,
    /// Abandonment, the learned correction factor and the gap between entering calls, for
    /// the expected wait and its Erlang C reference (absent in old checkpoints).
    #[serde(default)]
    pub learned: Learned,
    pub today: DayStats,
}

impl GroupState {
    pub(crate) fn new(group: &Group, default_handle_ms: u64) -> GroupState {
        let steps = group.widen.len() + 1;
        GroupState {
            queues: vec![RankSet::default(); steps],
            idle: vec![IdleSet::default(); steps],
            staffed: 0,
            serving: Vec::new(),
            aht_ms: default_handle_ms as f64,
            learned: Learned::default(),
            today: DayStats::default(),
        }
    }

    /// Calls waiting here for an agent (not those ringing at one).
    pub(crate) fn waiting(&self) -> u32 {
        u32::try_from(self.queues.iter().map(RankSet::len).sum::<usize>()).unwrap_or(u32::MAX)
    }

    /// Agents logged in and not paused.
    pub(crate) fn staffed(&self) -> u32 {
        self.staffed
    }

    /// Calls ahead of `key` in this group (all steps): O(log n) per step.
    pub(crate) fn ahead_of(&self, key: &QKey) -> u32 {
        let n: usize = self
            .queues
            .iter()
            .map(|q| match q.last() {
                Some(last) if last < key => q.len(),
                None => 0,
                Some(_) => q.rank(key),
            })
            .sum();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Folds a finished handle time into the moving average (weight 1/20 for the newest).
    pub(crate) fn observe_handle(&mut self, ms: u64) {
        const ALPHA: f64 = 0.05;
        self.aht_ms += ALPHA * (ms as f64 - self.aht_ms);
    }

    /// One more (`delta` 1) or one fewer (-1) staffed agent.
    pub(crate) fn staff(&mut self, delta: i32) {
        self.staffed = self.staffed.saturating_add_signed(delta);
    }

    /// Oldest place among the waiting calls, if any (O(n): for snapshots only).
    pub(crate) fn oldest_place(&self) -> Option<u64> {
        self.queues.iter().flatten().map(|k| k.place).min()
    }
}

/// Whether an agent in `state` is staffed: logged in and not paused.
pub(crate) fn is_staffed(state: AgentState) -> bool {
    matches!(
        state,
        AgentState::Ready | AgentState::Ringing | AgentState::Talking | AgentState::Wrapup
    )
}

/// Service level of a day's figures: answered within the threshold over offered calls,
/// not counting calls abandoned within 5 s; 1.0 when nothing was offered.
#[must_use]
pub(crate) fn service_level(d: &DayStats) -> f64 {
    let base = d.offered.saturating_sub(d.short_abandoned);
    if base == 0 {
        1.0
    } else {
        f64::from(d.answered_within_sl) / f64::from(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(idle: u64, score: u32, rr: u64, calls: u32, talk: u64) -> AgentFacts {
        AgentFacts {
            idle_since: Timestamp(idle),
            skill_score: score,
            rr_stamp: rr,
            calls_today: calls,
            talk_ms_today: talk,
        }
    }

    #[test]
    fn a_checkpoint_from_before_the_learned_abandonment_loads_with_none_learned() {
        let mut gs = GroupState {
            queues: vec![RankSet::default()],
            idle: vec![IdleSet::default()],
            staffed: 0,
            serving: Vec::new(),
            aht_ms: 120_000.0,
            learned: Learned::default(),
            today: DayStats::default(),
        };
        gs.learned.observe_wait(30_000, true);
        let mut old = serde_json::to_value(&gs).unwrap();
        assert!(old.as_object_mut().unwrap().remove("learned").is_some());
        let back: GroupState = serde_json::from_value(old).unwrap();
        assert!((back.aht_ms - 120_000.0).abs() < 1e-9);
        assert!(back.learned.abandons.abs() < 1e-12 && back.learned.exposure_ms.abs() < 1e-12);
        // And a new one keeps what was learned.
        let again: GroupState = serde_json::from_value(serde_json::to_value(&gs).unwrap()).unwrap();
        assert!((again.learned.exposure_ms - gs.learned.exposure_ms).abs() < 1e-9);
    }

    #[test]
    fn strategies_rank_as_documented() {
        let a = facts(100, 5, 7, 3, 900);
        let b = facts(200, 9, 2, 1, 100);
        let rank = |s| idle_key(s, &a, AgentIdx(0)) < idle_key(s, &b, AgentIdx(1));
        assert!(rank(Strategy::LongestIdle), "a idle longer");
        assert!(!rank(Strategy::MostSkilled), "b more skilled");
        assert!(!rank(Strategy::RoundRobin), "b served longer ago");
        assert!(!rank(Strategy::FewestCalls));
        assert!(!rank(Strategy::LeastTalkTime));
        assert!(rank(Strategy::Random), "agent order: the pick draws");
    }

    #[test]
    fn free_agents_stay_in_rank_order_as_they_come_and_go() {
        let key = |agent: u32, rank: u64| IdleKey {
            primary: rank,
            secondary: 0,
            agent: AgentIdx(agent),
        };
        let agents = |s: &IdleSet| s.iter().map(|k| k.agent.0).collect::<Vec<_>>();
        let mut set = IdleSet::default();
        for (agent, rank) in [(0, 10), (1, 30), (2, 20), (3, 5)] {
            set.insert(key(agent, rank));
        }
        assert_eq!(agents(&set), [3, 0, 2, 1]);
        set.remove(AgentIdx(2));
        set.remove(AgentIdx(3));
        set.remove(AgentIdx(7));
        assert_eq!(agents(&set), [0, 1]);
        set.insert(key(2, 40));
        assert_eq!(agents(&set), [0, 1, 2]);
        // Saved as the sorted keys, and any saved list loads as a valid set.
        let saved: Vec<IdleKey> = set.clone().into();
        assert_eq!(saved, [key(0, 10), key(1, 30), key(2, 40)]);
        let back = IdleSet::from(vec![key(2, 40), key(0, 10), key(2, 40), key(1, 30)]);
        assert_eq!(agents(&back), [0, 1, 2]);
    }

    proptest::proptest! {
        /// Whichever end or middle an agent leaves from or joins at, the set (and what it
        /// saves) stays the sorted keys of the agents still in it.
        #[test]
        fn free_sets_match_a_sorted_list(
            ops in proptest::collection::vec((0..12u32, 0..6u64, proptest::bool::ANY), 0..200),
        ) {
            let mut set = IdleSet::default();
            let mut want: Vec<IdleKey> = Vec::new();
            for (agent, rank, add) in ops {
                let agent = AgentIdx(agent);
                let present = want.iter().any(|k| k.agent == agent);
                if add && !present {
                    let key = IdleKey { primary: rank, secondary: 0, agent };
                    set.insert(key);
                    want.push(key);
                    want.sort_unstable();
                } else if !add {
                    set.remove(agent);
                    want.retain(|k| k.agent != agent);
                }
                proptest::prop_assert_eq!(set.iter().copied().collect::<Vec<_>>(), want.clone());
                proptest::prop_assert_eq!(Vec::<IdleKey>::from(set.clone()), want.clone());
            }
        }
    }

    #[test]
    fn queue_order_is_priority_then_place_then_arrival() {
        let k = |p: i64, place, seq| QKey {
            neg_priority: -p,
            place,
            seq,
            slot: 0,
        };
        assert!(k(5, 900, 9) < k(0, 100, 1));
        assert!(k(0, 100, 9) < k(0, 200, 1));
        assert!(k(0, 100, 1) < k(0, 100, 2));
    }
}
