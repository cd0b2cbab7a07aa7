//! `vaxel top --once` against a real daemon: the groups as the stream gives them, the
//! token sent as a header, a wrong token refused with a clear message.

mod serve_support;

use serve_support::{Daemon, SITE, output_within, temp_dir};
use std::process::Command;
use std::time::Duration;

const OPERATOR: &str = "top-operator-token-0123456789";

fn top(d: &Daemon, token: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaxel"));
    cmd.args(["top", "--once", "--http", &d.http.to_string()])
        .env_remove("VAXEL_TOKEN");
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    output_within(&mut cmd, Duration::from_secs(20))
}

#[test]
fn top_once_prints_the_groups_from_the_stream() {
    let tmp = temp_dir("top-once");
    let site = tmp.join("site.toml");
    std::fs::write(&site, SITE).expect("write the site");
    let d = Daemon::start(
        &site,
        &tmp.join("data"),
        &[("VAXEL_OPERATOR_TOKENS", OPERATOR)],
    );
    // An agent logged in: the counts come from the live state.
    let mut p = d.platform("pbx");
    p.call(
        r#"{"ev":"agent.login","seq":1,"at":1000,"agent":"a1"}"#,
        &[r#"{"cmd":"ok","seq":1}"#],
    );

    let out = top(&d, Some(OPERATOR));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"Testby"), "{stdout}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("group\twaiting\tlongest")),
        "{stdout}"
    );
    // sales: 0 waiting, ready 1, logged in 1 (a1 serves both groups).
    let sales = lines
        .iter()
        .find(|l| l.starts_with("sales\t"))
        .copied()
        .unwrap_or("");
    let cells: Vec<&str> = sales.split('\t').collect();
    assert_eq!(cells.get(1), Some(&"0"), "{stdout}");
    assert_eq!(cells.get(8), Some(&"1"), "{stdout}");
    assert_eq!(cells.last(), Some(&"1"), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("support\t")), "{stdout}");

    let refused = top(&d, Some("wrong-token-0123456789"));
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("refused the token"), "{err}");
}
