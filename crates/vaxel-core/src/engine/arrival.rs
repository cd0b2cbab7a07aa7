//! A call's way in: entry, crisis mode, opening hours, greeting, menus, and the target it
//! lands on.

use super::state::{Call, CallState, Slot};
use super::{ActiveCrisis, Engine, call_index};
use crate::error::EngineError;
use crate::input::CallId;
use crate::output::{CallbackNote, Command, Outcome};
use crate::route::{Choice, Start};
use crate::site::{MenuIdx, Target, Text};
use smallvec::SmallVec;

/// One menu level of collected digits, copied out of the call (so that the engine can go on
/// changing the call while it routes on them) without an allocation: a level is a digit or
/// two. Kept on its A/B figure: a `String` costs 1.5 % more instructions (docs/benchmarks.md).
struct Level(SmallVec<[u8; 16]>);

impl Level {
    fn as_str(&self) -> &str {
        // Cut out of a `str` at commas, so always whole UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Engine {
    pub(super) fn call_arrived(
        &mut self,
        id: CallId,
        platform: Text,
        to: &str,
        from: Text,
        digits: Option<String>,
        lang: Option<Text>,
    ) -> Result<(), EngineError> {
        let hash = call_index::id_hash(&id);
        if self.st.by_id.find(hash, &id, &self.st.calls).is_some() {
            return Err(EngineError::DuplicateCall(id.to_string()));
        }
        let entry_ix = *self
            .site
            .entry_by_number
            .get(to)
            .ok_or_else(|| EngineError::UnknownEntry(to.to_owned()))?;
        let entry = self.site.entry(entry_ix);
        let (priority, calendar) = (entry.priority, entry.calendar);
        self.st.next_seq += 1;
        let call = Call {
            id,
            seq: self.st.next_seq,
            platform,
            entry: Some(entry_ix),
            from,
            lang,
            arrived: self.st.now,
            priority,
            state: CallState::Queued,
            precollected: digits,
            precollected_used: 0,
            digits: String::new(),
            levels: 0,
            queued: None,
            place: self.st.now,
            answered: None,
            talk_since: self.st.now,
            talk_ms: 0,
            agent: None,
            serving: None,
            members: SmallVec::new(),
            next_mseq: 0,
            path: SmallVec::new(),
            case_type: None,
            resolved: None,
            callback: CallbackNote::None,
            offering: None,
            declined_by: None,
            nonce: 0,
            deadline: None,
            ended: None,
            announced: None,
            repeated: None,
            told: None,
            callback_offered: false,
        };
        let slot = match self.st.free.pop() {
            Some(s) => {
                self.st.calls[s as usize] = Some(call);
                s
            }
            None => {
                self.st.calls.push(Some(call));
                (self.st.calls.len() - 1) as Slot
            }
        };
        self.st.by_id.insert(hash, slot);
        if let Some(Some(c)) = self.st.calls.get(slot as usize) {
            self.call_addr.put(&c.id, slot);
        }

        if let Some(crisis) = self.st.crisis.clone() {
            if let Some(prompt) = crisis.prompt {
                self.play(slot, prompt);
            }
            if let Some(route) = crisis.route {
                self.route_to(slot, &route, 0);
                return Ok(());
            }
        }
        let open = match calendar {
            Some(cal) => self.is_open(cal),
            None => true,
        };
        // Owned copies: the engine changes the call while it follows the route.
        let (prompt, target) = match self.site.entry(entry_ix).start(open) {
            Start::Route { prompt, target } => (prompt.cloned(), Some(target.clone())),
            Start::Closed { prompt } => (prompt.cloned(), None),
        };
        match target {
            Some(target) => {
                if let Some(p) = prompt {
                    self.play(slot, p);
                }
                self.route_to(slot, &target, 0);
            }
            None => {
                let call = self.call(slot).id.clone();
                self.emit_for(slot, Command::Hangup { call, prompt });
                self.finish(slot, Outcome::Closed);
            }
        }
        Ok(())
    }

    pub(super) fn play(&mut self, slot: Slot, prompt: Text) {
        let call = self.call(slot).id.clone();
        self.emit_for(
            slot,
            Command::Play {
                call,
                prompt,
                position: None,
                ewt_s: None,
            },
        );
    }

    /// Sends the call on to `target`. `depth` bounds chains of routes (validation forbids
    /// cycles; this is the belt to those braces).
    pub(super) fn route_to(&mut self, slot: Slot, target: &Target, depth: u32) {
        if depth > crate::route::MAX_HOPS {
            // A chain this long means a cycle slipped past validation: end the call
            // cleanly rather than loop.
            self.hang_up_and_finish(slot, None, Outcome::Timeout);
            return;
        }
        match target {
            Target::Menu(m) => self.enter_menu(slot, *m, depth),
            Target::Group(g) => self.enter_group(slot, *g, depth),
            Target::Number(n) => {
                let call = self.call(slot).id.clone();
                self.emit_for(
                    slot,
                    Command::Forward {
                        call,
                        number: n.clone(),
                    },
                );
                self.finish(slot, Outcome::OverflowExternal);
            }
            Target::Callback => {
                // Reached outside a menu (an entry or crisis route): nothing to queue the
                // callback in, so there is no service.
                self.hang_up_and_finish(slot, None, Outcome::Timeout);
            }
        }
    }

    pub(super) fn hang_up_and_finish(
        &mut self,
        slot: Slot,
        prompt: Option<Text>,
        outcome: Outcome,
    ) {
        let call = self.call(slot).id.clone();
        self.emit_for(slot, Command::Hangup { call, prompt });
        self.finish(slot, outcome);
    }

    fn enter_menu(&mut self, slot: Slot, menu: MenuIdx, depth: u32) {
        self.call_mut(slot).state = CallState::Ivr { menu, tries: 0 };
        match self.next_precollected(slot) {
            Some(d) => self.menu_choice(slot, menu, 0, d.as_str(), depth),
            None => self.send_menu(slot, menu, false),
        }
    }

    fn send_menu(&mut self, slot: Slot, menu: MenuIdx, invalid: bool) {
        let site = self.site.clone();
        let m = site.menu(menu);
        let call = self.call(slot).id.clone();
        self.emit_for(
            slot,
            Command::Menu {
                call,
                menu: m.id.clone(),
                prompt: if invalid {
                    m.invalid_prompt.clone()
                } else {
                    m.prompt.clone()
                },
                max_digits: m.max_digits,
                timeout_s: m.timeout_s,
            },
        );
    }

    /// Applies a caller's choice at `menu`: an option, no input (the default), or an
    /// invalid choice (the prompt again, `retries` times, then the default).
    fn menu_choice(&mut self, slot: Slot, menu: MenuIdx, tries: u32, digits: &str, depth: u32) {
        // Owned copies: the engine changes the call while it follows the choice.
        let (target, callback) = match self.site.menu(menu).choose(digits, tries) {
            Choice::Retry => {
                self.call_mut(slot).state = CallState::Ivr {
                    menu,
                    tries: tries + 1,
                };
                match self.next_precollected(slot) {
                    Some(d) => self.menu_choice(slot, menu, tries + 1, d.as_str(), depth),
                    None => self.send_menu(slot, menu, true),
                }
                return;
            }
            Choice::Go(t) => (t.clone(), false),
            Choice::Callback(t) => (t.clone(), true),
        };
        let call = self.call_mut(slot);
        if call.levels > 0 {
            call.digits.push(',');
        }
        call.levels += 1;
        call.digits.push_str(digits);
        match target {
            Target::Group(g) if callback => {
                self.enter_group(slot, g, depth + 1);
                if self.live_in_queue(slot) {
                    self.offer_callback(slot, g);
                }
            }
            t => self.route_to(slot, &t, depth + 1),
        }
    }

    /// The next level of the digits the platform collected beforehand, if any is left.
    fn next_precollected(&mut self, slot: Slot) -> Option<Level> {
        let call = self.call_mut(slot);
        let all = call.precollected.as_deref()?;
        let rest = all.get(call.precollected_used..)?.as_bytes();
        // A byte search: `,` is ASCII, and levels are a digit or two.
        let level = &rest[..rest.iter().position(|&b| b == b',').unwrap_or(rest.len())];
        call.precollected_used += level.len() + 1;
        Some(Level(SmallVec::from_slice(level)))
    }

    /// Whether the call in `slot` still exists and waits in a queue.
    pub(super) fn live_in_queue(&self, slot: Slot) -> bool {
        matches!(&self.st.calls[slot as usize], Some(c) if c.state == CallState::Queued)
    }

    pub(super) fn call_digits(&mut self, id: &str, digits: &str) -> Result<(), EngineError> {
        let slot = self.find_call(id)?;
        let call = self.call(slot);
        match call.state {
            CallState::Ivr { menu, tries } => {
                self.menu_choice(slot, menu, tries, digits, 0);
                Ok(())
            }
            CallState::Queued if call.offering.is_some() => {
                self.callback_answer(slot, digits == "1");
                Ok(())
            }
            _ => Err(EngineError::InvalidState(format!(
                "call \"{id}\" is not in a menu and has no callback offer out"
            ))),
        }
    }

    pub(super) fn set_crisis(
        &mut self,
        on: bool,
        prompt: Option<Text>,
        route: Option<&str>,
    ) -> Result<(), EngineError> {
        if !on {
            self.st.crisis = None;
            return Ok(());
        }
        // Checked as the site file's `[crisis]` section is: a route that is not `callback`
        // (a new caller has no group to be called back from) and a prompt that is not
        // empty.
        if prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(EngineError::BadField {
                field: "prompt",
                reason: "prompt must not be empty".into(),
            });
        }
        let site_crisis = self.site.crisis.clone();
        let route = match route {
            Some("callback") => {
                return Err(EngineError::BadField {
                    field: "route",
                    reason: "\"callback\" needs a group to serve it; use it in a menu option or in a group's overflow or on_max_wait".into(),
                });
            }
            Some(r) => Some(self.parse_target(r, "route")?),
            None => site_crisis.as_ref().and_then(|c| c.route.clone()),
        };
        let prompt = prompt.or_else(|| site_crisis.and_then(|c| c.prompt));
        if prompt.is_none() && route.is_none() {
            return Err(EngineError::BadField {
                field: "prompt",
                reason: "crisis mode needs a prompt or a route, and the site's [crisis] has none"
                    .into(),
            });
        }
        let announce = self.st.crisis.is_none();
        self.st.crisis = Some(ActiveCrisis {
            prompt: prompt.clone(),
            route,
        });
        // Callers already waiting, in a queue or still in the menus, hear at once that the
        // city knows.
        if let (true, Some(prompt)) = (announce, prompt) {
            for slot in 0..self.st.calls.len() as Slot {
                let on_the_line = matches!(&self.st.calls[slot as usize],
                    Some(c) if matches!(c.state, CallState::Queued | CallState::Ivr { .. }));
                if on_the_line {
                    self.play(slot, prompt.clone());
                }
            }
        }
        Ok(())
    }

