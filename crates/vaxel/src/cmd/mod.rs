//! The subcommands, one module each. Each exposes its clap `...Args` and a
//! `run(&args) -> anyhow::Result<ExitCode>`; `main.rs` only dispatches.

pub mod config;
