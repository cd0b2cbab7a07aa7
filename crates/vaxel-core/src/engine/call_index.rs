//! Live calls by id: a hash table of slots, not of ids.
//!
//! The engine must refuse a second call with a live id and find a call by an id parsed off
//! the wire. A map from id to slot would keep its own reference to every id: two atomic
//! count changes per call on a string another thread made, and the text compared again
//! when the call ends. Here the table holds `(hash, slot)` pairs; an id is compared only
//! against the call in a slot whose hash matches, and a call leaves the table by its slot.
//! The table is derived from the calls, so it is not saved: [`CallIndex::rebuild`] makes
//! it again on restore.

use super::state::{Call, Slot};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// The hash of a call id (FxHash: ids are short, and the engine's order never depends on
/// it).
pub(crate) fn id_hash(id: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

#[derive(Clone, Default)]
pub(crate) struct CallIndex {
    table: HashTable<(u64, Slot)>,
}

impl std::fmt::Debug for CallIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CallIndex({} calls)", self.table.len())
    }
}

/// The live call in `slot`, if any.
fn in_slot(calls: &[Option<Call>], slot: Slot) -> Option<&Call> {
    calls.get(slot as usize).and_then(Option::as_ref)
}

impl CallIndex {
    /// The slot of the live call `id` (whose hash is `hash`) among `calls`.
    pub(crate) fn find(&self, hash: u64, id: &str, calls: &[Option<Call>]) -> Option<Slot> {
        self.table
            .find(hash, |&(h, s)| {
                h == hash && in_slot(calls, s).is_some_and(|c| &*c.id == id)
            })
            .map(|&(_, s)| s)
    }

    /// Adds the call in `slot`, whose id hashes to `hash` (and is not in the table).
    pub(crate) fn insert(&mut self, hash: u64, slot: Slot) {
        self.table.insert_unique(hash, (hash, slot), |&(h, _)| h);
    }

    /// Removes the call in `slot`, whose id hashes to `hash`.
    pub(crate) fn remove(&mut self, hash: u64, slot: Slot) {
        if let Ok(entry) = self.table.find_entry(hash, |&(_, s)| s == slot) {
            entry.remove();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The index of `calls`.
    pub(crate) fn rebuild(calls: &[Option<Call>]) -> CallIndex {
        let mut index = CallIndex::default();
        for (slot, call) in calls.iter().enumerate() {
            if let Some(c) = call {
                index.insert(id_hash(&c.id), slot as Slot);
            }
        }
        index
    }
}
