//! Växel's routing engine: a sans-IO, deterministic state machine.
//!
//! Inputs ([`Input`]) go in with the current [`Timestamp`] through [`Engine::handle`];
//! timers fire through [`Engine::handle_timeout`]; commands and call records are drained
//! with [`Engine::poll_output`]; [`Engine::poll_timeout`] says when to call back. The engine
//! reads no clock, opens no socket, spawns no thread and holds no lock: the daemon and the
//! replay driver run the very same code. See ARCHITECTURE.md.

pub mod calendar;
mod engine;
mod error;
pub mod event;
pub mod holidays;
pub mod input;
pub mod keyed_heap;
pub mod output;
pub mod route;
pub mod site;
pub mod snapshot;
pub mod time;

pub use engine::{Engine, EngineState};
pub use error::EngineError;
pub use event::{EndedBy, Event, EventKind};
pub use input::{CallId, Input};
pub use output::{
    Announced, CALLBACK_ACCEPTED_PROMPT, CallRecord, CallbackNote, Command, Outcome, Output,
    RecordGroups,
};
pub use time::Timestamp;
