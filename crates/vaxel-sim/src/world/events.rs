//! The world's own timed events: callers arriving, agents logging in and out, answering
//! and ending their talk, callers running out of patience.

use super::CallIndex;
use super::{CallState, Caller, Class, Dialed, Ev, ReplayCall, Reply, Subject, World};
use crate::error::SimError;
use vaxel_core::{Input, Timestamp};

impl<I, X> World<I, X>
where
    I: Iterator<Item = Result<ReplayCall, SimError>>,
    X: CallIndex,
{
    pub(super) fn arrive(&mut self, at: Timestamp, c: ReplayCall) {
        self.stats.arrived += 1;
        let uid = self.mark();
        let id = c.id;
        let caller = Caller {
            id: id.clone(),
            uid,
            epoch: uid,
            patience_gen: uid,
            talk_ms: c.talk_ms,
            wrapup_ms: c.wrapup_ms,
            patience_ms: c.patience_ms,
            case_type: c.case_type,
            resolved: c.resolved,
            accept_callback: c.accept_callback,
            state: CallState::Ivr,
            agent: None,
            patience_started: false,
            patience_at: None,
            accepted: false,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.calls[s as usize] = Some(caller);
                s
            }
            None => {
                self.calls.push(Some(caller));
                (self.calls.len() - 1) as u32
            }
        };
        if let Some(old) = self.index.insert(&id, slot) {
            // The same id twice in a trace is refused by the trace reader; keep the table
            // consistent anyway.
            self.drop_slot(old);
        }
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.index.len());
        let to = match c.to {
            Dialed::Site(i) => self.numbers[i as usize].clone(),
            Dialed::Other(t) => t,
        };
        let input = Input::CallArrived {
            call: id,
            platform: self.platform.clone(),
            to,
            from: c.from,
            // As a platform sends them: none when the caller chose nothing (the first menu
            // is then played and gets no input, as docs/formats.md says).
            digits: Some(c.digits).filter(|d| !d.is_empty()),
            lang: None,
        };
        self.give(at, input, Subject::Arrival { slot, uid });
    }

    pub(super) fn fire(&mut self, at: Timestamp, ev: Ev) {
        match ev {
            Ev::Login(a) | Ev::Logout(a) | Ev::Ready(a) => {
                let Some(agent) = self.agents.get(a as usize).cloned() else {
                    return;
                };
                let (input, about) = match ev {
                    Ev::Login(_) => (
                        Input::AgentLogin {
                            agent,
                            extension: None,
                        },
                        Subject::Login(a),
                    ),
                    Ev::Logout(_) => (Input::AgentLogout { agent }, Subject::Agent(a)),
                    _ => (Input::AgentReady { agent }, Subject::Agent(a)),
                };
                self.give(at, input, about);
            }
            Ev::Digits { slot, uid, reply } => {
                let Some(c) = self.caller_mut(slot) else {
                    return;
                };
                if reply == Reply::Accept {
                    // The line is freed as the engine takes the answer: the caller no
                    // longer hangs up.
                    c.accepted = true;
                }
                let digits = match reply {
                    Reply::NoInput => String::new(),
                    Reply::Accept => "1".to_owned(),
                    Reply::Decline => "2".to_owned(),
                };
                let call = c.id.clone();
                self.give(
                    at,
                    Input::CallDigits { call, digits },
                    Subject::Call { slot, uid },
                );
            }
            Ev::Answer { slot, .. } => self.answer(at, slot),
            Ev::TalkEnd { slot, .. } => {
                let default_wrapup = self.default_wrapup_ms;
                let Some(c) = self.caller(slot) else {
                    return;
                };
                // The trace's wrap-up, planned before the hang-up so that it replaces the
                // group's default even when that is zero.
                if let (Some(agent), Some(w)) = (c.agent.clone(), c.wrapup_ms.or(default_wrapup)) {
                    let uid = c.uid;
                    self.give(
                        at,
                        Input::AgentWrapupUntil {
                            agent,
                            until: at.plus_ms(w),
                        },
                        Subject::Call { slot, uid },
                    );
                }
                self.hang_up(at, slot);
            }
            Ev::Patience { slot, .. } => self.hang_up(at, slot),
        }
    }

    /// The agent picks up: the answer, the case registered at once (as agents do on their
    /// desktop), the end of the talk planned.
    fn answer(&mut self, at: Timestamp, slot: u32) {
        let epoch = self.mark();
        let Some(c) = self.caller_mut(slot) else {
            return;
        };
        let Some(agent) = c.agent.clone() else {
            return;
        };
        let dialing = c.state == CallState::Dialing;
        c.epoch = epoch;
        let (call, uid, talk) = (c.id.clone(), c.uid, c.talk_ms);
        let disposition = c.case_type.clone().zip(c.resolved);
        self.set_state(slot, CallState::Talking);
        let input = if dialing {
            Input::CallbackResult {
                callback: call.clone(),
                connected: true,
            }
        } else {
            Input::CallAnswered {
                call: call.clone(),
                agent: agent.clone(),
            }
        };
        self.give(at, input, Subject::Answer { slot, uid, dialing });
        if let Some((case_type, resolved)) = disposition {
            let input = Input::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            };
            self.give(at, input, Subject::Call { slot, uid });
        }
        self.at(
            at.plus_ms(talk),
            Class::TalkEnd,
            Ev::TalkEnd { slot, epoch },
        );
    }

    fn hang_up(&mut self, at: Timestamp, slot: u32) {
        let epoch = self.mark();
        let Some(c) = self.caller_mut(slot) else {
            return;
        };
        c.epoch = epoch;
        let (call, uid) = (c.id.clone(), c.uid);
        self.set_state(slot, CallState::HangingUp);
        self.give(
            at,
            Input::CallHangup { call, reason: None },
            Subject::Hangup { slot, uid },
        );
    }
}
