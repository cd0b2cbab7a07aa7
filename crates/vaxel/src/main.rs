//! The `vaxel` command: one binary, one subcommand per job (`vaxel config check`, and
//! `serve`, `replay`, ... next to it). Each subcommand lives in `cmd/` and returns the exit
//! code; errors carry context and print as a chain.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Växel: real-time call routing (ACD) for a city's common switchboard.
#[derive(Debug, Parser)]
#[command(name = "vaxel", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Site files: check a configuration.
    Config(cmd::config::ConfigArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(args) => cmd::config::run(&args),
    }
}
