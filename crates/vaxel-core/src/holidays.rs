//! Swedish public holidays (röda dagar, lag 1989:253) and the eves the city keeps closed de
//! facto, for any year: the one copy of the rule, used by calendars with `holidays = "se"`
//! and by the traffic generator. Movable days follow Easter, found by the anonymous
//! Gregorian computus (Meeus/Jones/Butcher).

use jiff::civil::{Date, Weekday};

/// How a day differs from an ordinary one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// A public holiday: offices closed, traffic like a quiet Sunday.
    Holiday,
    /// Midsommarafton, julafton, nyårsafton: not public holidays by law, but the city is
    /// closed then (so calendars treat them as holidays), with a little traffic.
    Eve,
}

/// A rule of holidays a calendar can follow beside its explicit dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolidayRule {
    /// Swedish public holidays and the eves the city keeps closed (`"se"`).
    Sweden,
}

impl HolidayRule {
    /// The rule named so in a site file.
    #[must_use]
    pub fn parse(name: &str) -> Option<HolidayRule> {
        (name == "se").then_some(HolidayRule::Sweden)
    }

    /// Whether `date` is closed under the rule.
    #[must_use]
    pub fn closes(self, date: Date) -> bool {
        match self {
            HolidayRule::Sweden => swedish_holidays(date.year())
                .iter()
                .any(|&(d, _, _)| d == date),
        }
    }
}

/// Easter Sunday of `year` as `(month, day)`.
#[must_use]
pub fn easter(year: i64) -> (u32, u32) {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    (month as u32, day as u32)
}

/// The Saturday in `[first, first + 6 days]`.
fn saturday_from(first: Date) -> Date {
    let wd = i64::from(first.weekday().to_monday_zero_offset());
    let sat = i64::from(Weekday::Saturday.to_monday_zero_offset());
    plus(first, (sat - wd).rem_euclid(7))
}

fn plus(d: Date, days: i64) -> Date {
    d.checked_add(jiff::Span::new().days(days)).unwrap_or(d)
}

/// Every holiday and eve of `year` (empty outside jiff's years, -9999..=9999):
/// `(date, Swedish name, kind)`, sorted by date.
#[must_use]
pub fn swedish_holidays(year: i16) -> Vec<(Date, &'static str, DayKind)> {
    use DayKind::{Eve, Holiday};
    let d = |m: i8, day: i8| Date::new(year, m, day).ok();
    let (em, ed) = easter(i64::from(year));
    let (Some(jan1), Some(easter)) = (d(1, 1), d(em as i8, ed as i8)) else {
        return Vec::new();
    };
    let fixed = |m: i8, day: i8| d(m, day).unwrap_or(jan1);
    let midsommar = saturday_from(fixed(6, 20));
    let mut v = vec![
        (jan1, "nyårsdagen", Holiday),
        (fixed(1, 6), "trettondedag jul", Holiday),
        (plus(easter, -2), "långfredagen", Holiday),
        (easter, "påskdagen", Holiday),
        (plus(easter, 1), "annandag påsk", Holiday),
        (fixed(5, 1), "första maj", Holiday),
        (plus(easter, 39), "Kristi himmelfärdsdag", Holiday),
        (plus(easter, 49), "pingstdagen", Holiday),
        (fixed(6, 6), "Sveriges nationaldag", Holiday),
        (plus(midsommar, -1), "midsommarafton", Eve),
        (midsommar, "midsommardagen", Holiday),
        (saturday_from(fixed(10, 31)), "alla helgons dag", Holiday),
        (fixed(12, 24), "julafton", Eve),
        (fixed(12, 25), "juldagen", Holiday),
        (fixed(12, 26), "annandag jul", Holiday),
        (fixed(12, 31), "nyårsafton", Eve),
    ];
    v.sort_by_key(|&(day, _, _)| day);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(year: i16) -> Vec<String> {
        swedish_holidays(year)
            .into_iter()
            .map(|(d, _, _)| d.to_string())
            .collect()
    }

    #[test]
    fn easter_known_years() {
        for (y, md) in [
            (2024, (3, 31)),
            (2025, (4, 20)),
            (2026, (4, 5)),
            (2027, (3, 28)),
            (2028, (4, 16)),
            (2038, (4, 25)),
            (2285, (3, 22)),
            (1818, (3, 22)),
        ] {
            assert_eq!(easter(y), md, "{y}");
        }
    }

    #[test]
    fn known_years() {
        // As the city's own lists for 2026 (pingstdagen is a Sunday there).
        assert_eq!(
            dates(2026),
            [
                "2026-01-01",
                "2026-01-06",
                "2026-04-03",
                "2026-04-05",
                "2026-04-06",
                "2026-05-01",
                "2026-05-14",
                "2026-05-24",
                "2026-06-06",
                "2026-06-19",
                "2026-06-20",
                "2026-10-31",
                "2026-12-24",
                "2026-12-25",
                "2026-12-26",
                "2026-12-31"
            ]
        );
        // 2028: Easter 16 April; midsummer 23-24 June; All Saints' 4 November.
        let d = dates(2028);
        for want in [
            "2028-04-14",
            "2028-04-16",
            "2028-04-17",
            "2028-05-25",
            "2028-06-04",
            "2028-06-23",
            "2028-06-24",
            "2028-11-04",
        ] {
            assert!(d.iter().any(|x| x == want), "{want} in {d:?}");
        }
        let d = dates(2027);
        for want in [
            "2027-03-26",
            "2027-03-28",
            "2027-03-29",
            "2027-05-06",
            "2027-06-25",
            "2027-06-26",
            "2027-11-06",
        ] {
            assert!(d.iter().any(|x| x == want), "{want} in {d:?}");
        }
    }

    #[test]
    fn the_rule_closes_good_friday_2028_and_not_the_day_before() {
        let r = HolidayRule::parse("se").unwrap_or(HolidayRule::Sweden);
        assert!(r.closes(Date::new(2028, 4, 14).unwrap_or_default()));
        assert!(!r.closes(Date::new(2028, 4, 13).unwrap_or_default()));
        assert_eq!(HolidayRule::parse("no"), None);
    }
}
