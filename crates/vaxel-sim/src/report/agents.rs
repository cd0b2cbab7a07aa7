//! Per-agent figures of `vaxel report` from the event log (docs/reports.md, "Tables", the
//! `agents` table): calls, AHT, talk, wrap-up, no-answers, logged-in time and pause time by
//! reason. The call records cannot give these (a record names only the last agent, and
//! nothing of logins or pauses); the event log has every leg and every status change.
//!
//! Streaming: one accumulator per agent, fed event by event in time order. Times are
//! clipped to the window the events cover (the period's local days, or from the first to
//! the last event of files read whole): an agent already logged in (or paused) when the
//! window opens counts from its start, one still logged in when it closes until its end.

use super::period::Days;
use super::{Keyed, Rows};
use serde::Serialize;
use vaxel_core::site::Text;
use vaxel_core::{Event, EventKind, Timestamp};

/// The pause reason shown for a pause given without one.
pub const NO_REASON: &str = "(none)";

/// One agent's figures. Durations in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentRow {
    pub agent: String,
    /// Calls answered (each leg: an agent who took a transferred call counts it too).
    pub calls: u64,
    /// (talk + wrap-up) / calls.
    pub aht_s: f64,
    pub talk_s: f64,
    pub wrapup_s: f64,
    /// Offers the agent let ring out.
    pub no_answers: u64,
    pub logged_in_s: f64,
    /// Every pause, and by reason in the order first seen.
    pub paused_s: f64,
    /// Pause seconds by reason, written as a JSON object in order.
    pub pause_by_reason: Keyed<f64>,
}

/// The per-agent table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentFigures {
    pub what: &'static str,
    pub rows: Vec<AgentRow>,
}

#[derive(Debug, Default)]
struct Acc {
    calls: u64,
    talk_ms: u64,
    wrapup_ms: u64,
    no_answers: u64,
    logged_in_ms: u64,
    /// Logged in since (clipped to the window).
    login: Option<Timestamp>,
    /// Seen logged out or in: a first logout or pause without a login seen was logged in
    /// since the window opened.
    seen: bool,
    pause: Option<(Text, Timestamp)>,
    pause_ms: Vec<(Text, u64)>,
}

impl Acc {
    fn add_pause(&mut self, reason: Text, ms: u64) {
        match self.pause_ms.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, t)) => *t += ms,
            None => self.pause_ms.push((reason, ms)),
        }
    }

    fn end_pause(&mut self, at: Timestamp) {
        if let Some((reason, since)) = self.pause.take() {
            self.add_pause(reason, at.since(since));
        }
    }

    fn end_login(&mut self, at: Timestamp) {
        if let Some(since) = self.login.take() {
            self.logged_in_ms += at.since(since);
        }
    }
}

/// Accumulates [`AgentFigures`] from events; see the module docs.
#[derive(Debug)]
pub struct AgentBuilder {
    tz: jiff::tz::TimeZone,
    period: Option<Days>,
    /// The window's start (the period's first local midnight, or the first event).
    start: Option<Timestamp>,
    /// The window's end (after the period's last day, or the last event).
    end: Option<Timestamp>,
    last: Timestamp,
    agents: Rows<Acc>,
    no_reason: Text,
}

fn midnight(day: jiff::civil::Date, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
    tz.to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .ok()
        .map(Timestamp::from_jiff)
}

impl AgentBuilder {
    /// Events of the local days of `period` in `tz` (all events when `None`).
    #[must_use]
    pub fn new(tz: jiff::tz::TimeZone, period: Option<Days>) -> AgentBuilder {
        let (start, end) = match period {
            Some(d) => (
                midnight(d.from, &tz),
                d.to.tomorrow().ok().and_then(|n| midnight(n, &tz)),
            ),
            None => (None, None),
        };
        AgentBuilder {
            tz,
            period,
            start,
            end,
            last: Timestamp(0),
            agents: Rows::new(),
            no_reason: Text::from(NO_REASON),
        }
    }

    /// Lists an agent before any event (the site's order).
    pub fn agent(&mut self, id: &Text) {
        self.agents.row(id);
    }

