//! The world's calls in flight by the address of their id (for [`super::index::ByAddress`]).
//!
//! The engine hands back, in its commands and records, the very `Arc<str>` the driver gave
//! it, and the driver holds each id while its call is in flight, so the address names the
//! call: no text is hashed. Most calls sit in a direct-mapped table (one load and compare
//! per lookup); the few whose bucket was taken when they arrived go to a hash map beside it.
//! Kept on its A/B figure: a map by id text costs 3.6 % more instructions on the replay's
//! engine thread (docs/benchmarks.md).

use rustc_hash::FxHashMap;

/// Buckets of the table (a power of two): well above the calls a city has in flight, so
/// few calls go to the map.
const BUCKETS: usize = 1 << 13;

#[derive(Debug)]
pub(crate) struct InFlight {
    /// (address, slot) by bucket of the address; address 0 = empty.
    table: Box<[(usize, u32)]>,
    /// Calls whose bucket was taken when they arrived.
    overflow: FxHashMap<usize, u32>,
    len: usize,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            table: vec![(0, 0); BUCKETS].into_boxed_slice(),
            overflow: FxHashMap::default(),
            len: 0,
        }
    }
}

fn bucket(addr: usize) -> usize {
    // Allocations are at least 16 bytes apart: the low bits carry nothing.
    (addr >> 4) & (BUCKETS - 1)
}

impl InFlight {
    /// The call whose id lives at `addr` is in `slot` (`addr` is not in flight yet).
    pub(crate) fn insert(&mut self, addr: usize, slot: u32) {
        let b = &mut self.table[bucket(addr)];
        if b.0 == 0 {
            *b = (addr, slot);
        } else {
            self.overflow.insert(addr, slot);
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, addr: usize) -> Option<u32> {
        let (a, slot) = self.table[bucket(addr)];
        if a == addr {
            return Some(slot);
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow.get(&addr).copied()
    }

    pub(crate) fn remove(&mut self, addr: usize) -> Option<u32> {
        let b = &mut self.table[bucket(addr)];
        let slot = if b.0 == addr {
            let slot = b.1;
            *b = (0, 0);
            Some(slot)
        } else {
            self.overflow.remove(&addr)
        };
        if slot.is_some() {
            self.len -= 1;
        }
        slot
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses in one bucket (and others) come and go in any order: each is found
    /// while in, and only while in.
    #[test]
    fn colliding_addresses_are_kept_apart() {
        let mut t = InFlight::default();
        let same_bucket = |i: usize| 16 + i * 16 * BUCKETS;
        for i in 0..5 {
            t.insert(same_bucket(i), i as u32);
        }
        t.insert(32, 99);
        assert_eq!(t.len(), 6);
        assert_eq!(t.remove(same_bucket(0)), Some(0));
        assert_eq!(t.get(same_bucket(0)), None);
        for i in 1..5 {
            assert_eq!(t.get(same_bucket(i)), Some(i as u32));
        }
        // The freed bucket takes the next newcomer.
        t.insert(same_bucket(7), 7);
        assert_eq!(t.get(same_bucket(7)), Some(7));
        assert_eq!(t.remove(same_bucket(3)), Some(3));
        assert_eq!(t.remove(same_bucket(3)), None);
        assert_eq!(t.get(32), Some(99));
        assert_eq!(t.len(), 5);
        for a in [
            same_bucket(1),
            same_bucket(2),
            same_bucket(4),
            same_bucket(7),
            32,
        ] {
            assert!(t.remove(a).is_some());
        }
        assert!(t.is_empty());
    }
}
