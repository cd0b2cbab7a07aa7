//! Whole-system benchmark: a week of the built-in city (generated with seed 1 from
//! 2026-03-02, about 38,000 calls) replayed in process, the engine against the simulated
//! world (`vaxel_sim::replay`), no files. Throughput is in calls.
//!
//! `cargo bench --bench replay` (a bench target of `crates/vaxel`; figures in
//! docs/benchmarks.md).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use vaxel_sim::TraceCall;
use vaxel_sim::generate::{GenConfig, RosterGenerator, TraceGenerator};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn week_of_the_city(c: &mut Criterion) {
    let site = Arc::new(vaxel_config::stockholm().expect("the built-in city").site);
    let cfg = GenConfig {
        days: 7,
        start: jiff::civil::date(2026, 3, 2),
        ..GenConfig::default()
    };
    let roster = RosterGenerator::new(&site, cfg.clone())
        .expect("a roster")
        .generate()
        .shifts;
    let calls: Vec<TraceCall> = TraceGenerator::new(&site, cfg).expect("a trace").collect();
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(calls.len() as u64));
    g.bench_function("week_of_the_city", |b| {
        b.iter(|| {
            let summary =
                vaxel_sim::replay(site.clone(), calls.iter().cloned().map(Ok), &roster, |r| {
                    black_box(r);
                    Ok(())
                })
                .expect("the replay");
            assert_eq!(summary.refused, 0);
            black_box(summary.events)
        });
    });
    g.finish();
}

criterion_group!(benches, week_of_the_city);
criterion_main!(benches);