    /// Parses `group:ID`, `menu:ID`, `number:E164` or `callback` against the running site.
    pub(super) fn parse_target(
        &self,
        text: &str,
        field: &'static str,
    ) -> Result<Target, EngineError> {
        let bad = |reason: String| EngineError::BadField { field, reason };
        if text == "callback" {
            return Ok(Target::Callback);
        }
        let (kind, id) = text.split_once(':').ok_or_else(|| {
            bad(format!(
                "\"{text}\" is not group:ID, menu:ID or number:E164"
            ))
        })?;
        match kind {
            "group" => self
                .site
                .group_by_id
                .get(id)
                .map(|g| Target::Group(*g))
                .ok_or_else(|| bad(format!("no group \"{id}\""))),
            "menu" => self
                .site
                .menu_by_id
                .get(id)
                .map(|m| Target::Menu(*m))
                .ok_or_else(|| bad(format!("no menu \"{id}\""))),
            "number" if is_e164(id) => Ok(Target::Number(id.into())),
            "number" => Err(bad(format!("\"{id}\" is not an E.164 number"))),
            _ => Err(bad(format!("\"{kind}\" is not group, menu or number"))),
        }
    }
}

/// `+` and 2 to 15 digits, the first not 0.
pub(super) fn is_e164(s: &str) -> bool {
    let Some(d) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::Level;
    use smallvec::SmallVec;

    /// A level reads back as the digits copied into it: inline up to 16 bytes (a level is a
    /// digit or two), on the heap beyond.
    #[test]
    fn a_level_reads_back_as_the_digits_copied() {
        for digits in [
            "",
            "1",
            "12",
            "*#",
            "0123456789*#0123",
            "01234567890123456789",
        ] {
            let level = Level(SmallVec::from_slice(digits.as_bytes()));
            assert_eq!(level.as_str(), digits);
            assert_eq!(level.0.spilled(), digits.len() > 16, "{digits:?}");
        }
    }
}
