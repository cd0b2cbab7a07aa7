//! The engine's commands as the platform and its callers take them: what each asks of the
//! caller or agent, and when.

use super::{CallIndex, CallState, Class, Ev, ReplayCall, Reply, World};
use crate::error::SimError;
use vaxel_core::site::Text;
use vaxel_core::{Command, Timestamp};

impl<I, X> World<I, X>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    X: CallIndex,
{
    /// A command of the engine, decided at `at`, as the platform and its callers take it
    /// (one for a call not in flight is ignored: [`World::knows`] tells).
    ///
    /// Returns whether it scheduled a reaction at `at` (a caller's reply to a menu or a
    /// callback offer) for [`World::react`]; no command gives an input itself. A driver in
    /// process thus skips `react` and the empty act queue after all the other commands
    /// (about 96 % of them in a replay).
    ///
    /// Inline, with the rest apart: prompts ask nothing of the caller (the most common
    /// command after `connect`), so they cost the driver a compare, not a call.
    #[inline]
    pub fn command(&mut self, at: Timestamp, cmd: &Command) -> bool {
        if matches!(cmd, Command::Play { .. }) {
            return false;
        }
        self.call_command(at, cmd)
    }

    /// [`World::command`] of a command that may ask something of the call's caller or agent.
    #[inline(never)]
    fn call_command(&mut self, at: Timestamp, cmd: &Command) -> bool {
        let Some(slot) = self.index.get(cmd.call()) else {
            return false;
        };
        let Some(c) = self.caller(slot) else {
            return false;
        };
        let (state, uid, accept) = (c.state, c.uid, c.accept_callback);
        if state == CallState::HangingUp {
            // The caller already hung up: nothing to do but note the end.
            if matches!(cmd, Command::Forward { .. })
                || (matches!(cmd, Command::Hangup { .. }) && !cmd.is_callback_accepted())
            {
                self.end(slot, true);
            }
            return false;
        }
        match cmd {
            Command::Play { .. } => {}
            Command::Menu { .. } => {
                self.set_state(slot, CallState::Ivr);
                let reply = Reply::NoInput;
                self.at(at, Class::Reaction, Ev::Digits { slot, uid, reply });
                return true;
            }
            Command::OfferCallback { .. } => {
                let reply = if accept {
                    Reply::Accept
                } else {
                    Reply::Decline
                };
                self.at(at, Class::Reaction, Ev::Digits { slot, uid, reply });
                return true;
            }
            Command::Queue { .. } => {
                if state == CallState::Ivr {
                    self.set_state(slot, CallState::Queued);
                }
                self.start_patience(at, slot, None);
            }
            Command::Connect { agent, ring_s, .. } => {
                let ring_ms = ring_s.saturating_mul(1000);
                self.start_patience(at, slot, Some(ring_ms));
                self.ring(at, slot, agent, ring_ms, CallState::Ringing);
            }
            Command::Dial { agent, .. } => self.ring(at, slot, agent, 0, CallState::Dialing),
            Command::Hangup { .. } if cmd.is_callback_accepted() => {
                let epoch = self.mark();
                if let Some(c) = self.caller_mut(slot) {
                    c.epoch = epoch;
                    c.accepted = true;
                }
                self.set_state(slot, CallState::CallbackWaiting);
            }
            Command::Hangup { .. } | Command::Forward { .. } => self.end(slot, true),
        }
        false
    }

    /// An agent's phone rings (or a callback is dialled): answered after `ring_ms`.
    fn ring(&mut self, at: Timestamp, slot: u32, agent: &Text, ring_ms: u64, state: CallState) {
        let epoch = self.mark();
        let Some(c) = self.caller_mut(slot) else {
            return;
        };
        c.agent = Some(agent.clone());
        c.epoch = epoch;
        self.set_state(slot, state);
        self.at(
            at.plus_ms(ring_ms),
            Class::Answer,
            Ev::Answer { slot, epoch },
        );
    }

    /// The caller starts waiting: patience runs from now, once per call. `answer_in`: the
    /// call rings at an agent who answers after that long.
    ///
    /// A patience that lasts at least until that answer is not scheduled at all: the
    /// answer comes first (or at the same millisecond, and answers go first) and ends it;
    /// should the answer be refused, [`World::refused`] schedules it then. Most calls go
    /// straight to a free agent, so this keeps one event per call out of the heap.
    fn start_patience(&mut self, at: Timestamp, slot: u32, answer_in: Option<u64>) {
        let Some(c) = self.caller_mut(slot) else {
            return;
        };
        if c.patience_started {
            return;
        }
        c.patience_started = true;
        if let Some(p) = c.patience_ms {
            let due = at.plus_ms(p);
            c.patience_at = Some(due);
            if answer_in.is_none_or(|ring_ms| p < ring_ms) {
                let mark = c.patience_gen;
                self.at(due, Class::Patience, Ev::Patience { slot, mark });
            }
        }
    }
}
