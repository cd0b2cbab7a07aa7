//! The two per-event costs of the one message model: decoding a platform's `call.arrived`
//! line (on the connection tasks) and encoding a journal entry with its CRC (on the engine
//! task, for every input).
//!
//! `journal/old_shape` reproduces what the journal did before inputs were serialized by
//! the core's model (a derived enum per entry, tagged `k`, through `serde_json`, and a
//! byte-at-a-time table CRC-32), so that both are measured in the same run. Figures are in
//! docs/benchmarks.md.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group};
use serde::Serialize;
use std::hint::black_box;
use std::sync::Arc;
use vaxel_core::{Input, Timestamp};
use vaxel_proto::flat::{self, Dialect};

const ARRIVED: &[u8] = br#"{"ev":"call.arrived","seq":1041,"at":1772437503250,"call":"c-20260302-000417","to":"+4685080000","from":"+46701234567","digits":"8,1"}"#;

fn decode(c: &mut Criterion) {
    c.bench_function("decode/call.arrived", |b| {
        b.iter(|| vaxel_proto::decode_platform(black_box(ARRIVED)).unwrap());
    });
}

fn input() -> Input {
    Input::CallArrived {
        call: Arc::from("c-20260302-000417"),
        platform: Arc::from("pbx-1"),
        to: Arc::from("+4685080000"),
        from: Arc::from("+46701234567"),
        digits: Some("8,1".to_owned()),
        lang: None,
    }
}

/// The journal's record: 8 header bytes, then the payload.
fn record(out: &mut Vec<u8>, payload: impl FnOnce(&mut Vec<u8>), crc: fn(&[u8]) -> u32) {
    out.clear();
    out.extend_from_slice(&[0; 8]);
    payload(out);
    let len = (out.len() - 8) as u32;
    let sum = crc(&out[8..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&sum.to_le_bytes());
}

#[derive(Serialize)]
#[serde(tag = "k")]
enum OldEntry<'a> {
    #[serde(rename = "call.arrived")]
    CallArrived {
        at: Timestamp,
        call: &'a Arc<str>,
        platform: &'a Arc<str>,
        to: &'a Arc<str>,
        from: &'a Arc<str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        digits: &'a Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        lang: &'a Option<Arc<str>>,
    },
}

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

fn table_crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn journal(c: &mut Criterion) {
    let input = input();
    let at = Timestamp(1_772_437_503_250);
    let mut out = Vec::with_capacity(256);
    c.bench_function("journal/flat+crc32fast", |b| {
        b.iter(|| {
            record(
                &mut out,
                |o| {
                    flat::write_input(
                        o,
                        "k",
                        &[("at", Some(at.0))],
                        black_box(&input),
                        Dialect::Full,
                    );
                    o.push(b'}');
                },
                crc32fast::hash,
            );
            black_box(&out);
        });
    });
    let Input::CallArrived {
        call,
        platform,
        to,
        from,
        digits,
        lang,
    } = &input
    else {
        unreachable!()
    };
    c.bench_function("journal/old_shape", |b| {
        b.iter(|| {
            let e = OldEntry::CallArrived {
                at,
                call,
                platform,
                to,
                from,
                digits,
                lang,
            };
            record(
                &mut out,
                |o| serde_json::to_writer(o, black_box(&e)).unwrap(),
                table_crc32,
            );
            black_box(&out);
        });
    });
    // Both write the same bytes.
    let mut new = Vec::new();
    record(
        &mut new,
        |o| {
            flat::write_input(o, "k", &[("at", Some(at.0))], &input, Dialect::Full);
            o.push(b'}');
        },
        crc32fast::hash,
    );
    assert_eq!(new, out);
}

criterion_group!(benches, decode, journal);

/// `CODEC_DECODES=N` decodes the line N times and exits, without criterion: a fixed
/// amount of work whose instruction count (`perf stat -e instructions:u`) compares builds
/// on a busy host, where wall time is too noisy.
fn main() {
    if let Some(n) = std::env::var("CODEC_DECODES")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        for _ in 0..n {
            let _ = black_box(vaxel_proto::decode_platform(black_box(ARRIVED)));
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
