//! Cluster mode's series in `/metrics` (docs/operations.md, "Metrics"): role, lag, lease,
//! fencing, checkpoints, registered in the daemon's own registry.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, IntCounter, IntGauge, Registry};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug)]
pub struct Status {
    role: IntGauge,
    applied: IntGauge,
    lag: IntGauge,
    renewals: IntCounter,
    takeovers: IntCounter,
    fenced: IntCounter,
    checkpoint_seq: IntGauge,
    checkpoint_bytes: IntGauge,
    /// When the last checkpoint was stored (read by [`Age`]).
    checkpoint_made: Arc<Mutex<Option<SystemTime>>>,
}

/// The last checkpoint's age, worked out when `/metrics` is read (a gauge set when the
/// checkpoint is made would stand still).
#[derive(Debug)]
struct Age {
    gauge: Gauge,
    made: Arc<Mutex<Option<SystemTime>>>,
}

impl Collector for Age {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let made = self.made.lock().ok().and_then(|m| *m);
        let Some(made) = made else {
            return Vec::new();
        };
        let age = SystemTime::now()
            .duration_since(made)
            .unwrap_or_default()
            .as_secs_f64();
        self.gauge.set(age);
        self.gauge.collect()
    }
}

impl Status {
    pub fn new(registry: &Registry) -> prometheus::Result<Status> {
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Status {
            role: gauge(
                "vaxel_cluster_active",
                "1 while this node is the cluster's active node, 0 while it is a standby",
            )?,
            applied: gauge(
                "vaxel_cluster_applied_sequence",
                "The journal stream's last sequence this node has applied (or appended)",
            )?,
            lag: gauge(
                "vaxel_cluster_lag_entries",
                "Journal stream messages a standby has not applied yet",
            )?,
            renewals: counter(
                "vaxel_cluster_lease_renewals_total",
                "Renewals of the leadership lease by this node",
            )?,
            takeovers: counter(
                "vaxel_cluster_takeovers_total",
                "Times this node took over as the active node",
            )?,
            fenced: counter(
                "vaxel_cluster_fenced_total",
                "Appends refused because the stream moved on (another node took over)",
            )?,
            checkpoint_seq: gauge(
                "vaxel_cluster_checkpoint_sequence",
                "The journal stream sequence of the last checkpoint this node stored (the \
                 active), started from, or saw stored since (a standby)",
            )?,
            checkpoint_bytes: gauge(
                "vaxel_cluster_checkpoint_bytes",
                "The size of that checkpoint's snapshot",
            )?,
            checkpoint_made: {
                let made = Arc::new(Mutex::new(None));
                registry.register(Box::new(Age {
                    gauge: Gauge::new(
                        "vaxel_cluster_checkpoint_age_seconds",
                        "Seconds since that checkpoint was stored (absent before the first)",
                    )?,
                    made: made.clone(),
                }))?;
                made
            },
        })
    }

    pub fn role(&self, active: bool) {
        self.role.set(i64::from(active));
    }
    pub fn applied(&self, seq: u64, lag: u64) {
        self.applied.set(i64::try_from(seq).unwrap_or(i64::MAX));
        self.lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
    }
    /// Journal stream messages not applied yet (a standby's).
    pub fn lag(&self) -> i64 {
        self.lag.get()
    }
    pub fn renewed(&self) {
        self.renewals.inc();
    }
    pub fn took_over(&self) {
        self.takeovers.inc();
    }
    pub fn fenced(&self) {
        self.fenced.inc();
    }
    /// A checkpoint of `seq`, `bytes` long, stored at `made`.
    pub fn checkpoint(&self, seq: u64, bytes: usize, made: SystemTime) {
        self.checkpoint_seq
            .set(i64::try_from(seq).unwrap_or(i64::MAX));
        self.checkpoint_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        if let Ok(mut m) = self.checkpoint_made.lock() {
            *m = Some(made);
        }
    }
}
