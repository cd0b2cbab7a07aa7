//! A min-heap of items ordered by a `u128` key alone: the engine's timers and the replay
//! driver's simulated events. Both order by (time, tie-breaker, insertion number), which
//! packs into one integer; comparing that is a single wide compare where a tuple with the
//! payload in it costs a chain of branches, and the heap's pops are a tenth of a replay.
//! Keys must be unique (callers put an insertion number in the low bits), so the order
//! is total and pops are deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An item and its key; ordered by the key only, reversed (`BinaryHeap` is a max-heap).
#[derive(Clone, Debug)]
struct Entry<T> {
    key: u128,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// Items popped smallest key first.
#[derive(Clone, Debug)]
pub struct KeyedHeap<T> {
    heap: BinaryHeap<Entry<T>>,
}

impl<T> Default for KeyedHeap<T> {
    fn default() -> Self {
        KeyedHeap {
            heap: BinaryHeap::new(),
        }
    }
}

impl<T> KeyedHeap<T> {
    pub fn push(&mut self, key: u128, item: T) {
        self.heap.push(Entry { key, item });
    }

    /// The smallest key, and its item.
    #[must_use]
    pub fn peek(&self) -> Option<(u128, &T)> {
        self.heap.peek().map(|e| (e.key, &e.item))
    }

    /// Removes the item with the smallest key.
    pub fn pop(&mut self) -> Option<(u128, T)> {
        self.heap.pop().map(|e| (e.key, e.item))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Every item with its key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u128, &T)> {
        self.heap.iter().map(|e| (e.key, &e.item))
    }
}

impl<T> FromIterator<(u128, T)> for KeyedHeap<T> {
    fn from_iter<I: IntoIterator<Item = (u128, T)>>(items: I) -> Self {
        KeyedHeap {
            heap: items
                .into_iter()
                .map(|(key, item)| Entry { key, item })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pushes and pops in any interleaving: every pop gives the smallest key present,
        /// with its own item, as an ordered map would.
        #[test]
        fn pops_smallest_key_present(ops in proptest::collection::vec(proptest::option::of(any::<u64>()), 0..300)) {
            let mut heap = KeyedHeap::default();
            let mut model = std::collections::BTreeMap::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    // Unique keys, as callers make them: an insertion number in the low bits.
                    Some(k) => {
                        let key = (u128::from(k % 1000) << 64) | n as u128;
                        heap.push(key, key.wrapping_mul(3));
                        model.insert(key, key.wrapping_mul(3));
                    }
                    None => prop_assert_eq!(heap.pop(), model.pop_first()),
                }
                prop_assert_eq!(heap.len(), model.len());
                prop_assert_eq!(heap.peek().map(|(k, _)| k), model.keys().next().copied());
            }
        }
    }

    #[test]
    fn peek_collect_and_clear() {
        let mut heap: KeyedHeap<&str> = [(5, "e"), (1, "a"), (3, "c")].into_iter().collect();
        assert_eq!(heap.peek(), Some((1, &"a")));
        assert_eq!(heap.len(), 3);
        let mut all: Vec<_> = heap.iter().map(|(k, _)| k).collect();
        all.sort_unstable();
        assert_eq!(all, [1, 3, 5]);
        heap.clear();
        assert!(heap.is_empty());
        assert_eq!(heap.pop(), None);
    }
}
