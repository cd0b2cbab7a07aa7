//! Engine time. The core never reads a clock: every input carries a [`Timestamp`], and the
//! engine's deadlines come back out through `poll_timeout()`. Milliseconds since the Unix
//! epoch, so traces, golden files and journals print it stably.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// `self + ms`, saturating so that "never" deadlines cannot wrap.
    #[must_use]
    pub fn plus_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Whole seconds, rounded up: what a caller is told ("about 3 minutes").
    #[must_use]
    pub fn ms_to_secs_ceil(ms: u64) -> u64 {
        ms.div_ceil(1000)
    }

    /// The same instant as a `jiff` timestamp, for calendar arithmetic in the site's zone.
    #[must_use]
    pub fn to_jiff(self) -> jiff::Timestamp {
        let ms = i64::try_from(self.0).unwrap_or(i64::MAX);
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::MAX)
    }

    /// From a `jiff` timestamp; instants before the epoch clamp to zero.
    #[must_use]
    pub fn from_jiff(ts: jiff::Timestamp) -> Timestamp {
        Timestamp(u64::try_from(ts.as_millisecond()).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp(u64::MAX).plus_ms(5), Timestamp(u64::MAX));
        assert_eq!(Timestamp(5).since(Timestamp(9)), 0);
        assert_eq!(Timestamp(9).since(Timestamp(5)), 4);
        assert_eq!(Timestamp::ms_to_secs_ceil(1001), 2);
    }

    #[test]
    fn jiff_round_trip() {
        let t = Timestamp(1_772_437_503_250);
        assert_eq!(Timestamp::from_jiff(t.to_jiff()), t);
    }
}
