//! The callers of a trace, made ready for the simulated world ([`super::World`]).

use crate::error::SimError;
use crate::trace::TraceCall;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use vaxel_core::Timestamp;
use vaxel_core::site::{Site, Text};

/// A trace call made ready for the engine: its id, numbers and case type as the shared
/// strings the engine keeps. [`Preparer`] makes them, on the thread that reads the trace
/// when there is one, so the replay itself does no copying or hashing of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayCall {
    pub id: Arc<str>,
    pub arrival: Timestamp,
    pub to: Dialed,
    pub from: Text,
    pub digits: String,
    pub patience_ms: Option<u64>,
    pub talk_ms: u64,
    pub wrapup_ms: Option<u64>,
    pub case_type: Option<Text>,
    pub resolved: Option<bool>,
    pub accept_callback: bool,
}

/// The number a call dialed: one of the site's entry numbers, by its place in
/// [`site_numbers`], or another (which the engine will refuse).
///
/// Nearly every call dials one of a handful of numbers. Were each call to carry a shared
/// string, the thread that reads the trace would take a reference to it for every call and
/// the engine's thread release one, both on the same counter: a cache line passed between
/// the two cores for every call. An index crosses threads as a plain number; the world
/// then hands the engine its own copy of the site's string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialed {
    Site(u32),
    Other(Text),
}

/// The site's entry numbers in a fixed order: what [`Dialed::Site`] indexes.
#[must_use]
pub fn site_numbers(site: &Site) -> Vec<Text> {
    let mut numbers: Vec<Text> = site.entry_by_number.keys().cloned().collect();
    numbers.sort();
    numbers
}

/// Turns [`TraceCall`]s into [`ReplayCall`]s, sharing the few distinct case types instead
/// of allocating each call's own copy (at most 4,096 are kept), and naming the site's
/// numbers by index ([`Dialed`]).
#[derive(Debug, Default)]
pub struct Preparer {
    interned: FxHashMap<Text, Text>,
    numbers: FxHashMap<Text, u32>,
}

impl Preparer {
    /// A preparer for calls to `site`.
    #[must_use]
    pub fn for_site(site: &Site) -> Preparer {
        Preparer {
            interned: FxHashMap::default(),
            numbers: site_numbers(site)
                .into_iter()
                .enumerate()
                .map(|(i, n)| (n, i as u32))
                .collect(),
        }
    }

    /// The call, ready for the world.
    pub fn prepare(&mut self, c: TraceCall) -> ReplayCall {
        let to = match self.numbers.get(c.to.as_str()) {
            Some(&i) => Dialed::Site(i),
            None => Dialed::Other(Text::from(c.to)),
        };
        ReplayCall {
            id: Arc::from(c.call_id),
            arrival: c.arrival,
            to,
            from: Text::from(c.from),
            digits: c.digits,
            patience_ms: c.patience_ms,
            talk_ms: c.talk_ms,
            wrapup_ms: c.wrapup_ms,
            case_type: c.case_type.map(|t| self.intern(&t)),
            resolved: c.resolved,
            accept_callback: c.accept_callback,
        }
    }

    fn intern(&mut self, s: &str) -> Text {
        if let Some(t) = self.interned.get(s) {
            return t.clone();
        }
        let t = Text::from(s);
        if self.interned.len() < 4096 {
            self.interned.insert(t.clone(), t.clone());
        }
        t
    }
}

/// A trace's calls, prepared as they are read.
#[derive(Debug)]
pub struct Prepared<I> {
    trace: I,
    prep: Preparer,
}

impl<I> Prepared<I> {
    /// `trace` read through `prep` ([`Preparer::default`] when there is no site at hand:
    /// every number is then [`Dialed::Other`]).
    pub fn new(trace: I, prep: Preparer) -> Prepared<I> {
        Prepared { trace, prep }
    }
}

impl<I> Iterator for Prepared<I>
where
    I: Iterator<Item = Result<TraceCall, SimError>>,
{
    type Item = Result<ReplayCall, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        let c = self.trace.next()?;
        Some(c.map(|c| self.prep.prepare(c)))
    }
}
