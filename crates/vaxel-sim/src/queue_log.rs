//! The event log as Asterisk's `queue_log` (docs/formats.md, "queue_log export"): the file
//! app_queue writes and contact-centre report tools read (QueueMetrics, Wazo, home-grown
//! ones). One line per queue event, `epoch|callid|queue|agent|EVENT|data1|data2|…`, the
//! verbs and data fields as app_queue's `ast_queue_log` calls write them:
//!
//! | verb | data | from Växel's |
//! |---|---|---|
//! | `ENTERQUEUE` | `url\|callerid\|origpos` (url empty) | `queued` (the first group of a queue entry) |
//! | `RINGNOANSWER` | `ringtime_ms` | `no_answer` |
//! | `CONNECT` | `holdtime\|bridged_uniqueid\|ringtime` | `connected` |
//! | `COMPLETECALLER` / `COMPLETEAGENT` | `holdtime\|calltime\|origpos` | `ended` after `connected` (by the agent: `COMPLETEAGENT`); a requeue or a park that timed out closes the entry with `COMPLETEAGENT` |
//! | `BLINDTRANSFER` | `extension\|context\|holdtime\|calltime\|origpos` | `transferred` |
//! | `ABANDON` | `pos\|origpos\|waittime` | `ended` unanswered: abandoned, lost platform |
//! | `EXITWITHTIMEOUT` | `pos\|origpos\|waittime` | `ended` with `timeout`; `moved` and `overflowed` (the call left the queue by a rule) |
//! | `EXITEMPTY` | `pos\|origpos\|waittime` | `ended` with `closed` (no one to serve it) |
//! | `EXITWITHKEY` | `key\|pos\|origpos\|waittime` | `callback_accepted` (the caller pressed 1) |
//! | `AGENTLOGIN` / `AGENTLOGOFF` | `channel` / `channel\|logintime` | `login` / `logout` (channel empty) |
//! | `ADDMEMBER` / `REMOVEMEMBER` | empty | `login` / `logout`, once per group the agent serves |
//! | `PAUSEALL` + `PAUSE` / `UNPAUSEALL` + `UNPAUSE` | `reason` | `paused` / `unpaused`, once, then per group, as app_queue does for a pause in every queue |
//!
//! Times are whole epoch seconds, and every duration is the difference of two of them, as
//! app_queue's `time(NULL)` arithmetic gives (ring times in `RINGNOANSWER` are
//! milliseconds). What app_queue has no verb for is not written: offers (`offered`),
//! announcements, expanding to another group (the call stays in its first queue entry),
//! parking, callbacks dialled and their results, wrap-up, and any call outside a queue
//! entry (an IVR call, a callback's dial back, a call a transfer put straight through to
//! an agent).

use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use vaxel_core::site::{Site, Text};
use vaxel_core::{EndedBy, Event, EventKind, Outcome, Timestamp};

/// A call's open queue entry.
#[derive(Debug)]
struct Entry {
    queue: Text,
    /// When it entered, epoch seconds.
    enter_s: u64,
    opos: u32,
    /// The agent talking to it, since when (epoch seconds) and after what hold time.
    connected: Option<(Text, u64, u64)>,
}

/// Turns events into `queue_log` lines, in order. Holds the open queue entries (calls in
/// flight) and the agents' login times.
#[derive(Debug)]
pub struct QueueLog {
    /// The groups each agent serves (the per-queue member lines), in the site's order.
    groups_of: FxHashMap<Text, Vec<Text>>,
    entries: FxHashMap<Text, Entry>,
    logins: FxHashMap<Text, u64>,
}

fn secs(t: Timestamp) -> u64 {
    t.0 / 1000
}

/// Appends one line.
fn line(out: &mut String, at: u64, call: &str, queue: &str, agent: &str, verb: &str, data: &str) {
    let _ = writeln!(out, "{at}|{call}|{queue}|{agent}|{verb}|{data}");
}

impl QueueLog {
    /// For `site`'s agents and groups: an agent serves a group it qualifies for at any
    /// widen step.
    #[must_use]
    pub fn for_site(site: &Site) -> QueueLog {
        let groups_of = site
            .agents
            .iter()
            .map(|a| {
                let groups = site
                    .groups
                    .iter()
                    .filter(|g| g.qualifying_step(&a.skills).is_some())
                    .map(|g| g.id.clone())
                    .collect();
                (a.id.clone(), groups)
            })
            .collect();
        QueueLog {
            groups_of,
            entries: FxHashMap::default(),
            logins: FxHashMap::default(),
        }
    }

