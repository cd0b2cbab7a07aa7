//! Opening hours in the site's time zone. Local times are resolved through `jiff` with its
//! bundled time-zone database, so the answer is the same on every machine and right on DST
//! days (the 23- and 25-hour days) and holidays.

use crate::holidays::HolidayRule;
use crate::time::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, BTreeSet};

/// Minutes since local midnight: `[start, end)`, `end` at most 1440.
pub type Range = (u16, u16);

/// Opening hours of one calendar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calendar {
    pub id: std::sync::Arc<str>,
    /// Indexed by `Weekday::to_monday_zero_offset()`.
    pub week: [Vec<Range>; 7],
    /// Closed all day.
    pub holidays: BTreeSet<Date>,
    /// Closed all day too: the days of a holiday rule (`holidays = "se"`), for any year.
    pub holiday_rule: Option<HolidayRule>,
    /// Days with their own hours (an empty list = closed).
    pub special: BTreeMap<Date, Vec<Range>>,
}

/// Whether a calendar is open and until when that answer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenState {
    pub open: bool,
    /// The answer may change at this instant (a range boundary or local midnight).
    pub until: Timestamp,
}

impl Calendar {
    fn ranges_on(&self, date: Date) -> &[Range] {
        if let Some(r) = self.special.get(&date) {
            return r;
        }
        if self.holidays.contains(&date) || self.holiday_rule.is_some_and(|r| r.closes(date)) {
            return &[];
        }
        &self.week[usize::from(date.weekday().to_monday_zero_offset().unsigned_abs())]
    }

    /// Whether the calendar is open at `at`, and until when that holds.
    #[must_use]
    pub fn state_at(&self, at: Timestamp, tz: &TimeZone) -> OpenState {
        let local = tz.to_datetime(at.to_jiff());
        let date = local.date();
        let t = local.time();
        let minute = u16::try_from(i32::from(t.hour()) * 60 + i32::from(t.minute())).unwrap_or(0);
        let ranges = self.ranges_on(date);
        let open = ranges.iter().any(|&(s, e)| s <= minute && minute < e);
        let next = ranges
            .iter()
            .flat_map(|&(s, e)| [s, e])
            .filter(|&b| b > minute && b < 1440)
            .min();
        let until = match next {
            Some(b) => local_instant(date, b, tz),
            None => match date.tomorrow() {
                Ok(d) => local_instant(d, 0, tz),
                Err(_) => Timestamp(u64::MAX),
            },
        };
        OpenState {
            open,
            until: until.max(at.plus_ms(1)),
        }
    }
}

/// The instant of local `minute` on `date`; a minute skipped by a DST change maps to the
/// instant after the gap (jiff's "compatible" rule).
fn local_instant(date: Date, minute: u16, tz: &TimeZone) -> Timestamp {
    let time = Time::new(
        i8::try_from(minute / 60).unwrap_or(0),
        i8::try_from(minute % 60).unwrap_or(0),
        0,
        0,
    )
    .unwrap_or(Time::midnight());
    match tz.to_timestamp(date.to_datetime(time)) {
        Ok(t) => Timestamp::from_jiff(t),
        Err(_) => Timestamp(u64::MAX),
    }
}

/// Parses a day key: `mon`, `mon-fri`, `sat-sun`, `mon-sun` (a range may wrap: `fri-mon`).
pub fn parse_day_key(key: &str) -> Result<Vec<Weekday>, String> {
    fn day(s: &str) -> Result<Weekday, String> {
        Ok(match s {
            "mon" => Weekday::Monday,
            "tue" => Weekday::Tuesday,
            "wed" => Weekday::Wednesday,
            "thu" => Weekday::Thursday,
            "fri" => Weekday::Friday,
            "sat" => Weekday::Saturday,
            "sun" => Weekday::Sunday,
            _ => {
                return Err(format!(
                    "\"{s}\" is not a day; use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri"
                ));
            }
        })
    }
    match key.split_once('-') {
        None => Ok(vec![day(key)?]),
        Some((a, b)) => {
            let (a, b) = (day(a)?, day(b)?);
            let mut out = vec![a];
            let mut d = a;
            while d != b {
                d = d.next();
                out.push(d);
            }
            Ok(out)
        }
    }
}

/// Parses `"08:00-17:00"` or several ranges separated by commas; `"closed"` or `""` is no
/// range. `24:00` is allowed as an end.
pub fn parse_ranges(text: &str) -> Result<Vec<Range>, String> {
    let text = text.trim();
    if text.is_empty() || text == "closed" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = part
            .split_once('-')
            .ok_or_else(|| format!("\"{part}\" is not a range like \"08:00-17:00\""))?;
        let (s, e) = (parse_hhmm(a.trim())?, parse_hhmm(b.trim())?);
        if s >= e {
            return Err(format!("range \"{part}\" ends before it starts"));
        }
        if s >= 1440 {
            return Err(format!("range \"{part}\" starts at 24:00"));
        }
        out.push((s, e));
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!("ranges in \"{text}\" overlap"));
        }
    }
    Ok(out)
}

fn parse_hhmm(s: &str) -> Result<u16, String> {
    let bad = || format!("\"{s}\" is not a time like \"08:30\"");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses an ISO date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<Date, String> {
    s.parse::<Date>()
        .map_err(|e| format!("\"{s}\" is not a date like \"2026-12-24\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Calendar {
        let mut c = Calendar::default();
        for d in parse_day_key("mon-fri").unwrap() {
            c.week[usize::from(d.to_monday_zero_offset().unsigned_abs())] =
                parse_ranges("08:00-17:00").unwrap();
        }
        c.holidays.insert(parse_date("2026-12-24").unwrap());
        c
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::from_jiff(s.parse::<jiff::Timestamp>().unwrap())
    }

    fn sthlm() -> TimeZone {
        TimeZone::get("Europe/Stockholm").unwrap()
    }

    #[test]
    fn office_hours_in_local_time() {
        let c = office();
        // Monday 2026-03-02 07:59 local = 06:59Z (CET, UTC+1)
        assert!(!c.state_at(at("2026-03-02T06:59:00Z"), &sthlm()).open);
        let s = c.state_at(at("2026-03-02T07:00:00Z"), &sthlm());
        assert!(s.open);
        assert_eq!(s.until, at("2026-03-02T16:00:00Z"));
        assert!(
            !c.state_at(at("2026-03-07T10:00:00Z"), &sthlm()).open,
            "saturday"
        );
        assert!(
            !c.state_at(at("2026-12-24T10:00:00Z"), &sthlm()).open,
            "holiday"
        );
    }

    #[test]
    fn dst_days_use_the_local_offset() {
        let c = office();
        // 2026-03-30 is the Monday after DST began (CEST, UTC+2): opens 06:00Z.
        assert!(c.state_at(at("2026-03-30T06:00:00Z"), &sthlm()).open);
        assert!(!c.state_at(at("2026-03-30T05:59:59Z"), &sthlm()).open);
        // Sunday 2026-03-29 02:30 local does not exist; midnight boundary still resolves.
        let s = c.state_at(at("2026-03-28T23:30:00Z"), &sthlm());
        assert!(!s.open);
        assert_eq!(s.until, at("2026-03-29T22:00:00Z"));
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert!(
            parse_ranges("17:00-08:00")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(parse_ranges("8-17").is_err());
        assert!(parse_day_key("mon-fre").unwrap_err().contains("fre"));
        assert_eq!(parse_day_key("fri-mon").unwrap().len(), 4);
        assert_eq!(parse_ranges("00:00-24:00").unwrap(), vec![(0, 1440)]);
    }
}
