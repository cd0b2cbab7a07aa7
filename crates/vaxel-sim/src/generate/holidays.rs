//! Swedish public holidays (röda dagar, lag 1989:253) and the eves the city keeps closed de
//! facto, for any year. Movable ones follow Easter, found by the anonymous Gregorian
//! computus (Meeus/Jones/Butcher).

use crate::timefmt::days_from_civil;

/// How a day differs from an ordinary one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// A public holiday: offices closed, traffic like a quiet Sunday.
    Holiday,
    /// Midsommarafton, julafton, nyårsafton: closed in practice, a little traffic.
    Eve,
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

/// The Saturday in `[first, first + 6]` (day numbers since 1970-01-01).
fn saturday_from(first: i64) -> i64 {
    // 1970-01-01 was a Thursday: Monday-zero weekday = (days + 3) mod 7; Saturday = 5.
    let wd = (first + 3).rem_euclid(7);
    first + (5 - wd).rem_euclid(7)
}

/// Every holiday and eve of `year`: `(day number since 1970-01-01, Swedish name, kind)`,
/// sorted by date.
#[must_use]
pub fn swedish_holidays(year: i64) -> Vec<(i64, &'static str, DayKind)> {
    use DayKind::{Eve, Holiday};
    let d = |m: u32, day: u32| days_from_civil(year, m, day);
    let (em, ed) = easter(year);
    let easter = d(em, ed);
    let midsommar = saturday_from(d(6, 20));
    let mut v = vec![
        (d(1, 1), "nyårsdagen", Holiday),
        (d(1, 6), "trettondedag jul", Holiday),
        (easter - 2, "långfredagen", Holiday),
        (easter, "påskdagen", Holiday),
        (easter + 1, "annandag påsk", Holiday),
        (d(5, 1), "första maj", Holiday),
        (easter + 39, "Kristi himmelfärdsdag", Holiday),
        (easter + 49, "pingstdagen", Holiday),
        (d(6, 6), "Sveriges nationaldag", Holiday),
        (midsommar - 1, "midsommarafton", Eve),
        (midsommar, "midsommardagen", Holiday),
        (saturday_from(d(10, 31)), "alla helgons dag", Holiday),
        (d(12, 24), "julafton", Eve),
        (d(12, 25), "juldagen", Holiday),
        (d(12, 26), "annandag jul", Holiday),
        (d(12, 31), "nyårsafton", Eve),
    ];
    v.sort_by_key(|&(day, _, _)| day);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(year: i64) -> Vec<String> {
        swedish_holidays(year)
            .into_iter()
            .map(|(d, _, _)| {
                let (y, m, dd) = crate::timefmt::civil_from_days(d);
                format!("{y}-{m:02}-{dd:02}")
            })
            .collect()
    }

    #[test]
    fn easter_known_years() {
        for (y, md) in [
            (2024, (3, 31)),
            (2025, (4, 20)),
            (2026, (4, 5)),
            (2027, (3, 28)),
            (2038, (4, 25)),
            (2285, (3, 22)),
            (1818, (3, 22)),
        ] {
            assert_eq!(easter(y), md, "{y}");
        }
    }

    #[test]
    fn matches_the_built_in_city_calendar() {
        // config/stockholm.toml lists 2026 and 2027 (pingstdagen is a Sunday, so absent).
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
}
