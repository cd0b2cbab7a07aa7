//! Scratch directories for the unit tests.

use tempfile::TempDir;

/// An empty directory of its own for the test part `name` (`vaxel-NAME-` and a random
/// suffix in the temp dir), removed when the guard drops: at the test's end, even on a
/// panic. Keep the guard for as long as the directory is used.
pub(crate) fn fresh_dir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("vaxel-{name}-"))
        .tempdir()
        .expect("a scratch directory")
}
