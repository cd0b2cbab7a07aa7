//! PLACEHOLDER: the engine is being written; this keeps the API compiling for other crates.
use crate::error::EngineError;
use crate::input::Input;
use crate::output::Output;
use crate::site::Site;
use crate::snapshot::{DirectoryHit, Snapshot};
use crate::time::Timestamp;
use std::sync::Arc;

/// The routing engine.
#[derive(Debug)]
pub struct Engine {
    site: Arc<Site>,
    now: Timestamp,
}

impl Engine {
    /// A new engine on `site`, its clock at `now`.
    #[must_use]
    pub fn new(site: Arc<Site>, now: Timestamp) -> Engine {
        Engine { site, now }
    }
    /// The running site.
    #[must_use]
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }
    /// The engine's time.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }
    /// Applies one input at `now` (timers due by `now` fire first).
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<(), EngineError> {
        let _ = input;
        self.now = now;
        Ok(())
    }
    /// Fires the timers due by `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), EngineError> {
        self.now = now;
        Ok(())
    }
    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        None
    }
    /// The live state.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            at: self.now,
            site: self.site.name.clone(),
            crisis: false,
            groups: Vec::new(),
            agents: Vec::new(),
            calls: Vec::new(),
            calls_in_progress: 0,
        }
    }
    /// Directory search.
    #[must_use]
    pub fn directory(&self, query: &str) -> Vec<DirectoryHit> {
        let _ = query;
        Vec::new()
    }
}
