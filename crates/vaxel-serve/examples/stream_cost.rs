//! What open event streams cost the engine task (docs/benchmarks.md "Event streams"): the
//! daemon runs in process on the built-in city with the live clock, a platform keeps its
//! agents changing state at a steady rate (every change is a new snapshot to publish),
//! and for each count of open `/api/v1/stream` clients the engine task's working time
//! (`vaxel_engine_busy_seconds_total`, read from `/metrics`) is measured over a window.
//! The daemon's whole CPU time (every task and the commit thread; the streams' own
//! serialization is in it) is shown beside it.
//!
//! ```text
//! cargo run --release -p vaxel-serve --example stream_cost -- [SECONDS] [STREAMS…]
//! ```
//! (defaults: 20 s windows, 0, 1 and 256 streams).

use clap::Parser;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use vaxel_serve::{Listening, ServeArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// Agents the platform toggles between ready and paused, and how many changes a second.
const AGENTS: usize = 40;
const CHANGES_PER_S: u64 = 100;

async fn http_get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// `vaxel_engine_busy_seconds_total` now.
async fn busy(addr: std::net::SocketAddr) -> anyhow::Result<f64> {
    let text = http_get(addr, "/metrics").await?;
    text.lines()
        .find_map(|l| l.strip_prefix("vaxel_engine_busy_seconds_total "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no vaxel_engine_busy_seconds_total in /metrics"))
}

/// This process's CPU time (user + system), in seconds.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, r)| r.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (11 and 12 after the command name), in ticks
    // of 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// One event-stream client: reads and drops whatever comes until `stop`.
async fn stream(addr: std::net::SocketAddr, stop: CancellationToken) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            n = s.read(&mut buf) => if n? == 0 { return Ok(()) },
        }
    }
}

/// The platform: logs the agents in, then toggles them ready / paused at a steady rate.
async fn platform(
    addr: std::net::SocketAddr,
    ids: Vec<String>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let s = TcpStream::connect(addr).await?;
    let (r, mut w) = s.into_split();
    // Answers are read and dropped (the socket must not fill up).
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(_)) = lines.next_line().await {}
    });
    w.write_all(b"{\"ev\":\"hello\",\"platform\":\"bench\",\"protocol\":1}\n")
        .await?;
    for id in &ids {
        w.write_all(format!("{{\"ev\":\"agent.login\",\"agent\":\"{id}\"}}\n").as_bytes())
            .await?;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / CHANGES_PER_S));
    let mut n = 0usize;
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let id = &ids[n % ids.len()];
        let ev = if (n / ids.len()).is_multiple_of(2) {
            "agent.pause"
        } else {
            "agent.ready"
        };
        w.write_all(format!("{{\"ev\":\"{ev}\",\"agent\":\"{id}\"}}\n").as_bytes())
            .await?;
        n += 1;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args().skip(1);
    let window: u64 = argv.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let counts: Vec<usize> = argv.filter_map(|s| s.parse().ok()).collect();
    let counts = if counts.is_empty() {
        vec![0, 1, 256]
    } else {
        counts
    };

    // The data dir, removed when `main` returns (declared first, it drops last).
    let dir = tempfile::Builder::new()
        .prefix("vaxel-stream-cost-")
        .tempdir()?;
    let cli = Cli::parse_from([
        "stream_cost",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--http-max-connections",
        "600",
        "--data-dir",
        &dir.path().display().to_string(),
    ]);
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<Listening>();
    let daemon = tokio::spawn({
        let stop = stop.clone();
        async move { vaxel_serve::serve(&cli.serve, stop, Some(tx)).await }
    });
    let at = rx.await?;
    let site = vaxel_config::stockholm()
        .map_err(|d| anyhow::anyhow!("{d:?}"))?
        .site;
    let ids: Vec<String> = site
        .agents
        .iter()
        .take(AGENTS)
        .map(|a| a.id.to_string())
        .collect();
    let load = CancellationToken::new();
    tokio::spawn(platform(at.tcp, ids, load.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    println!("| streams | engine task busy, ms/s | daemon CPU, ms/s |");
    println!("|---:|---:|---:|");
    for n in counts {
        let streams = CancellationToken::new();
        for _ in 0..n {
            tokio::spawn(stream(at.http, streams.clone()));
        }
        // Settle: every stream connected and past its first event.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (b0, c0, t0) = (busy(at.http).await?, cpu(), Instant::now());
        tokio::time::sleep(Duration::from_secs(window)).await;
        let (b1, c1, secs) = (busy(at.http).await?, cpu(), t0.elapsed().as_secs_f64());
        println!(
            "| {n} | {:.2} | {:.1} |",
            (b1 - b0) / secs * 1000.0,
            (c1 - c0) / secs * 1000.0
        );
        streams.cancel();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    load.cancel();
    stop.cancel();
    let _ = daemon.await;
    Ok(())
}
