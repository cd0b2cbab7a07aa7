//! Växel site files (docs/configuration.md): [`load`] parses TOML into
//! the [`raw`] model, [`validate`] turns that into the engine's typed
//! [`vaxel_core::site::Site`] or lists every problem with its path and a did-you-mean.
//! [`load_site`] does both. [`records`] and [`cluster`] are the daemon's own sections,
//! which the engine never sees.
//!
//! ```
//! let checked = vaxel_config::stockholm().expect("the built-in city is valid");
//! assert_eq!(&*checked.site.name, "Stockholms stad");
//! ```

pub mod cluster;
mod load;
mod path;
pub mod raw;
pub mod records;
#[cfg(test)]
mod section_tests;
mod suggest;
mod validate;
mod wallboard;

pub use load::{Loaded, load, load_file};
pub use validate::{
    AgentTokens, MIN_TOKEN_LEN, SENSIBLE_PRIORITY, Validated, agent_tokens_file,
    check_agent_tokens, defaults, validate,
};
pub use wallboard::defaults as wallboard_defaults;

use std::fmt;
use std::path::Path;

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
    /// Syntax and type errors say `line L, column C`, after the key path when it is known.
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
        }
    }

    /// Whether this finding refuses the file.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
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

/// What an unknown key in a site file is. An error by default: a typo (`wraup_s`) would
/// otherwise leave the setting at its default, silently (a group's wrap-up at 0 s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownKeys {
    /// The file is refused (with the did-you-mean).
    #[default]
    Error,
    /// The key is ignored with a warning: for a file already accepted once (a journal's
    /// copy), or on the operator's explicit request (`--allow-unknown-keys`).
    Warn,
}

/// What `--allow-unknown-keys` asks for (`vaxel config check` and `vaxel serve` alike).
#[must_use]
pub fn unknown_keys(allow: bool) -> UnknownKeys {
    if allow {
        UnknownKeys::Warn
    } else {
        UnknownKeys::Error
    }
}

/// The hint printed after diagnostics that refused a file for an unknown key.
pub const UNKNOWN_KEYS_HINT: &str =
    "unknown keys are errors; --allow-unknown-keys makes them warnings";

/// Whether `diags` refuse the file for an unknown key (so that the hint is worth giving).
#[must_use]
pub fn refused_for_unknown_keys(diags: &[Diagnostic]) -> bool {
    diags
        .iter()
        .any(|d| d.is_error() && d.message.starts_with("unknown key"))
}

/// Loads and validates a site file's text, unknown keys being errors: the typed site and
/// every warning, or every diagnostic, in file order, when there is an error.
pub fn load_site(text: &str) -> Result<Validated, Vec<Diagnostic>> {
    load_site_with(text, UnknownKeys::Error)
}

/// [`load_site`], with unknown keys as `unknown` says.
pub fn load_site_with(text: &str, unknown: UnknownKeys) -> Result<Validated, Vec<Diagnostic>> {
    // The loader's only warnings are unknown keys.
    let strict = |mut diags: Vec<Diagnostic>| {
        if unknown == UnknownKeys::Error {
            for d in &mut diags {
                d.severity = Severity::Error;
            }
        }
        diags
    };
    let loaded = load(text).map_err(strict)?;
    let mut diags = strict(loaded.warnings);
    match validate(&loaded.raw) {
        Ok(mut v) => {
            diags.append(&mut v.warnings);
            diags.sort_by_key(|d| path::order(&d.path));
            if diags.iter().any(Diagnostic::is_error) {
                return Err(diags);
            }
            v.warnings = diags;
            Ok(v)
        }
        Err(mut errs) => {
            diags.append(&mut errs);
            diags.sort_by_key(|d| path::order(&d.path));
            Err(diags)
        }
    }
}

/// [`load_site`] on a file; a file that cannot be read is one error naming it.
pub fn load_site_file(file: impl AsRef<Path>) -> Result<Validated, Vec<Diagnostic>> {
    let file = file.as_ref();
    match std::fs::read_to_string(file) {
        Ok(text) => load_site(&text),
        Err(e) => Err(vec![Diagnostic::error(
            file.display().to_string(),
            format!("cannot read the file: {e}"),
        )]),
    }
}

/// The built-in city ([`STOCKHOLM`]), validated.
pub fn stockholm() -> Result<Validated, Vec<Diagnostic>> {
    load_site(STOCKHOLM)
}
