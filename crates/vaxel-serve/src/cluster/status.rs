//! Cluster mode's series in `/metrics` (docs/operations.md, "Metrics"): role, lag, lease,
//! fencing, registered in the daemon's own registry.

use prometheus::{IntCounter, IntGauge, Registry};

#[derive(Debug)]
pub struct Status {
    role: IntGauge,
    applied: IntGauge,
    lag: IntGauge,
    renewals: IntCounter,
    takeovers: IntCounter,
    fenced: IntCounter,
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
}
