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

/// Parses a duration cell (seconds, decimals allowed) into milliseconds, rounded half up.
/// `1e3` style exponents are accepted too; `-0` reads as zero.
pub fn parse_duration_ms(cell: &str) -> Result<u64, DurationParseError> {
    let s = crate::csvio::trim(cell);
    if let Some(ms) = parse_plain_seconds(s.as_bytes()) {
        return Ok(ms);
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    match parse_decimal_ms(body.as_bytes()) {
        Some(Ok(ms)) => {
            if neg && ms > 0 {
                Err(DurationParseError::Negative)
            } else {
                Ok(ms)
            }
        }
        Some(Err(e)) => Err(e),
        None => parse_float_ms(s),
    }
}

/// `171.9`: up to nine digits and at most three decimals, the form durations are written in
/// (three in every row of a trace), read without the general parser's bookkeeping. `None`
/// for anything else, which [`parse_decimal_ms`] then reads (to the same value where both do).
fn parse_plain_seconds(b: &[u8]) -> Option<u64> {
    let (whole, frac) = match b.iter().position(|&c| c == b'.') {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (b, &b[b.len()..]),
    };
    if whole.is_empty() || whole.len() > 9 || frac.len() > 3 {
        return None;
    }
    let digit = |c: u8| {
        let d = c.wrapping_sub(b'0');
        (d < 10).then_some(u64::from(d))
    };
    let mut s = 0;
    for &c in whole {
        s = s * 10 + digit(c)?;
    }
    let mut ms = s * 1000;
    for (&c, scale) in frac.iter().zip([100, 10, 1]) {
        ms += digit(c)? * scale;
    }
    Some(ms)
}

/// `digits[.digits]` (at least one digit). `None` when the text is something else.
fn parse_decimal_ms(b: &[u8]) -> Option<Result<u64, DurationParseError>> {
    let mut i = 0;
    let mut whole: u64 = 0;
    let mut any = false;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        any = true;
        whole = match whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u64::from(c - b'0')))
        {
            Some(w) if w <= 1_000_000_000_000 => w,
            _ => return Some(Err(DurationParseError::TooLarge)),
        };
        i += 1;
    }
    let mut frac_ms = 0u64;
    match b.get(i) {
        None => {}
        Some(b'.') => {
            i += 1;
            let start = i;
            while let Some(&c) = b.get(i) {
                if !c.is_ascii_digit() {
                    return None;
                }
                let d = u64::from(c - b'0');
                match i - start {
                    0 => frac_ms += d * 100,
                    1 => frac_ms += d * 10,
                    2 => frac_ms += d,
                    3 if d >= 5 => frac_ms += 1,
                    _ => {}
                }
                any = true;
                i += 1;
            }
        }
        Some(b',') if any => return Some(Err(DurationParseError::DecimalComma)),
        Some(_) => return None,
    }
    if !any {
        return None;
    }
    Some(Ok(whole * 1000 + frac_ms))
}

fn parse_float_ms(s: &str) -> Result<u64, DurationParseError> {
    let x: f64 = s.parse().map_err(|_| DurationParseError::Syntax)?;
    if x.is_nan() {
        return Err(DurationParseError::NotANumber);
    }
    if x.is_infinite() {
        return Err(if x > 0.0 {
            DurationParseError::Infinite
        } else {
            DurationParseError::Negative
        });
    }
    if x < 0.0 {
        return Err(DurationParseError::Negative);
    }
    let ms = (x * 1000.0).round();
    if ms > 1e15 {
        return Err(DurationParseError::TooLarge);
    }
    // In range and non-negative: the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(ms as u64)
}

/// Appends `ms` as seconds with at most three decimals, trailing zeros trimmed:
/// `12500` → `12.5`, `0` → `0`, `1` → `0.001`.
pub fn write_duration_s(ms: u64, out: &mut String) {
    push_u64(out, ms / 1000);
    let frac = ms % 1000;
    if frac != 0 {
        out.push('.');
        let d = [frac / 100, frac / 10 % 10, frac % 10];
        let n = if d[2] != 0 {
            3
        } else if d[1] != 0 {
            2
        } else {
            1
        };
        for &x in &d[..n] {
            out.push(digit(x));
        }
    }
}

