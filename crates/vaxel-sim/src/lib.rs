//! Växel in simulated time (docs/formats.md): the files a replay reads and writes, the replay
//! report, the Erlang formulas planners check it against, and a generator of realistic
//! traces and rosters.
//!
//! Code map:
//! - [`timefmt`]: timestamp and duration cells (RFC 3339 / epoch ms, seconds), fast
//!   formatting in the site's zone.
//! - [`trace`]: `calls.csv`, what callers do ([`TraceReader`], [`TraceWriter`]).
//! - [`roster`]: `roster.csv`, when agents work ([`RosterReader`], [`RosterWriter`]).
//! - [`cdr`]: `cdr.csv`, one record per call ([`CdrWriter`], [`CdrReader`]).
//! - [`events`]: `events.csv`, the event log of calls and agents ([`EventWriter`],
//!   [`EventReader`]).
//! - [`queue_log`]: the event log as Asterisk's `queue_log` (`vaxel export`).
//! - [`report`]: the replay report (JSON and text) and supervisors' breakdowns.
//! - [`world`]: the simulated callers and agents, sans-IO (commands in, timed inputs out).
//! - [`mod@replay`]: the engine in simulated time against the world, in process.
//! - [`erlang`]: Erlang B, C and A; [`staffing`]: the agents a load needs.
//! - [`generate`]: seeded generation of a year of calls and a roster for a site.
//!
//! Readers stream: they hold one row at a time (plus what their checks need, such as the
//! set of call ids seen). Every error names the file, line and column.

pub mod cdr;
mod csvio;
pub mod erlang;
mod error;
pub mod events;
pub mod generate;
pub mod queue_log;
pub mod replay;
pub mod report;
pub mod roster;
pub mod staffing;
pub mod timefmt;
pub mod trace;
pub mod world;

pub use cdr::{CdrReader, CdrWriter};
pub use csvio::writer::{Cells, CsvFormat, CsvWriter};
pub use error::SimError;
pub use events::{EventReader, EventWriter};
pub use generate::{GenConfig, GenError, RosterGenerator, RosterPlan, TraceGenerator};
pub use replay::{
    Dialed, OnEvent, Preparer, ReplayCall, ReplaySummary, ReplayTap, replay, replay_prepared,
    replay_prepared_events, replay_tapped,
};
pub use report::{Report, ReportBuilder};
pub use roster::{RosterReader, RosterWriter, Shift, read_roster};
pub use timefmt::TimeFormatter;
pub use trace::{TraceCall, TraceReader, TraceWriter};
