//! The cluster settings of `vaxel serve` (docs/operations.md, "Cluster mode"): the flags,
//! over the site file's `[cluster]` section, resolved and checked before anything is
//! opened so that a mistake is one clear line. A flag that is given wins over the file,
//! the file over the default: the settings every node must agree on live in the one
//! file they share, and a flag still overrides them on one machine. The limits are
//! `vaxel_config::cluster`'s, so that the flags and the file say the same ones.

use anyhow::Context as _;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vaxel_config::cluster::{
    Bounded, ClusterSection, LEASE_MS, NATS_WAIT_S, STREAM_REPLICAS, check_name,
};

#[derive(Clone, Debug, Args)]
pub struct ClusterArgs {
    /// Run as one node of a cluster: the journal is a JetStream stream shared by every
    /// node, one node is active and the others are hot standbys (docs/operations.md,
    /// "Cluster mode"). Without it the daemon is single-node, its journal in --data-dir.
    /// The settings every node shares come from the site file's `[cluster]` section; a
    /// flag below overrides its key.
    #[arg(long)]
    pub cluster: bool,
    /// NATS server URLs, comma-separated (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`).
    /// Default: `[cluster] nats` of the site file.
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    pub nats: Vec<String>,
    /// This node's id, unique in the cluster (letters, digits, `-`, `_`). A flag only, as
    /// the advertised addresses: every node has its own, and the site file is shared.
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// A NATS credentials file (`.creds`: a user JWT and its NKey seed). Default:
    /// `[cluster] nats_creds` of the site file (relative to it), else none.
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// Prefix of the journal stream's and the lease bucket's names (one per site when
    /// several share a NATS cluster). Default: `[cluster] name`, else `vaxel`.
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// The lease (milliseconds, 200 to 60000): an active that has not renewed it for this
    /// long is replaced. Renewed every quarter of it. Default: `[cluster] lease_ms`, else
    /// 1000.
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// Replicas of the journal stream and the lease bucket (1 to 5, at most the NATS
    /// nodes). Default: `[cluster] stream_replicas`, else 3.
    #[arg(long, value_name = "N")]
    pub stream_replicas: Option<u64>,
    /// How long (seconds, 0 to 3600) start-up keeps trying to reach NATS before giving up
    /// with the same error as without it (0: give up at once). For machines where the
    /// daemon may start before the NATS servers. Default: `[cluster] nats_wait_s`, else 0.
    #[arg(long, value_name = "SECS")]
    pub nats_wait: Option<u64>,
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
    /// How long start-up keeps trying to reach NATS (`--nats-wait`, `[cluster] nats_wait_s`).
    pub wait: Duration,
}

