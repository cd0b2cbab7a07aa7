//! Drawing `vaxel top`: the groups as a table (the selected one highlighted), the selected
//! group's agents below, a status line. Pure: it reads an [`App`] and draws a frame, so
//! that tests render it on ratatui's `TestBackend`. `plain` is the same table as text for
//! `--once`.

use super::model::{App, Group};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};
use std::fmt::Write as _;

const HEADER: [&str; 12] = [
    "group",
    "waiting",
    "longest",
    "expected",
    "SL",
    "target",
    "answered",
    "abandoned",
    "ready",
    "talking",
    "paused",
    "logged in",
];

fn clock(s: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds, ≥ 0
    let s = s.max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// One group's cells.
fn cells(app: &App, g: &Group) -> [String; 12] {
    #[allow(clippy::cast_precision_loss)] // seconds
    let ewt = g.ewt_s as f64;
    [
        g.name.clone(),
        g.waiting.to_string(),
        clock(app.longest(g)),
        clock(ewt),
        pct(g.today.service_level),
        g.wallboard
            .map_or_else(|| "–".to_owned(), |b| pct(b.service_level_target)),
        g.today.answered.to_string(),
        g.today.abandoned.to_string(),
        g.agents.ready.to_string(),
        g.agents.talking.to_string(),
        g.agents.paused.to_string(),
        g.agents.logged_in().to_string(),
    ]
}

/// Red when the level is below the group's target or a call waits over a minute.
fn colour(app: &App, g: &Group) -> Color {
    let target = g.wallboard.map_or(0.8, |b| b.service_level_target);
    if app.longest(g) >= 60.0 || g.today.service_level < target {
        Color::Red
    } else if g.waiting > 0 {
        Color::Yellow
    } else {
        Color::Green
    }
}

pub fn draw(frame: &mut Frame, app: &App) {
    let [top, table, agents, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(10),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    let site = app.snap.as_ref().map_or("vaxel top", |s| s.site.as_str());
    let mut status = vec![Span::styled(
        site.to_owned(),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    match &app.stale {
        None => status.push(Span::styled("  ● live", Style::default().fg(Color::Green))),
        Some(why) => status.push(Span::styled(
            format!("  stale, reconnecting: {why}"),
            Style::default().fg(Color::Black).bg(Color::Yellow),
        )),
    }
    if app.snap.as_ref().is_some_and(|s| s.crisis) {
        status.push(Span::styled(
            "  CRISIS MODE",
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(status)), top);

    let rows = app.rows();
    let selected = rows
        .iter()
        .position(|g| app.selected.as_deref() == Some(g.id.as_str()));
    let widths = [
        Constraint::Min(20),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(9),
    ];
    let t = Table::new(
        rows.iter()
            .map(|g| Row::new(cells(app, g).to_vec()).style(Style::default().fg(colour(app, g)))),
        widths,
    )
    .header(Row::new(HEADER.to_vec()).style(Style::default().add_modifier(Modifier::BOLD)))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(Block::default().borders(Borders::ALL).title(format!(
        " groups, by {}{} ",
        app.sort.name(),
        if app.sort == super::model::SortKey::Site {
            ""
        } else if app.descending {
            " ↓"
        } else {
            " ↑"
        }
    )));
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(t, table, &mut state);

    let now = app.snap.as_ref().map_or(0, |s| s.at);
    let lines: Vec<Line> = app
        .agents()
        .iter()
        .map(|a| {
            #[allow(clippy::cast_precision_loss)] // milliseconds
            let since = (now - a.since).max(0) as f64 / 1000.0;
            let reason = a.pause_reason.as_deref().unwrap_or("");
            Line::from(format!(
                "{:<8} {:<24} {:<10} {:>8} {reason}",
                a.id,
                a.name,
                a.state,
                if a.state == "logged_out" {
                    String::new()
                } else {
                    clock(since)
                }
            ))
        })
        .collect();
    let title = format!(" agents of {} ", app.selected.as_deref().unwrap_or("–"));
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        agents,
    );
    frame.render_widget(
        Paragraph::new("↑/↓ select  s sort  r reverse  q quit"),
        help,
    );
}

/// The table as plain text (`vaxel top --once`).
pub fn plain(app: &App) -> String {
    let mut out = String::new();
    if let Some(s) = &app.snap {
        let _ = writeln!(
            out,
            "{}{}",
            s.site,
            if s.crisis { "  CRISIS MODE" } else { "" }
        );
    }
    let _ = writeln!(out, "{}", HEADER.join("\t"));
    for g in app.rows() {
        let mut c = cells(app, g);
        c[0].clone_from(&g.id);
        let _ = writeln!(out, "{}", c.join("\t"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::top::model::Snap;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn snap() -> Snap {
        let text = r#"{"at":100000,"site":"Testby","crisis":true,
          "groups":[
            {"id":"sales","name":"Sales","waiting":0,"oldest_wait_s":0.0,"ewt_s":30,
             "agents":{"ready":2,"ringing":0,"talking":1,"wrapup":0,"paused":1,"logged_out":0},
             "today":{"answered":5,"abandoned":1,"service_level":0.9},
             "wallboard":{"service_level_target":0.8}},
            {"id":"support","name":"Support","waiting":4,"oldest_wait_s":75.0,"ewt_s":120,
             "agents":{"ready":0,"ringing":0,"talking":3,"wrapup":0,"paused":0,"logged_out":1},
             "today":{"answered":9,"abandoned":2,"service_level":0.5}}],
          "agents":[
            {"id":"a1","name":"Anna","state":"paused","since":40000,"groups":["sales"],"pause_reason":"lunch"},
            {"id":"a2","name":"Bo","state":"talking","since":90000,"groups":["sales","support"],"pause_reason":null}]}"#;
        let s = serde_json::from_str(text).map_err(|e| e.to_string());
        let Ok(s) = s else { panic!("{s:?}") };
        s
    }

    fn screen(app: &App) -> String {
        let Ok(mut t) = Terminal::new(TestBackend::new(120, 24)) else {
            panic!("terminal");
        };
        let r = t.draw(|f| draw(f, app));
        assert!(r.is_ok());
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_table_shows_every_group_and_the_selected_groups_agents() {
        let mut app = App::default();
        app.update(snap());
        let s = screen(&app);
        assert!(s.contains("Testby"), "{s}");
        assert!(s.contains("CRISIS MODE"), "{s}");
        assert!(s.contains("● live"), "{s}");
        let sales = s
            .lines()
            .position(|l| l.contains("Sales"))
            .unwrap_or(usize::MAX);
        let support = s.lines().position(|l| l.contains("Support")).unwrap_or(0);
        assert!(sales < support, "site order:\n{s}");
        assert!(s.contains("agents of sales"), "{s}");
        assert!(
            s.contains("Anna") && s.contains("lunch") && s.contains("1:00"),
            "{s}"
        );
        assert!(s.contains("90 %") && s.contains("80 %"), "{s}");
    }

    #[test]
    fn sorting_by_waiting_puts_the_queue_on_top_and_selection_follows_rows() {
        let mut app = App::default();
        app.update(snap());
        app.next_sort(); // waiting, largest first
        let s = screen(&app);
        let sales = s.lines().position(|l| l.contains("Sales")).unwrap_or(0);
        let support = s
            .lines()
            .position(|l| l.contains("Support"))
            .unwrap_or(usize::MAX);
        assert!(support < sales, "{s}");
        assert!(s.contains("by waiting ↓"), "{s}");
        app.select(-1); // sales was selected; support is above it now
        assert_eq!(app.selected.as_deref(), Some("support"));
        app.select(5);
        assert_eq!(app.selected.as_deref(), Some("sales"));
        let p = plain(&app);
        assert!(p.starts_with("Testby  CRISIS MODE\n"), "{p}");
        assert!(p.contains("support\t4\t1:15"), "{p}");
    }

    #[test]
    fn a_dropped_stream_shows_stale() {
        let mut app = App::default();
        app.update(snap());
        app.stale = Some("the stream ended".into());
        let s = screen(&app);
        assert!(s.contains("stale, reconnecting: the stream ended"), "{s}");
    }
}
