//! The calendar's Swedish holidays ([`vaxel_core::holidays`], the one copy of the rule) as
//! the generator counts days: day numbers since 1970-01-01.

use crate::timefmt::days_from_civil;
pub use vaxel_core::holidays::{DayKind, easter};

/// Every holiday and eve of `year`: `(day number since 1970-01-01, Swedish name, kind)`,
/// sorted by date (empty outside the years -9999..=9999).
#[must_use]
pub fn swedish_holidays(year: i64) -> Vec<(i64, &'static str, DayKind)> {
    let Ok(year) = i16::try_from(year) else {
        return Vec::new();
    };
    vaxel_core::holidays::swedish_holidays(year)
        .into_iter()
        .map(|(d, name, kind)| {
            let (m, day) = (d.month().unsigned_abs(), d.day().unsigned_abs());
            (
                days_from_civil(i64::from(d.year()), u32::from(m), u32::from(day)),
                name,
                kind,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_are_the_dates() {
        let v = swedish_holidays(2026);
        assert_eq!(v.len(), 16);
        assert_eq!(v[0].0, days_from_civil(2026, 1, 1));
        assert_eq!(
            v[2],
            (
                days_from_civil(2026, 4, 3),
                "långfredagen",
                DayKind::Holiday
            )
        );
    }
}
