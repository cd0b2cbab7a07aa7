//! Platform sessions: which connection speaks for each platform id, and the commands kept
//! for a platform while it has none (docs/protocol.md "Session").
//!
//! A platform's connection can end three ways: it closes (or breaks), it is closed as a
//! slow consumer, or the same platform id says `hello` on a new connection (takeover).
//! In every case the old connection hands back the commands it had not written yet; they
//! go first in the buffer, before any command produced since. The buffer is delivered,
//! in order, after `welcome` when the platform comes back within the grace period, once
//! every old connection of the platform has handed its commands back. When the grace
//! period ends, or the buffer passes `buffer_commands`, the platform is lost: the engine
//! ends its calls (`platform_lost`) and commands still produced for it are dropped with a
//! warning (its calls are over).
//!
//! A platform whose session speaks protocol version 2 needs no buffer here: the
//! [`Outbox`](crate::outbox::Outbox) keeps every command it has not acknowledged, and its
//! `hello` gets them back from there, so its commands go straight to its newest connection
//! (or nowhere while it has none) and an old connection's unwritten commands are dropped
//! (they are kept in the outbox).
//!
//! Owned by the engine task; plain data, no I/O. Its instants are tokio's, so that a test
//! on tokio's paused clock moves the grace period on with the clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;
use vaxel_core::Command;
use vaxel_core::site::Text;

/// A connection's id, unique for the daemon's life.
pub type ConnId = u64;

#[derive(Debug, Default)]
struct Session {
    /// The connection speaking for the platform now.
    conn: Option<ConnId>,
    /// Old connections told to close whose unwritten commands are still to come back.
    draining: Vec<ConnId>,
    /// Commands held for the platform (version 1), oldest first, with their numbers.
    buffer: VecDeque<(u64, Command)>,
    /// The session speaks version 2 (its commands are kept by the outbox).
    v2: bool,
    /// End of the grace period while there is no connection.
    deadline: Option<Instant>,
    /// Given up on: its calls ended as `platform_lost`.
    lost: bool,
}

/// What `hello` changes.
#[derive(Debug)]
pub struct HelloOutcome {
    /// The platform's previous connection, now superseded: close it.
    pub replaced: Option<ConnId>,
    /// Held commands to send after `welcome` (version 1).
    pub flush: Vec<(u64, Command)>,
    /// Commands held for an earlier version 1 session not delivered to this version 2
    /// one (their numbers precede where it resumes): counted for the log.
    pub dropped: usize,
}

/// Where a command goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Write it to this connection.
    Send(ConnId),
    /// Held for the platform.
    Held,
    /// Held, and the buffer is now over its bound: declare the platform lost.
    Overflow,
    /// Version 2 without a connection: the outbox keeps it for the next `hello`.
    Kept,
    /// The platform was lost: dropped.
    Dropped,
}

/// Every platform session.
#[derive(Debug)]
pub struct Registry {
    sessions: BTreeMap<Text, Session>,
    grace: Duration,
    limit: usize,
}

impl Registry {
    #[must_use]
    pub fn new(grace: Duration, limit: usize) -> Registry {
        Registry {
            sessions: BTreeMap::new(),
            grace,
            limit: limit.max(1),
        }
    }

    /// New `[platform]` settings (after a reload).
    pub fn set_policy(&mut self, grace: Duration, limit: usize) {
        self.grace = grace;
        self.limit = limit.max(1);
    }

    /// After a restart: platforms owning calls start disconnected, their grace period
    /// running from now; `v2` tells those whose commands the outbox keeps.
    pub fn restore(&mut self, platforms: Vec<(Text, bool)>, now: Instant) {
        for (p, v2) in platforms {
            self.sessions.insert(
                p,
                Session {
                    deadline: Some(now + self.grace),
                    v2,
                    ..Session::default()
                },
            );
        }
    }

    /// `platform` said `hello` on `conn`, with protocol version 2 or not.
    pub fn hello(&mut self, platform: &Text, conn: ConnId, v2: bool) -> HelloOutcome {
        let s = self.sessions.entry(platform.clone()).or_default();
        if s.lost {
            *s = Session::default();
        }
        let replaced = s.conn.replace(conn);
        if let Some(old) = replaced {
            s.draining.push(old);
        }
        s.deadline = None;
        s.v2 = v2;
        let mut dropped = 0;
        let flush = if v2 {
            dropped = s.buffer.len();
            s.buffer.clear();
            Vec::new()
        } else if s.draining.is_empty() {
            s.buffer.drain(..).collect()
        } else {
            Vec::new()
        };
        HelloOutcome {
            replaced,
            flush,
            dropped,
        }
    }

    /// Routes one command for `platform`.
    pub fn route(
        &mut self,
        platform: &Text,
        cmd: (u64, Command),
        now: Instant,
    ) -> (Route, Option<(u64, Command)>) {
        let grace = self.grace;
        let s = self
            .sessions
            .entry(platform.clone())
            .or_insert_with(|| Session {
                deadline: Some(now + grace),
                ..Session::default()
            });
        if s.lost {
            return (Route::Dropped, Some(cmd));
        }
        if let Some(conn) = s.conn
            && (s.v2 || (s.draining.is_empty() && s.buffer.is_empty()))
        {
            // Version 2: what the old connections did not write was re-sent from the
            // outbox at `hello`, ahead of this.
            return (Route::Send(conn), Some(cmd));
        }
        if s.v2 {
            return (Route::Kept, None);
        }
        s.buffer.push_back(cmd);
        if s.buffer.len() > self.limit {
            (Route::Overflow, None)
        } else {
            (Route::Held, None)
        }
    }

