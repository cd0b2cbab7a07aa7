//! Error codes (docs/protocol.md "Error codes") and the codec's own errors.

use std::fmt;
use vaxel_core::EngineError;

/// An error code as sent in `{"cmd":"error","code":…}`.
///
/// These are exactly docs/protocol.md's codes: version 2 adds `resume_gone`, cluster mode
/// `not_active` (only from a standby); a message before `hello` is answered
/// `unauthorized`, a second `hello` `invalid_state` (see docs/protocol.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// Not JSON, not a JSON object, or not UTF-8.
    BadJson,
    /// A line over [`MAX_LINE`](crate::MAX_LINE) bytes.
    LineTooLong,
    /// `ev` names no event of the protocol.
    UnknownEvent,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong type or an invalid value.
    BadField,
    /// The engine knows no such call (or callback).
    UnknownCall,
    /// `call.arrived` for a call id that is already in use.
    DuplicateCall,
    /// The engine knows no such agent.
    UnknownAgent,
    /// The dialed number matches no entry.
    UnknownEntry,
    /// The event does not fit the call's or agent's state.
    InvalidState,
    /// `at` is before the engine's time (event clock).
    TimeWentBackwards,
    /// Bad token, or a message before `hello`.
    Unauthorized,
    /// `hello` asked for a protocol version the server does not speak.
    UnsupportedProtocol,
    /// Version 2: `hello`'s `last_cmd` names commands the daemon no longer keeps.
    ResumeGone,
    /// `hello` reached a standby node of cluster mode: the message names the active.
    NotActive,
}

impl ErrorCode {
    /// Every code, in docs/protocol.md's order.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::BadJson,
        ErrorCode::LineTooLong,
        ErrorCode::UnknownEvent,
        ErrorCode::MissingField,
        ErrorCode::BadField,
        ErrorCode::UnknownCall,
        ErrorCode::DuplicateCall,
        ErrorCode::UnknownAgent,
        ErrorCode::UnknownEntry,
        ErrorCode::InvalidState,
        ErrorCode::TimeWentBackwards,
        ErrorCode::Unauthorized,
        ErrorCode::UnsupportedProtocol,
        ErrorCode::ResumeGone,
        ErrorCode::NotActive,
    ];

    /// The wire spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::LineTooLong => "line_too_long",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::BadField => "bad_field",
            ErrorCode::UnknownCall => "unknown_call",
            ErrorCode::DuplicateCall => "duplicate_call",
            ErrorCode::UnknownAgent => "unknown_agent",
            ErrorCode::UnknownEntry => "unknown_entry",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::TimeWentBackwards => "time_went_backwards",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::ResumeGone => "resume_gone",
            ErrorCode::NotActive => "not_active",
        }
    }

    /// Parses the wire spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&EngineError> for ErrorCode {
    /// Maps by [`EngineError::code`], so a variant added to the engine maps by its code;
    /// a code this crate does not know (none today) becomes `invalid_state`.
    fn from(e: &EngineError) -> ErrorCode {
        ErrorCode::parse(e.code()).unwrap_or(ErrorCode::InvalidState)
    }
}