/// [`write_duration_s`] into a new string.
#[must_use]
pub fn format_duration_s(ms: u64) -> String {
    let mut s = String::with_capacity(12);
    write_duration_s(ms, &mut s);
    s
}

fn digit(x: u64) -> char {
    char::from(b'0' + (x % 10) as u8)
}

fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &c in &buf[i..] {
        out.push(char::from(c));
    }
}

fn push2(out: &mut String, v: u32) {
    out.push(digit(u64::from(v / 10)));
    out.push(digit(u64::from(v)));
}

/// A local date and time of an instant in the site's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub milli: u32,
    /// Monday = 0 … Sunday = 6.
    pub weekday: u32,
    /// Offset from UTC in whole minutes (seconds of historical offsets dropped).
    pub offset_min: i32,
}

/// Converts instants to local time in one zone, remembering the offset between the zone's
/// transitions, and writes RFC 3339. One per writer; not shared between threads.
#[derive(Clone, Debug)]
pub struct TimeFormatter {
    tz: TimeZone,
    /// The cached offset holds for instants in `[from_ms, until_ms)`.
    from_ms: i64,
    until_ms: i64,
    offset_min: i32,
}

impl TimeFormatter {
    #[must_use]
    pub fn new(tz: TimeZone) -> TimeFormatter {
        TimeFormatter {
            tz,
            from_ms: 1,
            until_ms: 0,
            offset_min: 0,
        }
    }

    /// The zone this formatter writes in.
    #[must_use]
    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// UTC offset at `t`, in whole minutes (truncated toward zero: RFC 3339 offsets have no
    /// seconds, and the local time written uses the same truncated offset, so the instant
    /// reads back exactly).
    pub fn offset_min(&mut self, t: Timestamp) -> i32 {
        let ms = i64::try_from(t.0).unwrap_or(i64::MAX);
        if ms < self.from_ms || ms >= self.until_ms {
            self.refill(ms);
        }
        self.offset_min
    }

    /// The instants (epoch milliseconds, `[from, until)`) over which the offset of the last
    /// [`offset_min`](Self::offset_min) or [`local`](Self::local) holds, for callers that keep
    /// what they derived from it.
    pub(crate) fn offset_span(&self) -> (i64, i64) {
        (self.from_ms, self.until_ms)
    }

