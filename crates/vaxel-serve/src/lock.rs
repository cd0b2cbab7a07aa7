//! The data dir's lock: one daemon per data dir. Two daemons appending to one journal
//! would interleave their entries and each recover the other's calls; the second one
//! refuses to start instead. The lock is an advisory `flock` on the data dir itself, held
//! as long as the returned handle is open: a directory cannot be deleted while it holds
//! files, and deleting and recreating it leaves no journal to share, whereas a lock on a
//! file inside would be lost with the file (`rm LOCK` let a second daemon in). `LOCK` is
//! locked too, for daemons of earlier versions and for people looking. The kernel
//! releases both when the process ends, however it ends (`kill -9` included), so a crash
//! never leaves a stale lock.

use anyhow::Context as _;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// The lock file's name in the data dir.
pub const LOCK_FILE: &str = "LOCK";

/// The data dir's lock: released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _dir: File,
    _file: File,
}

/// Creates the data dir if needed and takes its lock, or says who holds it.
pub fn lock_data_dir(dir: &Path) -> anyhow::Result<DirLock> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let handle =
        File::open(dir).with_context(|| format!("cannot open the data dir {}", dir.display()))?;
    try_lock(&handle, dir, dir)?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    try_lock(&file, dir, &path)?;
    Ok(DirLock {
        _dir: handle,
        _file: file,
    })
}

/// `flock`s `file` (which is `path`, in or being the data dir `dir`), or says who holds it.
fn try_lock(file: &File, dir: &Path, path: &Path) -> anyhow::Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
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
        let tmp = crate::scratch::fresh_dir("lock");
        // A data dir not made yet, as a first start finds it.
        let dir = tmp.path().join("data");
        let first = lock_data_dir(&dir).unwrap();
        let err = lock_data_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("in use by another vaxel serve"), "{err}");
        drop(first);
        assert!(lock_data_dir(&dir).is_ok());
    }
}
