//! Växel wire protocol, version 1 (PROTOCOL.md).
