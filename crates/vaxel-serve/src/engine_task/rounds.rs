//! A round's outputs, its commit and its release: acks, commands and replies leave only
//! once the round is durable; checkpoints start new epochs between rounds.

use super::*;

impl EngineTask {
    pub(super) fn take_outputs(&mut self) {
        for o in self.outs.drain(..) {
            match o {
                Made::Command {
                    platform,
                    no,
                    command,
                } => self.round.releases.push(Release::Command {
                    platform,
                    no,
                    command,
                }),
                Made::Record(r) => {
                    self.observer.record(&r);
                    self.round.records.push(*r);
                }
                Made::Event(e) => self.round.events.push(*e),
            }
        }
    }

    // --------------------------------------------------------------------- commits

    /// Hands the round to the commit thread (maybe starting a new epoch after it).
    pub(super) async fn flush_round(&mut self) -> anyhow::Result<()> {
        self.unacked_overflow();
        if self.round.journal.is_empty()
            && self.round.records.is_empty()
            && self.round.events.is_empty()
            && self.round.releases.is_empty()
        {
            return Ok(());
        }
        let rotate = self.checkpoint_due(false);
        let round = std::mem::take(&mut self.round);
        if round.changed {
            self.version += 1;
            self.changes.send_replace(self.version);
            let next = self.last_publish + PUBLISH_EVERY;
            if tokio::time::Instant::now() >= next {
                self.publish();
            } else {
                self.publish_due.get_or_insert(next);
            }
        }
        let id = self.next_commit;
        self.next_commit += 1;
        let commit = Commit {
            id,
            journal: round.journal,
            entries: round.entries,
            records: round.records,
            events: round.events,
            tz: self.machine.engine.site().timezone.clone(),
            rotate,
        };
        self.pending.push_back(Pending {
            id,
            releases: round.releases,
            read_at: round.read_at,
        });
        self.commits
            .send(commit)
            .await
            .map_err(|_| anyhow::anyhow!("the commit thread stopped"))
    }

    /// A checkpoint is due when the epoch holds `every_inputs` inputs or began on an
    /// earlier local day (or at shutdown, `force`), whatever the engine is doing: the
    /// engine's state is saved as it is now, after the round's last input, and the commit
    /// thread writes it as the snapshot the next epoch starts from.
    pub(super) fn checkpoint_due(&mut self, force: bool) -> Option<Rotate> {
        let m = &self.machine;
        if m.inputs == 0 {
            return None;
        }
        if !force && m.inputs < self.checkpoint.every_inputs {
            let tz = &m.engine.site().timezone;
            let day = |t: Timestamp| tz.to_datetime(t.to_jiff()).date();
            if day(m.engine.now()) == day(m.epoch_start) {
                return None;
            }
        }
        Some(Rotate {
            checkpoint: Box::new(self.machine.checkpoint()),
        })
    }

    /// At shutdown: a last checkpoint, so that the next start replays nothing.
    pub(super) async fn shutdown_checkpoint(&mut self) -> anyhow::Result<()> {
        let Some(rotate) = self.checkpoint_due(true) else {
            return Ok(());
        };
        let id = self.next_commit;
        self.next_commit += 1;
        self.pending.push_back(Pending {
            id,
            releases: Vec::new(),
            read_at: None,
        });
        let commit = Commit {
            id,
            journal: Vec::new(),
            entries: 0,
            records: Vec::new(),
            events: Vec::new(),
            tz: self.machine.engine.site().timezone.clone(),
            rotate: Some(rotate),
        };
        self.commits
            .send(commit)
            .await
            .map_err(|_| anyhow::anyhow!("the commit thread stopped"))
    }

    pub(super) fn release_upto(&mut self, id: u64) {
        while self.pending.front().is_some_and(|p| p.id <= id) {
            if let Some(p) = self.pending.pop_front() {
                self.release(p);
            }
        }
    }