impl ClusterArgs {
    /// The settings this node runs with, `None` in single-node mode. Each shared setting is
    /// its flag when given, else `file`'s (the site's `[cluster]`, already checked by
    /// vaxel-config), else its default; `base` is the site file's directory, which
    /// `[cluster] nats_creds` is relative to. An error names the flag or the file's key.
    pub fn resolve(
        &self,
        file: Option<&ClusterSection>,
        base: Option<&Path>,
    ) -> anyhow::Result<Option<ClusterConfig>> {
        if !self.cluster {
            self.no_stray_flag()?;
            return Ok(None);
        }
        let defaults = ClusterSection::default();
        let file = file.unwrap_or(&defaults);
        let urls = if !self.nats.is_empty() {
            nats_urls(&self.nats, |_| "--nats".to_owned())?
        } else if !file.nats.is_empty() {
            nats_urls(&file.nats, |i| format!("cluster.nats[{i}]"))?
        } else {
            anyhow::bail!(
                "--cluster needs --nats URL[,URL…] or `nats = [URL, …]` in the site file's \
                 [cluster] section (the NATS servers to use)"
            );
        };
        let node = self
            .node_id
            .clone()
            .context("--cluster needs --node-id ID (unique in the cluster)")?;
        check_name("--node-id", &node).map_err(anyhow::Error::msg)?;
        let name = match &self.cluster_name {
            Some(n) => {
                check_name("--cluster-name", n).map_err(anyhow::Error::msg)?;
                n.clone()
            }
            None => file.name.clone(),
        };
        let creds = match (&self.nats_creds, &file.nats_creds) {
            (Some(c), _) => Some(readable("--nats-creds", c.clone())?),
            (None, Some(c)) => {
                let path = base.map_or_else(|| PathBuf::from(c), |b| b.join(c));
                Some(readable("cluster.nats_creds", path)?)
            }
            (None, None) => None,
        };
        let lease = flag_or_file(self.lease_ms, "--lease-ms", LEASE_MS, file.lease_ms)?;
        let replicas = flag_or_file(
            self.stream_replicas,
            "--stream-replicas",
            STREAM_REPLICAS,
            file.stream_replicas,
        )?;
        let wait = flag_or_file(self.nats_wait, "--nats-wait", NATS_WAIT_S, file.nats_wait_s)?;
        Ok(Some(ClusterConfig {
            urls,
            node,
            creds,
            name,
            lease: Duration::from_millis(lease),
            replicas: usize::try_from(replicas)
                .with_context(|| format!("{replicas} stream replicas do not fit this machine"))?,
            wait: Duration::from_secs(wait),
        }))
    }

    /// Without `--cluster`, a cluster flag is a mistake: refused, naming it.
    fn no_stray_flag(&self) -> anyhow::Result<()> {
        let stray = [
            (!self.nats.is_empty(), "--nats"),
            (self.node_id.is_some(), "--node-id"),
            (self.nats_creds.is_some(), "--nats-creds"),
            (self.cluster_name.is_some(), "--cluster-name"),
            (self.lease_ms.is_some(), "--lease-ms"),
            (self.stream_replicas.is_some(), "--stream-replicas"),
            (self.nats_wait.is_some(), "--nats-wait"),
            (self.advertise_tcp.is_some(), "--advertise-tcp"),
            (self.advertise_http.is_some(), "--advertise-http"),
        ];
        match stray.iter().find(|(set, _)| *set) {
            Some((_, flag)) => {
                anyhow::bail!("{flag} is a cluster-mode setting: add --cluster, or leave it out")
            }
            None => Ok(()),
        }
    }
}

/// `urls` parsed by the NATS client's own rules, each named by `named(i)` when it is not
/// a NATS URL.
fn nats_urls(
    urls: &[String],
    named: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    urls.iter()
        .enumerate()
        .map(|(i, u)| {
            u.parse::<async_nats::ServerAddr>()
                .map_err(|e| anyhow::anyhow!("{} {u:?}: not a NATS URL ({e})", named(i)))
        })
        .collect()
}

/// `path`, once it is known to be readable (`named`: the flag or the key that gave it).
fn readable(named: &str, path: PathBuf) -> anyhow::Result<PathBuf> {
    std::fs::metadata(&path)
        .with_context(|| format!("{named} {}: cannot read it", path.display()))?;
    Ok(path)
}

/// The flag's value, checked by the file's rule, when given; else the file's.
fn flag_or_file(flag: Option<u64>, named: &str, rule: Bounded, file: u64) -> anyhow::Result<u64> {
    match flag {
        Some(v) => rule.check(named, v).map_err(anyhow::Error::msg),
        None => Ok(file),
    }
}

/// What a reload checks its `[cluster]` against: the flags this node started with and
/// the settings it runs with. Cluster settings are read at start only (a node cannot move
/// to another stream or lease under way); a reloaded file that would change them is still
/// taken, for its routing, with a warning that says when they apply.
#[derive(Clone, Debug)]
pub struct ClusterStart {
    args: ClusterArgs,
    base: Option<PathBuf>,
    running: ClusterConfig,
}

