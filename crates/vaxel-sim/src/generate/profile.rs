//! How many calls arrive when: a daily volume (weekday × month × holiday × surge) spread
//! over the day by an intraday shape with the office-hour peaks around 10:00 and 13:30.
//! Local times are the site's.

use super::holidays::{DayKind, swedish_holidays};
use crate::timefmt::civil_from_days;
use std::collections::BTreeMap;

/// Monday … Sunday: Monday is the busiest, weekends are low.
pub const WEEKDAY_FACTOR: [f64; 7] = [1.25, 1.10, 1.05, 1.00, 0.90, 0.14, 0.11];

/// January … December: the summer is low, January and August (back from holidays,
/// invoices and decisions going out) peak.
pub const MONTH_FACTOR: [f64; 12] = [
    1.18, 1.05, 1.04, 1.00, 0.95, 0.85, 0.58, 1.15, 1.06, 1.04, 1.00, 0.86,
];

/// A public holiday's weekday factor (an ordinary Thursday is 1).
pub const HOLIDAY_FACTOR: f64 = 0.10;
/// An eve's weekday factor (julafton, nyårsafton, midsommarafton).
pub const EVE_FACTOR: f64 = 0.18;

fn gauss(m: f64, centre: f64, sd: f64) -> f64 {
    let z = (m - centre) / sd;
    (-0.5 * z * z).exp()
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Relative arrival rate at local minute-of-day `m` (0..1440): a night floor, a little
/// evening traffic, and office hours (≈ 07:45–16:45) with peaks at 10:00 and 13:30 and
/// the lunch dip between.
#[must_use]
pub fn intraday(m: f64) -> f64 {
    let night = 0.012;
    let daytime = 0.05 * logistic((m - 420.0) / 20.0) * logistic((1320.0 - m) / 30.0);
    let office = logistic((m - 470.0) / 10.0) * logistic((1005.0 - m) / 12.0);
    let peaks = 0.30 + 1.0 * gauss(m, 600.0, 70.0) + 0.85 * gauss(m, 810.0, 65.0);
    night + daytime + office * peaks
}

/// The daily volume model.
#[derive(Clone, Debug)]
pub struct DayModel {
    /// Calls on a day with all factors 1.
    pub base: f64,
    /// Day number → factor, for holidays and eves.
    specials: BTreeMap<i64, f64>,
    /// Day number → multiplier, for crisis surges.
    surge: BTreeMap<i64, f64>,
}

impl DayModel {
    /// Scales `base` so that the 365 days from `first_day` expect `calls_per_year` calls
    /// (without surges).
    #[must_use]
    pub fn new(calls_per_year: f64, first_day: i64, days: i64, surge: &[(i64, f64)]) -> DayModel {
        let mut specials = BTreeMap::new();
        let (y0, _, _) = civil_from_days(first_day);
        let (y1, _, _) = civil_from_days(first_day + days.max(365) + 1);
        for y in y0..=y1 {
            for (d, _, kind) in swedish_holidays(y) {
                let f = match kind {
                    DayKind::Holiday => HOLIDAY_FACTOR,
                    DayKind::Eve => EVE_FACTOR,
                };
                specials.insert(d, f);
            }
        }
        let mut m = DayModel {
            base: 1.0,
            specials,
            surge: BTreeMap::new(),
        };
        let year: f64 = (first_day..first_day + 365).map(|d| m.factor(d)).sum();
        m.base = if year > 0.0 {
            calls_per_year / year
        } else {
            0.0
        };
        for &(d, f) in surge {
            *m.surge.entry(d).or_insert(1.0) *= f.max(0.0);
        }
        m
    }

    /// Weekday × month × holiday factor of day `d` (no surge).
    #[must_use]
    pub fn factor(&self, d: i64) -> f64 {
        let (_, month, _) = civil_from_days(d);
        let wd = (d + 3).rem_euclid(7) as usize;
        let weekday = WEEKDAY_FACTOR[wd];
        // A holiday takes the place of the weekday factor (never raising it).
        let day = self.specials.get(&d).map_or(weekday, |&s| s.min(weekday));
        day * MONTH_FACTOR[month as usize - 1]
    }

    /// Expected calls on day `d`, surges included.
    #[must_use]
    pub fn volume(&self, d: i64) -> f64 {
        self.base * self.factor(d) * self.surge.get(&d).copied().unwrap_or(1.0)
    }

    /// Whether `d` is a holiday or an eve.
    #[must_use]
    pub fn is_special(&self, d: i64) -> bool {
        self.specials.contains_key(&d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::days_from_civil;

    #[test]
    fn intraday_peaks_and_night() {
        let at = |h: f64| intraday(h * 60.0);
        assert!(at(10.0) > at(12.0) && at(13.5) > at(12.0), "lunch dip");
        assert!(at(10.0) > at(13.5));
        assert!(at(10.0) > 20.0 * at(3.0));
        assert!(at(19.0) > at(3.0));
        let argmax =
            (0..1440).max_by(|&a, &b| intraday(f64::from(a)).total_cmp(&intraday(f64::from(b))));
        assert!((590..=615).contains(&argmax.unwrap()), "{argmax:?}");
    }

    #[test]
    fn a_year_sums_to_the_target_and_follows_the_seasons() {
        let first = days_from_civil(2026, 1, 1);
        let m = DayModel::new(1_800_000.0, first, 365, &[]);
        let total: f64 = (first..first + 365).map(|d| m.volume(d)).sum();
        assert!((total - 1_800_000.0).abs() < 1e-6 * 1_800_000.0);
        let d = |mo, day| m.volume(days_from_civil(2026, mo, day));
        // Mondays: January and August above July.
        assert!(d(1, 12) > d(7, 13) * 1.5 && d(8, 17) > d(7, 13) * 1.5);
        // Monday above Friday, weekend far below.
        assert!(d(3, 2) > d(3, 6) && d(3, 6) > 3.0 * d(3, 7));
        // Långfredagen and midsommarafton are quiet.
        assert!(d(4, 3) < 0.2 * d(4, 2));
        assert!(d(6, 19) < 0.3 * d(6, 18));
        let s = DayModel::new(
            1_800_000.0,
            first,
            365,
            &[(days_from_civil(2026, 3, 2), 3.0)],
        );
        assert!((s.volume(days_from_civil(2026, 3, 2)) - 3.0 * d(3, 2)).abs() < 1e-9);
    }
}
