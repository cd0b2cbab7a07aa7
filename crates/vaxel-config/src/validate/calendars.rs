//! `[calendars]`: weekly hours, dates, holidays and their references.

use super::*;

impl<'r> Validator<'r> {
    pub(super) fn calendars(&mut self) -> Vec<Calendar> {
        let raw = self.raw;
        let mut out = Vec::new();
        for (id, rc) in &raw.calendars {
            let p = format!("calendars.{}", key(id));
            let mut cal = Calendar {
                id: text(id),
                ..Calendar::default()
            };
            let mut set_by: [Option<&str>; 7] = [None; 7];
            for (dk, hours) in &rc.days {
                let dp = format!("{p}.{}", key(dk));
                let days = match parse_day_key(dk) {
                    Ok(d) => d,
                    Err(e) => {
                        let dym = did_you_mean(dk, DAY_KEYS);
                        let msg = if dym.is_empty() {
                            e
                        } else {
                            format!("\"{dk}\" is not a day key{dym}")
                        };
                        self.err(dp, msg);
                        continue;
                    }
                };
                let ranges = match parse_ranges(hours) {
                    Ok(r) => r,
                    Err(e) => {
                        self.err(dp, e);
                        continue;
                    }
                };
                for d in days {
                    let ix = usize::from(d.to_monday_zero_offset().unsigned_abs());
                    if let Some(prev) = set_by[ix] {
                        self.err(
                            dp.clone(),
                            format!("{} is already set by \"{prev}\"", DAY_NAMES[ix]),
                        );
                    } else {
                        set_by[ix] = Some(dk);
                        cal.week[ix] = ranges.clone();
                    }
                }
            }
            for (h, d) in rc.holidays.iter().enumerate() {
                if let Some(rule) = HolidayRule::parse(d) {
                    if cal.holiday_rule.replace(rule).is_some() {
                        self.warn(
                            format!("{p}.holidays[{h}]"),
                            format!("\"{d}\" is listed twice"),
                        );
                    }
                    continue;
                }
                if !d.bytes().any(|b| b.is_ascii_digit()) {
                    self.err(
                        format!("{p}.holidays[{h}]"),
                        format!("\"{d}\" is neither a date like \"2026-12-24\" nor a holiday rule; the rule of Swedish public holidays is \"se\""),
                    );
                    continue;
                }
                match parse_date(d) {
                    Ok(date) => {
                        if !cal.holidays.insert(date) {
                            self.warn(format!("{p}.holidays[{h}]"), format!("{d} is listed twice"));
                        }
                    }
                    Err(e) => self.err(format!("{p}.holidays[{h}]"), e),
                }
            }
            for (d, hours) in &rc.special {
                let sp = format!("{p}.special.{}", key(d));
                let date = match parse_date(d) {
                    Ok(date) => date,
                    Err(e) => {
                        self.err(sp, e);
                        continue;
                    }
                };
                match parse_ranges(hours) {
                    Ok(r) => {
                        if cal.holidays.contains(&date) {
                            self.warn(
                                sp,
                                format!("{d} is also a holiday; these special hours apply"),
                            );
                        }
                        cal.special.insert(date, r);
                    }
                    Err(e) => self.err(sp, e),
                }
            }
            if cal.week.iter().all(Vec::is_empty) && cal.special.values().all(Vec::is_empty) {
                self.warn(p, "is never open");
            }
            out.push(cal);
        }
        out
    }
}
