//! Where a cluster node's call-record files begin in the stream's records: the file
//! `cluster-records-base` in its data dir, holding *base* such that the files' last record
//! is the stream's record number base + (records in the files). Absent, 0: the files are a
//! whole copy from the stream's start. A node that starts from a checkpoint its files have
//! not reached (a new node, or one down for longer than the kept checkpoints cover) writes
//! the records after the checkpoint only, and notes the new base here, so that its next
//! start still counts where its files reach (and neither doubles nor drops a record).

use crate::journal::sync_dir;
use anyhow::Context as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

pub const FILE: &str = "cluster-records-base";

/// The base noted in `dir` (0 without the file). A file that does not hold a number is an
/// error naming it: guessing would double or drop records.
pub fn read(dir: &Path) -> anyhow::Result<u64> {
    let path = dir.join(FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().with_context(|| {
            format!(
                "{} does not hold a number of call records ({text:?}): restore it or \
                 remove the data dir's call-record files with it (docs/operations.md, \
                 \"Cluster mode\")",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Notes `base` in `dir` durably (a temporary file, fsynced, renamed, the directory
/// fsynced), before any record after it is written.
pub fn write(dir: &Path, base: u64) -> anyhow::Result<()> {
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    (|| {
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{base}")?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        sync_dir(dir)
    })()
    .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_zero_written_reads_back_and_garbage_is_named() {
        let dir = std::env::temp_dir().join(format!("vaxel-records-base-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).ok();
        assert_eq!(read(&dir).ok(), Some(0));
        assert!(write(&dir, 1234).is_ok());
        assert_eq!(read(&dir).ok(), Some(1234));
        fs::write(dir.join(FILE), "12x\n").ok();
        let e = read(&dir)
            .map_err(|e| format!("{e:#}"))
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("cluster-records-base does not hold a number"),
            "{e}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
