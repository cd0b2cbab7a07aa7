//! Where a call goes: the IVR's routing rules (entry, opening hours, menu choices) as pure
//! functions of the site, the caller's digits and whether the entry is open.
//!
//! The rules are written once, here. The engine applies them one step at a time as digits
//! arrive ([`Entry::start`], [`Menu::choose`]); staffing and the traffic generator apply
//! them to a whole trace line at once ([`walk`], [`route`]), the caller answering each
//! menu with the next level of its digits (docs/formats.md).

use crate::site::{Entry, GroupIdx, Menu, Site, Target, Text};
use crate::time::Timestamp;

/// Longest chain of targets followed; validation refuses cycles, this bounds the walk if
/// one slipped past (the engine ends such a call with no service).
pub const MAX_HOPS: u32 = 64;

/// Where an entry sends a new call (crisis mode aside: the engine applies it first).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Start<'a> {
    /// Play `prompt` (the greeting, or the closed prompt before a closed route), then go
    /// to `target`.
    Route {
        prompt: Option<&'a Text>,
        target: &'a Target,
    },
    /// Closed and no closed route: play `prompt` while hanging up.
    Closed { prompt: Option<&'a Text> },
}

impl Entry {
    /// Where a call to this entry starts, the entry being `open` or not (an entry without
    /// a calendar is always open).
    #[must_use]
    pub fn start(&self, open: bool) -> Start<'_> {
        if open {
            return Start::Route {
                prompt: self.greeting.as_ref(),
                target: &self.route,
            };
        }
        match &self.closed_route {
            Some(target) => Start::Route {
                prompt: self.closed_prompt.as_ref(),
                target,
            },
            None => Start::Closed {
                prompt: self.closed_prompt.as_ref(),
            },
        }
    }
}

/// What one level of digits at a menu leads to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Choice<'a> {
    /// An invalid choice with retries left: the menu again, with its invalid prompt.
    Retry,
    /// On to this target (an option, or the default for no input or no retries left).
    Go(&'a Target),
    /// The `callback` option: the call queues at the menu's default (given here), which
    /// offers it a callback when it is a group.
    Callback(&'a Target),
}

impl Menu {
    /// The caller's choice `digits` (empty = no input) after `tries` invalid ones: an
    /// option, the default for no input, the prompt again for an invalid choice while
    /// `tries < retries`, then the default.
    #[must_use]
    pub fn choose(&self, digits: &str, tries: u32) -> Choice<'_> {
        let chosen = if digits.is_empty() {
            Some(&self.default)
        } else {
            self.option(digits)
        };
        let target = match chosen {
            Some(t) => t,
            None if tries < self.retries => return Choice::Retry,
            None => &self.default,
        };
        match target {
            Target::Callback => Choice::Callback(&self.default),
            t => Choice::Go(t),
        }
    }
}

/// Where a walk through the IVR ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Destination {
    /// Queued in an answer group; `callback` when the caller chose the callback option.
    Group { group: GroupIdx, callback: bool },
    /// Forwarded to an outside number.
    Number(Text),
    /// Played the closed prompt and hung up.
    Closed,
    /// No service: a callback reached outside a menu, or a chain of routes too long.
    NoService,
    /// The dialled number is no entry of the site.
    UnknownEntry,
}

impl Destination {
    /// The answer group reached, if any.
    #[must_use]
    pub fn group(&self) -> Option<GroupIdx> {
        match self {
            Destination::Group { group, .. } => Some(*group),
            _ => None,
        }
    }
}

/// Follows `digits` (menu levels separated by commas) from `start`: one level per menu
/// visit, a missing level being no input. The caller answers at once, so no menu is left
/// waiting for digits.
#[must_use]
pub fn walk(site: &Site, start: &Target, digits: &str) -> Destination {
    let mut levels = (!digits.is_empty()).then(|| digits.split(','));
    let mut next_level = move || levels.as_mut().and_then(Iterator::next).unwrap_or("");
    let mut at = start;
    let mut callback = false;
    for _ in 0..MAX_HOPS {
        match at {
            Target::Group(g) => {
                return Destination::Group {
                    group: *g,
                    callback,
                };
            }
            Target::Number(n) => return Destination::Number(n.clone()),
            Target::Callback => return Destination::NoService,
            Target::Menu(m) => {
                let menu = site.menu(*m);
                let mut tries = 0;
                at = loop {
                    match menu.choose(next_level(), tries) {
                        Choice::Retry => tries += 1,
                        Choice::Go(t) => break t,
                        Choice::Callback(t) => {
                            callback = true;
                            break t;
                        }
                    }
                };
            }
        }
    }
    Destination::NoService
}

/// Where a call to `to` arriving at `at` with `digits` goes (crisis mode aside).
#[must_use]
pub fn route(
    site: &Site,
    open: &mut OpenCache,
    to: &str,
    at: Timestamp,
    digits: &str,
) -> Destination {
    let Some(e) = site.entry_by_number.get(to) else {
        return Destination::UnknownEntry;
    };
    match site.entry(*e).start(open.open(site, e.ix(), at)) {
        Start::Route { target, .. } => walk(site, target, digits),
        Start::Closed { .. } => Destination::Closed,
    }
}

/// Whether each entry is open, cached until its calendar says the answer may change (for
/// callers that ask in time order, like a trace's).
#[derive(Clone, Debug)]
pub struct OpenCache {
    /// Per entry: open or not, for instants in `[from, until)`.
    state: Vec<(bool, Timestamp, Timestamp)>,
}

impl OpenCache {
    #[must_use]
    pub fn new(site: &Site) -> OpenCache {
        OpenCache {
            state: vec![(true, Timestamp(u64::MAX), Timestamp(0)); site.entries.len()],
        }
    }

    /// Whether entry `e` is open at `t` (an entry without a calendar always is).
    pub fn open(&mut self, site: &Site, e: usize, t: Timestamp) -> bool {
        let Some(&(open, from, until)) = self.state.get(e) else {
            return true;
        };
        if from <= t && t < until {
            return open;
        }
        let s = match site.entries[e].calendar {
            None => (true, Timestamp(0), Timestamp(u64::MAX)),
            Some(c) => {
                let st = site.calendars[c.ix()].state_at(t, &site.timezone);
                (st.open, t, st.until)
            }
        };
        self.state[e] = s;
        s.0
    }
}
