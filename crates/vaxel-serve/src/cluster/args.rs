//! The `--cluster` flags (docs/operations.md, "Cluster mode"), checked before anything is
//! opened so that a mistake is one clear line.

use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Args)]
pub struct ClusterArgs {
    /// Run as one node of a cluster: the journal is a JetStream stream shared by every
    /// node, one node is active and the others are hot standbys (docs/operations.md,
    /// "Cluster mode"). Without it the daemon is single-node, its journal in --data-dir.
    #[arg(long)]
    pub cluster: bool,
    /// NATS server URLs, comma-separated (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`).
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    pub nats: Vec<String>,
    /// This node's id, unique in the cluster (letters, digits, `-`, `_`).
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// A NATS credentials file (`.creds`: a user JWT and its NKey seed).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// Prefix of the journal stream's and the lease bucket's names (one per site when
    /// several share a NATS cluster).
    #[arg(long, value_name = "NAME", default_value = "vaxel")]
    pub cluster_name: String,
    /// The lease (milliseconds): an active that has not renewed it for this long is
    /// replaced. Renewed every quarter of it.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub lease_ms: u64,
    /// Replicas of the journal stream and the lease bucket (at most the NATS nodes).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub stream_replicas: usize,
    /// How long (seconds) start-up keeps trying to reach NATS before giving up with the
    /// same error as without it (0: give up at once). For machines where the daemon may
    /// start before the NATS servers.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub nats_wait: u64,
    /// The platforms' address told by standbys (default: --listen).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise_tcp: Option<String>,
    /// The HTTP address told by standbys (default: --http).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise_http: Option<String>,
}

/// Checked cluster settings.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub urls: Vec<async_nats::ServerAddr>,
    pub node: String,
    pub creds: Option<PathBuf>,
    pub name: String,
    pub lease: Duration,
    pub replicas: usize,
    /// How long start-up keeps trying to reach NATS (`--nats-wait`).
    pub wait: Duration,
}

/// The longest `--nats-wait` (an hour: beyond, a supervisor's restart is the better wait).
const MAX_WAIT_S: u64 = 3600;

/// Letters, digits, `-` and `_`, 1 to 64 of them: fits NATS stream, bucket and key names.
fn plain_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ClusterArgs {
    /// `None` in single-node mode; an error naming the flag for any mistake.
    pub fn check(&self) -> anyhow::Result<Option<ClusterConfig>> {
        if !self.cluster {
            let stray = [
                (!self.nats.is_empty(), "--nats"),
                (self.node_id.is_some(), "--node-id"),
                (self.nats_creds.is_some(), "--nats-creds"),
                (self.nats_wait > 0, "--nats-wait"),
            ];
            if let Some((_, flag)) = stray.iter().find(|(set, _)| *set) {
                anyhow::bail!("{flag} is a cluster-mode setting: add --cluster, or leave it out");
            }
            return Ok(None);
        }
        if self.nats.is_empty() {
            anyhow::bail!("--cluster needs --nats URL[,URL…] (the NATS servers to use)");
        }
        let urls = self
            .nats
            .iter()
            .map(|u| {
                u.parse::<async_nats::ServerAddr>()
                    .map_err(|e| anyhow::anyhow!("--nats {u}: not a NATS URL ({e})"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let node = self
            .node_id
            .clone()
            .context("--cluster needs --node-id ID (unique in the cluster)")?;
        if !plain_name(&node) {
            anyhow::bail!("--node-id {node:?}: use 1 to 64 letters, digits, '-' or '_'");
        }
        if !plain_name(&self.cluster_name) {
            anyhow::bail!(
                "--cluster-name {:?}: use 1 to 64 letters, digits, '-' or '_'",
                self.cluster_name
            );
        }
        if let Some(c) = &self.nats_creds {
            std::fs::metadata(c)
                .with_context(|| format!("--nats-creds {}: cannot read it", c.display()))?;
        }
        if !(200..=60_000).contains(&self.lease_ms) {
            anyhow::bail!("--lease-ms {}: use 200 to 60000", self.lease_ms);
        }
        if !(1..=5).contains(&self.stream_replicas) {
            anyhow::bail!(
                "--stream-replicas {}: JetStream allows 1 to 5",
                self.stream_replicas
            );
        }
        if self.nats_wait > MAX_WAIT_S {
            anyhow::bail!(
                "--nats-wait {}: use 0 to {MAX_WAIT_S} seconds",
                self.nats_wait
            );
        }
        Ok(Some(ClusterConfig {
            urls,
            node,
            creds: self.nats_creds.clone(),
            name: self.cluster_name.clone(),
            lease: Duration::from_millis(self.lease_ms),
            replicas: self.stream_replicas,
            wait: Duration::from_secs(self.nats_wait),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        c: ClusterArgs,
    }

    fn check(args: &[&str]) -> Result<Option<ClusterConfig>, String> {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.c.check().map_err(|e| format!("{e:#}"))
    }

    /// Node `a` on `nats://h:1`, with `more`.
    fn node_a(more: &[&str]) -> Result<Option<ClusterConfig>, String> {
        let mut args = vec!["--cluster", "--nats", "nats://h:1", "--node-id", "a"];
        args.extend_from_slice(more);
        check(&args)
    }

    #[test]
    fn single_node_by_default_and_stray_flags_named() {
        assert!(matches!(check(&[]), Ok(None)));
        let e = check(&["--nats", "nats://127.0.0.1:4222"]).unwrap_err();
        assert!(e.contains("--nats is a cluster-mode setting"), "{e}");
    }

    #[test]
    fn cluster_flags_checked() {
        let e = check(&["--cluster"]).unwrap_err();
        assert!(e.contains("--cluster needs --nats"), "{e}");
        let e = check(&["--cluster", "--nats", "nats://127.0.0.1:4222"]).unwrap_err();
        assert!(e.contains("--node-id"), "{e}");
        let e = check(&["--cluster", "--nats", "nats://h:1", "--node-id", "a b"]).unwrap_err();
        assert!(e.contains("letters, digits"), "{e}");
        let e = node_a(&["--lease-ms", "5"]).unwrap_err();
        assert!(e.contains("--lease-ms 5"), "{e}");
        let e = node_a(&["--nats-wait", "3601"]).unwrap_err();
        assert!(e.contains("--nats-wait 3601: use 0 to 3600"), "{e}");
        let e = check(&["--nats-wait", "5"]).unwrap_err();
        assert!(e.contains("--nats-wait is a cluster-mode setting"), "{e}");
        let ok = check(&[
            "--cluster",
            "--nats",
            "nats://h:1,nats://h:2",
            "--node-id",
            "a",
        ]);
        let Ok(Some(c)) = ok else { panic!("{ok:?}") };
        assert_eq!(c.urls.len(), 2);
        assert_eq!(c.lease, Duration::from_secs(1));
        assert_eq!(c.wait, Duration::ZERO);
    }
}
