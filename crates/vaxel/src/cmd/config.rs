//! `vaxel config check [FILE]`: validates a site file (the built-in city when FILE is left
//! out) and prints every diagnostic, one per line, then a one-line summary. Exit status 1
//! when there is an error, 0 otherwise (warnings included).

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vaxel_config::{
    Diagnostic, UNKNOWN_KEYS_HINT, UnknownKeys, Validated, refused_for_unknown_keys, unknown_keys,
};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a site file and list every problem with its path.
    Check {
        /// The site file (TOML); the built-in city (config/stockholm.toml) when left out.
        file: Option<PathBuf>,
        /// Unknown keys are warnings, not errors (a typo then leaves the setting at its
        /// default).
        #[arg(long)]
        allow_unknown_keys: bool,
    },
}

/// Label used for the built-in site in messages.
pub const BUILTIN_LABEL: &str = "config/stockholm.toml (built-in)";

pub fn run(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ConfigCommand::Check {
            file,
            allow_unknown_keys,
        } => check(file.as_deref(), unknown_keys(*allow_unknown_keys)),
    }
}

/// Loads and validates the site at `file` (the built-in city for `None`): the label to show
/// for it and the result.
pub fn load(
    file: Option<&Path>,
    unknown: UnknownKeys,
) -> anyhow::Result<(String, Result<Validated, Vec<Diagnostic>>)> {
    match file {
        None => Ok((
            BUILTIN_LABEL.to_owned(),
            vaxel_config::load_site_with(vaxel_config::STOCKHOLM, unknown),
        )),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read site file {}", path.display()))?;
            Ok((
                path.display().to_string(),
                vaxel_config::load_site_with(&text, unknown),
            ))
        }
    }
}

fn check(file: Option<&Path>, unknown: UnknownKeys) -> anyhow::Result<ExitCode> {
    let (label, result) = load(file, unknown)?;
    let mut out = std::io::stdout().lock();
    let code = match &result {
        Ok(v) => {
            for d in &v.warnings {
                writeln!(out, "{d}")?;
            }
            let s = &v.site;
            writeln!(
                out,
                "{label}: ok ({}, {}, {}), {}",
                count(s.groups.len(), "group", "groups"),
                count(s.agents.len(), "agent", "agents"),
                count(s.entries.len(), "entry", "entries"),
                count(v.warnings.len(), "warning", "warnings"),
            )?;
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in diags {
                writeln!(out, "{d}")?;
            }
            if refused_for_unknown_keys(diags) {
                writeln!(out, "{UNKNOWN_KEYS_HINT}")?;
            }
            let errors = diags.iter().filter(|d| d.is_error()).count();
            writeln!(
                out,
                "{label}: {}, {}",
                count(errors, "error", "errors"),
                count(diags.len() - errors, "warning", "warnings"),
            )?;
            ExitCode::FAILURE
        }
    };
    out.flush()?;
    Ok(code)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
