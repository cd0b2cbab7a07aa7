//! The data dir's lock: one daemon per data dir. Two daemons appending to one journal
//! would interleave their entries and each recover the other's calls; the second one
//! refuses to start instead. The lock is an advisory `flock` on `LOCK` in the data dir,
//! held as long as the returned file is open: the kernel releases it when the process
//! ends, however it ends (`kill -9` included), so a crash never leaves a stale lock.

use anyhow::Context as _;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// The lock file's name in the data dir.
pub const LOCK_FILE: &str = "LOCK";

/// Creates the data dir if needed and takes its lock, or says who holds it.
pub fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "the data dir {} is in use by another vaxel serve (it holds {}); stop that \
             daemon first or give this one another --data-dir",
            dir.display(),
            path.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_dir_is_refused_until_the_first_is_released() {
        let dir = std::env::temp_dir().join(format!("vaxel-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = lock_data_dir(&dir).unwrap();
        let err = lock_data_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("in use by another vaxel serve"), "{err}");
        drop(first);
        assert!(lock_data_dir(&dir).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
