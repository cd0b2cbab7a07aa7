//! `[cluster]` (docs/configuration.md; docs/operations.md, "Cluster mode"): the settings
//! every node of a cluster must agree on, read by `vaxel serve --cluster` at start. They
//! belong in the site file because every node reads the same one: two nodes started with
//! different cluster names would use different streams and both become active. What is
//! one node's own (its id, the addresses it advertises) stays a flag of `vaxel serve`.
//!
//! The rules here are the flags' rules too: `vaxel serve` checks `--lease-ms`,
//! `--cluster-name` and the others with [`Bounded::check`] and [`check_name`], so that
//! the file and the flags cannot drift apart on a limit. The NATS URLs' syntax is the NATS
//! client's, which this crate does not depend on: `vaxel serve` checks it, naming
//! `cluster.nats[i]`. The engine never sees this section.

use crate::Diagnostic;
use crate::raw::RawSite;

/// `name` when the file leaves it out (and `--cluster-name` is not given).
pub const DEFAULT_NAME: &str = "vaxel";

/// A whole-number setting: its key in `[cluster]`, its default and its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounded {
    pub key: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    /// What the number counts, for the message of a value out of range.
    pub unit: &'static str,
}

/// `lease_ms`: an active that has not renewed its lease for this long is replaced. Below
/// 200 ms a renewal (every quarter of it) would load NATS for nothing; beyond a minute a
/// dead active leaves the site unserved too long.
pub const LEASE_MS: Bounded = Bounded {
    key: "lease_ms",
    default: 1000,
    min: 200,
    max: 60_000,
    unit: "milliseconds",
};

/// `stream_replicas`: JetStream's own limits for a stream or a bucket.
pub const STREAM_REPLICAS: Bounded = Bounded {
    key: "stream_replicas",
    default: 3,
    min: 1,
    max: 5,
    unit: "replicas",
};

/// `nats_wait_s`: how long start-up keeps trying to reach NATS. At most an hour: beyond,
/// a supervisor's restart is the better wait.
pub const NATS_WAIT_S: Bounded = Bounded {
    key: "nats_wait_s",
    default: 0,
    min: 0,
    max: 3600,
    unit: "seconds",
};

impl Bounded {
    /// `v` when it is within the limits; otherwise the message, naming the value as `named`
    /// (the file's key or the flag): `lease_ms 5 is out of range; use 200..=60000
    /// milliseconds`.
    pub fn check(&self, named: &str, v: impl Into<i128>) -> Result<u64, String> {
        let v = v.into();
        u64::try_from(v)
            .ok()
            .filter(|n| (self.min..=self.max).contains(n))
            .ok_or_else(|| {
                format!(
                    "{named} {v} is out of range; use {}..={} {}",
                    self.min, self.max, self.unit
                )
            })
    }
}

/// Whether `s` may name a cluster or a node; otherwise the message, naming the value as
/// `named` (the key or the flag). 1 to 64 letters, digits, `-` and `_`: what NATS stream,
/// bucket and key names allow once the suffixes are added.
pub fn check_name(named: &str, s: &str) -> Result<(), String> {
    let plain = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "{named} {s:?}: use 1 to 64 letters, digits, '-' or '_'"
        ))
    }
}

/// A checked `[cluster]` section, every key left out at its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSection {
    /// The NATS servers' URLs as written (their syntax is checked by `vaxel serve`); empty
    /// when the file has none.
    pub nats: Vec<String>,
    /// Prefix of the journal stream's, the lease bucket's and the checkpoint store's names.
    pub name: String,
    pub lease_ms: u64,
    pub stream_replicas: u64,
    /// A NATS credentials file, relative to the site file's directory.
    pub nats_creds: Option<String>,
    pub nats_wait_s: u64,
}

/// The settings of a file without `[cluster]`.
impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            nats: Vec::new(),
            name: DEFAULT_NAME.to_owned(),
            lease_ms: LEASE_MS.default,
            stream_replicas: STREAM_REPLICAS.default,
            nats_creds: None,
            nats_wait_s: NATS_WAIT_S.default,
        }
    }
}

