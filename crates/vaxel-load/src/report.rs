//! The report of a `vaxel load` run (not `--exact`: `exact.rs`), as JSON (`--report json`,
//! its keys in docs/formats.md) or as text.

use crate::driver::Driver;
use crate::failover::Links;
use crate::latency::LatencySummary;
use crate::{ClockArg, LoadArgs, Speed, WINDOW};
use serde::Serialize;
use std::collections::BTreeMap;

/// The report (`--report json`).
#[derive(Debug, Serialize)]
pub struct LoadReport {
    /// Calls announced.
    pub calls: u64,
    /// Lines sent (events and ticks).
    pub events: u64,
    /// Of which ticks.
    pub ticks: u64,
    /// Wall time from the first event written to the last answer read.
    pub wall_s: f64,
    pub events_per_s: f64,
    /// `call.arrived` written → first command for the call read.
    pub latency_ms: LatencySummary,
    /// Event written → its `ok` (or `error`) read.
    pub ack_latency_ms: LatencySummary,
    /// Errors by code (any → exit status 1).
    pub errors: BTreeMap<String, u64>,
    /// The first errors, for diagnosis.
    pub first_errors: Vec<String>,
    /// Refusals of late reactions by code (not errors unless --strict).
    pub stale: BTreeMap<String, u64>,
    /// Calls that ended (forward, final hangup, or the tool's acknowledged hang-up).
    pub ended_calls: u64,
    /// Calls announced that did not end (callbacks still waiting when the roster ends, …;
    /// exit status 1 with --strict).
    pub unfinished_calls: u64,
    /// Calls still in progress at the end, by the state the tool last knew.
    pub in_progress: BTreeMap<String, u64>,
    /// Of which the daemon stopped knowing without a command ending them (any → exit
    /// status 1).
    pub vanished_calls: u64,
    pub refused_arrivals: u64,
    /// Commands read.
    pub commands: u64,
    /// Commands for calls this run did not announce.
    pub foreign_commands: u64,
    /// Logins turned into `agent.ready` (agent still on from an earlier shift).
    pub relogins: u64,
    pub peak_calls: usize,
    /// Simulated time covered, seconds.
    pub sim_s: f64,
    /// Paced runs: how late (ms) the latest event was sent at worst.
    pub max_behind_ms: u64,
    /// Connections made again after they closed (`--reconnect`).
    pub reconnects: u64,
    /// The longest time from a close to the `welcome` on the connection made again, s.
    pub longest_reconnect_s: f64,
    /// Events sent again on a connection made again (they had no answer).
    pub resent_events: u64,
    /// Of which the daemon had applied before the close (refused as done).
    pub resent_applied: u64,
    pub speed: String,
    pub clock: String,
    pub connections: u16,
    pub window: usize,
    pub max_lag_s: Option<f64>,
}

pub(crate) fn report<I>(args: &LoadArgs, d: &Driver<I>, links: &Links) -> LoadReport
where
    I: Iterator<Item = Result<vaxel_sim::TraceCall, vaxel_sim::SimError>>,
{
    let s = &d.stats;
    let wall = match (d.first_sent, d.last_answer) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    LoadReport {
        calls: s.calls,
        events: s.events,
        ticks: s.ticks,
        wall_s: wall,
        events_per_s: if wall > 0.0 {
            s.events as f64 / wall
        } else {
            0.0
        },
        latency_ms: d.cmd_latency.summary(),
        ack_latency_ms: d.ack_latency.summary(),
        errors: s.errors.clone(),
        first_errors: s.first_errors.clone(),
        stale: s.stale.clone(),
        ended_calls: s.ended,
        unfinished_calls: d.unfinished(),
        in_progress: d.in_progress(),
        vanished_calls: s.vanished,
        refused_arrivals: s.refused_arrivals,
        commands: s.commands,
        foreign_commands: s.foreign_commands,
        relogins: s.relogins,
        peak_calls: s.peak_calls,
        sim_s: s.sim_ms as f64 / 1000.0,
        max_behind_ms: s.max_behind_ms,
        reconnects: links.reconnects.count,
        longest_reconnect_s: links.reconnects.longest.as_secs_f64(),
        resent_events: s.resent,
        resent_applied: s.resent_applied,
        speed: match args.speed {
            Speed::Max => "max".to_owned(),
            Speed::Factor(x) => format!("{x}"),
        },
        clock: match args.clock {
            ClockArg::Event => "event".to_owned(),
            ClockArg::Live => "live".to_owned(),
        },
        connections: args.connections,
        window: args.window.unwrap_or(WINDOW),
        max_lag_s: match args.speed {
            Speed::Max => args.max_lag.0,
            Speed::Factor(_) => None,
        },
    }
}

pub(crate) fn render_text(r: &LoadReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let lat = |l: &LatencySummary| {
        format!(
            "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3} ms  ({} samples)",
            l.p50, l.p90, l.p99, l.p999, l.max, l.count
        )
    };
    let codes = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let lag = r
        .max_lag_s
        .map_or_else(|| "none".to_owned(), |l| format!("{l} s"));
    let _ = writeln!(
        s,
        "vaxel load: speed {}, {} clock, {} connection(s), window {}, max lag {lag}",
        r.speed, r.clock, r.connections, r.window
    );
    let _ = writeln!(
        s,
        "events        {} ({} ticks) in {:.3} s: {:.0} events/s; {} commands",
        r.events, r.ticks, r.wall_s, r.events_per_s, r.commands
    );
    let _ = writeln!(
        s,
        "calls         {} announced, {} ended, {} unfinished ({} vanished), {} refused; \
         peak {} in progress; {:.0} s simulated",
        r.calls,
        r.ended_calls,
        r.unfinished_calls,
        r.vanished_calls,
        r.refused_arrivals,
        r.peak_calls,
        r.sim_s
    );
    if !r.in_progress.is_empty() {
        let _ = writeln!(s, "in progress   {}", codes(&r.in_progress));
    }
    let _ = writeln!(s, "arrival→cmd   {}", lat(&r.latency_ms));
    let _ = writeln!(s, "event→ok      {}", lat(&r.ack_latency_ms));
    let _ = writeln!(s, "errors        {}", codes(&r.errors));
    for e in &r.first_errors {
        let _ = writeln!(s, "  {e}");
    }
    let _ = writeln!(s, "late refusals {}", codes(&r.stale));
    if r.relogins > 0 || r.foreign_commands > 0 {
        let _ = writeln!(
            s,
            "other         {} relogin(s) as agent.ready, {} command(s) for unknown calls",
            r.relogins, r.foreign_commands
        );
    }
    if r.reconnects > 0 {
        let _ = writeln!(
            s,
            "reconnects    {} (longest {:.3} s); {} event(s) sent again, {} of them applied \
             before the close",
            r.reconnects, r.longest_reconnect_s, r.resent_events, r.resent_applied
        );
    }
    if r.speed != "max" {
        let _ = writeln!(s, "behind        {} ms at worst", r.max_behind_ms);
    }
    s
}
