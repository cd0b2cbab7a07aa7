//! The engine plus what the daemon keeps beside it, changed only through [`Machine`]'s
//! methods so that live service and journal replay run the very same code: which platform
//! owns each call, the configuration text in force, how many records the epoch produced,
//! each platform's numbered commands (protocol version 2, [`Outbox`]).

use crate::outbox::{Log, Outbox};
use crate::snapshot::Checkpoint;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use vaxel_core::site::{Site, Text};
use vaxel_core::{
    CallId, CallRecord, Command, Engine, EngineError, EngineState, Event, Input, Output, Timestamp,
};

/// What applying an entry produced: the engine's outputs, each command with its number.
#[derive(Debug)]
pub enum Made {
    /// A command for `platform`, number `no` of that platform (`cmd_no`).
    Command {
        platform: Text,
        no: u64,
        command: Command,
    },
    Record(Box<CallRecord>),
    /// An entry of the event log (docs/formats.md, `events.csv`).
    Event(Box<Event>),
}

/// The engine and its bookkeeping. Owned by the engine task (or by recovery, before it).
#[derive(Debug)]
pub struct Machine {
    pub engine: Engine,
    /// The platform that announced each call still in the engine (until its record):
    /// commands go there, and only that platform may send events about it.
    owners: HashMap<CallId, Text>,
    /// Calls that ended lately, with the platform that owned them (not saved: a restart
    /// forgets them).
    ended: Ended,
    /// The configuration text in force (journaled at a new epoch's start).
    pub config: Arc<str>,
    /// The engine time the epoch started at.
    pub epoch_start: Timestamp,
    /// Call records produced since the epoch started (replay compares this with the
    /// records already on disk to write none twice).
    pub records: u64,
    /// Inputs applied since the epoch started (bounds replay; see rotation).
    pub inputs: u64,
    /// Each platform's command numbers and the commands kept for it (version 2).
    pub outbox: Outbox,
}

impl Machine {
    /// A fresh engine on `site` (built from `config`) at `at`.
    #[must_use]
    pub fn new(config: Arc<str>, site: Arc<Site>, at: Timestamp) -> Machine {
        let mut engine = Engine::new(site, at);
        // The event log is always on in the daemon, so a replay of the journal produces
        // the log again exactly.
        engine.set_events(true);
        Machine {
            engine,
            owners: HashMap::new(),
            ended: Ended::default(),
            config,
            epoch_start: at,
            records: 0,
            inputs: 0,
            outbox: Outbox::default(),
        }
    }

    /// The engine restored from a checkpoint's `state` (saved on `site`, built from
    /// `config`) with the calls' owners; the epoch starts at the engine's time.
    pub fn restore(
        config: Arc<str>,
        site: Arc<Site>,
        state: EngineState,
        owners: Vec<(CallId, Text)>,
        outbox: Vec<(Text, Log)>,
    ) -> Result<Machine, EngineError> {
        let mut engine = Engine::restore(site, state)?;
        engine.set_events(true);
        let at = engine.now();
        Ok(Machine {
            engine,
            owners: owners.into_iter().collect(),
            ended: Ended::default(),
            config,
            epoch_start: at,
            records: 0,
            inputs: 0,
            outbox: Outbox::restore(outbox),
        })
    }

    /// The state to checkpoint (after the outputs were drained), and a new epoch starts
    /// now for the bookkeeping.
    pub fn checkpoint(&mut self) -> Checkpoint {
        let mut owners: Vec<(CallId, Text)> = self
            .owners
            .iter()
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect();
        owners.sort();
        let at = self.engine.now();
        self.epoch_start = at;
        self.records = 0;
        self.inputs = 0;
        Checkpoint {
            at,
            config: self.config.clone(),
            owners,
            engine: self.engine.save(),
            outbox: self.outbox.save(),
        }
    }

    /// A `hello` (journaled as a `session` entry): see [`Outbox::session`].
    pub fn session(&mut self, platform: &Text, protocol: u64, last_cmd: Option<u64>) {
        self.outbox
            .session(platform, protocol >= vaxel_proto::PROTOCOL_V2, last_cmd);
    }

    /// An acknowledgement (journaled as an `ack` entry): see [`Outbox::ack`].
    pub fn ack(&mut self, platform: &Text, upto: u64) {
        self.outbox.ack(platform, upto);
    }

    /// The platform that owns `call`, if the engine holds it.
    #[must_use]
    pub fn owner(&self, call: &str) -> Option<&Text> {
        self.owners.get(call)
    }

    /// Platforms that own calls (sorted, deduplicated): after a restart each gets its
    /// grace period to come back.
    /// Whether `call` of `platform` ended lately (one of the last [`ENDED_KEPT`] calls to
    /// end since the daemon started): a `call.hangup` for it is then a report of an end
    /// the engine already knows (after `forward`, a closing `hangup`, or twice), not an
    /// error.
    #[must_use]
    pub fn ended_lately(&self, call: &str, platform: &Text) -> bool {
        self.ended.platform(call).is_some_and(|p| p == platform)
    }

