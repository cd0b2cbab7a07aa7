//! Timestamps and durations as they appear in the CSV files (docs/formats.md).
//!
//! - Reading: a timestamp cell is RFC 3339 with an offset (`2026-03-02T08:15:03.250+01:00`,
//!   `…Z`) or integer epoch milliseconds; fractions finer than a millisecond are rounded to
//!   the nearest millisecond (half up). A duration cell is seconds with optional decimals.
//! - Writing: RFC 3339 with milliseconds in the site's time zone, durations as seconds with
//!   at most three decimals and no trailing zeros (`12.5`, `0`, `0.001`).
//!
//! A replay writes three timestamps for each of 1.8 million calls, so the formatter avoids a
//! time-zone lookup per call: [`TimeFormatter`] keeps the UTC offset together with the span
//! between the zone's transitions around it (half a year in Europe/Stockholm) and writes the
//! digits by hand. Calendar arithmetic is Howard Hinnant's `days_from_civil`/
//! `civil_from_days` (proleptic Gregorian).

mod duration;
mod formatter;
#[cfg(test)]
mod tests;

pub use duration::{format_duration_s, parse_duration_ms, write_duration_s};
pub use formatter::{LocalTime, TimeFormatter};

use jiff::tz::TimeZone;
use std::fmt;
use vaxel_core::Timestamp;

const MS_PER_DAY: i64 = 86_400_000;

/// Why a timestamp cell could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeParseError {
    /// Neither RFC 3339 with an offset nor integer epoch milliseconds.
    Syntax,
    /// A well-formed instant before 1970-01-01T00:00:00Z (engine time starts there).
    BeforeEpoch,
    /// Too far in the future for engine time.
    OutOfRange,
}

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeParseError::Syntax => "is not a timestamp (RFC 3339 or epoch ms)",
            TimeParseError::BeforeEpoch => "is before 1970-01-01T00:00:00Z",
            TimeParseError::OutOfRange => "is out of range",
        })
    }
}

/// Why a duration cell could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationParseError {
    Syntax,
    /// `12,5`: a decimal comma (a spreadsheet in a Swedish locale).
    DecimalComma,
    Negative,
    NotANumber,
    Infinite,
    TooLarge,
}

impl fmt::Display for DurationParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DurationParseError::Syntax => "is not a duration in seconds",
            DurationParseError::DecimalComma => {
                "is not a duration in seconds (use a decimal point, not a comma)"
            }
            DurationParseError::Negative => "is a negative duration",
            DurationParseError::NotANumber => "is not a number (NaN)",
            DurationParseError::Infinite => "is an infinite duration",
            DurationParseError::TooLarge => "is too long a duration",
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
#[must_use]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day number since 1970-01-01.
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Number of days in `month` of `year`.
#[must_use]
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses a timestamp cell: RFC 3339 with an offset or integer epoch milliseconds.
/// Surrounding spaces are ignored. A leap second (`:60`) is read as `:59`, as `jiff` does.
pub fn parse_timestamp(cell: &str) -> Result<Timestamp, TimeParseError> {
    let s = crate::csvio::trim(cell);
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(TimeParseError::Syntax);
    }
    if let Some(t) = parse_common(b) {
        return Ok(t);
    }
    if b.iter().all(u8::is_ascii_digit) {
        return s
            .parse::<u64>()
            .map(Timestamp)
            .map_err(|_| TimeParseError::OutOfRange);
    }
    if b[0] == b'-' && b.len() > 1 && b[1..].iter().all(u8::is_ascii_digit) {
        return Err(TimeParseError::BeforeEpoch);
    }
    parse_rfc3339(b)
}

/// `2026-03-02T08:15:03.250+01:00`, the form the writers use and nearly every trace has, read
/// at fixed positions (a year's trace has 1.8 million of them). `None` for anything else,
/// errors included: [`parse_rfc3339`] then decides.
fn parse_common(b: &[u8]) -> Option<Timestamp> {
    const DIGITS: [usize; 21] = [
        0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 24, 25, 27, 28,
    ];
    let b: &[u8; 29] = b.try_into().ok()?;
    let d = |i: usize| u32::from(b[i].wrapping_sub(b'0'));
    if !DIGITS.iter().all(|&i| d(i) < 10)
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26] != b':'
    {
        return None;
    }
    let n2 = |i: usize| d(i) * 10 + d(i + 1);
    let year = i64::from(n2(0) * 100 + n2(2));
    let (month, day, hour, minute, second) = (n2(5), n2(8), n2(11), n2(14), n2(17));
    let (oh, om) = (n2(24), n2(27));
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || oh > 23
        || om > 59
    {
        return None;
    }
    let offset_s = i64::from(oh * 3600 + om * 60);
    let offset_s = match b[23] {
        b'+' => offset_s,
        b'-' => -offset_s,
        _ => return None,
    };
    let ms = i64::from(d(20) * 100 + n2(21));
    instant(
        year,
        month,
        day,
        hour * 3600 + minute * 60 + second,
        ms,
        offset_s,
    )
    .ok()
}

/// The instant of a local date, second of the day and millisecond at an offset.
fn instant(
    year: i64,
    month: u32,
    day: u32,
    second_of_day: u32,
    ms: i64,
    offset_s: i64,
) -> Result<Timestamp, TimeParseError> {
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(second_of_day) - offset_s;
    let total = secs * 1000 + ms;
    u64::try_from(total)
        .map(Timestamp)
        .map_err(|_| TimeParseError::BeforeEpoch)
}

fn digits(b: &[u8], at: usize, n: usize) -> Result<u32, TimeParseError> {
    let mut v = 0u32;
    for i in at..at + n {
        let c = *b.get(i).ok_or(TimeParseError::Syntax)?;
        if !c.is_ascii_digit() {
            return Err(TimeParseError::Syntax);
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

fn expect(b: &[u8], at: usize, what: &[u8]) -> Result<(), TimeParseError> {
    match b.get(at) {
        Some(c) if what.contains(c) => Ok(()),
        _ => Err(TimeParseError::Syntax),
    }
}

fn parse_rfc3339(b: &[u8]) -> Result<Timestamp, TimeParseError> {
    use TimeParseError::Syntax;
    let year = i64::from(digits(b, 0, 4)?);
    expect(b, 4, b"-")?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b"-")?;
    let day = digits(b, 8, 2)?;
    expect(b, 10, b"Tt ")?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b":")?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b":")?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(Syntax);
    }
    let second = second.min(59);
    let mut i = 19;
    // Fraction: milliseconds, rounded half up by the first digit beyond them.
    let mut ms = 0i64;
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            let d = i64::from(b[i] - b'0');
            match i - start {
                0 => ms += d * 100,
                1 => ms += d * 10,
                2 => ms += d,
                3 if d >= 5 => ms += 1,
                _ => {}
            }
            i += 1;
        }
        if i == start {
            return Err(Syntax);
        }
    }
    let offset_s: i64 = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            i += 3;
            let om = if b.get(i) == Some(&b':') {
                let m = digits(b, i + 1, 2)?;
                i += 3;
                m
            } else if b.get(i).is_some_and(u8::is_ascii_digit) {
                let m = digits(b, i, 2)?;
                i += 2;
                m
            } else {
                0
            };
            if oh > 23 || om > 59 {
                return Err(Syntax);
            }
            let o = i64::from(oh * 3600 + om * 60);
            if sign == b'-' { -o } else { o }
        }
        _ => return Err(Syntax),
    };
    if i != b.len() {
        return Err(Syntax);
    }
    instant(
        year,
        month,
        day,
        hour * 3600 + minute * 60 + second,
        ms,
        offset_s,
    )
}
