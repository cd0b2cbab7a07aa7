//! Whole-codec tests: exact error messages per code, golden lines from docs/protocol.md,
//! properties (round trips, no panics, framing + decoding under any chunking).

mod errors;
mod golden;
mod props;
mod text;
mod v2;
