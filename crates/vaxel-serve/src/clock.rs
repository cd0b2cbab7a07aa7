//! Which clock drives the engine (docs/protocol.md "Time").
//!
//! - `live` (default): the daemon stamps every input with its own clock (never earlier
//!   than the engine's time, so a wall-clock step backwards only holds time still); a
//!   message's `at` is only logged. Timers fire by themselves.
//! - `event`: every message's `at` is required and is the engine's time; `tick` advances
//!   it; an older `at` is refused (`time_went_backwards`). Timers fire only as `at`
//!   advances, which makes a scenario over TCP exactly reproducible. Inputs with no
//!   message (admin actions, a platform's grace period ending) are applied at the
//!   engine's current time.

use std::time::{SystemTime, UNIX_EPOCH};
use vaxel_core::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockMode {
    Live,
    Event,
}

/// The wall clock in engine time.
#[must_use]
pub fn wall_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

impl ClockMode {
    /// The time for an input that carries none (admin actions, timers, platform loss):
    /// the wall clock (live) or the engine's time (event); never before `engine_now`.
    #[must_use]
    pub fn now(self, engine_now: Timestamp) -> Timestamp {
        match self {
            ClockMode::Live => wall_now().max(engine_now),
            ClockMode::Event => engine_now,
        }
    }

    /// The time at which the engine starts a fresh epoch with no input yet.
    #[must_use]
    pub fn start_time(self) -> Timestamp {
        match self {
            ClockMode::Live => wall_now(),
            ClockMode::Event => Timestamp(0),
        }
    }
}
