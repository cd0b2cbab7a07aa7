//! The wallboard in a real browser: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from Node) against a real `vaxel serve` on the built-in city, started
//! here on loopback with `--clock event`, an operator and an admin token. The scenario is
//! `tests/browser/wallboard.mjs`: the token typed once, every tile on a 1920×1080 screen,
//! a call on its tile within a second, the longest wait ticking, an agent logging in, the
//! crisis banner, the stale mark when the stream is cut and the recovery, the language
//! toggle. Screenshots go to `$CARGO_TARGET_TMPDIR/wallboard-shots/`.
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

#[test]
fn the_wallboard_in_chromium() {
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

    let tmp = temp_dir("wallboard-browser");
    let site = tmp.join("site.toml");
    let city = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/stockholm.toml"),
    )
    .expect("read the built-in city");
    std::fs::write(&site, city).expect("write the site");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wallboard-shots");
    std::fs::create_dir_all(&shots).expect("create the screenshot dir");
    let d = Daemon::start(
        &site,
        &tmp.join("data"),
        &[
            ("VAXEL_OPERATOR_TOKENS", OPERATOR_TOKEN),
            ("VAXEL_ADMIN_TOKENS", ADMIN_TOKEN),
        ],
    );

    let out = output_within(
        Command::new(node)
            .arg(dir.join("wallboard.mjs"))
            .current_dir(&dir)
            .env("VAXEL_HTTP", d.http.to_string())
            .env("VAXEL_TCP", d.tcp.to_string())
            .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("CHROMIUM", &chromium)
            .env("SHOTS", &shots),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the wallboard scenario failed ({}):\n{stdout}\n{stderr}\ndaemon log:\n{}",
        out.status,
        d.log_text()
    );
    assert!(stdout.contains("all wallboard checks passed"), "{stdout}");
    for shot in [
        "wallboard.png",
        "wallboard-crisis.png",
        "wallboard-stale.png",
    ] {
        let len = std::fs::metadata(shots.join(shot)).map_or(0, |m| m.len());
        assert!(len > 10_000, "{shot}: {len} bytes");
    }
}
