//! The subcommands, one module each. Each exposes its clap `...Args` and a
//! `run(&args) -> anyhow::Result<ExitCode>`; `main.rs` only dispatches.

pub mod common;
pub mod compare;
pub mod config;
pub mod export;
pub mod generate;
pub mod load;
pub mod replay;
pub mod report;
pub mod staffing;
pub mod top;
