//! Connections that have not yet said `hello`. Anyone can open one, without a token, so
//! they must neither hold the platforms' session slots (300 trickling connections kept a
//! real platform waiting 9 s for `welcome`) nor wait in line ahead of a platform: they
//! get their own small set, and when it is full the **oldest** is closed to make room.
//! A platform says `hello` as soon as it is connected, so only a flood of connections
//! opened within those milliseconds could push it out; idle ones are pushed out first.
//! Each also has a short deadline.

use crate::registry::ConnId;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// The connections waiting for their `hello` (or for a session slot after it).
#[derive(Debug)]
pub struct PendingHellos {
    cap: usize,
    waiting: Mutex<VecDeque<(ConnId, CancellationToken)>>,
}

impl PendingHellos {
    #[must_use]
    pub fn new(cap: usize) -> PendingHellos {
        PendingHellos {
            cap: cap.max(1),
            waiting: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds `conn`; the token is cancelled if `conn` is pushed out by newer ones. Returns
    /// whether another was pushed out for it.
    pub fn admit(&self, conn: ConnId) -> (CancellationToken, bool) {
        let token = CancellationToken::new();
        let mut w = self.lock();
        let mut evicted = false;
        while w.len() >= self.cap {
            if let Some((_, old)) = w.pop_front() {
                old.cancel();
                evicted = true;
            }
        }
        w.push_back((conn, token.clone()));
        (token, evicted)
    }

    /// `conn` is done waiting (it said `hello` and has its slot, or it is closed).
    pub fn leave(&self, conn: ConnId) {
        let mut w = self.lock();
        if let Some(i) = w.iter().position(|(c, _)| *c == conn) {
            w.remove(i);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(ConnId, CancellationToken)>> {
        // A panic while holding it leaves a plain queue behind: still usable.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_pushed_out_when_full_and_leaving_frees_a_place() {
        let p = PendingHellos::new(2);
        let (a, _) = p.admit(1);
        let (b, _) = p.admit(2);
        p.leave(2);
        let (c, evicted) = p.admit(3);
        assert!(!evicted && !a.is_cancelled() && !b.is_cancelled());
        let (_, evicted) = p.admit(4);
        assert!(evicted && a.is_cancelled() && !c.is_cancelled());
    }
}
