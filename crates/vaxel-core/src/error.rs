//! Why the engine refused an input. Every refusal leaves the state exactly as it was.

use crate::time::Timestamp;

/// A refused input; [`code`](EngineError::code) is the protocol's error code (docs/protocol.md).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("unknown call \"{0}\"")]
    UnknownCall(String),
    #[error("call \"{0}\" already exists")]
    DuplicateCall(String),
    #[error("unknown agent \"{0}\"")]
    UnknownAgent(String),
    #[error("no entry for dialed number \"{0}\"")]
    UnknownEntry(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("bad field `{field}`: {reason}")]
    BadField { field: &'static str, reason: String },
    #[error("time went backwards: {at} is before the engine's time {now}")]
    TimeWentBackwards { at: Timestamp, now: Timestamp },
    #[error("reload refused: {}", .0.join("; "))]
    ReloadRefused(Vec<String>),
}

impl EngineError {
    /// The protocol's error code (docs/protocol.md).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::UnknownCall(_) => "unknown_call",
            EngineError::DuplicateCall(_) => "duplicate_call",
            EngineError::UnknownAgent(_) => "unknown_agent",
            EngineError::UnknownEntry(_) => "unknown_entry",
            EngineError::InvalidState(_) | EngineError::ReloadRefused(_) => "invalid_state",
            EngineError::BadField { .. } => "bad_field",
            EngineError::TimeWentBackwards { .. } => "time_went_backwards",
        }
    }
}
