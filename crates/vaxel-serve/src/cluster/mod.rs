//! Cluster mode (docs/operations.md, "Cluster mode"): two or more daemons share one
//! journal, a JetStream stream replicated by a NATS cluster; one is *active*, the others
//! are hot *standbys* that apply every entry of the stream to their own engine.
//!
//! - `args.rs`: the `--cluster` flags over the site file's `[cluster]`, resolved and
//!   checked at start; what a reload's `[cluster]` is compared with.
//! - `nats.rs`: the connection, the journal stream, the lease bucket, the checkpoint store.
//! - `lease.rs`: leadership by a lease in a KV bucket (create to win, renew well within).
//! - `stream.rs`: the journal on the stream: group commit, every append fenced by the
//!   stream's expected last sequence.
//! - `follow.rs`: a standby following the stream, serving reads and refusing writes.
//! - `logs.rs`: the call records and event log every node writes from the stream, and
//!   the counts of rows that mark checkpoints.
//! - `checkpoints.rs`: the engine's snapshots in an object store, where a node starts
//!   from; the stream trimmed below them.
//! - `records_base.rs`: where a node's call-record and event-log files begin in the
//!   stream's rows.
//! - `node.rs`: one node's life: standby, take-over, active, step-down.
//!
//! Safety never rests on the lease alone: a node that won it first appends a take-over
//! entry with the expected last sequence, and every later append carries it too, so a
//! stale active's next append is refused by the stream itself and it stops acknowledging.

mod args;
mod checkpoints;
mod follow;
mod lease;
mod logs;
mod nats;
mod node;
pub(crate) mod records_base;
mod status;
mod stream;

pub use args::ClusterArgs;
pub(crate) use args::ClusterStart;
pub(crate) use nats::connect;
pub(crate) use node::{MakeSetup, Node, run_node};
pub(crate) use status::Status;

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Where a node serves, as it is told to platforms and browsers (the lease's value, and
/// the take-over entry's header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    pub tcp: String,
    pub http: String,
}

/// This node's role, read by the connections: a standby refuses `hello`.
#[derive(Debug)]
pub struct Role {
    state: Mutex<RoleState>,
    pub(crate) status: Arc<Status>,
}

#[derive(Clone, Debug)]
enum RoleState {
    /// Following; the active node as last seen in the lease (if any).
    Standby(Option<NodeInfo>),
    Active,
}

impl Role {
    pub(crate) fn new(status: Arc<Status>) -> Role {
        Role {
            state: Mutex::new(RoleState::Standby(None)),
            status,
        }
    }

    /// Why this node does not take platforms, naming the active: `None` when it is active.
    pub fn not_active(&self) -> Option<String> {
        let state = self.state.lock().map(|s| s.clone()).ok()?;
        match state {
            RoleState::Active => None,
            RoleState::Standby(None) => Some("no active node is known yet; try again".into()),
            RoleState::Standby(Some(a)) => Some(format!(
                "the active node is {} (platforms: {}, http: {})",
                a.node, a.tcp, a.http
            )),
        }
    }

    fn set_standby(&self, active: Option<NodeInfo>) {
        if let Ok(mut s) = self.state.lock() {
            *s = RoleState::Standby(active);
        }
        self.status.role(false);
    }

    fn set_active(&self) {
        if let Ok(mut s) = self.state.lock() {
            *s = RoleState::Active;
        }
        self.status.role(true);
    }
}
