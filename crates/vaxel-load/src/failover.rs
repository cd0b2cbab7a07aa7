//! The tool's connections, and `--reconnect`: a connection that closes is made again, to
//! the next address of `--addr` in turn (the other node of a cluster, or the same daemon
//! started again), with a `hello` that resumes after the last command processed on it
//! (protocol version 2, docs/protocol.md, "Resume"). The driver then writes again every
//! event the old connection had no answer for ([`crate::driver::Driver::resume`]).
//!
//! What the old connection's tasks still pass on after it closed is told apart by its
//! session ([`Link`]) and dropped: its commands come again after the resume.

use crate::conn::{self, ConnHandle, Greeting, Incoming, Link};
use anyhow::bail;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Between two rounds of attempts over the addresses.
const RETRY: Duration = Duration::from_millis(100);

/// Who the tool is to the daemon, and where the daemon may be.
#[derive(Clone, Debug)]
pub struct Peers {
    /// `--addr`, in order.
    pub addrs: Vec<String>,
    pub token: Option<String>,
    pub protocol: u64,
    /// `--reconnect`: how long a closed connection may take to be made again; zero: a
    /// closed connection ends the run.
    pub within: Duration,
}

/// What reconnecting took, for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconnects {
    /// Connections made again.
    pub count: u64,
    /// The longest time from a connection's close to its successor's `welcome`.
    pub longest: Duration,
}

/// One platform's connection as it is now.
struct Open {
    handle: ConnHandle,
    /// The session it is in.
    session: u64,
    /// The address it is on (an index into `Peers::addrs`).
    on: usize,
    /// Version 2: the last command processed on it, where a resume starts.
    last_cmd: Option<u64>,
}

/// The open connections: one per platform (`load-1` … `load-K`).
pub struct Links {
    peers: Peers,
    open: Vec<Open>,
    next_session: u64,
    incoming: mpsc::UnboundedSender<Incoming>,
    pub reconnects: Reconnects,
}

fn platform(conn: usize) -> String {
    format!("load-{}", conn + 1)
}

impl Links {
    /// Opens `connections` connections to the first address.
    pub async fn open(
        peers: Peers,
        connections: usize,
        incoming: mpsc::UnboundedSender<Incoming>,
    ) -> anyhow::Result<Links> {
        let Some(first) = peers.addrs.first().cloned() else {
            bail!("--addr names no address");
        };
        let mut links = Links {
            peers,
            open: Vec::with_capacity(connections),
            next_session: 0,
            incoming,
            reconnects: Reconnects::default(),
        };
        for i in 0..connections {
            let name = platform(i);
            let link = links.session(i);
            let hello = links.greeting(&name, None);
            let handle = conn::open(&first, hello, link, links.incoming.clone()).await?;
            links.open.push(Open {
                last_cmd: handle.resumed_after,
                handle,
                session: link.session,
                on: 0,
            });
        }
        Ok(links)
    }

    fn session(&mut self, conn: usize) -> Link {
        self.next_session += 1;
        Link {
            conn,
            session: self.next_session,
        }
    }

    fn greeting<'a>(&'a self, platform: &'a str, last_cmd: Option<u64>) -> Greeting<'a> {
        Greeting {
            platform,
            token: self.peers.token.as_deref(),
            protocol: self.peers.protocol,
            last_cmd,
        }
    }

    /// The connections' handles, in order.
    pub fn handles(&self) -> impl ExactSizeIterator<Item = &ConnHandle> {
        self.open.iter().map(|o| &o.handle)
    }

    /// Whether a message from `link` comes from a connection in use (not one that closed
    /// and was made again).
    #[must_use]
    pub fn is_current(&self, link: Link) -> bool {
        self.open
            .get(link.conn)
            .is_some_and(|o| o.session == link.session)
    }

    /// Whether a closed connection is made again rather than ending the run.
    #[must_use]
    pub fn reconnecting(&self) -> bool {
        !self.peers.within.is_zero()
    }

    /// The commands up to `last_cmd` were processed on connection `conn`.
    pub fn processed(&mut self, conn: usize, last_cmd: u64) {
        if let Some(o) = self.open.get_mut(conn) {
            o.last_cmd = Some(last_cmd);
        }
    }

    /// Makes connection `conn` again after it closed (`why`): the addresses in turn from
    /// the one after its own, until one welcomes it or `--reconnect` has gone by.
    pub async fn reconnect(&mut self, conn: usize, why: &str) -> anyhow::Result<()> {
        let closed = Instant::now();
        let deadline = closed + self.peers.within;
        let name = platform(conn);
        let Some(was) = self.open.get(conn) else {
            bail!("connection {name}: {why}");
        };
        let (last_cmd, mut at) = (was.last_cmd, was.on);
        let n = self.peers.addrs.len();
        let mut tried = 0usize;
        let last_error = loop {
            at = (at + 1) % n;
            tried += 1;
            let link = self.session(conn);
            let addr = self.peers.addrs[at].clone();
            let left = deadline.saturating_duration_since(Instant::now());
            let hello = self.greeting(&name, last_cmd);
            let opened =
                tokio::time::timeout(left, conn::open(&addr, hello, link, self.incoming.clone()))
                    .await
                    .unwrap_or_else(|_| {
                        Err(anyhow::anyhow!("{addr}: no welcome within --reconnect"))
                    });
            match opened {
                Ok(handle) => {
                    // Said as it happens: a trial's operator watches for it.
                    eprintln!(
                        "vaxel load: {name} resumed on {addr} after {:.3} s (closed: {why})",
                        closed.elapsed().as_secs_f64()
                    );
                    self.open[conn] = Open {
                        last_cmd: handle.resumed_after.or(last_cmd),
                        handle,
                        session: link.session,
                        on: at,
                    };
                    self.reconnects.count += 1;
                    self.reconnects.longest = self.reconnects.longest.max(closed.elapsed());
                    return Ok(());
                }
                Err(_) if Instant::now() < deadline => {
                    if tried.is_multiple_of(n) {
                        tokio::time::sleep(RETRY.min(deadline - Instant::now())).await;
                    }
                }
                Err(e) => break e,
            }
        };
        bail!(
            "connection {name}: {why}; no daemon at {} took it again within {:?} \
             (--reconnect): {last_error:#}",
            self.peers.addrs.join(", "),
            self.peers.within
        )
    }
}
