//! `vaxel load`: the arguments and the run are `vaxel-load`'s; this reads the site and the
//! roster that `--exact` replays on as every other command reads them (`common.rs`).

use std::process::ExitCode;

/// Runs `vaxel load`.
pub fn run(args: &vaxel_load::LoadArgs) -> anyhow::Result<ExitCode> {
    vaxel_load::run(args, |args| {
        let (_, site) = super::common::load_site(args.config.as_deref())?;
        let shifts = super::common::read_roster_strict(&args.roster, &site)?;
        Ok((site, shifts))
    })
}
