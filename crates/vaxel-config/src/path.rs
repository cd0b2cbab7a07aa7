//! Paths in the file's own terms (`groups[3].overflow[0].to`, `menus[1].options."8"`,
//! `calendars.office.special."2026-01-05"`) and the order diagnostics are listed in.

use std::fmt::Write as _;

/// One step of a path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A key as it would be written after a dot: bare when TOML allows it and it does not
/// start with a digit (`mon-fri`, `wrapup_s`), quoted otherwise (`"8"`, `"lang:en"`,
/// `"2026-01-05"`), so that option keys and dates read as the data they are.
pub(crate) fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_owned()
    } else {
        let mut q = String::with_capacity(k.len() + 2);
        q.push('"');
        for c in k.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                c if c.is_control() => {
                    let _ = write!(q, "\\u{:04X}", u32::from(c));
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    }
}

/// `prefix` followed by `segs` (`.key`, `[i]`).
pub(crate) fn join(prefix: &str, segs: &[Seg]) -> String {
    let mut out = prefix.to_owned();
    for s in segs {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&key(k));
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// The top-level sections in the order docs/configuration.md writes them.
pub(crate) const SECTIONS: [&str; 14] = [
    "site",
    "calendars",
    "entries",
    "menus",
    "groups",
    "agents",
    "directory",
    "auth",
    "crisis",
    "callbacks",
    "platform",
    "wallboard",
    "records",
    "cluster",
];

/// Sort key of a diagnostic path: its section (in [`SECTIONS`] order, anything else after)
/// and the index right after the section (`groups[3]` → 3). A stable sort on this key keeps
/// the order the checks found things in within one item, which follows the item's fields.
pub(crate) fn order(path: &str) -> (usize, usize) {
    let end = path.find(['.', '[', ' ']).unwrap_or(path.len());
    let section = &path[..end];
    let rank = SECTIONS
        .iter()
        .position(|s| *s == section)
        .unwrap_or(SECTIONS.len());
    let index = path[end..]
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0);
    (rank, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_when_they_look_like_data() {
        assert_eq!(key("mon-fri"), "mon-fri");
        assert_eq!(key("8"), "\"8\"");
        assert_eq!(key("*"), "\"*\"");
        assert_eq!(key("lang:en"), "\"lang:en\"");
        assert_eq!(key("2026-01-05"), "\"2026-01-05\"");
        assert_eq!(key("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn join_and_order() {
        let p = join(
            "groups[3]",
            &[
                Seg::Key("overflow".into()),
                Seg::Index(0),
                Seg::Key("to".into()),
            ],
        );
        assert_eq!(p, "groups[3].overflow[0].to");
        assert_eq!(order(&p), (4, 3));
        assert_eq!(order("site.timezone"), (0, 0));
        assert_eq!(order("calendars.office.mon-fri"), (1, 0));
        assert_eq!(order("platform.grace_s"), (10, 0));
        assert_eq!(order("wallboard.lang"), (11, 0));
        assert_eq!(order("records.postgres"), (12, 0));
        assert_eq!(order("cluster.lease_ms"), (13, 0));
        assert_eq!(order("zzz"), (14, 0));
        assert!(order("entries[10].number") > order("entries[9]"));
    }
}
