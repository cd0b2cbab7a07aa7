//! Seeded generation of realistic traffic for a site: a year (or any number of days) of
//! calls ([`TraceGenerator`], streamed) and a roster staffed for it ([`RosterGenerator`]).
//! The same site, configuration and seed give the same bytes.
//!
//! The traffic model:
//! - volume: `calls_per_year` spread over the days by weekday (Monday highest, weekends
//!   low), month (summer low, January and August peaks) and Swedish public holidays
//!   (computed for any year, Easter by the computus) and eves; `surge` multiplies chosen
//!   days (a crisis);
//! - within a day: an intraday shape in local time with peaks around 10:00 and 13:30 and
//!   a night floor; arrivals are a non-homogeneous Poisson process (piecewise constant
//!   rate over 5-minute bins, which also handles the 23- and 25-hour DST days);
//! - choices: entries by seeded weights (main numbers with menus heavier, closed entries
//!   get a fraction of their calls), menu keys by seeded weights, some callers press
//!   nothing, a few press a key the menu lacks;
//! - per answer group: lognormal talk times (mean 3–5 min varied per group), the group's
//!   wrap-up (sometimes an explicit one), case types, ≈70 % resolved at first contact;
//! - patience exponential or Weibull, a few callers never hang up; a share accepts a
//!   callback.

mod holidays;
mod profile;
mod rng;
mod roster_gen;
mod routing;
mod trace_gen;

pub use holidays::{DayKind, easter, swedish_holidays};
pub use profile::{DayModel, MONTH_FACTOR, WEEKDAY_FACTOR, intraday};
pub use rng::{Rng, splitmix64};
pub use roster_gen::{GroupStaffing, RosterGenerator, RosterPlan};
pub use routing::{GroupModel, SiteModel, Walk};
pub use trace_gen::TraceGenerator;

use jiff::civil::Date;

/// How long callers wait before hanging up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Patience {
    Exponential { mean_s: f64 },
    Weibull { scale_s: f64, shape: f64 },
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Expected calls in the 365 days from `start` (surges come on top).
    pub calls_per_year: f64,
    /// First local day.
    pub start: Date,
    /// Number of days.
    pub days: u32,
    pub seed: u64,
    /// Days whose volume is multiplied by the factor (crises, invoices going out).
    pub surge: Vec<(Date, f64)>,
    pub patience: Patience,
    /// Callers who never hang up (`patience_s` empty).
    pub never_hang_up_share: f64,
    /// Callers pressing nothing at a menu.
    pub no_choice_share: f64,
    /// Callers pressing a key the menu does not offer.
    pub invalid_choice_share: f64,
    /// Callers accepting a callback when one is offered.
    pub accept_callback_share: f64,
    /// Matters solved at first contact (varied ±8 points per group).
    pub resolved_share: f64,
    /// An entry's calls while it is closed, relative to while open.
    pub closed_share: f64,
    /// Calls with an explicit `wrapup_s` rather than the group's default.
    pub explicit_wrapup_share: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            calls_per_year: 1_800_000.0,
            start: jiff::civil::date(2026, 1, 1),
            days: 365,
            seed: 1,
            surge: Vec::new(),
            patience: Patience::Exponential { mean_s: 150.0 },
            never_hang_up_share: 0.03,
            no_choice_share: 0.08,
            invalid_choice_share: 0.02,
            accept_callback_share: 0.35,
            resolved_share: 0.70,
            closed_share: 0.15,
            explicit_wrapup_share: 0.15,
        }
    }
}

/// A generator setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GenError {
    #[error("invalid generator setting: {0}")]
    Config(String),
    #[error("the site has no entries to call")]
    NoEntries,
}

