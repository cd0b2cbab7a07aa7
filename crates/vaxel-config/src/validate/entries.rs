//! `[[entries]]`: numbers, routes, calendars and closed handling.

use super::*;

impl<'r> Validator<'r> {
    pub(super) fn entries(&mut self) -> Vec<Entry> {
        let raw = self.raw;
        let mut out = Vec::new();
        for (i, e) in raw.entries.iter().enumerate() {
            let p = format!("entries[{i}]");
            self.ident(format!("{p}.id"), &e.id);
            if let Some(problem) = e164_problem(&e.number) {
                self.err(format!("{p}.number"), problem);
            }
            let greeting = self.opt_prompt(format!("{p}.greeting"), e.greeting.as_ref());
            let route = self.target(format!("{p}.route"), &e.route, false);
            let calendar = e
                .calendar
                .as_ref()
                .and_then(|c| self.calendar_ref(format!("{p}.calendar"), c));
            let (mut closed_prompt, mut closed_route) = (None, None);
            if let Some(c) = &e.closed {
                closed_prompt = self.opt_prompt(format!("{p}.closed.prompt"), c.prompt.as_ref());
                closed_route = c
                    .route
                    .as_ref()
                    .and_then(|r| self.target(format!("{p}.closed.route"), r, false));
            }
            let has_closed = e
                .closed
                .as_ref()
                .is_some_and(|c| c.prompt.is_some() || c.route.is_some());
            match (&e.calendar, has_closed) {
                (Some(c), false) if !self.always_open(c) => self.warn(
                    p.clone(),
                    "has a calendar but no closed prompt or route: callers outside opening hours hear nothing and are hung up",
                ),
                (None, true) => self.warn(
                    format!("{p}.closed"),
                    "is never used: the entry has no calendar, so it is always open",
                ),
                _ => {}
            }
            let priority = match i32::try_from(e.priority) {
                Ok(pr) => {
                    if !SENSIBLE_PRIORITY.contains(&e.priority) {
                        self.warn(
                            format!("{p}.priority"),
                            format!("{pr} is unusually large; priorities in -1000..=1000 are sensible (transfers add to them)"),
                        );
                    }
                    pr
                }
                Err(_) => {
                    self.err(
                        format!("{p}.priority"),
                        format!(
                            "{} does not fit a 32-bit priority; use -1000..=1000",
                            e.priority
                        ),
                    );
                    0
                }
            };
            out.push(Entry {
                id: text(&e.id),
                number: text(&e.number),
                greeting,
                route: route.unwrap_or(Target::Callback),
                calendar,
                closed_prompt,
                closed_route,
                priority,
            });
        }
        out
    }

    /// A calendar open around the clock every day, with no holiday or shorter special day.
    pub(super) fn always_open(&self, id: &str) -> bool {
        self.raw.calendars.get(id).is_some_and(|c| {
            let mut days = [false; 7];
            for (k, v) in &c.days {
                if let (Ok(ds), Ok(r)) = (parse_day_key(k), parse_ranges(v))
                    && r == [(0, 1440)]
                {
                    for d in ds {
                        days[usize::from(d.to_monday_zero_offset().unsigned_abs())] = true;
                    }
                }
            }
            days.iter().all(|&d| d)
                && c.holidays.is_empty()
                && c.special
                    .values()
                    .all(|h| parse_ranges(h).is_ok_and(|r| r == [(0, 1440)]))
        })
    }
}