    #[must_use]
    pub fn owning_platforms(&self) -> Vec<Text> {
        let mut v: Vec<Text> = self.owners.values().cloned().collect();
        v.sort();
        v.dedup();
        v
    }

    /// Calls the engine still holds (announced and not yet recorded).
    #[must_use]
    pub fn calls(&self) -> usize {
        self.owners.len()
    }

    /// `engine.handle(at, input)`; outputs are appended to `out`.
    pub fn apply(
        &mut self,
        at: Timestamp,
        input: Input,
        out: &mut Vec<Made>,
    ) -> Result<(), EngineError> {
        let arrived = match &input {
            Input::CallArrived { call, platform, .. } => Some((call.clone(), platform.clone())),
            _ => None,
        };
        let lost = match &input {
            Input::PlatformLost { platform } => Some(platform.clone()),
            _ => None,
        };
        let r = self.engine.handle(at, input);
        self.inputs += 1;
        if let (Ok(()), Some((call, platform))) = (&r, arrived) {
            self.ended.forget(&call);
            self.owners.insert(call, platform);
        }
        self.drain(out);
        if let Some(p) = lost {
            // Its calls are over: what it was not sent is of no use to it any more.
            let dropped = self.outbox.lose(&p);
            if dropped > 0 {
                tracing::warn!(platform = %p, dropped, "lost platform: its unacknowledged commands are dropped");
            }
        }
        r
    }

    /// `engine.handle_timeout(at)`; outputs are appended to `out`.
    pub fn advance(&mut self, at: Timestamp, out: &mut Vec<Made>) -> Result<(), EngineError> {
        let r = self.engine.handle_timeout(at);
        self.drain(out);
        r
    }

    /// Reload with `site` built from `config`; on success `config` is in force.
    pub fn reload(
        &mut self,
        at: Timestamp,
        config: Arc<str>,
        site: Arc<Site>,
        out: &mut Vec<Made>,
    ) -> Result<(), EngineError> {
        let r = self.engine.reload(at, site);
        self.inputs += 1;
        if r.is_ok() {
            self.config = config;
        }
        self.drain(out);
        r
    }

    fn drain(&mut self, out: &mut Vec<Made>) {
        while let Some(o) = self.engine.poll_output() {
            match o {
                Output::Record(r) => {
                    if let Some(platform) = self.owners.remove(&r.call_id) {
                        self.ended.remember(r.call_id.clone(), platform);
                    }
                    self.records += 1;
                    out.push(Made::Record(r));
                }
                Output::Command { platform, command } => {
                    let no = self.outbox.number(&platform, &command);
                    out.push(Made::Command {
                        platform,
                        no,
                        command,
                    });
                }
                Output::Event(e) => out.push(Made::Event(e)),
            }
        }
    }
}

/// How many ended calls [`Machine::ended_lately`] remembers (the oldest is forgotten first):
/// a platform reports a call's end within seconds, and this is days of a city's traffic.
pub const ENDED_KEPT: usize = 16_384;

/// The calls that ended lately, oldest first, bounded by [`ENDED_KEPT`].
#[derive(Debug, Default)]
struct Ended {
    by_call: HashMap<CallId, (Text, u64)>,
    /// Calls in the order they ended, with the stamp they were remembered under (a call
    /// id used again by a later call is remembered again under a newer stamp).
    order: VecDeque<(CallId, u64)>,
    stamp: u64,
}

impl Ended {
    fn remember(&mut self, call: CallId, platform: Text) {
        self.stamp += 1;
        self.by_call.insert(call.clone(), (platform, self.stamp));
        self.order.push_back((call, self.stamp));
        while self.order.len() > ENDED_KEPT {
            if let Some((old, stamp)) = self.order.pop_front()
                && self.by_call.get(&old).is_some_and(|(_, s)| *s == stamp)
            {
                self.by_call.remove(&old);
            }
        }
    }

    /// A call id in use again: its old end no longer speaks for it.
    fn forget(&mut self, call: &str) {
        self.by_call.remove(call);
    }

    fn platform(&self, call: &str) -> Option<&Text> {
        self.by_call.get(call).map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_calls_are_remembered_boundedly_and_forgotten_when_an_id_comes_back() {
        let mut e = Ended::default();
        let pbx: Text = "pbx-1".into();
        e.remember("c0".into(), pbx.clone());
        assert_eq!(e.platform("c0"), Some(&pbx));
        e.forget("c0");
        assert_eq!(e.platform("c0"), None);
        for i in 0..=ENDED_KEPT {
            e.remember(format!("c{i}").into(), pbx.clone());
        }
        assert_eq!(e.platform("c0"), None, "the oldest is forgotten");
        assert_eq!(e.platform("c1"), Some(&pbx));
        assert_eq!(e.by_call.len(), ENDED_KEPT);
        assert_eq!(e.order.len(), ENDED_KEPT);
    }
}