/// The `[cluster]` section of `raw` (`None` without one), with the diagnostics found. A
/// bad value is reported and left at its default.
pub(crate) fn cluster(raw: &RawSite) -> (Option<ClusterSection>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(c) = raw.cluster.as_ref() else {
        return (None, diags);
    };
    let mut out = ClusterSection::default();
    if let Some(urls) = &c.nats {
        if urls.is_empty() {
            diags.push(Diagnostic::error(
                "cluster.nats",
                "no NATS URL; list the servers (nats = [\"nats://HOST:4222\", …]) or leave the \
                 key out",
            ));
        }
        for (i, u) in urls.iter().enumerate() {
            if u.trim().is_empty() {
                diags.push(Diagnostic::error(
                    format!("cluster.nats[{i}]"),
                    "URL must not be empty",
                ));
            }
        }
        out.nats.clone_from(urls);
    }
    if let Some(name) = &c.name {
        match check_name("name", name) {
            Ok(()) => out.name.clone_from(name),
            Err(e) => diags.push(Diagnostic::error("cluster.name", e)),
        }
    }
    for (rule, value, slot) in [
        (LEASE_MS, c.lease_ms, &mut out.lease_ms),
        (STREAM_REPLICAS, c.stream_replicas, &mut out.stream_replicas),
        (NATS_WAIT_S, c.nats_wait_s, &mut out.nats_wait_s),
    ] {
        let Some(v) = value else { continue };
        match rule.check(rule.key, v) {
            Ok(v) => *slot = v,
            Err(e) => diags.push(Diagnostic::error(format!("cluster.{}", rule.key), e)),
        }
    }
    if let Some(f) = &c.nats_creds {
        if f.trim().is_empty() {
            diags.push(Diagnostic::error(
                "cluster.nats_creds",
                "file path must not be empty",
            ));
        }
        out.nats_creds = Some(f.clone());
    }
    (Some(out), diags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_site;
    use crate::section_tests::{SITE, refused, with_section};

    #[test]
    fn a_section_is_read_with_its_values() {
        let body = "nats = [\"nats://10.0.0.1:4222\", \"nats://10.0.0.2:4222\"]\n\
                    name = \"site-1\"\nlease_ms = 2500\nstream_replicas = 5\n\
                    nats_creds = \"vaxel.creds\"\nnats_wait_s = 3600";
        let v = with_section("cluster", body).expect("valid");
        assert_eq!(
            v.cluster,
            Some(ClusterSection {
                nats: vec!["nats://10.0.0.1:4222".into(), "nats://10.0.0.2:4222".into()],
                name: "site-1".into(),
                lease_ms: 2500,
                stream_replicas: 5,
                nats_creds: Some("vaxel.creds".into()),
                nats_wait_s: 3600,
            })
        );
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn keys_left_out_take_their_defaults_and_no_section_is_none() {
        let v = with_section("cluster", "nats = [\"nats://h:4222\"]").expect("valid");
        let c = v.cluster.expect("a section");
        assert_eq!(c.name, "vaxel");
        assert_eq!((c.lease_ms, c.stream_replicas, c.nats_wait_s), (1000, 3, 0));
        assert_eq!(c.nats_creds, None);
        // An empty table is a section too: its defaults, and no NATS server yet.
        let empty = with_section("cluster", "")
            .expect("valid")
            .cluster
            .expect("a section");
        assert_eq!(empty, ClusterSection::default());
        assert!(empty.nats.is_empty());
        assert_eq!(load_site(SITE).expect("valid").cluster, None);
    }

    #[test]
    fn each_bad_value_names_its_path_and_the_limit() {
        for (line, want) in [
            (
                "lease_ms = 199",
                "error: cluster.lease_ms: lease_ms 199 is out of range; use 200..=60000 milliseconds",
            ),
            (
                "lease_ms = 60001",
                "error: cluster.lease_ms: lease_ms 60001 is out of range; use 200..=60000 milliseconds",
            ),
            (
                "stream_replicas = 0",
                "error: cluster.stream_replicas: stream_replicas 0 is out of range; use 1..=5 replicas",
            ),
            (
                "stream_replicas = 6",
                "error: cluster.stream_replicas: stream_replicas 6 is out of range; use 1..=5 replicas",
            ),
            (
                "nats_wait_s = -1",
                "error: cluster.nats_wait_s: nats_wait_s -1 is out of range; use 0..=3600 seconds",
            ),
            (
                "nats_wait_s = 3601",
                "error: cluster.nats_wait_s: nats_wait_s 3601 is out of range; use 0..=3600 seconds",
            ),
            (
                "name = \"site one\"",
                "error: cluster.name: name \"site one\": use 1 to 64 letters, digits, '-' or '_'",
            ),
            (
                "name = \"\"",
                "error: cluster.name: name \"\": use 1 to 64 letters, digits, '-' or '_'",
            ),
            (
                "nats = []",
                "error: cluster.nats: no NATS URL; list the servers (nats = [\"nats://HOST:4222\", …]) or leave the key out",
            ),
            (
                "nats = [\"nats://h:1\", \" \"]",
                "error: cluster.nats[1]: URL must not be empty",
            ),
            (
                "nats_creds = \"\"",
                "error: cluster.nats_creds: file path must not be empty",
            ),
        ] {
            assert_eq!(refused("cluster", line), [want], "{line}");
        }
        let long = "x".repeat(65);
        let e = refused("cluster", &format!("name = \"{long}\""));
        assert!(e[0].starts_with("error: cluster.name: name \"xxx"), "{e:?}");
    }

    #[test]
    fn values_of_the_wrong_type_and_unknown_keys_are_refused() {
        let e = refused("cluster", "nats = \"nats://h:4222\"");
        assert!(
            e[0].starts_with("error: cluster.nats (line ") && e[0].contains("expected an array"),
            "{e:?}"
        );
        let e = refused("cluster", "lease_ms = 1.5");
        assert!(
            e[0].starts_with("error: cluster.lease_ms (line ")
                && e[0].contains("expected an integer"),
            "{e:?}"
        );
        // Node-specific settings are flags, not keys: refused as any unknown key.
        let e = refused("cluster", "node_id = \"a\"");
        assert_eq!(
            e,
            [
                "error: cluster.node_id: unknown key; known keys here: nats, name, lease_ms, \
              stream_replicas, nats_creds, nats_wait_s"
            ]
        );
        let e = refused("cluster", "lese_ms = 1000");
        assert_eq!(
            e,
            ["error: cluster.lese_ms: unknown key; did you mean \"lease_ms\"?"]
        );
    }

    #[test]
    fn the_rules_name_what_they_are_given() {
        assert_eq!(LEASE_MS.check("--lease-ms", 200_u64), Ok(200));
        assert_eq!(
            LEASE_MS.check("--lease-ms", u64::MAX),
            Err(format!(
                "--lease-ms {} is out of range; use 200..=60000 milliseconds",
                u64::MAX
            ))
        );
        assert_eq!(NATS_WAIT_S.check("nats_wait_s", 0_i64), Ok(0));
        assert_eq!(check_name("--node-id", "vx-1_b"), Ok(()));
        assert_eq!(
            check_name("--node-id", "a.b"),
            Err("--node-id \"a.b\": use 1 to 64 letters, digits, '-' or '_'".into())
        );
    }
}
