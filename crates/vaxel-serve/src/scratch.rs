//! Scratch directories for the unit tests.

use std::path::PathBuf;

/// An empty directory for the test part `name` of this process, made afresh: one left by
/// an earlier run is removed first. Names are unique per test, so tests running at once
/// never share one.
pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vaxel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
