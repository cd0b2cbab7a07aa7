//! Errors of the file readers and writers. Every message names the file and, where there is
//! one, the line and the column (its 1-based index and its header name), so a planner can go
//! straight to the cell: `calls.csv:17: column 3 (arrival): "2026-13-01" is not a timestamp
//! (RFC 3339 or epoch ms)`. Messages are lowercase and specific.

use std::io;

/// An error reading or writing a trace, roster or call-record file.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The file could not be read or written.
    #[error("{file}: {err}")]
    Io { file: String, err: io::Error },
    /// The header lacks a column the format requires.
    #[error("{file}:1: missing required column \"{name}\" (the header has: {found})")]
    MissingColumn {
        file: String,
        name: &'static str,
        found: String,
    },
    /// The header is unusable (empty, duplicate names).
    #[error("{file}:1: {reason}")]
    Header { file: String, reason: String },
    /// One cell is wrong.
    #[error("{file}:{line}: column {column} ({name}): {reason}")]
    Cell {
        file: String,
        line: u64,
        /// 1-based position in the header.
        column: usize,
        name: String,
        reason: String,
    },
    /// A line is wrong as a whole (field count, encoding, a rule between rows).
    #[error("{file}:{line}: {reason}")]
    Row {
        file: String,
        line: u64,
        reason: String,
    },
    /// A value cannot be written in the format.
    #[error("{file}: cannot write {what}: {reason}")]
    Write {
        file: String,
        what: String,
        reason: String,
    },
    /// Whoever took the call records stopped taking them (its own error tells why).
    #[error("the consumer of call records stopped")]
    Stopped,
}

impl SimError {
    /// The line the error is on, if it is about one.
    #[must_use]
    pub fn line(&self) -> Option<u64> {
        match self {
            SimError::Cell { line, .. } | SimError::Row { line, .. } => Some(*line),
            SimError::MissingColumn { .. } | SimError::Header { .. } => Some(1),
            SimError::Io { .. } | SimError::Write { .. } | SimError::Stopped => None,
        }
    }

    /// Turns a `csv` error into ours, with the file name and the line.
    pub(crate) fn from_csv(file: &str, err: csv::Error) -> SimError {
        let line = err.position().map_or(0, csv::Position::line);
        let text = err.to_string();
        match err.into_kind() {
            csv::ErrorKind::Io(err) => SimError::Io {
                file: file.to_owned(),
                err,
            },
            csv::ErrorKind::Utf8 { err, .. } => SimError::Row {
                file: file.to_owned(),
                line,
                reason: format!("field {} is not valid UTF-8", err.field() + 1),
            },
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => SimError::Row {
                file: file.to_owned(),
                line,
                reason: format!("{len} fields, but the header has {expected_len}"),
            },
            _ => SimError::Row {
                file: file.to_owned(),
                line,
                reason: text,
            },
        }
    }
}
