//! Platform sessions in the engine task: `hello` (both protocol versions, with version 2's
//! resume), version 2 acknowledgements, and the bound on unacknowledged commands
//! (docs/protocol.md "Version 2", docs/operations.md "Platform sessions").

use super::{Conn, EngineTask, OutQueue};
use crate::journal::Entry;
use crate::observe::PlatformEvent;
use crate::registry::ConnId;
use tokio_util::sync::CancellationToken;
use vaxel_core::Command;
use vaxel_core::site::Text;
use vaxel_proto::{ProtoError, ProtoErrorKind, ServerMessage};

/// A `hello` the engine task is asked to set up.
pub(super) struct Hello {
    pub(super) conn: ConnId,
    pub(super) platform: Text,
    pub(super) protocol: u64,
    pub(super) last_cmd: Option<u64>,
    pub(super) seq: Option<u64>,
}

/// Commands as sent: every command carries its number; the writer leaves it out for a
/// version 1 session.
pub(super) fn numbered(cmds: impl IntoIterator<Item = (u64, Command)>) -> Vec<ServerMessage> {
    cmds.into_iter()
        .map(|(no, cmd)| ServerMessage::Numbered { no, cmd })
        .collect()
}

impl EngineTask {
    /// Sets up `hello`'s session: the previous connection of the platform is closed at
    /// once; a version 2 session gets `welcome` with where it resumes and the commands
    /// after that point; a version 1 session the commands held for it. Returns the error
    /// to send instead when a version 2 `last_cmd` cannot be resumed from.
    pub(super) fn on_hello(
        &mut self,
        h: Hello,
        out: OutQueue,
        kill: CancellationToken,
    ) -> Option<ServerMessage> {
        let Hello {
            conn,
            platform,
            protocol,
            last_cmd,
            seq,
        } = h;
        let v2 = protocol >= vaxel_proto::PROTOCOL_V2;
        let mut msgs = Vec::new();
        if v2 {
            let point = match self.machine.outbox.resume_point(&platform, last_cmd) {
                Ok(p) => p,
                Err(kind) => {
                    let e = ProtoError { seq, kind };
                    tracing::info!(platform = %platform, conn, error = %e, "hello refused: cannot resume");
                    // Counted (protocol error, rejected) where the refusal is written.
                    return Some(ServerMessage::proto_error(&e, None));
                }
            };
            let resend = self.machine.outbox.resend(&platform, point);
            tracing::info!(platform = %platform, conn, last_cmd = point, resent = resend.len(), "version 2 session: resuming");
            msgs.push(ServerMessage::WelcomeV2 {
                server: vaxel_proto::SERVER.to_owned(),
                last_cmd: point,
            });
            msgs.extend(numbered(resend));
            self.session_entry(&platform, protocol, last_cmd);
        } else {
            msgs.push(ServerMessage::welcome());
            if self.machine.outbox.keeps(&platform) {
                let point = self
                    .machine
                    .outbox
                    .resume_point(&platform, None)
                    .unwrap_or(0);
                let dropped = self.machine.outbox.resend(&platform, point).len();
                if dropped > 0 {
                    tracing::warn!(platform = %platform, dropped, "a version 1 hello for a platform that spoke version 2: its unacknowledged commands are dropped (version 1 cannot resume)");
                }
                self.session_entry(&platform, protocol, None);
            }
        }
        let h = self.registry.hello(&platform, conn, v2);
        if let Some(old) = h.replaced
            && let Some(c) = self.conns.get(&old)
        {
            tracing::info!(platform = %platform, old, conn, "platform reconnected: closing its previous connection");
            c.kill.cancel();
        }
        if h.dropped > 0 {
            tracing::warn!(platform = %platform, dropped = h.dropped, "commands held for the platform's version 1 session are not delivered to its version 2 session (they carry no number it could resume from)");
        }
        tracing::info!(platform = %platform, conn, protocol, held = h.flush.len(), "platform connected");
        self.observer.platform(PlatformEvent::Connected);
        self.conns.insert(
            conn,
            Conn {
                platform,
                out,
                kill,
                slow: false,
            },
        );
        msgs.extend(numbered(h.flush));
        self.queue(conn, msgs, None, false);
        None
    }

    /// Journals and applies a `session` entry (a `hello` that changes what is kept).
    fn session_entry(&mut self, platform: &Text, protocol: u64, last_cmd: Option<u64>) {
        let at = self.machine.engine.now();
        self.journal_control(&Entry::Session {
            at,
            platform: platform.clone(),
            protocol,
            last_cmd,
        });
        self.machine.session(platform, protocol, last_cmd);
    }

    /// A version 2 `ack`: refused past the last command sent; journaled and applied when
    /// it drops kept commands.
    pub(super) fn on_ack(&mut self, platform: &Text, upto: u64) -> Result<(), ProtoErrorKind> {
        let last = self.machine.outbox.last_released(platform);
        if upto > last {
            return Err(ProtoErrorKind::AckAhead { got: upto, last });
        }
        if self.machine.outbox.acks_anything(platform, upto) {
            let at = self.machine.engine.now();
            self.journal_control(&Entry::Ack {
                at,
                platform: platform.clone(),
                upto,
            });
            self.machine.ack(platform, upto);
        }
        Ok(())
    }

    /// Journals a `session` or `ack` entry: the outbox changes, the engine does not.
    fn journal_control(&mut self, e: &Entry) {
        e.encode(&mut self.round.journal);
        self.round.entries += 1;
    }

    /// Version 2 platforms whose unacknowledged commands passed `[platform]
    /// unacked_bytes`: lost (their calls end `platform_lost`, their connection is
    /// closed), loudly. Memory stays bounded whatever a platform does not acknowledge.
    pub(super) fn unacked_overflow(&mut self) {
        for platform in self.machine.outbox.take_grown() {
            let bytes = self.machine.outbox.bytes(&platform);
            if bytes <= self.unacked_bytes {
                continue;
            }
            tracing::warn!(
                platform = %platform, bytes, limit = self.unacked_bytes,
                "unacked_overflow: the platform does not acknowledge its commands \
                 ([platform] unacked_bytes passed): declaring it lost, its calls end \
                 platform_lost"
            );
            self.observer.platform(PlatformEvent::UnackedOverflow);
            let conns: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.platform == platform)
                .map(|(id, _)| *id)
                .collect();
            for id in conns {
                if let Some(c) = self.conns.get(&id) {
                    c.kill.cancel();
                }
                self.registry
                    .connection_lost(&platform, id, tokio::time::Instant::now());
            }
            self.registry.lose(&platform);
            self.platform_lost(platform);
        }
    }
}