    #[cold]
    fn refill(&mut self, ms: i64) {
        let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
            // Outside jiff's range (past year 9999): keep UTC for just this instant.
            self.from_ms = ms;
            self.until_ms = ms.saturating_add(1);
            self.offset_min = 0;
            return;
        };
        self.offset_min = self.tz.to_offset(ts).seconds() / 60;
        self.until_ms = self
            .tz
            .following(ts)
            .next()
            .map_or(i64::MAX, |tr| tr.timestamp().as_millisecond());
        // `preceding` yields transitions strictly before its argument; one past `ts` finds
        // a transition exactly at `ts`.
        let after = jiff::Timestamp::from_millisecond(ms.saturating_add(1)).unwrap_or(ts);
        self.from_ms = self
            .tz
            .preceding(after)
            .next()
            .map_or(i64::MIN, |tr| tr.timestamp().as_millisecond());
    }

    /// The local date and time of `t`.
    pub fn local(&mut self, t: Timestamp) -> LocalTime {
        let offset_min = self.offset_min(t);
        let ms = i64::try_from(t.0).unwrap_or(i64::MAX) + i64::from(offset_min) * 60_000;
        let days = ms.div_euclid(MS_PER_DAY);
        let in_day = ms.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = (in_day / 1000) as u32;
        LocalTime {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            milli: (in_day % 1000) as u32,
            weekday: (days + 3).rem_euclid(7) as u32,
            offset_min,
        }
    }

    /// Appends `t` as `2026-03-02T08:15:03.250+01:00` in the zone.
    pub fn write(&mut self, t: Timestamp, out: &mut String) {
        let l = self.local(t);
        if (0..10_000).contains(&l.year) {
            let y = l.year as u32;
            push2(out, y / 100);
            push2(out, y % 100);
        } else {
            push_u64(out, l.year.unsigned_abs());
        }
        out.push('-');
        push2(out, l.month);
        out.push('-');
        push2(out, l.day);
        out.push('T');
        push2(out, l.hour);
        out.push(':');
        push2(out, l.minute);
        out.push(':');
        push2(out, l.second);
        out.push('.');
        out.push(digit(u64::from(l.milli / 100)));
        push2(out, l.milli % 100);
        let off = l.offset_min;
        out.push(if off < 0 { '-' } else { '+' });
        let off = off.unsigned_abs();
        push2(out, off / 60);
        out.push(':');
        push2(out, off % 60);
    }

    /// [`write`](Self::write) into a new string.
    pub fn format(&mut self, t: Timestamp) -> String {
        let mut s = String::with_capacity(29);
        self.write(t, &mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stockholm() -> TimeZone {
        TimeZone::get("Europe/Stockholm").unwrap()
    }

    #[test]
    fn parses_rfc3339_and_epoch_ms() {
        let t = parse_timestamp("2026-03-02T08:15:03.250+01:00").unwrap();
        assert_eq!(t, Timestamp(1_772_435_703_250));
        assert_eq!(parse_timestamp("2026-03-02T07:15:03.250Z").unwrap(), t);
        assert_eq!(parse_timestamp("2026-03-02t07:15:03.25z").unwrap(), t);
        assert_eq!(parse_timestamp("2026-03-02 08:15:03.250+0100").unwrap(), t);
        assert_eq!(parse_timestamp(" 1772435703250 ").unwrap(), t);
        assert_eq!(parse_timestamp("0").unwrap(), Timestamp(0));
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:03-01:30").unwrap(),
            Timestamp(1_772_444_703_000)
        );
    }

    #[test]
    fn agrees_with_jiff() {
        for s in [
            "2026-03-29T01:59:59.999+01:00",
            "2026-03-29T03:00:00+02:00",
            "2024-02-29T23:59:59.5-05:00",
            "2000-02-29T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2099-12-31T23:59:59.999+14:00",
        ] {
            let ours = parse_timestamp(s).unwrap();
            let theirs: jiff::Timestamp = s.parse().unwrap();
            assert_eq!(ours, Timestamp::from_jiff(theirs), "{s}");
        }
    }

    /// The fixed-position path and the general one agree on every well-formed instant near
    /// edges (leap days, offsets, the epoch), and leave everything else to the general one.
    #[test]
    fn common_form_agrees_with_the_general_parser() {
        use TimeParseError::{BeforeEpoch, Syntax};
        for s in [
            "2026-03-02T08:15:03.250+01:00",
            "2024-02-29T23:59:59.999-05:30",
            "1970-01-01T01:00:00.000+01:00",
            "1970-01-01T00:00:00.000-00:00",
            "2099-12-31T23:59:59.999+14:00",
            "2000-02-29T00:00:00.001+23:59",
        ] {
            let general = parse_rfc3339(s.as_bytes());
            assert_eq!(parse_common(s.as_bytes()).ok_or(Syntax), general, "{s}");
            assert_eq!(parse_timestamp(s), general, "{s}");
        }
        for s in [
            "1970-01-01T00:59:59.999+01:00",
            "2026-02-29T08:15:03.250+01:00",
            "2026-03-02T08:15:60.250+01:00",
            "2026-03-02T24:15:03.250+01:00",
            "2026-03-02t08:15:03.250+01:00",
            "2026-03-02 08:15:03.250+01:00",
            "2026-03-02T08:15:03,250+01:00",
            "2026-03-02T08:15:03.250+24:00",
            "2026-03-02T08:15:03.250+01:60",
            "2026-03-02T08:15:03.250*01:00",
            "2026-03-02T08:15:03.2x0+01:00",
            "2026-03-02T08:15:03.2500+01:0",
            "+026-03-02T08:15:03.250+01:00",
        ] {
            assert_eq!(parse_common(s.as_bytes()), None, "{s}");
        }
        assert_eq!(
            parse_timestamp("1970-01-01T00:59:59.999+01:00"),
            Err(BeforeEpoch)
        );
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:60.250+01:00"),
            parse_timestamp("2026-03-02T08:15:59.250+01:00")
        );
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:03.250+24:00"),
            Err(Syntax)
        );
    }

    #[test]
    fn rounds_sub_millisecond_half_up() {
        let base = parse_timestamp("2026-03-02T08:15:03+01:00").unwrap().0;
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:03.2504+01:00").unwrap().0,
            base + 250
        );
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:03.2505+01:00").unwrap().0,
            base + 251
        );
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:03.9996+01:00").unwrap().0,
            base + 1000
        );
        assert_eq!(
            parse_timestamp("2026-03-02T08:15:03.1+01:00").unwrap().0,
            base + 100
        );
    }

    #[test]
    fn rejects_bad_timestamps() {
        use TimeParseError::*;
        for (s, e) in [
            ("2026-13-01", Syntax),
            ("2026-13-01T00:00:00Z", Syntax),
            ("2026-02-29T00:00:00Z", Syntax),
            ("2026-03-02T24:00:00Z", Syntax),
            ("2026-03-02T08:15:03", Syntax),
            ("2026-03-02T08:15:03.+01:00", Syntax),
            ("2026-03-02T08:15:03+01:00x", Syntax),
            ("", Syntax),
            ("12.5", Syntax),
            ("1969-12-31T23:59:59Z", BeforeEpoch),
            ("-5", BeforeEpoch),
            ("99999999999999999999999", OutOfRange),
        ] {
            assert_eq!(parse_timestamp(s), Err(e), "{s}");
        }
        assert_eq!(
            format!("\"x\" {}", TimeParseError::Syntax),
            "\"x\" is not a timestamp (RFC 3339 or epoch ms)"
        );
    }

    #[test]
    fn formats_in_the_site_zone_across_dst() {
        let mut f = TimeFormatter::new(stockholm());
        let t = Timestamp(1_772_435_703_250);
        assert_eq!(f.format(t), "2026-03-02T08:15:03.250+01:00");
        // 2026-03-29 01:00 UTC: clocks go from 02:00 to 03:00.
        let before = parse_timestamp("2026-03-29T00:59:59.999Z").unwrap();
        assert_eq!(f.format(before), "2026-03-29T01:59:59.999+01:00");
        assert_eq!(f.format(before.plus_ms(1)), "2026-03-29T03:00:00.000+02:00");
        // Back in time again: the cache must notice.
        assert_eq!(f.format(t), "2026-03-02T08:15:03.250+01:00");
        // 2026-10-25 01:00 UTC: 03:00 → 02:00, the hour 02:xx happens twice.
        let a = parse_timestamp("2026-10-25T00:30:00Z").unwrap();
        let b = parse_timestamp("2026-10-25T01:30:00Z").unwrap();
        assert_eq!(f.format(a), "2026-10-25T02:30:00.000+02:00");
        assert_eq!(f.format(b), "2026-10-25T02:30:00.000+01:00");
        let mut utc = TimeFormatter::new(TimeZone::UTC);
        assert_eq!(utc.format(Timestamp(0)), "1970-01-01T00:00:00.000+00:00");
    }

    #[test]
    fn local_parts_and_weekday() {
        let mut f = TimeFormatter::new(stockholm());
        let l = f.local(parse_timestamp("2026-03-02T08:15:03.250+01:00").unwrap());
        assert_eq!(
            (l.year, l.month, l.day, l.hour, l.minute),
            (2026, 3, 2, 8, 15)
        );
        assert_eq!(l.weekday, 0, "2026-03-02 is a Monday");
        let l = f.local(parse_timestamp("2026-03-01T23:59:59+01:00").unwrap());
        assert_eq!(l.weekday, 6);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 20_514, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    #[test]
    fn plain_seconds_agree_with_the_general_parser() {
        for s in [
            "0",
            "7",
            "7.",
            "12.5",
            "171.9",
            "0.25",
            "0.001",
            "999999999.999",
            "000.100",
        ] {
            let general = parse_decimal_ms(s.as_bytes());
            assert_eq!(parse_plain_seconds(s.as_bytes()).map(Ok), general, "{s}");
        }
        for s in [
            "",
            ".",
            ".5",
            "1.2345",
            "1000000000",
            "1,5",
            "1e3",
            "+1",
            "-1",
            "1.2.3",
            "1.x",
            "x",
            " 1",
        ] {
            assert_eq!(parse_plain_seconds(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("12.5"), Ok(12_500));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_duration_ms(".5"), Ok(500));
        assert_eq!(parse_duration_ms("7."), Ok(7000));
        assert_eq!(parse_duration_ms("0.0004"), Ok(0));
        assert_eq!(parse_duration_ms("0.0005"), Ok(1));
        assert_eq!(parse_duration_ms("180"), Ok(180_000));
        assert_eq!(parse_duration_ms("1e2"), Ok(100_000));
        assert_eq!(parse_duration_ms("-0"), Ok(0));
        assert_eq!(parse_duration_ms("-1"), Err(DurationParseError::Negative));
        assert_eq!(parse_duration_ms("-1e2"), Err(DurationParseError::Negative));
        assert_eq!(
            parse_duration_ms("NaN"),
            Err(DurationParseError::NotANumber)
        );
        assert_eq!(parse_duration_ms("inf"), Err(DurationParseError::Infinite));
        assert_eq!(
            parse_duration_ms("12,5"),
            Err(DurationParseError::DecimalComma)
        );
        assert_eq!(parse_duration_ms("abc"), Err(DurationParseError::Syntax));
        assert_eq!(parse_duration_ms(""), Err(DurationParseError::Syntax));
        assert_eq!(parse_duration_ms("."), Err(DurationParseError::Syntax));
        assert_eq!(
            parse_duration_ms("99999999999999999"),
            Err(DurationParseError::TooLarge)
        );
        assert_eq!(format_duration_s(12_500), "12.5");
        assert_eq!(format_duration_s(0), "0");
        assert_eq!(format_duration_s(1), "0.001");
        assert_eq!(format_duration_s(3_250), "3.25");
        assert_eq!(format_duration_s(180_000), "180");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in 0u64..4_102_444_800_000) {
            let mut f = TimeFormatter::new(stockholm());
            let s = f.format(Timestamp(ms));
            prop_assert_eq!(parse_timestamp(&s), Ok(Timestamp(ms)));
            let theirs: jiff::Timestamp = s.parse().unwrap();
            prop_assert_eq!(theirs.as_millisecond(), i64::try_from(ms).unwrap());
            let z = Timestamp(ms).to_jiff().to_zoned_datetime(stockholm());
            prop_assert_eq!(f.local(Timestamp(ms)).hour, u32::try_from(z.hour()).unwrap());
        }

        #[test]
        fn plain_seconds_never_disagree(s in "[0-9.]{0,14}") {
            if let Some(ms) = parse_plain_seconds(s.as_bytes()) {
                prop_assert_eq!(Some(Ok(ms)), parse_decimal_ms(s.as_bytes()));
            }
        }

        #[test]
        fn durations_round_trip(ms in 0u64..1_000_000_000) {
            prop_assert_eq!(parse_duration_ms(&format_duration_s(ms)), Ok(ms));
        }
    }
}
