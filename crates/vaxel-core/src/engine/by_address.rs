//! A lookup of shared strings by where they live, in front of the engine's lookups by
//! value.
//!
//! Inputs name calls and agents by id. The replay driver (and any embedder that keeps the
//! ids the engine hands out in its commands) gives back the very `Arc<str>` the engine holds,
//! so the string's address alone can find it: no hashing and comparing of text, which is a
//! good part of an input's cost. A daemon parses ids off the wire into new strings; for it
//! every lookup here misses and costs one load and compare. Kept on its A/B figure (with
//! the menu's `Level`, 3.6 % of the replay engine thread's instructions: docs/benchmarks.md).
//!
//! A hit is only a candidate: the caller checks that the string it holds at that index
//! has the same address and length as the one asked for. Two live strings never share an
//! address, so that check proves they are the same string whatever the table remembers
//! (entries are never removed, only overwritten, and may be stale).

/// Remembered (address, index) pairs, one per bucket of the address.
#[derive(Clone)]
pub(crate) struct ByAddress {
    slots: Box<[(usize, u32)]>,
}

impl std::fmt::Debug for ByAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ByAddress({} buckets)", self.slots.len())
    }
}

impl ByAddress {
    /// A table of `2^bits` buckets.
    pub(crate) fn new(bits: u32) -> ByAddress {
        ByAddress {
            slots: vec![(0, 0); 1 << bits].into_boxed_slice(),
        }
    }

    fn bucket(&self, s: &str) -> usize {
        // Allocations are at least 8-aligned: the low bits say nothing.
        (s.as_ptr() as usize >> 3) & (self.slots.len() - 1)
    }

    /// Remembers that `s` (a string the caller holds) is at `index`.
    pub(crate) fn put(&mut self, s: &str, index: u32) {
        let b = self.bucket(s);
        self.slots[b] = (s.as_ptr() as usize, index);
    }

    /// The index last remembered for a string at `s`'s address, if any: to be checked with
    /// [`same`].
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        let (addr, index) = self.slots[self.bucket(s)];
        (addr == s.as_ptr() as usize && addr != 0).then_some(index)
    }
}

/// Whether `a` and `b` are the very same string in memory.
pub(crate) fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn finds_the_same_string_and_only_it() {
        let mut t = ByAddress::new(4);
        let a: Arc<str> = Arc::from("c0001");
        let b: Arc<str> = Arc::from("c0001");
        t.put(&a, 7);
        assert_eq!(t.get(&a), Some(7));
        // Equal text elsewhere in memory is not found here (the caller falls back to its
        // lookup by value) ...
        assert!(t.get(&b).is_none_or(|_| !same(&a, &b)));
        // ... and a shorter string at the same address is not the same string.
        assert!(!same(&a, &a[..3]));
        assert!(same(&a, &a.clone()));
    }
}
