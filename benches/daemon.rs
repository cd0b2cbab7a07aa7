//! Whole-system benchmark: the daemon in process (`vaxel_serve::serve` on loopback, event
//! clock, journal on, a fresh data dir per run) driven by the load generator
//! (`vaxel_load::run`) over TCP:
//!
//! - `daemon/exact_day`: a day of the built-in city (seed 1, 2026-03-02) as `vaxel load
//!   --exact` sends it, the replay's own inputs, every command checked: throughput in events.
//! - `daemon/faithful_day`: the same day played by the simulated callers and agents at
//!   `--speed max`, a round trip per reaction: throughput, and the event → `ok` latency of
//!   the last run printed (criterion times whole runs, not single answers).
//!
//! Each sample is one whole run, timed by the load generator itself (first event written to
//! last answer read; starting the daemon is not counted). `cargo bench --bench daemon`.

use clap::Parser as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vaxel_core::site::Site;
use vaxel_serve::in_process::{Daemon, serve_args};
use vaxel_sim::generate::{GenConfig, RosterGenerator, TraceGenerator};
use vaxel_sim::{RosterWriter, Shift, TraceWriter};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, clap::Parser)]
struct LoadCli {
    #[command(flatten)]
    load: vaxel_load::LoadArgs,
}

/// A day of the city written as trace and roster files in `dir`.
fn day_files(site: &Site, dir: &Path) -> (PathBuf, PathBuf, Vec<Shift>) {
    let cfg = GenConfig {
        days: 1,
        start: jiff::civil::date(2026, 3, 2),
        ..GenConfig::default()
    };
    let shifts = RosterGenerator::new(site, cfg.clone())
        .expect("a roster")
        .generate()
        .shifts;
    let trace = dir.join("day.csv");
    let roster = dir.join("day-roster.csv");
    let file = std::fs::File::create(&trace).expect("trace file");
    let mut w = TraceWriter::new(
        std::io::BufWriter::new(file),
        "day.csv",
        site.timezone.clone(),
    )
    .expect("trace header");
    TraceGenerator::new(site, cfg)
        .expect("a trace")
        .write_all(&mut w)
        .expect("the trace");
    w.flush().expect("the trace");
    let file = std::fs::File::create(&roster).expect("roster file");
    let mut w = RosterWriter::new(
        std::io::BufWriter::new(file),
        "day-roster.csv",
        site.timezone.clone(),
    )
    .expect("roster header");
    for s in &shifts {
        w.write(s).expect("the roster");
    }
    w.flush().expect("the roster");
    (trace, roster, shifts)
}

/// One load run against a fresh daemon; returns its report (JSON).
fn one_run(
    dir: &Path,
    run: usize,
    load_args: &[&str],
    exact: &(Arc<Site>, Vec<Shift>),
) -> serde_json::Value {
    let data = dir.join(format!("data-{run}"));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let serve = serve_args(&["--data-dir", &data_arg, "--max-clock-step-s", "10000000000"])
        .expect("serve arguments");
    let daemon = Daemon::start(serve).expect("the daemon listens");
    let out = dir.join(format!("report-{run}.json"));
    let addr = daemon.at.tcp.to_string();
    let out_arg = out.display().to_string();
    let mut args = vec![
        "load", "--addr", &addr, "--report", "json", "--out", &out_arg,
    ];
    args.extend_from_slice(load_args);
    let load = LoadCli::try_parse_from(args).expect("load arguments");
    let code = vaxel_load::run(&load.load, |_| Ok(exact.clone())).expect("the load run");
    assert_eq!(
        code,
        std::process::ExitCode::SUCCESS,
        "see {}",
        out.display()
    );
    daemon.stop().expect("the daemon stops");
    let _ = std::fs::remove_dir_all(&data);
    serde_json::from_str(&std::fs::read_to_string(&out).expect("the report")).expect("JSON")
}

fn daemon(c: &mut Criterion) {
    let site = Arc::new(vaxel_config::stockholm().expect("the built-in city").site);
    let mut tmp = tempfile::Builder::new()
        .prefix("vaxel-bench-daemon-")
        .tempdir()
        .expect("a temp dir");
    // Kept if a run fails: its panic names the report to see there. Removed once every run
    // passed (below).
    tmp.disable_cleanup(true);
    let dir = tmp.path().to_owned();
    let (trace, roster, shifts) = day_files(&site, &dir);
    let exact = (site.clone(), shifts);
    let (trace, roster) = (trace.display().to_string(), roster.display().to_string());
    let files = ["--trace", trace.as_str(), "--roster", roster.as_str()];
    let mut runs = 0;
    for (name, extra) in [
        ("exact_day", &["--exact"][..]),
        ("faithful_day", &["--speed", "max"][..]),
    ] {
        let args: Vec<&str> = files.iter().chain(extra).copied().collect();
        // A first run tells the events a run sends (the throughput's unit).
        runs += 1;
        let first = one_run(&dir, runs, &args, &exact);
        let events = first["events"].as_u64().expect("events");
        let mut g = c.benchmark_group("daemon");
        g.sample_size(10);
        g.throughput(Throughput::Elements(events));
        let mut last = first;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    runs += 1;
                    last = one_run(&dir, runs, &args, &exact);
                    total += Duration::from_secs_f64(last["wall_s"].as_f64().expect("wall_s"));
                }
                total
            });
        });
        g.finish();
        println!(
            "daemon/{name}: {events} events; event -> ok latency of the last run (ms): {}",
            last["ack_latency_ms"]
        );
    }
    tmp.disable_cleanup(false);
}

criterion_group!(benches, daemon);
criterion_main!(benches);
