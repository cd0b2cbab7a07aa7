//! How the world finds a call by the id a command names.
//!
//! In process, the engine hands back the very `Arc<str>` the world gave it, so its address
//! names the call ([`InFlight`]); over TCP the ids are read from the daemon's lines, new
//! strings each time, and are found by their text ([`ByName`]).

use super::in_flight::InFlight;
use rustc_hash::FxHashMap;
use vaxel_core::CallId;

/// The calls in flight by id, each in its slot of the world's table.
pub trait CallIndex: Default {
    /// The call `id` is in `slot`; returns the slot of a call that had the same id.
    fn insert(&mut self, id: &CallId, slot: u32) -> Option<u32>;
    fn get(&self, id: &CallId) -> Option<u32>;
    fn remove(&mut self, id: &CallId) -> Option<u32>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Calls by the text of their id: for ids read back from the wire.
#[derive(Debug, Default)]
pub struct ByName(FxHashMap<CallId, u32>);

impl CallIndex for ByName {
    fn insert(&mut self, id: &CallId, slot: u32) -> Option<u32> {
        self.0.insert(id.clone(), slot)
    }

    fn get(&self, id: &CallId) -> Option<u32> {
        self.0.get(id).copied()
    }

    fn remove(&mut self, id: &CallId) -> Option<u32> {
        self.0.remove(id)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Calls by the address of their id: only for an engine in the same process, which hands
/// back the world's own strings (the world holds each id while its call is in flight, so
/// an address is never that of two live calls).
#[derive(Debug, Default)]
pub struct ByAddress(InFlight);

fn addr(id: &CallId) -> usize {
    std::sync::Arc::as_ptr(id).cast::<u8>() as usize
}

impl CallIndex for ByAddress {
    fn insert(&mut self, id: &CallId, slot: u32) -> Option<u32> {
        // Two arrivals are two strings: never the same address while both are held.
        self.0.insert(addr(id), slot);
        None
    }

    fn get(&self, id: &CallId) -> Option<u32> {
        self.0.get(addr(id))
    }

    fn remove(&mut self, id: &CallId) -> Option<u32> {
        self.0.remove(addr(id))
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}