    pub(super) fn release(&mut self, p: Pending) {
        let now = tokio::time::Instant::now();
        let mut per_conn: Vec<(ConnId, Vec<ServerMessage>)> = Vec::new();
        let mut push = |conn: ConnId, msg: ServerMessage| match per_conn
            .iter_mut()
            .find(|(c, _)| *c == conn)
        {
            Some((_, v)) => v.push(msg),
            None => per_conn.push((conn, vec![msg])),
        };
        let mut overflowed = Vec::new();
        for rel in p.releases {
            match rel {
                Release::Reply { conn, msg } => {
                    if self.conns.contains_key(&conn) {
                        push(conn, msg);
                    }
                }
                Release::Command {
                    platform,
                    no,
                    command,
                } => {
                    self.machine.outbox.released(&platform, no);
                    match self.registry.route(&platform, (no, command), now) {
                        (Route::Send(conn), Some((no, cmd))) => {
                            push(conn, ServerMessage::Numbered { no, cmd });
                        }
                        (Route::Overflow, _) => overflowed.push(platform),
                        (Route::Dropped, Some((_, cmd))) => tracing::warn!(
                            platform = %platform, kind = cmd.kind(), call = %cmd.call(),
                            "dropped a command for a lost platform"
                        ),
                        _ => {}
                    }
                }
                Release::Apply(tx, r) => {
                    let _ = tx.send(r);
                }
                Release::Reload(tx, r) => {
                    let _ = tx.send(r);
                }
            }
        }
        for (conn, msgs) in per_conn {
            self.send(conn, msgs, p.read_at);
        }
        for platform in overflowed {
            self.buffer_overflow(platform);
        }
    }

    pub(super) fn buffer_overflow(&mut self, platform: Text) {
        let dropped = self.registry.lose(&platform);
        tracing::warn!(platform = %platform, dropped, "command buffer of a disconnected platform overflowed: declaring it lost");
        self.platform_lost(platform);
    }

    /// Queues lines on a connection; a full queue closes it (`slow_consumer`) and keeps
    /// its commands for the platform.
    pub(super) fn send(
        &mut self,
        conn: ConnId,
        msgs: Vec<ServerMessage>,
        read_at: Option<Instant>,
    ) {
        self.queue(conn, msgs, read_at, true);
    }

    /// Queues `msgs` for `conn`, counted in its bytes or not (`counted`); a connection
    /// past its bound is closed as a slow consumer, once, and what it did not get is held
    /// for the platform's return.
    pub(super) fn queue(
        &mut self,
        conn: ConnId,
        msgs: Vec<ServerMessage>,
        read_at: Option<Instant>,
        counted: bool,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // What a platform gets at its `hello` (the commands held for it) is bounded by
        // the registry already; it must not count against the connection's bound, or a
        // platform back from a long absence would be dropped again at once.
        let n = if counted {
            platform::queued_bytes(&msgs)
        } else {
            0
        };
        let ob = Outbound {
            msgs,
            read_at,
            bytes: n,
        };
        let failed = if c.slow {
            ob
        } else {
            // A batch larger than the bound still goes to a connection that has read
            // everything before it.
            let queued = c.out.bytes.load(Ordering::Relaxed);
            let over = queued > 0 && queued + n > self.outbound_bytes;
            let r = if over {
                Err(mpsc::error::TrySendError::Full(ob))
            } else {
                c.out.bytes.fetch_add(n, Ordering::Relaxed);
                c.out.tx.try_send(ob).inspect_err(|_| {
                    c.out.bytes.fetch_sub(n, Ordering::Relaxed);
                })
            };
            match r {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(ob)) => {
                    tracing::warn!(
                        platform = %c.platform,
                        conn,
                        queued_bytes = queued,
                        "slow_consumer: the platform does not read what is sent to it; \
                         closing the connection (its commands are held for its return)"
                    );
                    self.observer.platform(PlatformEvent::SlowConsumer);
                    c.slow = true;
                    c.kill.cancel();
                    ob
                }
                Err(mpsc::error::TrySendError::Closed(ob)) => ob,
            }
        };
        let platform = c.platform.clone();
        self.registry
            .connection_lost(&platform, conn, tokio::time::Instant::now());
        let cmds: Vec<(u64, Command)> = failed
            .msgs
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::Numbered { no, cmd } => Some((no, cmd)),
                _ => None,
            })
            .collect();
        if self.registry.hold(&platform, cmds) {
            self.buffer_overflow(platform);
        }
    }
}
