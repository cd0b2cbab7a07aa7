//! What `vaxel top` reads of a snapshot (docs/operations.md, `GET /api/v1/snapshot`) and
//! the screen's state: the sort, the selected group.

use serde::Deserialize;
use std::time::Instant;

#[derive(Clone, Debug, Deserialize)]
pub struct Snap {
    pub at: i64,
    pub site: String,
    pub crisis: bool,
    pub groups: Vec<Group>,
    pub agents: Vec<Agent>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub waiting: u32,
    pub oldest_wait_s: f64,
    pub ewt_s: u64,
    pub agents: Counts,
    pub today: Today,
    /// Absent from daemons older than the wallboard.
    #[serde(default)]
    pub wallboard: Option<Board>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Counts {
    pub ready: u32,
    pub ringing: u32,
    pub talking: u32,
    pub wrapup: u32,
    pub paused: u32,
}

impl Counts {
    pub fn logged_in(&self) -> u32 {
        self.ready + self.ringing + self.talking + self.wrapup + self.paused
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Today {
    pub answered: u32,
    pub abandoned: u32,
    pub service_level: f64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Board {
    pub service_level_target: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub state: String,
    pub since: i64,
    pub groups: Vec<String>,
    pub pause_reason: Option<String>,
}

/// The columns the table sorts by (`s` cycles through them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// The site file's order.
    Site,
    Waiting,
    Longest,
    ServiceLevel,
    Ready,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Site,
        SortKey::Waiting,
        SortKey::Longest,
        SortKey::ServiceLevel,
        SortKey::Ready,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Site => "site order",
            SortKey::Waiting => "waiting",
            SortKey::Longest => "longest wait",
            SortKey::ServiceLevel => "service level",
            SortKey::Ready => "ready",
        }
    }

    fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
}

/// The screen's state.
#[derive(Debug)]
pub struct App {
    pub snap: Option<Snap>,
    /// When the snapshot came (the longest waits tick from it).
    pub received: Instant,
    /// `None` while live; why otherwise.
    pub stale: Option<String>,
    pub sort: SortKey,
    /// Largest first (the worst at the top), except in site order.
    pub descending: bool,
    /// The selected group's id.
    pub selected: Option<String>,
}

impl Default for App {
    fn default() -> App {
        App {
            snap: None,
            received: Instant::now(),
            stale: Some("connecting".into()),
            sort: SortKey::Site,
            descending: true,
            selected: None,
        }
    }
}

impl App {
    pub fn update(&mut self, snap: Snap) {
        self.snap = Some(snap);
        self.received = Instant::now();
        self.stale = None;
        if self.selected.is_none() {
            self.selected = self.rows().first().map(|g| g.id.clone());
        }
    }

    /// The longest wait of `g` now: the snapshot's, plus the time since it came.
    pub fn longest(&self, g: &Group) -> f64 {
        if g.waiting == 0 {
            0.0
        } else {
            g.oldest_wait_s + self.received.elapsed().as_secs_f64()
        }
    }

    /// The groups in the table's order.
    pub fn rows(&self) -> Vec<&Group> {
        let Some(s) = &self.snap else {
            return Vec::new();
        };
        let mut rows: Vec<&Group> = s.groups.iter().collect();
        let key = |g: &Group| -> f64 {
            match self.sort {
                SortKey::Site => 0.0,
                SortKey::Waiting => f64::from(g.waiting),
                SortKey::Longest => g.oldest_wait_s * f64::from(u8::from(g.waiting > 0)),
                SortKey::ServiceLevel => g.today.service_level,
                SortKey::Ready => f64::from(g.agents.ready),
            }
        };
        if self.sort != SortKey::Site {
            // Stable: ties keep the site's order.
            rows.sort_by(|a, b| {
                let o = key(a).total_cmp(&key(b));
                if self.descending { o.reverse() } else { o }
            });
        }
        rows
    }

    /// The agents of the selected group, logged-in ones first.
    pub fn agents(&self) -> Vec<&Agent> {
        let (Some(s), Some(g)) = (&self.snap, &self.selected) else {
            return Vec::new();
        };
        let mut a: Vec<&Agent> = s.agents.iter().filter(|a| a.groups.contains(g)).collect();
        a.sort_by_key(|a| (a.state == "logged_out", a.name.clone()));
        a
    }

    pub fn next_sort(&mut self) {
        self.sort = self.sort.next();
    }

    pub fn reverse(&mut self) {
        self.descending = !self.descending;
    }

    /// Moves the selection by `by` rows.
    pub fn select(&mut self, by: i32) {
        let ids: Vec<String> = self.rows().iter().map(|g| g.id.clone()).collect();
        if ids.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|s| ids.iter().position(|i| i == s))
            .unwrap_or(0);
        let last = ids.len() - 1;
        let to = if by < 0 {
            at.saturating_sub(by.unsigned_abs() as usize)
        } else {
            (at + by.unsigned_abs() as usize).min(last)
        };
        self.selected = Some(ids[to].clone());
    }
}
