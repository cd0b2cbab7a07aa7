//! `vaxel config check` as a user runs it: the built binary on the built-in city, on the
//! city's file, and on a broken copy of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CITY: &str = include_str!("../config/stockholm.toml");

fn vaxel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vaxel"))
        .args(args)
        .output()
        .expect("run vaxel")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn city_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/stockholm.toml")
}

/// The index of the `[[section]]` item that contains `needle` (its first occurrence).
fn item_index(text: &str, section: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle in text");
    let header = format!("[[{section}]]");
    text[..at].matches(&header).count() - 1
}

/// `text` with the first `from` after `anchor` replaced by `to`.
fn replace_after(text: &str, anchor: &str, from: &str, to: &str) -> String {
    let a = text.find(anchor).expect("anchor in text");
    let f = a + text[a..].find(from).expect("from after anchor");
    format!("{}{to}{}", &text[..f], &text[f + from.len()..])
}

/// A file `name` holding `content` in a temp dir of its own, both removed when dropped (at
/// the test's end, even on a panic).
struct TempFile {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempFile {
    fn new(name: &str, content: &str) -> TempFile {
        let dir = tempfile::Builder::new()
            .prefix("vaxel-config-check-")
            .tempdir()
            .expect("a temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write temp file");
        TempFile { path, _dir: dir }
    }
}

#[test]
fn the_built_in_city_is_ok() {
    let o = vaxel(&["config", "check"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert_eq!(
        out.trim(),
        "config/stockholm.toml (built-in): ok (16 groups, 150 agents, 9 entries), 0 warnings"
    );
}

#[test]
fn the_city_file_is_ok() {
    let file = city_file();
    let o = vaxel(&["config", "check", file.to_str().expect("utf-8 path")]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.trim_end()
            .ends_with("ok (16 groups, 150 agents, 9 entries), 0 warnings"),
        "{out}"
    );
}

#[test]
fn a_broken_copy_lists_every_injected_problem() {
    let mut text = CITY.replacen("Europe/Stockholm", "Europe/Stokholm", 1);
    text = text.replacen("\"2\" = \"group:bygglov\"", "\"2\" = \"group:bygglv\"", 1);
    text = text.replacen("number = \"+46850836000\"", "number = \"08-508 360 00\"", 1);
    text = replace_after(&text, "id = \"bygglov\"", "ring_s = 8", "ring_s = 900");
    text = replace_after(&text, "id = \"bygglov\"", "wrapup_s = 30", "wrapup = 30");
    text = replace_after(
        &text,
        "id = \"vaxel\"",
        "{ when = \"no_agents\", to = \"number:+46850899999\" }",
        "{ when = \"no_agents\", to = \"group:kc-allman\" }",
    );
    text = replace_after(
        &text,
        "id = \"a1102\"",
        "extension = \"1102\"",
        "extension = \"1101\"",
    );

    let menu = item_index(&text, "menus", "id = \"main\"");
    let aldre = item_index(&text, "entries", "id = \"aldre-direkt\"");
    let bygglov = item_index(&text, "groups", "id = \"bygglov\"");
    let vaxel_group = item_index(&text, "groups", "id = \"vaxel\"");
    let agent = item_index(&text, "agents", "id = \"a1102\"");
    let expected = [
        "error: site.timezone: unknown time zone \"Europe/Stokholm\"; did you mean \"Europe/Stockholm\"?".to_owned(),
        format!("error: entries[{aldre}].number: \"08-508 360 00\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0); did you mean \"+46850836000\"?"),
        format!("error: menus[{menu}].options.\"2\": no group \"bygglv\"; did you mean \"bygglov\"?"),
        format!("error: groups[{vaxel_group}].overflow[2].to: overflow cycle: vaxel → kc-allman → vaxel; a call could move between these groups forever"),
        format!("error: groups[{bygglov}].wrapup: unknown key; did you mean \"wrapup_s\"?"),
        format!("error: groups[{bygglov}].ring_s: 900 s is out of range; use 0..=600 seconds"),
        format!("error: agents[{agent}].extension: extension 1101 is already agent \"a1101\"'s (agents[0])"),
        "unknown keys are errors; --allow-unknown-keys makes them warnings".to_owned(),
    ];

    let file = TempFile::new("broken.toml", &text);
    let path = file.path.to_str().expect("utf-8 path");
    let o = vaxel(&["config", "check", path]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{out}");
    for (got, want) in lines.iter().zip(&expected) {
        assert_eq!(got, want, "\n{out}");
    }
    assert_eq!(
        lines[expected.len()],
        format!("{path}: 7 errors, 0 warnings")
    );
}

/// Issue 12 #10: a typo (`wraup_s`) was a warning, and the group's wrap-up silently 0 s.
#[test]
fn an_unknown_key_is_an_error_unless_allowed() {
    let text = std::fs::read_to_string(city_file())
        .expect("the city file")
        .replacen("wrapup_s =", "wraup_s =", 1);
    let file = TempFile::new("typo.toml", &text);
    let path = file.path.to_str().expect("utf-8 path");
    let o = vaxel(&["config", "check", path]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(".wraup_s: unknown key; did you mean \"wrapup_s\"?")
            && out.starts_with("error: ")
            && out.contains("--allow-unknown-keys makes them warnings"),
        "{out}"
    );
    let o = vaxel(&["config", "check", "--allow-unknown-keys", path]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.starts_with("warning: ") && out.contains("1 warning"),
        "{out}"
    );
}

/// `[cluster]` (the settings a cluster's nodes share) is checked like every other section:
/// each bad value names its key and the limit, after the routing sections' findings; a
/// good section is no finding at all.
#[test]
fn the_cluster_section_is_checked_like_the_others() {
    let good = format!(
        "{CITY}\n[cluster]\nnats = [\"nats://10.0.0.1:4222\"]\nname = \"city\"\nlease_ms = 2000\n"
    );
    let file = TempFile::new("cluster.toml", &good);
    let o = vaxel(&["config", "check", file.path.to_str().expect("utf-8 path")]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.trim_end().ends_with("0 warnings"), "{out}");

    let bad = format!(
        "{CITY}\n[cluster]\nnats = []\nname = \"the city\"\nlease_ms = 100\nstream_replicas = 9\n\
         nats_wait_s = 7200\nnode_id = \"vx1\"\n"
    );
    let file = TempFile::new("cluster-bad.toml", &bad);
    let path = file.path.to_str().expect("utf-8 path");
    let o = vaxel(&["config", "check", path]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let expected = [
        "error: cluster.node_id: unknown key; known keys here: nats, name, lease_ms, stream_replicas, nats_creds, nats_wait_s",
        "error: cluster.nats: no NATS URL; list the servers (nats = [\"nats://HOST:4222\", …]) or leave the key out",
        "error: cluster.name: name \"the city\": use 1 to 64 letters, digits, '-' or '_'",
        "error: cluster.lease_ms: lease_ms 100 is out of range; use 200..=60000 milliseconds",
        "error: cluster.stream_replicas: stream_replicas 9 is out of range; use 1..=5 replicas",
        "error: cluster.nats_wait_s: nats_wait_s 7200 is out of range; use 0..=3600 seconds",
        "unknown keys are errors; --allow-unknown-keys makes them warnings",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..expected.len()], expected, "\n{out}");
    assert_eq!(
        lines[expected.len()..],
        [format!("{path}: 6 errors, 0 warnings")],
        "\n{out}"
    );
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let file = TempFile::new("syntax.toml", "[site]\nname = \"x\"\ntimezone = \n");
    let o = vaxel(&["config", "check", file.path.to_str().expect("utf-8 path")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.starts_with("error: line 3, column "), "{out}");
}

#[test]
fn a_missing_file_fails_with_its_name() {
    let o = vaxel(&["config", "check", "/nonexistent/vaxel-site.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot read site file /nonexistent/vaxel-site.toml"),
        "{err}"
    );
}
