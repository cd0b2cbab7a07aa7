//! File descriptors: the daemon must never fail to write its journal because clients hold
//! every descriptor (with a soft limit of 1,024, 1,100 idle HTTP connections made the
//! next journal open fail and the daemon exit). At start the soft `RLIMIT_NOFILE` is
//! raised to the hard limit, and every kind of connection has a cap; the caps and a
//! reserve for the daemon's own files must fit under the limit, or the daemon refuses to
//! start, naming the flags to lower. Connections beyond a cap wait in the listen backlog,
//! which costs the daemon no descriptor.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Descriptors kept for the daemon's own files: the journal (two at a checkpoint), the
/// snapshot and its `.tmp`, the directory syncs, the call-record files (two when the day
/// changes), the records' sync thread, a site or token file read for a reload, the
/// listening sockets, the runtime's own (epoll, event fds) and a margin.
pub const RESERVE: u64 = 64;

/// What the daemon may open, once the soft limit is raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The soft limit in force (after raising it).
    pub limit: u64,
    /// Descriptors open when the budget was taken.
    pub open: u64,
}

impl Budget {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (an unlimited hard limit is
    /// taken as the kernel's `nr_open`) and counts the descriptors open now. A failure
    /// to raise it is logged and the soft limit in force is used.
    #[must_use]
    pub fn raise() -> Budget {
        let now = getrlimit(Resource::Nofile);
        let soft = now.current.unwrap_or(u64::MAX);
        let hard = now.maximum.unwrap_or_else(nr_open);
        let mut limit = soft;
        if hard > soft {
            let mut want = now;
            want.current = Some(hard);
            match setrlimit(Resource::Nofile, want) {
                Ok(()) => limit = hard,
                Err(e) => tracing::warn!(
                    soft,
                    hard,
                    error = %e,
                    "cannot raise the open-file limit; the soft limit stays"
                ),
            }
        }
        Budget {
            limit,
            open: open_descriptors(),
        }
    }

    /// Checks that `caps` (what every kind of connection may hold at once, by flag) fit
    /// beside the descriptors open now and the [`RESERVE`].
    pub fn check(&self, caps: &[(&str, usize)]) -> anyhow::Result<()> {
        let wanted: u64 = caps.iter().map(|(_, n)| *n as u64).sum();
        let free = self.limit.saturating_sub(self.open + RESERVE);
        if wanted > free {
            let list: Vec<String> = caps.iter().map(|(f, n)| format!("{f} {n}")).collect();
            anyhow::bail!(
                "the connection caps ({}: {wanted} descriptors) do not fit under the \
                 open-file limit {} ({} open, {RESERVE} kept for the journal, checkpoints \
                 and records): lower them or raise the hard limit (ulimit -Hn, systemd's \
                 LimitNOFILE)",
                list.join(", "),
                self.limit,
                self.open
            );
        }
        tracing::info!(
            limit = self.limit,
            open = self.open,
            reserved = RESERVE,
            connections = wanted,
            "open-file budget"
        );
        Ok(())
    }
}

/// The kernel's ceiling for a process's descriptors (what an unlimited hard limit means).
fn nr_open() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// Descriptors open in this process (`/proc/self/fd`; a generous guess without `/proc`).
fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(32, |d| d.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_do_not_fit_are_refused_naming_the_flags() {
        let b = Budget {
            limit: 1024,
            open: 20,
        };
        assert!(
            b.check(&[("--max-connections", 256), ("--http-max-connections", 512)])
                .is_ok()
        );
        let e = b
            .check(&[("--max-connections", 256), ("--http-max-connections", 1000)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--http-max-connections 1000") && e.contains("limit 1024"),
            "{e}"
        );
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let b = Budget::raise();
        let now = getrlimit(Resource::Nofile);
        assert_eq!(Some(b.limit), now.current.or(Some(u64::MAX)));
        assert!(b.open > 0);
    }
}
