//! Damage found at start-up (see `recovery.rs`): refuse to start with a message naming
//! the file, the byte offset and what to do, or, with `vaxel serve --salvage`, move the
//! damaged files into `damaged-<UTC time>/` in the data dir (renamed, never deleted or
//! overwritten) and log what was lost (docs/operations.md, "Damage").

use crate::journal;
use anyhow::Context as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Refuses to start on damage, or with `--salvage` moves the damaged files aside.
pub struct Aside {
    dir: PathBuf,
    salvage: bool,
    /// The `damaged-<time>/` directory, once something was moved (or salvage accepted a loss).
    to: Option<PathBuf>,
}

impl Aside {
    #[must_use]
    pub fn new(dir: &Path, salvage: bool) -> Aside {
        Aside {
            dir: dir.to_owned(),
            salvage,
            to: None,
        }
    }

    /// Whether a salvage set something aside (or accepted a loss): the daemon then begins
    /// a new epoch from what it recovered.
    #[must_use]
    pub fn salvaged(&self) -> bool {
        self.to.is_some()
    }

    /// `what` is the damage (file, offset), `lost` what salvaging it loses.
    pub fn refuse_or_set_aside(
        &mut self,
        files: &[PathBuf],
        what: &str,
        lost: &str,
    ) -> anyhow::Result<()> {
        if !self.salvage {
            anyhow::bail!(
                "{what}. It holds acknowledged input, so the daemon does not start; nothing \
                 was changed. Restore the data dir from a backup (docs/operations.md, \
                 Backup), or start once with `vaxel serve --salvage` to set the damaged files \
                 aside and start from what is intact (this loses {lost})"
            );
        }
        let to = match &self.to {
            Some(t) => t.clone(),
            None => {
                let t = self.make_dir()?;
                self.to = Some(t.clone());
                t
            }
        };
        let mut moved = Vec::new();
        for f in files.iter().filter(|f| f.exists()) {
            let Some(name) = f.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            // Never over another file set aside (a salvage may move two of one name).
            let mut target = to.join(&name);
            for i in 1u32.. {
                if !target.exists() {
                    break;
                }
                target = to.join(format!("{name}.{i}"));
            }
            fs::rename(f, &target)
                .with_context(|| format!("cannot move {} into {}", f.display(), to.display()))?;
            moved.push(name);
        }
        journal::sync_dir(&to)?;
        journal::sync_dir(&self.dir)?;
        tracing::error!(
            damage = what,
            lost,
            moved = moved.join(", "),
            to = %to.display(),
            "salvage: damaged files set aside; starting from what is intact"
        );
        Ok(())
    }

    fn make_dir(&self) -> anyhow::Result<PathBuf> {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        for i in 0u32.. {
            let name = if i == 0 {
                format!("damaged-{stamp}")
            } else {
                format!("damaged-{stamp}-{i}")
            };
            let p = self.dir.join(name);
            match fs::create_dir(&p) {
                Ok(()) => return Ok(p),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", p.display())),
            }
        }
        anyhow::bail!(
            "cannot name a damaged-* directory in {}",
            self.dir.display()
        )
    }
}
