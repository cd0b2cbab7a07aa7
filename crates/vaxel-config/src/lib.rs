//! Växel site files (../shared/CONFIG.md): [`load`] parses TOML into the [`raw`] model,
//! [`validate`] turns that into the engine's typed [`vaxel_core::site::Site`] or lists every
//! problem with its path and a did-you-mean.

pub mod raw;

use std::fmt;

/// The built-in default site: the city of Stockholm's common switchboard.
pub const STOCKHOLM: &str = include_str!("../../../config/stockholm.toml");

/// How bad a finding is: errors refuse the file, warnings are reported and allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding: `groups[3].overflow[0].to: no group "bygglv"; did you mean "bygglov"?`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Where, in the file's own terms (`groups[3].overflow[0].to`, `calendars.office.mon-fri`).
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev}: {}: {}", self.path, self.message)
    }
}