impl ClusterStart {
    pub fn new(args: &ClusterArgs, base: Option<&Path>, running: &ClusterConfig) -> Self {
        ClusterStart {
            args: args.clone(),
            base: base.map(Path::to_path_buf),
            running: running.clone(),
        }
    }

    /// Logs a warning when a reloaded file's `[cluster]` (`section`) would start this node
    /// with other settings than it runs with.
    pub fn reloaded(&self, section: Option<&ClusterSection>) {
        if let Some(why) = self.changed(section) {
            tracing::warn!("{why}");
        }
    }

    /// The warning [`reloaded`](Self::reloaded) logs, if any.
    fn changed(&self, section: Option<&ClusterSection>) -> Option<String> {
        let next = match self.args.resolve(section, self.base.as_deref()) {
            Ok(Some(next)) => next,
            Ok(None) => return None,
            Err(e) => {
                return Some(format!(
                    "the reloaded [cluster] section would not start this node ({e:#}); \
                     cluster settings are read at start only: this node runs on with its own"
                ));
            }
        };
        let r = &self.running;
        let keys: Vec<&str> = [
            (next.urls != r.urls, "nats"),
            (next.name != r.name, "name"),
            (next.lease != r.lease, "lease_ms"),
            (next.replicas != r.replicas, "stream_replicas"),
            (next.creds != r.creds, "nats_creds"),
            (next.wait != r.wait, "nats_wait_s"),
        ]
        .into_iter()
        .filter_map(|(differs, key)| differs.then_some(key))
        .collect();
        (!keys.is_empty()).then(|| {
            format!(
                "the reloaded [cluster] section changes {}: cluster settings are read at start \
                 only and take effect at the next start",
                keys.join(", ")
            )
        })
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

    fn args(args: &[&str]) -> ClusterArgs {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()));
        match cli {
            Ok(cli) => cli.c,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    /// The settings of `flags` over `file`, or the error's text.
    fn resolve(flags: &[&str], file: Option<&ClusterSection>) -> Result<ClusterConfig, String> {
        match args(flags).resolve(file, None) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err("single-node".into()),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    fn check(flags: &[&str]) -> Result<ClusterConfig, String> {
        resolve(flags, None)
    }

    /// Node `a` on `nats://h:1`, with `more`.
    fn node_a(more: &[&str]) -> Result<ClusterConfig, String> {
        let mut flags = vec!["--cluster", "--nats", "nats://h:1", "--node-id", "a"];
        flags.extend_from_slice(more);
        check(&flags)
    }

    /// A file's section with every key set, none at its default.
    fn file() -> ClusterSection {
        ClusterSection {
            nats: vec!["nats://f1:4222".into(), "nats://f2:4222".into()],
            name: "site7".into(),
            lease_ms: 2500,
            stream_replicas: 5,
            nats_creds: None,
            nats_wait_s: 30,
        }
    }

    fn hosts(c: &ClusterConfig) -> Vec<String> {
        c.urls
            .iter()
            .map(|u| u.clone().into_inner().host_str().unwrap_or("").to_owned())
            .collect()
    }

    #[test]
    fn single_node_by_default_and_stray_flags_named() {
        assert!(matches!(args(&[]).resolve(None, None), Ok(None)));
        // A `[cluster]` section alone does not make a cluster node (the caller warns).
        assert!(matches!(args(&[]).resolve(Some(&file()), None), Ok(None)));
        for (flags, named) in [
            (&["--nats", "nats://127.0.0.1:4222"][..], "--nats"),
            (&["--nats-wait", "5"], "--nats-wait"),
            (&["--lease-ms", "500"], "--lease-ms"),
            (&["--cluster-name", "x"], "--cluster-name"),
            (&["--advertise-tcp", "h:1"], "--advertise-tcp"),
        ] {
            let e = resolve(flags, None).unwrap_err();
            assert_eq!(
                e,
                format!("{named} is a cluster-mode setting: add --cluster, or leave it out")
            );
        }
    }

    #[test]
    fn cluster_flags_checked_with_the_files_limits() {
        let e = check(&["--cluster"]).unwrap_err();
        assert_eq!(
            e,
            "--cluster needs --nats URL[,URL…] or `nats = [URL, …]` in the site file's \
             [cluster] section (the NATS servers to use)"
        );
        let e = check(&["--cluster", "--nats", "nats://127.0.0.1:4222"]).unwrap_err();
        assert!(e.contains("--node-id"), "{e}");
        let e = check(&["--cluster", "--nats", "nats://h:1", "--node-id", "a b"]).unwrap_err();
        assert_eq!(
            e,
            "--node-id \"a b\": use 1 to 64 letters, digits, '-' or '_'"
        );
        let e = node_a(&["--cluster-name", "a.b"]).unwrap_err();
        assert_eq!(
            e,
            "--cluster-name \"a.b\": use 1 to 64 letters, digits, '-' or '_'"
        );
        let e = node_a(&["--lease-ms", "5"]).unwrap_err();
        assert_eq!(
            e,
            "--lease-ms 5 is out of range; use 200..=60000 milliseconds"
        );
        let e = node_a(&["--stream-replicas", "7"]).unwrap_err();
        assert_eq!(e, "--stream-replicas 7 is out of range; use 1..=5 replicas");
        let e = node_a(&["--nats-wait", "3601"]).unwrap_err();
        assert_eq!(e, "--nats-wait 3601 is out of range; use 0..=3600 seconds");
        let e = node_a(&["--nats-creds", "/nonexistent/vaxel.creds"]).unwrap_err();
        assert!(
            e.starts_with("--nats-creds /nonexistent/vaxel.creds: cannot read it"),
            "{e}"
        );
        let e = check(&["--cluster", "--nats", "http://h:1", "--node-id", "a"]).unwrap_err();
        assert!(
            e.starts_with("--nats \"http://h:1\": not a NATS URL"),
            "{e}"
        );
    }

    #[test]
    fn defaults_when_neither_flag_nor_file() {
        let ok = check(&[
            "--cluster",
            "--nats",
            "nats://h:1,nats://h:2",
            "--node-id",
            "a",
        ]);
        let Ok(c) = ok else { panic!("{ok:?}") };
        assert_eq!(c.urls.len(), 2);
        assert_eq!(c.name, "vaxel");
        assert_eq!(c.lease, Duration::from_secs(1));
        assert_eq!(c.replicas, 3);
        assert_eq!(c.wait, Duration::ZERO);
        assert_eq!(c.creds, None);
        // An empty `[cluster]` section is the same defaults.
        let empty = ClusterSection::default();
        let from_empty = resolve(
            &["--cluster", "--nats", "nats://h:1", "--node-id", "a"],
            Some(&empty),
        );
        let Ok(e) = from_empty else {
            panic!("{from_empty:?}")
        };
        assert_eq!(
            (e.name.as_str(), e.lease, e.replicas),
            ("vaxel", c.lease, 3)
        );
    }

    #[test]
    fn the_file_is_used_where_no_flag_is_given() {
        let f = file();
        let ok = resolve(&["--cluster", "--node-id", "b"], Some(&f));
        let Ok(c) = ok else { panic!("{ok:?}") };
        assert_eq!(hosts(&c), ["f1", "f2"]);
        assert_eq!(c.node, "b");
        assert_eq!(c.name, "site7");
        assert_eq!(c.lease, Duration::from_millis(2500));
        assert_eq!(c.replicas, 5);
        assert_eq!(c.wait, Duration::from_secs(30));
    }

    #[test]
    fn a_flag_wins_over_the_file() {
        let f = file();
        let ok = resolve(
            &[
                "--cluster",
                "--node-id",
                "b",
                "--nats",
                "nats://flag:4222",
                "--cluster-name",
                "other",
                "--lease-ms",
                "400",
                "--stream-replicas",
                "1",
                "--nats-wait",
                "0",
            ],
            Some(&f),
        );
        let Ok(c) = ok else { panic!("{ok:?}") };
        assert_eq!(hosts(&c), ["flag"]);
        assert_eq!(c.name, "other");
        assert_eq!(c.lease, Duration::from_millis(400));
        assert_eq!(c.replicas, 1);
        assert_eq!(c.wait, Duration::ZERO);
        // One flag overrides its key only.
        let ok = resolve(
            &["--cluster", "--node-id", "b", "--lease-ms", "300"],
            Some(&f),
        );
        let Ok(c) = ok else { panic!("{ok:?}") };
        assert_eq!(
            (c.name.as_str(), c.lease),
            ("site7", Duration::from_millis(300))
        );
        assert_eq!(hosts(&c), ["f1", "f2"]);
    }

    #[test]
    fn the_files_mistakes_name_its_keys() {
        let mut f = file();
        f.nats = vec!["nats://ok:1".into(), "http://h:1".into()];
        let e = resolve(&["--cluster", "--node-id", "b"], Some(&f)).unwrap_err();
        assert!(
            e.starts_with("cluster.nats[1] \"http://h:1\": not a NATS URL"),
            "{e}"
        );
        // A bad URL in the file is no matter when --nats overrides it.
        assert!(
            resolve(
                &["--cluster", "--node-id", "b", "--nats", "nats://h:1"],
                Some(&f)
            )
            .is_ok()
        );
        let mut f = file();
        f.nats_creds = Some("vaxel.creds".into());
        let e = args(&["--cluster", "--node-id", "b"])
            .resolve(Some(&f), Some(Path::new("/nonexistent/etc")))
            .map(|_| ())
            .unwrap_err();
        assert!(
            format!("{e:#}")
                .starts_with("cluster.nats_creds /nonexistent/etc/vaxel.creds: cannot read it"),
            "{e:#}"
        );
    }

    #[test]
    fn the_file_s_creds_are_relative_to_it_and_a_flag_s_are_taken_as_given() {
        let dir = crate::scratch::fresh_dir("cluster-creds");
        std::fs::write(dir.path().join("vaxel.creds"), "x").expect("write creds");
        let mut f = file();
        f.nats_creds = Some("vaxel.creds".into());
        let flags = args(&["--cluster", "--node-id", "b"]);
        let ok = flags.resolve(Some(&f), Some(dir.path()));
        let Ok(Some(c)) = ok else { panic!("{ok:?}") };
        assert_eq!(c.creds, Some(dir.path().join("vaxel.creds")));
    }

    #[test]
    fn a_reload_that_would_change_the_cluster_settings_is_named() {
        let f = file();
        let flags = args(&["--cluster", "--node-id", "b", "--lease-ms", "300"]);
        let Ok(Some(running)) = flags.resolve(Some(&f), None) else {
            panic!("resolves")
        };
        let start = ClusterStart::new(&flags, None, &running);
        assert_eq!(start.changed(Some(&f)), None);
        // The lease is the flag's: the file's is no change.
        let mut same = file();
        same.lease_ms = 9000;
        assert_eq!(start.changed(Some(&same)), None);
        let mut other = file();
        other.name = "site8".into();
        other.nats_wait_s = 0;
        assert_eq!(
            start.changed(Some(&other)).as_deref(),
            Some(
                "the reloaded [cluster] section changes name, nats_wait_s: cluster settings \
                 are read at start only and take effect at the next start"
            )
        );
        let gone = start.changed(None).unwrap_or_default();
        assert!(
            gone.starts_with(
                "the reloaded [cluster] section would not start this node (--cluster needs --nats"
            ),
            "{gone}"
        );
    }
}
