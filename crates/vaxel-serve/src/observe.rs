//! The hook metrics hang on. The daemon calls an [`Observer`] at every point worth
//! counting; every method has a no-op default, so a metrics registry implements only what
//! it exports. Calls come from the engine task and the connection tasks, on the hot path:
//! an implementation must be cheap (atomics, no locks held across I/O, no allocation per
//! call where avoidable).

use std::fmt;
use std::time::Duration;
use vaxel_core::CallRecord;

/// What happened to a platform's session, for [`Observer::platform`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformEvent {
    /// `hello` accepted, `welcome` sent.
    Connected,
    /// The connection ended (the platform's calls enter their grace period).
    Disconnected,
    /// Closed because its outbound queue passed its bound (docs/protocol.md `slow_consumer`).
    SlowConsumer,
    /// The grace period ended (or the command buffer overflowed): its calls end as
    /// `platform_lost`.
    Lost,
    /// A `hello` was refused (`unauthorized`, `unsupported_protocol`, `resume_gone`, …)
    /// or something other than `hello` came first; the connection was closed.
    Rejected,
    /// A version 2 platform's unacknowledged commands passed `[platform] unacked_bytes`:
    /// it is lost (counted under `lost` too).
    UnackedOverflow,
}

impl PlatformEvent {
    /// A stable label for metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformEvent::Connected => "connected",
            PlatformEvent::Disconnected => "disconnected",
            PlatformEvent::SlowConsumer => "slow_consumer",
            PlatformEvent::Lost => "lost",
            PlatformEvent::Rejected => "rejected",
            PlatformEvent::UnackedOverflow => "unacked_overflow",
        }
    }
}

/// Receives the daemon's countable events. Labels handed over come from bounded sets
/// (input kinds, command kinds, error codes, platform ids from configuration-sized sets);
/// never a call id or a phone number.
pub trait Observer: Send + Sync + fmt::Debug + 'static {
    /// An input was handed to the engine. `kind` is [`vaxel_core::Input::kind`];
    /// `refused` the protocol error code when the engine refused it.
    fn input(&self, kind: &'static str, refused: Option<&'static str>) {
        let _ = (kind, refused);
    }

    /// An `error` line was sent to a platform (codec errors, refusals, `hello` refusals):
    /// `code` is the protocol's error code (docs/protocol.md).
    fn protocol_error(&self, code: &'static str) {
        let _ = code;
    }

    /// A call record was produced (once per call; it is durable when the batch's commit
    /// completes).
    fn record(&self, record: &CallRecord) {
        let _ = record;
    }

    /// A command was written to a platform's socket. `kind` is
    /// [`vaxel_core::Command::kind`].
    fn command(&self, kind: &'static str) {
        let _ = kind;
    }

    /// From reading the lines of a batch off a socket to writing the resulting commands
    /// to the platform: the daemon's decision latency (includes the group commit).
    fn decision_latency(&self, latency: Duration) {
        let _ = latency;
    }

    /// One group commit: `entries` journal entries (`bytes` bytes) made durable, with the
    /// time the fsyncs took.
    fn commit(&self, entries: usize, bytes: usize, fsync: Duration) {
        let _ = (entries, bytes, fsync);
    }

    /// A platform session changed.
    fn platform(&self, event: PlatformEvent) {
        let _ = event;
    }
}
