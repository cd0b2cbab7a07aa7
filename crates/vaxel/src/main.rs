//! The `vaxel` command: one binary, one subcommand per job (`vaxel config check`, and
//! `serve`, `replay`, ... next to it). Each subcommand lives in `cmd/` and returns the exit
//! code; errors carry context and print as a chain.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: see ARCHITECTURE.md (replay allocates and frees
/// several small objects per call, freed on another thread than the one that parsed them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run the routing daemon: platforms over TCP, HTTP API, journal (docs/operations.md).
    Serve(vaxel_serve::ServeArgs),
    /// Replay a trace with a roster in simulated time: call records and a report.
    Replay(cmd::replay::ReplayArgs),
    /// Generate a seeded trace (calls.csv) of realistic traffic for a site.
    GenTrace(cmd::generate::GenTraceArgs),
    /// Generate a roster (roster.csv) staffed by Erlang C for the same traffic.
    GenRoster(cmd::generate::GenRosterArgs),
    /// Agents needed per interval and group (Erlang C, and Erlang A with patience).
    Staffing(cmd::staffing::StaffingArgs),
    /// Replay one trace and roster on two site files and compare them side by side.
    Compare(cmd::compare::CompareArgs),
    /// Supervisors' report from call records (a data dir or files): tables, charts, zero
    /// measurement.
    Report(cmd::report::ReportArgs),
    /// Export the event log in another tool's format (Asterisk's queue_log).
    Export(cmd::export::ExportArgs),
    /// Drive a running daemon with a trace and a roster over TCP; measure it.
    Load(vaxel_load::LoadArgs),
    /// A terminal wallboard: a running daemon's groups and agents, live (docs/screens.md).
    Top(cmd::top::TopArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(args) => cmd::config::run(&args),
        Command::Serve(args) => vaxel_serve::run(&args),
        Command::Replay(args) => cmd::replay::run(&args),
        Command::GenTrace(args) => cmd::generate::run_trace(&args),
        Command::GenRoster(args) => cmd::generate::run_roster(&args),
        Command::Staffing(args) => cmd::staffing::run(&args),
        Command::Compare(args) => cmd::compare::run(&args),
        Command::Load(args) => cmd::load::run(&args),
        Command::Report(args) => cmd::report::run(&args),
        Command::Export(args) => cmd::export::run(&args),
        Command::Top(args) => cmd::top::run(&args),
    }
}