impl GenConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), GenError> {
        let bad = |s: String| Err(GenError::Config(s));
        if !(self.calls_per_year.is_finite() && self.calls_per_year >= 0.0) {
            return bad(format!(
                "calls_per_year {} is not a count",
                self.calls_per_year
            ));
        }
        if self.days == 0 {
            return bad("days must be at least 1".into());
        }
        for (name, v) in [
            ("never_hang_up_share", self.never_hang_up_share),
            ("no_choice_share", self.no_choice_share),
            ("invalid_choice_share", self.invalid_choice_share),
            ("accept_callback_share", self.accept_callback_share),
            ("resolved_share", self.resolved_share),
            ("closed_share", self.closed_share),
            ("explicit_wrapup_share", self.explicit_wrapup_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} {v} is not a share between 0 and 1"));
            }
        }
        if self.no_choice_share + self.invalid_choice_share > 1.0 {
            return bad("no_choice_share + invalid_choice_share is over 1".into());
        }
        let ok = match self.patience {
            Patience::Exponential { mean_s } => mean_s.is_finite() && mean_s > 0.0,
            Patience::Weibull { scale_s, shape } => {
                scale_s.is_finite() && scale_s > 0.0 && shape.is_finite() && shape > 0.0
            }
        };
        if !ok {
            return bad(format!(
                "patience {:?} needs positive parameters",
                self.patience
            ));
        }
        for (d, f) in &self.surge {
            if !(f.is_finite() && *f >= 0.0) {
                return bad(format!("surge factor {f} on {d} is not a number ≥ 0"));
            }
        }
        Ok(())
    }
}

/// Day number (days since 1970-01-01) of a civil date.
pub(crate) fn day_number(d: Date) -> i64 {
    crate::timefmt::days_from_civil(
        i64::from(d.year()),
        u32::from(d.month().unsigned_abs()),
        u32::from(d.day().unsigned_abs()),
    )
}

/// One stretch of a day with a constant arrival rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bin {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Expected arrivals in the bin.
    pub calls: f64,
}

/// Bin length: the arrival rate is constant over 5 minutes.
pub(crate) const BIN_MS: u64 = 300_000;

/// The bins of local day `day` (from local midnight to the next, 23 to 25 hours), with the
/// day's expected volume spread by the intraday shape of each bin's local time.
pub(crate) fn day_bins(
    day: i64,
    model: &DayModel,
    tz: &jiff::tz::TimeZone,
    fmt: &mut crate::timefmt::TimeFormatter,
) -> Vec<Bin> {
    let start = local_midnight(day, tz);
    let end = local_midnight(day + 1, tz);
    let mut bins = Vec::with_capacity(300);
    let mut t = start;
    while t < end {
        let e = (t + BIN_MS).min(end);
        let mid = vaxel_core::Timestamp(t + (e - t) / 2);
        let l = fmt.local(mid);
        let m = f64::from(l.hour * 60 + l.minute) + f64::from(l.second) / 60.0;
        bins.push(Bin {
            start_ms: t,
            end_ms: e,
            calls: intraday(m) * (e - t) as f64,
        });
        t = e;
    }
    let total: f64 = bins.iter().map(|b| b.calls).sum();
    let volume = model.volume(day);
    for b in &mut bins {
        b.calls = if total > 0.0 {
            b.calls / total * volume
        } else {
            0.0
        };
    }
    bins
}

/// The instant of local midnight starting day `day` (the first instant of the day when a
/// DST change skips midnight).
pub(crate) fn local_midnight(day: i64, tz: &jiff::tz::TimeZone) -> u64 {
    let (y, m, d) = crate::timefmt::civil_from_days(day);
    let ms = (|| {
        let date = Date::new(
            i16::try_from(y).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(d).ok()?,
        )
        .ok()?;
        let ts = tz
            .to_ambiguous_timestamp(date.at(0, 0, 0, 0))
            .compatible()
            .ok()?;
        u64::try_from(ts.as_millisecond()).ok()
    })();
    // Outside jiff's range: UTC midnight.
    ms.unwrap_or_else(|| u64::try_from(day.max(0) * 86_400_000).unwrap_or(0))
}

#[cfg(test)]
mod tests;
