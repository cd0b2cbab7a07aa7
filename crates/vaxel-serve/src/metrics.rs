//! Prometheus metrics (docs/operations.md "Metrics"): one explicit [`Registry`], names fixed
//! for the dashboards (config/grafana/vaxel-dashboard.json), base units, `_total` on
//! counters, labels only from bounded sets (`group`, `entry`, `outcome`, `state`, `type`,
//! `code`: ids from the site file and fixed vocabularies; never a call id, a caller's
//! number or an agent).
//!
//! Two kinds of series:
//! - gauges of the live state (`vaxel_calls_waiting`, `vaxel_agents`, …) are set from the
//!   engine's [`Snapshot`] at scrape time ([`Metrics::render`]), so they are never stale
//!   and a group removed by a reload disappears;
//! - counters and histograms are fed as things happen, through the daemon's
//!   [`Observer`] hook, which [`Metrics`] implements.

use crate::observe::{Observer, PlatformEvent};
use prometheus::{
    Counter, Encoder as _, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Mutex;
use std::time::Duration;
use vaxel_core::snapshot::{AgentCounts, AgentState, Snapshot};
use vaxel_core::{CallRecord, Outcome};

/// Queue-wait buckets (seconds), around the usual service-level thresholds (20 s, 30 s,
/// 60 s) so that "answered within N s" can be read from the histogram for these N.
pub const WAIT_BUCKETS: [f64; 12] = [
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];
/// Talk-time buckets (seconds): switchboard transfers last seconds, case handling minutes.
pub const TALK_BUCKETS: [f64; 12] = [
    10.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0,
];
/// Decision latency buckets (seconds): from reading a line to writing its command,
/// group commit (fsync) included.
pub const DECISION_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Journal fsync buckets (seconds).
pub const SYNC_BUCKETS: [f64; 13] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The `entry` label of a call whose dialed number matched no entry.
pub const NO_ENTRY: &str = "none";

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The daemon's metrics. Cheap to feed from the hot path: a label lookup (a hash and a
/// read lock inside the `prometheus` crate) and an atomic add.
pub struct Metrics {
    registry: Registry,
    /// Serialises scrapes: each one resets and refills the snapshot gauges.
    scrape: Mutex<()>,

    // Gauges set from the snapshot at scrape time.
    calls_waiting: IntGaugeVec,
    oldest_wait: GaugeVec,
    expected_wait: GaugeVec,
    agents: IntGaugeVec,
    service_level: GaugeVec,
    crisis: IntGauge,
    calls_in_progress: IntGauge,
    site_agents: IntGaugeVec,
    site_calls_waiting: IntGauge,
    service_level_target: GaugeVec,
    occupancy: GaugeVec,
    site_occupancy: GaugeVec,

    // Fed through the Observer.
    calls_total: IntCounterVec,
    queue_calls_total: IntCounterVec,
    wait_seconds: HistogramVec,
    talk_seconds: HistogramVec,
    events_total: IntCounterVec,
    events_refused_total: IntCounterVec,
    protocol_errors_total: IntCounterVec,
    commands_total: IntCounterVec,
    platform_connections: IntGauge,
    platform_events_total: IntCounterVec,
    decision_seconds: Histogram,
    journal_sync_seconds: Histogram,
    /// Seconds the engine task spent inside its polls ([`crate::busy::Timed`]).
    engine_busy: Counter,
    journal_entries_total: IntCounter,
    journal_bytes_total: IntCounter,
    slow_consumers_total: IntCounter,
    records_files_lost: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Registers `c` and hands it back.
fn reg<C>(r: &Registry, c: C) -> prometheus::Result<C>
where
    C: prometheus::core::Collector + Clone + 'static,
{
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn hist(name: &str, help: &str, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(buckets.to_vec())
}

impl Metrics {
    /// A fresh registry with every family registered.
    pub fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let m = Metrics {
            scrape: Mutex::new(()),
            calls_waiting: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "vaxel_calls_waiting",
                        "Calls waiting in the group's queue now.",
                    ),
                    &["group"],
                )?,
            )?,
            oldest_wait: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "vaxel_oldest_wait_seconds",
                        "How long the longest-waiting call in the group's queue has waited.",
                    ),
                    &["group"],
                )?,
            )?,
            occupancy: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "vaxel_occupancy",
                        "Share of the staffed time (logged in, not paused) of the agents serving the group spent ringing, talking or in wrap-up; window today or 15m.",
                    ),
                    &["group", "window"],
                )?,
            )?,
            site_occupancy: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "vaxel_site_occupancy",
                        "Share of all agents' staffed time spent ringing, talking or in wrap-up; window today or 15m.",
                    ),
                    &["window"],
                )?,
            )?,
            expected_wait: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "vaxel_expected_wait_seconds",
                        "Expected wait (EWT) of a call joining the group's queue now.",
                    ),
                    &["group"],
                )?,
            )?,
            agents: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "vaxel_agents",
                        "Agents who serve the group, by state (an agent in several groups counts in each).",
                    ),
                    &["group", "state"],
                )?,
            )?,
            service_level: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "vaxel_service_level_ratio",
                        "Today's service level: answered within the site's service_level_s / (offered - abandoned within 5 s); 1 with no calls.",
                    ),
                    &["group"],
                )?,
            )?,
            crisis: reg(
                &r,
                IntGauge::new("vaxel_crisis_active", "1 while crisis mode is on, else 0.")?,
            )?,
            calls_in_progress: reg(
                &r,
                IntGauge::new(
                    "vaxel_calls_in_progress",
                    "Calls the engine holds in any state (menus, queue, ringing, talking, after-call work).",
                )?,
            )?,
            site_agents: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "vaxel_site_agents",
                        "Agents of the site by state, each person counted once (however many groups they serve).",
                    ),
                    &["state"],
                )?,
            )?,
            site_calls_waiting: reg(
                &r,
                IntGauge::new(
                    "vaxel_site_calls_waiting",
                    "Calls waiting in a queue or for a callback, each call counted once (a call queued in two groups by an expand overflow counts in both groups' vaxel_calls_waiting).",
                )?,
            )?,
            service_level_target: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "vaxel_service_level_target_ratio",
                        "The group's service-level target (site.service_level_target or the group's [groups.wallboard] one).",
                    ),
                    &["group"],
                )?,
            )?,
            calls_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_calls_total",
                        "Finished calls (one per call record), by entry and outcome.",
                    ),
                    &["entry", "outcome"],
                )?,
            )?,
            queue_calls_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_queue_calls_total",
                        "Finished calls that reached a group, by the last group and outcome.",
                    ),
                    &["group", "outcome"],
                )?,
            )?,
            wait_seconds: reg(
                &r,
                HistogramVec::new(
                    hist(
                        "vaxel_wait_seconds",
                        "Time in queue of finished queued calls, by the last group and outcome.",
                        &WAIT_BUCKETS,
                    ),
                    &["group", "outcome"],
                )?,
            )?,
            talk_seconds: reg(
                &r,
                HistogramVec::new(
                    hist(
                        "vaxel_talk_seconds",
                        "Conversation time of answered calls, by the last group.",
                        &TALK_BUCKETS,
                    ),
                    &["group"],
                )?,
            )?,
            events_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_events_total",
                        "Inputs handed to the engine (platform events, desktop and admin actions), by type; refused ones included.",
                    ),
                    &["type"],
                )?,
            )?,
            events_refused_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_events_refused_total",
                        "Inputs the engine refused, by type and error code.",
                    ),
                    &["type", "code"],
                )?,
            )?,
            protocol_errors_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_protocol_errors_total",
                        "error lines sent to platforms, by protocol error code.",
                    ),
                    &["code"],
                )?,
            )?,
            commands_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_commands_total",
                        "Commands written to platforms, by type.",
                    ),
                    &["type"],
                )?,
            )?,
            platform_connections: reg(
                &r,
                IntGauge::new(
                    "vaxel_platform_connections",
                    "Platform connections that said hello and are open now.",
                )?,
            )?,
            platform_events_total: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_platform_events_total",
                        "Platform session events: connected, disconnected, slow_consumer, lost, rejected, unacked_overflow.",
                    ),
                    &["type"],
                )?,
            )?,
            decision_seconds: reg(
                &r,
                Histogram::with_opts(hist(
                    "vaxel_decision_seconds",
                    "From reading a platform's lines to writing the resulting commands (journal commit included).",
                    &DECISION_BUCKETS,
                ))?,
            )?,
            journal_sync_seconds: reg(
                &r,
                Histogram::with_opts(hist(
                    "vaxel_journal_sync_seconds",
                    "Time one group commit spent making the journal durable (fsync).",
                    &SYNC_BUCKETS,
                ))?,
            )?,
            engine_busy: reg(
                &r,
                Counter::new(
                    "vaxel_engine_busy_seconds_total",
                    "Time the engine task spent working (inside its polls, not waiting); its rate is the share of a core the engine task uses.",
                )?,
            )?,
            journal_entries_total: reg(
                &r,
                IntCounter::new(
                    "vaxel_journal_entries_total",
                    "Journal entries made durable.",
                )?,
            )?,
            journal_bytes_total: reg(
                &r,
                IntCounter::new("vaxel_journal_bytes_total", "Journal bytes made durable.")?,
            )?,
            slow_consumers_total: reg(
                &r,
                IntCounter::new(
                    "vaxel_slow_consumers_total",
                    "Platform connections closed because they did not read what was sent \
                     to them (their outbound queue passed its bound), each counted once.",
                )?,
            )?,
            records_files_lost: reg(
                &r,
                IntGauge::new(
                    "vaxel_records_files_lost",
                    "Call-record files found deleted or cut at start-up whose records no \
                     journal holds any more (restore them from a backup).",
                )?,
            )?,
            registry: r,
        };
        let build_info = IntGaugeVec::new(
            Opts::new(
                "vaxel_build_info",
                "Always 1; the labels say which build of the daemon runs.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m.registry.register(Box::new(build_info))?;
        for e in [
            PlatformEvent::Connected,
            PlatformEvent::Disconnected,
            PlatformEvent::SlowConsumer,
            PlatformEvent::Lost,
            PlatformEvent::Rejected,
            PlatformEvent::UnackedOverflow,
        ] {
            m.platform_events_total.with_label_values(&[e.as_str()]);
        }
        Ok(m)
    }

    /// Call-record files recovery found lost (see `recovery::Recovered::records_lost`).
    pub fn records_lost(&self, files: u64) {
        self.records_files_lost
            .set(i64::try_from(files).unwrap_or(i64::MAX));
    }

    /// The registry, for families kept by other parts of the daemon (the PostgreSQL
    /// sink's, pgsink/gauges.rs; cluster mode's), rendered with these.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The counter of the engine task's working time, for [`crate::busy::Timed`].
    pub fn engine_busy(&self) -> Counter {
        self.engine_busy.clone()
    }

    /// The text exposition of every family, the live-state gauges taken from `snap`.
    pub fn render(&self, snap: &Snapshot) -> String {
        let families = {
            // A poisoned lock only means another scrape panicked; the gauges are reset below.
            let _guard = self
                .scrape
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.set_gauges(snap);
            self.registry.gather()
        };
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn set_gauges(&self, snap: &Snapshot) {
        self.calls_waiting.reset();
        self.oldest_wait.reset();
        self.expected_wait.reset();
        self.occupancy.reset();
        self.agents.reset();
        for (window, v) in [
            ("today", snap.occupancy.today),
            ("15m", snap.occupancy.last_15_min),
        ] {
            self.site_occupancy.with_label_values(&[window]).set(v);
        }
        self.service_level.reset();
        self.service_level_target.reset();
        self.crisis.set(i64::from(snap.crisis));
        self.set_site_gauges(snap);
        self.calls_in_progress
            .set(i64::from(snap.calls_in_progress));
        for g in &snap.groups {
            let id: &str = &g.id;
            self.calls_waiting
                .with_label_values(&[id])
                .set(i64::from(g.waiting));
            self.oldest_wait
                .with_label_values(&[id])
                .set(g.oldest_wait_s);
            // Unknown (nobody to serve) is NaN, which Prometheus shows as no number.
            #[allow(clippy::cast_precision_loss)] // seconds: far below 2^52
            for (window, v) in [
                ("today", g.occupancy.today),
                ("15m", g.occupancy.last_15_min),
            ] {
                self.occupancy.with_label_values(&[id, window]).set(v);
            }
            self.expected_wait
                .with_label_values(&[id])
                .set(g.ewt_s.map_or(f64::NAN, |e| e as f64));
            for state in AgentState::ALL {
                self.agents
                    .with_label_values(&[id, state.as_str()])
                    .set(i64::from(count(&g.agents, state)));
            }
            self.service_level
                .with_label_values(&[id])
                .set(g.today.service_level);
            self.service_level_target
                .with_label_values(&[id])
                .set(g.wallboard.service_level_target);
            // So that rate() and the dashboards see the group's series from zero, not "No
            // data" until its first call ends.
            for o in [Outcome::Answered, Outcome::Abandoned] {
                self.queue_calls_total.with_label_values(&[id, o.as_str()]);
                self.wait_seconds.with_label_values(&[id, o.as_str()]);
            }
            self.talk_seconds.with_label_values(&[id]);
        }
    }

    /// The site-wide gauges: people and calls counted once, where the per-group gauges
    /// count a person in each of their groups and an expanded call in each of its queues.
    fn set_site_gauges(&self, snap: &Snapshot) {
        let mut people = AgentCounts::default();
        for a in &snap.agents {
            people.add(a.state);
        }
        for state in AgentState::ALL {
            self.site_agents
                .with_label_values(&[state.as_str()])
                .set(i64::from(count(&people, state)));
        }
        let waiting = snap
            .calls
            .iter()
            .filter(|c| matches!(c.state, "queued" | "offering_callback" | "callback"))
            .count();
        self.site_calls_waiting
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }
}

/// Agents of a group in `state`.
fn count(c: &AgentCounts, state: AgentState) -> u32 {
    match state {
        AgentState::LoggedOut => c.logged_out,
        AgentState::Ready => c.ready,
        AgentState::Ringing => c.ringing,
        AgentState::Talking => c.talking,
        AgentState::Wrapup => c.wrapup,
        AgentState::Paused => c.paused,
    }
}

#[allow(clippy::cast_precision_loss)] // milliseconds of a call: far below 2^52
fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Observer for Metrics {
    fn input(&self, kind: &'static str, refused: Option<&'static str>) {
        self.events_total.with_label_values(&[kind]).inc();
        if let Some(code) = refused {
            self.events_refused_total
                .with_label_values(&[kind, code])
                .inc();
        }
    }

    fn protocol_error(&self, code: &'static str) {
        self.protocol_errors_total.with_label_values(&[code]).inc();
    }

    fn record(&self, r: &CallRecord) {
        let outcome = r.outcome.as_str();
        let entry: &str = if r.entry.is_empty() {
            NO_ENTRY
        } else {
            &r.entry
        };
        self.calls_total.with_label_values(&[entry, outcome]).inc();
        let Some(group) = r.groups.last() else {
            return;
        };
        let group: &str = group;
        self.queue_calls_total
            .with_label_values(&[group, outcome])
            .inc();
        if r.queued.is_some() {
            self.wait_seconds
                .with_label_values(&[group, outcome])
                .observe(secs(r.wait_ms));
        }
        if r.answered.is_some() {
            self.talk_seconds
                .with_label_values(&[group])
                .observe(secs(r.talk_ms));
        }
    }

    fn command(&self, kind: &'static str) {
        self.commands_total.with_label_values(&[kind]).inc();
    }

    fn decision_latency(&self, latency: Duration) {
        self.decision_seconds.observe(latency.as_secs_f64());
    }

    fn commit(&self, entries: usize, bytes: usize, fsync: Duration) {
        self.journal_sync_seconds.observe(fsync.as_secs_f64());
        self.journal_entries_total
            .inc_by(u64::try_from(entries).unwrap_or(u64::MAX));
        self.journal_bytes_total
            .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    fn platform(&self, event: PlatformEvent) {
        if event == PlatformEvent::SlowConsumer {
            self.slow_consumers_total.inc();
        }
        self.platform_events_total
            .with_label_values(&[event.as_str()])
            .inc();
        match event {
            PlatformEvent::Connected => self.platform_connections.inc(),
            PlatformEvent::Disconnected => self.platform_connections.dec(),
            PlatformEvent::SlowConsumer
            | PlatformEvent::Lost
            | PlatformEvent::Rejected
            | PlatformEvent::UnackedOverflow => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_core::site::Board;
    use vaxel_core::snapshot::{AgentSnapshot, CallSnapshot, DayStats, GroupSnapshot};

    #[test]
    fn families_register_and_render_without_a_snapshot_group() {
        let m = Metrics::new().expect("registry");
        let snap = Snapshot {
            at: vaxel_core::Timestamp(0),
            site: "t".into(),
            crisis: true,
            lang: vaxel_core::site::UiLang::Sv,
            groups: Vec::new(),
            agents: Vec::new(),
            calls: Vec::new(),
            calls_in_progress: 0,
            occupancy: vaxel_core::snapshot::Occupancy {
                today: 0.25,
                last_15_min: 0.5,
            },
        };
        let text = m.render(&snap);
        assert!(text.contains("vaxel_crisis_active 1"), "{text}");
        assert!(
            text.contains("vaxel_site_occupancy{window=\"15m\"} 0.5"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE vaxel_decision_seconds histogram"),
            "{text}"
        );
    }

    fn group(id: &str, waiting: u32, ready: u32, target: f64) -> GroupSnapshot {
        GroupSnapshot {
            id: id.into(),
            name: id.into(),
            waiting,
            oldest_wait_s: 0.0,
            ewt_s: Some(0),
            agents: AgentCounts {
                ready,
                ..AgentCounts::default()
            },
            today: DayStats::default(),
            occupancy: vaxel_core::snapshot::Occupancy::default(),
            wallboard: Board {
                service_level_target: target,
                ..Board::default()
            },
        }
    }

    fn line<'t>(text: &'t str, series: &str) -> Option<&'t str> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .map(|l| l[series.len()..].trim())
    }

    #[test]
    fn site_gauges_count_each_person_and_each_call_once() {
        let m = Metrics::new().expect("registry");
        // One person serving both groups; one call queued in both (an expand overflow).
        let agent = AgentSnapshot {
            id: "a1".into(),
            name: "A".into(),
            extension: "1".into(),
            department: None,
            state: AgentState::Ready,
            since: vaxel_core::Timestamp(0),
            call: None,
            skills: Vec::new(),
            groups: vec!["g".into(), "h".into()],
            pause_reason: None,
            note: None,
            until: None,
            logout_pending: false,
            calls_today: 0,
            talk_s_today: 0,
            call_detail: None,
        };
        let call = CallSnapshot {
            call: "c1".into(),
            from: "+4670".into(),
            entry: "e".into(),
            lang: None,
            state: "queued",
            groups: vec!["g".into(), "h".into()],
            position: 1,
            wait_s: 3.0,
            priority: 0,
            parked_by: None,
        };
        let snap = Snapshot {
            at: vaxel_core::Timestamp(0),
            site: "t".into(),
            crisis: false,
            lang: vaxel_core::site::UiLang::Sv,
            groups: vec![group("g", 1, 1, 0.8), group("h", 1, 1, 0.9)],
            agents: vec![agent],
            calls: vec![call],
            calls_in_progress: 1,
            occupancy: vaxel_core::snapshot::Occupancy::default(),
        };
        let text = m.render(&snap);
        // The per-group gauges count both twice; the site's once.
        assert_eq!(
            line(&text, r#"vaxel_agents{group="g",state="ready"}"#),
            Some("1")
        );
        assert_eq!(
            line(&text, r#"vaxel_agents{group="h",state="ready"}"#),
            Some("1")
        );
        assert_eq!(
            line(&text, r#"vaxel_site_agents{state="ready"}"#),
            Some("1")
        );
        assert_eq!(
            line(&text, r#"vaxel_site_agents{state="logged_out"}"#),
            Some("0")
        );
        assert_eq!(line(&text, "vaxel_site_calls_waiting"), Some("1"));
        assert_eq!(
            line(&text, r#"vaxel_service_level_target_ratio{group="h"}"#),
            Some("0.9")
        );
        let build = format!(
            r#"vaxel_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(line(&text, &build), Some("1"));
        // A fresh daemon has the groups' histograms from the start (no "No data").
        assert_eq!(
            line(
                &text,
                r#"vaxel_wait_seconds_count{group="g",outcome="answered"}"#
            ),
            Some("0")
        );
        assert_eq!(
            line(&text, r#"vaxel_talk_seconds_count{group="h"}"#),
            Some("0")
        );
    }
}