    /// Appends the lines of `e` (none for most events) to `out`.
    pub fn event(&mut self, e: &Event, out: &mut String) {
        let at = secs(e.at);
        let agent = e.agent.as_deref().unwrap_or("NONE");
        let Some(call) = e.call.as_deref() else {
            self.agent_event(e, at, agent, out);
            return;
        };
        let mut d = String::new();
        match &e.kind {
            EventKind::Queued { position, from } => {
                match self.entries.get(call).map(|en| en.connected.is_some()) {
                    // Expanded into another group: still the same queue entry.
                    Some(false) => return,
                    // Back in a queue from an agent (requeue, park time-out).
                    Some(true) => self.complete(call, at, "COMPLETEAGENT", out),
                    None => {}
                }
                let Some(queue) = e.group.clone() else { return };
                let _ = write!(d, "|{from}|{position}");
                line(out, at, call, &queue, "NONE", "ENTERQUEUE", &d);
                let entry = Entry {
                    queue,
                    enter_s: at,
                    opos: *position,
                    connected: None,
                };
                self.entries.insert(call.into(), entry);
            }
            EventKind::NoAnswer { ring_ms } => {
                if let Some(en) = self.entries.get(call) {
                    let _ = write!(d, "{ring_ms}");
                    line(out, at, call, &en.queue, agent, "RINGNOANSWER", &d);
                }
            }
            EventKind::Connected { ring_ms, .. } => {
                if let Some(en) = self.entries.get_mut(call)
                    && en.connected.is_none()
                {
                    let hold = at.saturating_sub(en.enter_s);
                    let _ = write!(d, "{hold}|{call}-{agent}|{}", ring_ms / 1000);
                    line(out, at, call, &en.queue, agent, "CONNECT", &d);
                    en.connected = Some((agent.into(), at, hold));
                }
            }
            EventKind::Transferred { to } => {
                if let Some(en) = self.entries.get(call)
                    && let Some((who, start, hold)) = &en.connected
                {
                    let (context, ext) = to.split_once(':').unwrap_or(("", to));
                    let talk = at.saturating_sub(*start);
                    let _ = write!(d, "{ext}|{context}|{hold}|{talk}|{}", en.opos);
                    line(out, at, call, &en.queue, who, "BLINDTRANSFER", &d);
                    self.entries.remove(call);
                }
            }
            EventKind::Moved { position, .. } | EventKind::Overflowed { position, .. } => {
                self.exit(call, at, "EXITWITHTIMEOUT", "", *position, out);
            }
            EventKind::CallbackAccepted { position } => {
                self.exit(call, at, "EXITWITHKEY", "1|", *position, out);
            }
            EventKind::Ended {
                outcome,
                position,
                by,
                ..
            } => {
                let connected = self.entries.get(call).map(|en| en.connected.is_some());
                match connected {
                    Some(true) => {
                        let verb = if *by == EndedBy::Agent {
                            "COMPLETEAGENT"
                        } else {
                            "COMPLETECALLER"
                        };
                        self.complete(call, at, verb, out);
                    }
                    Some(false) => {
                        let verb = match outcome {
                            Outcome::Timeout | Outcome::OverflowExternal => "EXITWITHTIMEOUT",
                            Outcome::Closed => "EXITEMPTY",
                            _ => "ABANDON",
                        };
                        self.exit(call, at, verb, "", *position, out);
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// Closes a connected entry with `COMPLETECALLER`/`COMPLETEAGENT`.
    fn complete(&mut self, call: &str, at: u64, verb: &str, out: &mut String) {
        if let Some(en) = self.entries.remove(call)
            && let Some((who, start, hold)) = en.connected
        {
            let talk = at.saturating_sub(start);
            let d = format!("{hold}|{talk}|{}", en.opos);
            line(out, at, call, &en.queue, &who, verb, &d);
        }
    }

    /// Closes a waiting entry with `verb` (`pos|origpos|waittime` after `prefix`).
    fn exit(&mut self, call: &str, at: u64, verb: &str, prefix: &str, pos: u32, out: &mut String) {
        if let Some(en) = self.entries.get(call)
            && en.connected.is_none()
        {
            let wait = at.saturating_sub(en.enter_s);
            let d = format!("{prefix}{pos}|{}|{wait}", en.opos);
            line(out, at, call, &en.queue, "NONE", verb, &d);
            self.entries.remove(call);
        }
    }

    fn agent_event(&mut self, e: &Event, at: u64, agent: &str, out: &mut String) {
        let groups = self.groups_of.get(agent).map_or(&[][..], Vec::as_slice);
        match &e.kind {
            EventKind::Login => {
                line(out, at, "NONE", "NONE", agent, "AGENTLOGIN", "");
                for g in groups {
                    line(out, at, "NONE", g, agent, "ADDMEMBER", "");
                }
                self.logins.insert(agent.into(), at);
            }
            EventKind::Logout => {
                for g in groups {
                    line(out, at, "NONE", g, agent, "REMOVEMEMBER", "");
                }
                let since = self.logins.remove(agent).unwrap_or(at);
                let d = format!("|{}", at.saturating_sub(since));
                line(out, at, "NONE", "NONE", agent, "AGENTLOGOFF", &d);
            }
            EventKind::Paused { reason } => {
                let reason = reason.as_deref().unwrap_or("");
                line(out, at, "NONE", "NONE", agent, "PAUSEALL", reason);
                for g in groups {
                    line(out, at, "NONE", g, agent, "PAUSE", reason);
                }
            }
            EventKind::Unpaused => {
                line(out, at, "NONE", "NONE", agent, "UNPAUSEALL", "");
                for g in groups {
                    line(out, at, "NONE", g, agent, "UNPAUSE", "");
                }
            }
            _ => {}
        }
    }
}
