//! The daemon in process, for tests and benches (hidden from the docs; not for the
//! binary): the arguments every in-process daemon shares, and [`serve`](crate::serve) on
//! its own thread and runtime, stopped by a token. One helper, so that the library's
//! tests, the scenarios played over TCP and the whole-system bench start it the same way.

use crate::{Listening, ServeArgs, serve};
use clap::{Args as _, FromArgMatches as _};
use std::process::ExitCode;
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `vaxel serve`'s arguments: both ports picked by the OS on loopback and the event clock,
/// then `more` (`--data-dir`, `--config`, …).
pub fn serve_args(more: &[&str]) -> Result<ServeArgs, clap::Error> {
    let shared = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--clock",
        "event",
    ];
    let matches = ServeArgs::augment_args(clap::Command::new("serve"))
        .try_get_matches_from(shared.iter().chain(more))?;
    ServeArgs::from_arg_matches(&matches)
}

/// A daemon serving on its own thread and multi-thread runtime until [`stop`](Self::stop).
#[derive(Debug)]
pub struct Daemon {
    /// Where it listens.
    pub at: Listening,
    stop: CancellationToken,
    thread: JoinHandle<anyhow::Result<ExitCode>>,
}

impl Daemon {
    /// Starts the daemon and waits until it listens; the error says why it did not start.
    pub fn start(args: ServeArgs) -> Result<Daemon, String> {
        let stop = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(serve(&args, stop, Some(tx)))
            }
        });
        match rx.blocking_recv() {
            Ok(at) => Ok(Daemon { at, stop, thread }),
            // The sender is gone: the daemon ended before it listened.
            Err(_) => Err(match thread.join() {
                Ok(Err(e)) => format!("the daemon did not start: {e:#}"),
                Ok(Ok(code)) => format!("the daemon ended before it listened ({code:?})"),
                Err(_) => "the daemon panicked before it listened".to_owned(),
            }),
        }
    }

    /// Stops it (as SIGTERM would) and waits for the end: its exit code, or why it failed.
    pub fn stop(self) -> Result<ExitCode, String> {
        self.stop.cancel();
        match self.thread.join() {
            Ok(r) => r.map_err(|e| format!("{e:#}")),
            Err(_) => Err("the daemon panicked".to_owned()),
        }
    }
}
