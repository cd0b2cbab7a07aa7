//! `vaxel top`: a terminal wallboard for SREs and supervisors on a server (docs/screens.md).
//! It reads the daemon's event stream (`/api/v1/stream`, the same the web wallboard reads)
//! and shows the groups as a live table, sortable, with the selected group's agents.
//! `q` (or Esc, or Ctrl-C) quits and gives the terminal back as it was.

mod feed;
mod model;
mod view;

use anyhow::Context as _;
use clap::Args;
use feed::{Feed, Target};
use model::App;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The daemon's HTTP address (its --http).
    #[arg(long, default_value = "127.0.0.1:7080")]
    pub http: String,
    /// An operator token; VAXEL_TOKEN when not given (better: it stays out of the
    /// process list). Not needed on an open loopback site.
    #[arg(long)]
    pub token: Option<String>,
    /// Print the groups' table once, as tab-separated text, and exit (for scripts).
    #[arg(long)]
    pub once: bool,
}

pub fn run(args: &TopArgs) -> anyhow::Result<ExitCode> {
    let target = Target {
        addr: args.http.clone(),
        token: args
            .token
            .clone()
            .or_else(|| std::env::var("VAXEL_TOKEN").ok())
            .filter(|t| !t.is_empty()),
    };
    if args.once {
        return once(&target);
    }
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("vaxel-top-feed".into())
        .spawn(move || feed::run(&target, &tx))
        .context("cannot start the feed thread")?;
    let mut terminal = ratatui::init();
    let r = screen(&mut terminal, &rx);
    ratatui::restore();
    r
}

fn once(target: &Target) -> anyhow::Result<ExitCode> {
    let mut app = App::default();
    let r = feed::stream(target, &mut |snap| {
        app.update(snap);
        false
    });
    match r {
        Err(feed::Failure::Gone) => {
            print!("{}", view::plain(&app));
            Ok(ExitCode::SUCCESS)
        }
        Ok(()) => anyhow::bail!("{}: the stream ended before a snapshot", target.addr),
        Err(feed::Failure::Refused(m) | feed::Failure::Other(m)) => {
            anyhow::bail!("{}: {m}", target.addr)
        }
    }
}

fn screen(
    terminal: &mut ratatui::DefaultTerminal,
    rx: &mpsc::Receiver<Feed>,
) -> anyhow::Result<ExitCode> {
    let mut app = App::default();
    loop {
        while let Ok(f) = rx.try_recv() {
            match f {
                Feed::Snapshot(s) => app.update(*s),
                Feed::Stale(why) => app.stale = Some(why),
                Feed::Refused(why) => {
                    ratatui::restore();
                    anyhow::bail!(why);
                }
            }
        }
        terminal.draw(|f| view::draw(f, &app))?;
        // Five redraws a second while idle, so that the longest waits tick.
        if event::poll(Duration::from_millis(200))?
            && let Event::Key(k) = event::read()?
            && k.kind == KeyEventKind::Press
        {
            match k.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(ExitCode::SUCCESS),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(ExitCode::SUCCESS);
                }
                KeyCode::Up | KeyCode::Char('k') => app.select(-1),
                KeyCode::Down | KeyCode::Char('j') => app.select(1),
                KeyCode::PageUp => app.select(-10),
                KeyCode::PageDown => app.select(10),
                KeyCode::Char('s') => app.next_sort(),
                KeyCode::Char('r') => app.reverse(),
                _ => {}
            }
        }
    }
}
