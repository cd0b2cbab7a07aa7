//! The screens in a real browser: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from Node) against a real `vaxel serve` on the built-in city, started
//! here on loopback with `--clock event`, an operator and an admin token (and, for the
//! desk, an agent's). The operator's desk is `tests/browser/desk.mjs` (sign in, the call
//! fed over TCP on the desk, park and take back, the case, a transfer the platform
//! receives, the agent token refused for another agent; `desk.png`). The wallboard's
//! scenario is `tests/browser/wallboard.mjs`: the token typed once, every tile on a 1920×1080 screen,
//! a call on its tile within a second, the longest wait ticking, an agent logging in, the
//! crisis banner, the stale mark when the stream is cut and the recovery, the language
//! toggle, then a busy morning on every group (`wallboard-busy.png`, the one in docs/).
//! Screenshots go to `$CARGO_TARGET_TMPDIR/wallboard-shots/`; the helpers both scenarios
//! share are `tests/browser/harness.mjs`.
//!
//! Chromium, Node or playwright-core missing fails the test with the way to install them
//! (`scripts/test` installs all three).

mod serve_support;

use serve_support::{Daemon, output_within, temp_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const OPERATOR_TOKEN: &str = "wallboard-operator-0123456789";
const ADMIN_TOKEN: &str = "wallboard-admin-0123456789";
/// The switchboard operator a1101's own token (the desk).
const AGENT_TOKEN: &str = "desk-a1101-0123456789";

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `VAXEL_CHROMIUM`, else `chromium` on the path.
fn chromium() -> PathBuf {
    std::env::var_os("VAXEL_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path("chromium"))
        .unwrap_or_else(|| {
            panic!(
                "Chromium is not installed: run scripts/test (it installs what the tests \
                 need), or `apt-get install -y chromium` (Debian), or set VAXEL_CHROMIUM to \
                 a Chromium executable"
            )
        })
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

/// Runs `script` (in tests/browser) with `env` against a daemon on the built-in city
/// (with `extra_site` appended to its site file and `tokens` in the environment), and
/// checks that it passed and wrote `shots`.
fn scenario(
    name: &str,
    script: &str,
    extra_site: &str,
    tokens: &[(&str, &str)],
    env: &[(&str, &str)],
    shots: &[&str],
) {
    let chromium = chromium();
    let node = on_path("node").unwrap_or_else(|| {
        panic!("Node.js is not installed: run scripts/test, or `apt-get install -y nodejs npm`")
    });
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed: run scripts/test, or `npm ci` in {}",
        dir.display()
    );

    let tmp = temp_dir(name);
    let site = tmp.join("site.toml");
    let city = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/stockholm.toml"),
    )
    .expect("read the built-in city");
    std::fs::write(&site, format!("{city}{extra_site}")).expect("write the site");
    let shot_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wallboard-shots");
    std::fs::create_dir_all(&shot_dir).expect("create the screenshot dir");
    let d = Daemon::start(&site, &tmp.join("data"), tokens);

    let mut cmd = Command::new(node);
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .env("VAXEL_HTTP", d.http.to_string())
        .env("VAXEL_TCP", d.tcp.to_string())
        .env("CHROMIUM", &chromium)
        .env("SHOTS", &shot_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output_within(&mut cmd, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the {script} scenario failed ({}):\n{stdout}\n{stderr}\ndaemon log:\n{}",
        out.status,
        d.log_text()
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    for shot in shots {
        let len = std::fs::metadata(shot_dir.join(shot)).map_or(0, |m| m.len());
        assert!(len > 10_000, "{shot}: {len} bytes");
    }
}

#[test]
fn the_wallboard_in_chromium() {
    scenario(
        "wallboard-browser",
        "wallboard.mjs",
        "",
        &[
            ("VAXEL_OPERATOR_TOKENS", OPERATOR_TOKEN),
            ("VAXEL_ADMIN_TOKENS", ADMIN_TOKEN),
        ],
        &[
            ("OPERATOR_TOKEN", OPERATOR_TOKEN),
            ("ADMIN_TOKEN", ADMIN_TOKEN),
        ],
        &[
            "wallboard.png",
            "wallboard-crisis.png",
            "wallboard-stale.png",
            "wallboard-busy.png",
        ],
    );
}

#[test]
fn the_desk_in_chromium() {
    scenario(
        "desk-browser",
        "desk.mjs",
        &format!("\n[auth.agent_tokens]\na1101 = \"{AGENT_TOKEN}\"\n"),
        &[
            ("VAXEL_OPERATOR_TOKENS", OPERATOR_TOKEN),
            ("VAXEL_ADMIN_TOKENS", ADMIN_TOKEN),
        ],
        &[("ADMIN_TOKEN", ADMIN_TOKEN), ("AGENT_TOKEN", AGENT_TOKEN)],
        &["desk.png"],
    );
}
