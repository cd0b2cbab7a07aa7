//! An ordered set that also answers "how many keys are below this one" in O(log n): a
//! treap (a binary search tree kept balanced by random heap priorities) whose nodes count
//! their subtrees, in an arena of nodes. It holds a group's waiting calls, so that a
//! caller's position (asked by every `queue` command and announcement) costs O(log n)
//! whatever the queue's length, where a B-tree's range count walked every call ahead.
//!
//! Priorities come from a SplitMix64 sequence inside the set, so the same operations give
//! the same tree: nothing depends on the run. Saved as the sorted list of keys (as the
//! B-tree set it replaces was), so checkpoints keep their form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node<T> {
    key: T,
    prio: u64,
    left: u32,
    right: u32,
    /// Keys in this subtree, this node included.
    size: u32,
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub(crate) struct RankSet<T> {
    nodes: Vec<Node<T>>,
    /// Arena slots free for reuse.
    free: Vec<u32>,
    root: u32,
    rng: u64,
}

impl<T> Default for RankSet<T> {
    fn default() -> Self {
        RankSet {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            rng: 0x5eed,
        }
    }
}

impl<T: Ord + Copy> RankSet<T> {
    pub(crate) fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_prio(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Splits `t` into the keys below `key` (or at most `key` when `inclusive`) and the
    /// rest.
    fn split(&mut self, t: u32, key: &T, inclusive: bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let k = self.nodes[t as usize].key;
        let goes_left = if inclusive { k <= *key } else { k < *key };
        if goes_left {
            let (l, r) = self.split(self.nodes[t as usize].right, key, inclusive);
            self.nodes[t as usize].right = l;
            self.fix(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key, inclusive);
            self.nodes[t as usize].left = r;
            self.fix(t);
            (l, t)
        }
    }

    /// Joins `a` and `b`, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let m = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = m;
            self.fix(a);
            a
        } else {
            let m = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = m;
            self.fix(b);
            b
        }
    }

    pub(crate) fn contains(&self, key: &T) -> bool {
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            match key.cmp(&node.key) {
                std::cmp::Ordering::Less => n = node.left,
                std::cmp::Ordering::Greater => n = node.right,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// Adds `key`; false if it was there.
    pub(crate) fn insert(&mut self, key: T) -> bool {
        if self.contains(&key) {
            return false;
        }
        let prio = self.next_prio();
        let node = Node {
            key,
            prio,
            left: NIL,
            right: NIL,
            size: 1,
        };
        let n = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let (l, r) = self.split(self.root, &key, false);
        let l = self.merge(l, n);
        self.root = self.merge(l, r);
        true
    }

    /// Removes `key`; false if it was not there.
    pub(crate) fn remove(&mut self, key: &T) -> bool {
        if !self.contains(key) {
            return false;
        }
        let (l, r) = self.split(self.root, key, false);
        let (m, r) = self.split(r, key, true);
        // `m` is the one node holding `key`.
        self.free.push(m);
        self.root = self.merge(l, r);
        if self.root == NIL {
            // Empty: give the arena back its order (and memory to reuse from the start).
            self.nodes.clear();
            self.free.clear();
        }
        true
    }

    /// How many keys are below `key`: O(log n).
    pub(crate) fn rank(&self, key: &T) -> usize {
        let mut n = self.root;
        let mut below = 0usize;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if node.key < *key {
                below += self.size(node.left) as usize + 1;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        below
    }

    /// The greatest key.
    pub(crate) fn last(&self) -> Option<&T> {
        let mut n = self.root;
        let mut last = None;
        while n != NIL {
            last = Some(&self.nodes[n as usize].key);
            n = self.nodes[n as usize].right;
        }
        last
    }

    /// The keys in order.
    pub(crate) fn iter(&self) -> Iter<'_, T> {
        let mut it = Iter {
            set: self,
            stack: Vec::new(),
        };
        it.push_left(self.root);
        it
    }
}

/// In-order iterator: the path to the next key on a stack (O(log n) deep).
pub(crate) struct Iter<'a, T> {
    set: &'a RankSet<T>,
    stack: Vec<u32>,
}

impl<T> Iter<'_, T> {
    fn push_left(&mut self, mut n: u32) {
        while n != NIL {
            self.stack.push(n);
            n = self.set.nodes[n as usize].left;
        }
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let n = self.stack.pop()?;
        let set: &'a RankSet<T> = self.set;
        let node = &set.nodes[n as usize];
        self.push_left(node.right);
        Some(&node.key)
    }
}

impl<'a, T: Ord + Copy> IntoIterator for &'a RankSet<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T: Ord + Copy + Serialize> Serialize for RankSet<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Ord + Copy + Deserialize<'de>> Deserialize<'de> for RankSet<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys: Vec<T> = Vec::deserialize(d)?;
        let mut set = RankSet::default();
        for k in keys {
            set.insert(k);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Against a B-tree set under a long deterministic mix of inserts and removes: same
    /// keys in the same order, same ranks, same ends.
    #[test]
    fn behaves_as_an_ordered_set_with_ranks() {
        let mut ours = RankSet::default();
        let mut model = BTreeSet::new();
        let mut x: u64 = 12345;
        for step in 0..20_000u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key = (x >> 33) % 500;
            if (x >> 20).is_multiple_of(3) {
                assert_eq!(ours.remove(&key), model.remove(&key), "step {step}");
            } else {
                assert_eq!(ours.insert(key), model.insert(key), "step {step}");
            }
            assert_eq!(ours.len(), model.len());
            let probe = (x >> 40) % 520;
            assert_eq!(
                ours.rank(&probe),
                model.range(..probe).count(),
                "step {step}"
            );
            assert_eq!(ours.last(), model.last());
            if step % 997 == 0 {
                assert!(ours.iter().eq(model.iter()));
            }
        }
        while let Some(&k) = model.iter().next() {
            model.remove(&k);
            assert!(ours.remove(&k));
        }
        assert!(ours.is_empty() && ours.iter().next().is_none());
    }

    #[test]
    fn saved_as_the_sorted_keys() {
        let mut s = RankSet::default();
        for k in [5u32, 1, 9, 3] {
            s.insert(k);
        }
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(json, "[1,3,5,9]");
        let back: RankSet<u32> = serde_json::from_str(&json).unwrap_or_default();
        assert!(back.iter().eq([1, 3, 5, 9].iter()));
    }
}