    /// Holds commands that could not be written to `conn` (a failed send), after what
    /// is already held. Returns whether the buffer passed its bound.
    pub fn hold(&mut self, platform: &Text, cmds: Vec<(u64, Command)>) -> bool {
        let Some(s) = self.sessions.get_mut(platform) else {
            return false;
        };
        if s.lost || s.v2 {
            return false;
        }
        s.buffer.extend(cmds);
        s.buffer.len() > self.limit
    }

    /// `conn` can no longer be written to (slow consumer, or its task is gone): it is
    /// draining, the grace period starts.
    pub fn connection_lost(&mut self, platform: &Text, conn: ConnId, now: Instant) {
        if let Some(s) = self.sessions.get_mut(platform)
            && s.conn == Some(conn)
        {
            s.conn = None;
            s.draining.push(conn);
            s.deadline = Some(now + self.grace);
        }
    }

    /// `conn` ended, handing back the commands it had not written. Returns the commands to
    /// send now to the platform's current connection, if the platform came back meanwhile
    /// and nothing else is outstanding.
    pub fn closed(
        &mut self,
        platform: &Text,
        conn: ConnId,
        undelivered: Vec<(u64, Command)>,
        now: Instant,
    ) -> Option<(ConnId, Vec<(u64, Command)>)> {
        let grace = self.grace;
        let s = self.sessions.get_mut(platform)?;
        if s.conn == Some(conn) {
            s.conn = None;
            s.deadline = Some(now + grace);
        }
        s.draining.retain(|&c| c != conn);
        if s.lost || s.v2 {
            return None;
        }
        for cmd in undelivered.into_iter().rev() {
            s.buffer.push_front(cmd);
        }
        match s.conn {
            Some(c) if s.draining.is_empty() && !s.buffer.is_empty() => {
                Some((c, s.buffer.drain(..).collect()))
            }
            _ => None,
        }
    }

    /// Platforms whose grace period is over (now lost), with the number of held commands
    /// dropped.
    pub fn expired(&mut self, now: Instant) -> Vec<(Text, usize)> {
        let mut out = Vec::new();
        for (p, s) in &mut self.sessions {
            if !s.lost && s.conn.is_none() && s.deadline.is_some_and(|d| d <= now) {
                out.push((p.clone(), s.buffer.len()));
                s.lost = true;
                s.buffer.clear();
                s.deadline = None;
            }
        }
        out
    }

    /// Declares `platform` lost now (buffer overflow); returns the commands dropped.
    pub fn lose(&mut self, platform: &Text) -> usize {
        let Some(s) = self.sessions.get_mut(platform) else {
            return 0;
        };
        let n = s.buffer.len();
        s.lost = true;
        s.buffer.clear();
        s.deadline = None;
        n
    }

    /// The earliest grace period end.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter(|s| !s.lost && s.conn.is_none())
            .filter_map(|s| s.deadline)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(call: &str) -> (u64, Command) {
        (
            u64::from(call.as_bytes()[0]),
            Command::Hangup {
                call: call.into(),
                prompt: None,
            },
        )
    }

    #[test]
    fn held_commands_come_back_in_order_after_a_takeover() {
        let now = Instant::now();
        let mut r = Registry::new(Duration::from_secs(30), 10);
        let p: Text = "pbx-1".into();
        assert!(r.hello(&p, 1, false).flush.is_empty());
        assert_eq!(r.route(&p, play("a"), now).0, Route::Send(1));
        // The platform reconnects before its old connection handed anything back.
        let h = r.hello(&p, 2, false);
        assert_eq!(h.replaced, Some(1));
        assert_eq!(r.route(&p, play("c"), now).0, Route::Held);
        // The old connection had not written "b".
        let (conn, cmds) = r
            .closed(&p, 1, vec![play("b")], now)
            .unwrap_or((0, Vec::new()));
        assert_eq!(conn, 2);
        assert_eq!(cmds, vec![play("b"), play("c")]);
        assert_eq!(r.route(&p, play("d"), now).0, Route::Send(2));
    }

    #[test]
    fn grace_and_overflow_lose_the_platform() {
        let now = Instant::now();
        let mut r = Registry::new(Duration::from_millis(10), 2);
        let p: Text = "pbx-1".into();
        r.hello(&p, 1, false);
        assert!(r.closed(&p, 1, Vec::new(), now).is_none());
        assert_eq!(r.route(&p, play("a"), now).0, Route::Held);
        assert_eq!(r.route(&p, play("b"), now).0, Route::Held);
        assert_eq!(r.route(&p, play("c"), now).0, Route::Overflow);
        assert_eq!(r.lose(&p), 3);
        assert_eq!(r.route(&p, play("d"), now).0, Route::Dropped);
        let q: Text = "pbx-2".into();
        r.hello(&q, 2, false);
        r.closed(&q, 2, Vec::new(), now);
        assert!(r.expired(now).is_empty());
        let later = now + Duration::from_millis(11);
        assert_eq!(r.expired(later), vec![(q.clone(), 0)]);
        assert!(r.hello(&q, 3, false).flush.is_empty());
    }

    #[test]
    fn a_version_2_session_holds_nothing_and_never_waits_for_old_connections() {
        let now = Instant::now();
        let mut r = Registry::new(Duration::from_secs(30), 10);
        let p: Text = "pbx-1".into();
        r.hello(&p, 1, true);
        assert_eq!(r.route(&p, play("a"), now).0, Route::Send(1));
        r.connection_lost(&p, 1, now);
        assert_eq!(r.route(&p, play("b"), now).0, Route::Kept);
        let h = r.hello(&p, 2, true);
        assert!(h.flush.is_empty());
        // Connection 1 has not handed back its unwritten commands: no matter.
        assert_eq!(r.route(&p, play("c"), now).0, Route::Send(2));
        assert!(r.closed(&p, 1, vec![play("a")], now).is_none());
    }
}
