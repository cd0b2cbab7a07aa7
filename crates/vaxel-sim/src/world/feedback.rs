//! What the world learns of its inputs' fate: refusals, acknowledged hang-ups, records.

use super::{About, CallIndex, CallState, Class, Ev, Refusal, ReplayCall, Subject, World};
use crate::error::SimError;
use vaxel_core::{CallId, Timestamp};

impl<I, X> World<I, X>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    X: CallIndex,
{
    /// The call in flight an input is about, if any.
    #[must_use]
    pub fn about_call(&self, about: About) -> Option<&CallId> {
        self.live_call(about)
            .and_then(|slot| self.caller(slot))
            .map(|c| &c.id)
    }

    fn live_call(&self, about: About) -> Option<u32> {
        let (slot, uid) = about.call()?;
        self.caller(slot).filter(|c| c.uid == uid).map(|_| slot)
    }

    /// The engine refused the input about `about` (at `at`); `still_on`: because of the
    /// state it is in (`invalid_state`).
    pub fn refused(&mut self, at: Timestamp, about: About, still_on: bool) -> Refusal {
        match about.0 {
            Subject::Login(a) if still_on => {
                // Still on from a shift that ended while finishing a call: stay on.
                self.at(at, Class::Reaction, Ev::Ready(a));
                Refusal::Relogin
            }
            Subject::Arrival { .. } => {
                if let Some(slot) = self.live_call(about) {
                    self.end(slot, false);
                }
                Refusal::Arrival
            }
            Subject::Answer { slot, dialing, .. } => {
                // Rung out (or ended) before the answer came: the call is back in its
                // queue, or gone (a command says so).
                if self.live_call(about).is_none()
                    || self
                        .caller(slot)
                        .is_none_or(|c| c.state != CallState::Talking)
                {
                    return Refusal::Other;
                }
                let (epoch, mark) = (self.mark(), self.mark());
                let mut patience = None;
                if let Some(c) = self.caller_mut(slot) {
                    c.epoch = epoch;
                    c.patience_gen = mark;
                    patience = c.patience_at.filter(|_| !dialing);
                }
                // What the answer would have been followed by is not given.
                self.outbox
                    .retain(|a| a.about.call().is_none_or(|(s, _)| s != slot));
                if let Some(t) = patience {
                    self.at(t.max(at), Class::Patience, Ev::Patience { slot, mark });
                }
                let state = if dialing {
                    CallState::CallbackWaiting
                } else {
                    CallState::Queued
                };
                self.set_state(slot, state);
                Refusal::Unanswered
            }
            Subject::Hangup { .. } => match self.live_call(about) {
                // The engine no longer knows the call, and no command ended it.
                Some(slot) => {
                    self.end(slot, false);
                    Refusal::Vanished
                }
                None => Refusal::Other,
            },
            Subject::Nothing | Subject::Agent(_) | Subject::Login(_) | Subject::Call { .. } => {
                Refusal::Other
            }
        }
    }

    /// The input about `about` was taken; a caller's hang-up ends the call.
    pub fn acked(&mut self, about: About) {
        if let Subject::Hangup { slot, .. } = about.0
            && self.live_call(about).is_some()
            && self
                .caller(slot)
                .is_some_and(|c| c.state == CallState::HangingUp)
        {
            self.end(slot, true);
        }
    }

    /// The call's record was given: it is over.
    pub fn ended(&mut self, id: &CallId) {
        if let Some(slot) = self.index.get(id) {
            self.end(slot, true);
        }
    }
}
