//! Leadership by a lease: the key `active` of the lease bucket holds the active node's
//! [`NodeInfo`]. A node wins by creating the key, or, when its revision has not changed
//! for a whole lease (the holder stopped renewing), by updating it at that revision; the
//! holder renews it at its revision every quarter of the lease. Every step is a
//! compare-and-set on the key's revision, judged by each node's own monotonic clock (no
//! clock is compared across machines). The lease only says who *should* write: the
//! journal stream's expected last sequence is what makes a stale writer harmless
//! (`stream.rs`).

use super::{NodeInfo, Role};
use async_nats::jetstream::kv::{self, Operation, UpdateErrorKind};
use bytes::Bytes;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const KEY: &str = "active";

pub struct Lease {
    pub kv: kv::Store,
    pub me: NodeInfo,
    pub ttl: Duration,
}

impl Lease {
    fn value(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(&self.me).unwrap_or_default())
    }

    /// One NATS request, bounded well within the lease.
    async fn bounded<T, E: std::fmt::Display>(
        &self,
        f: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.ttl / 4, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    /// Waits until this node holds the lease (its revision), telling `role` which node is
    /// active meanwhile; `None` when stopped.
    pub async fn acquire(&self, role: &Role, stop: &CancellationToken) -> Option<u64> {
        let mut seen: Option<(u64, Instant)> = None;
        let mut warned = false;
        loop {
            match self.bounded(self.kv.entry(KEY)).await {
                Ok(Some(e)) if e.operation == Operation::Put => {
                    let holder: Option<NodeInfo> = serde_json::from_slice(&e.value).ok();
                    let mine = holder.as_ref().is_some_and(|h| h.node == self.me.node);
                    let lapsed = match seen {
                        Some((rev, since)) if rev == e.revision => since.elapsed() >= self.ttl,
                        _ => {
                            seen = Some((e.revision, Instant::now()));
                            false
                        }
                    };
                    if !mine {
                        role.set_standby(holder);
                    }
                    // A lease of this node's own (a restart) is taken back at once.
                    if (mine || lapsed)
                        && let Ok(rev) = self
                            .bounded(self.kv.update(KEY, self.value(), e.revision))
                            .await
                    {
                        return Some(rev);
                    }
                }
                Ok(_) => {
                    role.set_standby(None);
                    if let Ok(rev) = self.bounded(self.kv.create(KEY, self.value())).await {
                        return Some(rev);
                    }
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "cannot read the lease");
                        warned = true;
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(self.ttl / 8) => {}
            }
        }
    }

    /// Renews the lease every quarter of it until stopped (`None`) or lost: another node
    /// updated it, or it could not be renewed for a whole lease. Returns why.
    pub async fn hold(
        &self,
        mut rev: u64,
        status: &super::Status,
        stop: &CancellationToken,
    ) -> Option<String> {
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(self.ttl / 4) => {}
            }
            match tokio::time::timeout(self.ttl / 4, self.kv.update(KEY, self.value(), rev)).await {
                Ok(Ok(r)) => {
                    rev = r;
                    renewed = Instant::now();
                    status.renewed();
                }
                Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                    return Some("another node holds the lease".into());
                }
                other => {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    if renewed.elapsed() >= self.ttl {
                        return Some(format!(
                            "the lease could not be renewed for {} ms ({why})",
                            self.ttl.as_millis()
                        ));
                    }
                    tracing::warn!(error = %why, "cannot renew the lease: retrying");
                }
            }
        }
    }

    /// Gives the lease up (a clean stop), so that a standby takes over at once.
    pub async fn release(&self) {
        let _ = self.bounded(self.kv.delete(KEY)).await;
    }
}
