//! Växel wire protocol, versions 1 and 2 (docs/protocol.md).
//!
//! Bytes in, typed messages out, and back; no sockets, no tasks, no clock.
//!
//! - [`Framer`]: incremental line framing with the 64 KiB limit and line numbers.
//! - [`decode_platform`] / [`encode_platform`]: `hello` and the platform's events
//!   ([`PlatformMessage`]: an envelope of `seq`, `at`, `attrs` around the engine's own
//!   [`Input`](vaxel_core::Input)); the daemon decodes, the load generator encodes.
//! - [`input_from_text`]: the same inputs from `key=value` text (the scenario scripts).
//! - [`flat`]: an input as one flat JSON object, shared with the daemon's journal.
//! - [`encode_server`] / [`encode_command`] / [`decode_server`]: `welcome`, `ok`, `error`
//!   and the engine's [`Command`](vaxel_core::Command)s ([`ServerMessage`]).
//! - [`ErrorCode`] / [`ProtoError`]: docs/protocol.md's error codes and the exact messages.
//!
//! Encoders write into any [`bytes::BufMut`] (a `Vec<u8>`, a `BytesMut`), one line each
//! with its `\n`: inputs through their serde derive, the daemon's messages by hand.
//! Decoders read a line in one pass, borrowing strings from it, then hand its fields to
//! the types' serde derive with the protocol's checks and error messages. Nothing here
//! panics on any input.

mod command;
mod de;
mod error;
mod event;
pub mod flat;
mod frame;
mod json;

pub use command::{ServerMessage, decode_server, encode_command, encode_numbered, encode_server};
pub use error::{ErrorCode, ProtoError, ProtoErrorKind};
pub use event::{
    ACK, ACTION_CALL, Attrs, EVENTS, Event, Hello, MAX_ID, MAX_TEXT, PlatformMessage,
    decode_action, decode_platform, decode_platform_str, encode_platform, input_from_text,
};
pub use frame::{FrameError, Framer, Line, MAX_LINE};

/// The protocol's first version (`hello`'s and `welcome`'s `protocol`): no command
/// numbers, no acknowledgements. Still spoken, unchanged.
pub const PROTOCOL_VERSION: u64 = 1;

/// Version 2 (docs/protocol.md "Version 2"): commands carry `cmd_no`, the platform
/// acknowledges what it processed (`ack`), and a `hello` with `last_cmd` resumes.
pub const PROTOCOL_V2: u64 = 2;

/// `welcome`'s `server`: `vaxel/` and the workspace version.
pub const SERVER: &str = concat!("vaxel/", env!("CARGO_PKG_VERSION"));

#[cfg(test)]
mod tests;