    /// Counts one event (events outside the period are passed over).
    pub fn add(&mut self, e: &Event) {
        if let Some(p) = self.period {
            let d = self.tz.to_datetime(e.at.to_jiff()).date();
            if !p.contains((i64::from(d.year()), d.month() as u32, d.day() as u32)) {
                return;
            }
        }
        let start = *self.start.get_or_insert(e.at);
        self.last = self.last.max(e.at);
        let Some(agent) = &e.agent else { return };
        let no_reason = self.no_reason.clone();
        let a = self.agents.row(agent);
        let at = e.at;
        match &e.kind {
            EventKind::Connected { .. } => a.calls += 1,
            EventKind::TalkEnded { talk_ms } => a.talk_ms += talk_ms,
            EventKind::WrapupEnded { wrapup_ms } => a.wrapup_ms += wrapup_ms,
            EventKind::NoAnswer { .. } => a.no_answers += 1,
            EventKind::Login => {
                a.seen = true;
                a.login = Some(at);
            }
            EventKind::Logout => {
                if !a.seen {
                    a.login = Some(start);
                }
                a.seen = true;
                a.end_login(at);
                a.end_pause(at);
            }
            EventKind::Paused { reason } => {
                if !a.seen {
                    a.seen = true;
                    a.login = Some(start);
                }
                a.end_pause(at);
                a.pause = Some((reason.clone().unwrap_or(no_reason), at));
            }
            EventKind::Unpaused => {
                if !a.seen {
                    // Paused for an unknown reason since the window opened.
                    a.seen = true;
                    a.login = Some(start);
                    a.pause = Some((no_reason, start));
                }
                a.end_pause(at);
            }
            _ => {}
        }
    }

    /// The table, in the order agents were listed or first seen. Logins and pauses still
    /// open end with the window.
    #[must_use]
    pub fn finish(self) -> AgentFigures {
        let end = self.end.unwrap_or(self.last);
        #[allow(clippy::cast_precision_loss)]
        let s = |ms: u64| ms as f64 / 1000.0;
        let rows = self
            .agents
            .rows
            .into_iter()
            .map(|(id, mut a)| {
                a.end_login(end);
                a.end_pause(end);
                let paused: u64 = a.pause_ms.iter().map(|(_, ms)| ms).sum();
                #[allow(clippy::cast_precision_loss)]
                let aht = if a.calls > 0 {
                    s(a.talk_ms + a.wrapup_ms) / a.calls as f64
                } else {
                    0.0
                };
                AgentRow {
                    agent: id.to_string(),
                    calls: a.calls,
                    aht_s: aht,
                    talk_s: s(a.talk_ms),
                    wrapup_s: s(a.wrapup_ms),
                    no_answers: a.no_answers,
                    logged_in_s: s(a.logged_in_ms),
                    paused_s: s(paused),
                    pause_by_reason: Keyed(
                        a.pause_ms
                            .into_iter()
                            .map(|(r, ms)| (r.to_string(), s(ms)))
                            .collect(),
                    ),
                }
            })
            .collect();
        AgentFigures {
            what: "per agent, from the event log",
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(at_s: u64, agent: &str, kind: EventKind) -> Event {
        Event {
            at: Timestamp(1_772_438_400_000 + at_s * 1000),
            call: None,
            agent: Some(Arc::from(agent)),
            group: None,
            kind,
        }
    }

    #[test]
    fn figures_follow_the_definitions() {
        let lunch = Some(Text::from("lunch"));
        let mut b = AgentBuilder::new(jiff::tz::TimeZone::UTC, None);
        for e in [
            ev(0, "a1", EventKind::Login),
            ev(10, "a1", EventKind::NoAnswer { ring_ms: 5000 }),
            ev(
                20,
                "a1",
                EventKind::Connected {
                    wait_ms: 0,
                    ring_ms: 0,
                },
            ),
            ev(80, "a1", EventKind::TalkEnded { talk_ms: 60_000 }),
            ev(110, "a1", EventKind::WrapupEnded { wrapup_ms: 30_000 }),
            ev(
                120,
                "a1",
                EventKind::Paused {
                    reason: lunch.clone(),
                },
            ),
            ev(180, "a1", EventKind::Unpaused),
            ev(200, "a1", EventKind::Paused { reason: None }),
            ev(230, "a1", EventKind::Logout),
            // Paused when the window opened, logged in until it closes.
            ev(240, "a2", EventKind::Unpaused),
        ] {
            b.add(&e);
        }
        let t = b.finish();
        let a1 = &t.rows[0];
        assert_eq!(
            (a1.calls, a1.no_answers, a1.talk_s, a1.wrapup_s, a1.aht_s),
            (1, 1, 60.0, 30.0, 90.0)
        );
        assert_eq!((a1.logged_in_s, a1.paused_s), (230.0, 90.0));
        assert_eq!(
            a1.pause_by_reason.0,
            vec![("lunch".to_owned(), 60.0), (NO_REASON.to_owned(), 30.0)]
        );
        let a2 = &t.rows[1];
        assert_eq!((a2.logged_in_s, a2.paused_s), (240.0, 240.0));
    }
}
