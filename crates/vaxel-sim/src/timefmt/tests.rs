//! Tests of the timestamp and duration cells.

use super::duration::{parse_decimal_ms, parse_plain_seconds};
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