/// What is wrong with a line or a message. `Display` is the `message` sent to the platform:
/// lowercase, specific, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoErrorKind {
    /// The line is not valid JSON (`column` counts bytes from 1).
    #[error("invalid JSON at column {column}: {reason}")]
    InvalidJson { column: usize, reason: String },
    /// The line is not UTF-8; `at` is the offset of the first bad byte (the message counts
    /// columns from 1, as for JSON errors).
    #[error("invalid UTF-8 at column {}", .at + 1)]
    InvalidUtf8 { at: usize },
    /// Valid JSON, but not an object.
    #[error("expected a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("line longer than {max} bytes")]
    LineTooLong { max: usize },
    /// `ev` is a string naming no event (shortened to 64 characters).
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    /// `cmd` is a string naming no command (when decoding the daemon's side).
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A required field is absent; `kind` is the event or command that requires it
    /// (`None` for `ev`/`cmd` themselves).
    #[error("missing field `{field}`{}", for_kind(*.kind))]
    MissingField {
        field: &'static str,
        kind: Option<&'static str>,
    },
    /// The server runs on the event clock and the message has no `at`.
    #[error("missing field `at`: the server runs on the event clock")]
    AtRequired,
    #[error("bad field `{field}`: {reason}")]
    BadField { field: &'static str, reason: String },
    /// A message other than `hello` came first.
    #[error("expected `hello` before any other message")]
    HelloFirst,
    /// `hello`'s token is missing or not accepted.
    #[error("unknown platform token")]
    BadToken,
    /// Version 2: `hello`'s `last_cmd` is past the last command the daemon sent the
    /// platform.
    #[error("bad field `last_cmd`: {got} is past the last command sent to this platform ({last})")]
    ResumeAhead { got: u64, last: u64 },
    /// Version 2: `hello`'s `last_cmd` is before commands the daemon no longer keeps (the
    /// platform acknowledged them, or was declared lost).
    #[error(
        "bad field `last_cmd`: commands after {got} up to {kept_from} are no longer kept \
         (acknowledged, or the platform was lost); say `hello` without `last_cmd` to start \
         after {kept_from}"
    )]
    ResumeGone { got: u64, kept_from: u64 },
    /// Version 2: `ack`'s `upto` is past the last command sent.
    #[error("bad field `upto`: {got} is past the last command sent to this platform ({last})")]
    AckAhead { got: u64, last: u64 },
    /// `ack` on a version 1 session.
    #[error("`ack` needs protocol version 2 (this session said `hello` with version 1)")]
    AckNeedsV2,
    /// `hello` a second time on the same connection.
    #[error("`hello` already received on this connection")]
    DuplicateHello,
    #[error(
        "unsupported protocol version {got}; this server speaks versions {} and {}",
        crate::PROTOCOL_VERSION,
        crate::PROTOCOL_V2
    )]
    UnsupportedProtocol { got: u64 },
    /// `hello` reached a standby of cluster mode; `active` says where the active node
    /// listens (or that none is known yet).
    #[error("this node is a standby: {active}")]
    NotActive { active: String },
}

/// At most 64 characters of a name quoted back in an error.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn for_kind(kind: Option<&'static str>) -> String {
    kind.map(|k| format!(" for {k}")).unwrap_or_default()
}

impl ProtoErrorKind {
    /// The protocol's code (docs/protocol.md "Error codes").
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtoErrorKind::InvalidJson { .. }
            | ProtoErrorKind::InvalidUtf8 { .. }
            | ProtoErrorKind::NotAnObject { .. } => ErrorCode::BadJson,
            ProtoErrorKind::LineTooLong { .. } => ErrorCode::LineTooLong,
            ProtoErrorKind::UnknownEvent(_) | ProtoErrorKind::UnknownCommand(_) => {
                ErrorCode::UnknownEvent
            }
            ProtoErrorKind::MissingField { .. } | ProtoErrorKind::AtRequired => {
                ErrorCode::MissingField
            }
            ProtoErrorKind::BadField { .. } => ErrorCode::BadField,
            ProtoErrorKind::HelloFirst | ProtoErrorKind::BadToken => ErrorCode::Unauthorized,
            ProtoErrorKind::DuplicateHello | ProtoErrorKind::AckNeedsV2 => ErrorCode::InvalidState,
            ProtoErrorKind::ResumeAhead { .. } | ProtoErrorKind::AckAhead { .. } => {
                ErrorCode::BadField
            }
            ProtoErrorKind::ResumeGone { .. } => ErrorCode::ResumeGone,
            ProtoErrorKind::UnsupportedProtocol { .. } => ErrorCode::UnsupportedProtocol,
            ProtoErrorKind::NotActive { .. } => ErrorCode::NotActive,
        }
    }
}

/// A line or message the codec refused, with the message's `seq` when it could be read
/// (even from a line that is otherwise broken), so the answer can carry it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ProtoError {
    /// The refused message's `seq`, if it had a valid one.
    pub seq: Option<u64>,
    pub kind: ProtoErrorKind,
}

impl ProtoError {
    /// An error without a `seq`.
    #[must_use]
    pub fn new(kind: ProtoErrorKind) -> ProtoError {
        ProtoError { seq: None, kind }
    }

    /// The protocol's code (docs/protocol.md "Error codes").
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }
}

impl From<ProtoErrorKind> for ProtoError {
    fn from(kind: ProtoErrorKind) -> ProtoError {
        ProtoError::new(kind)
    }
}
