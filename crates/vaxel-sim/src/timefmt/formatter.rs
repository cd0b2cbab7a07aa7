//! RFC 3339 in the site's zone, the offset cached between the zone's transitions.

use super::duration::{digit, push_u64, push2};
use super::*;

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
