//! Duration cells: seconds with optional decimals, read exactly to the millisecond and
//! written with at most three decimals.

use super::*;

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
pub(super) fn parse_plain_seconds(b: &[u8]) -> Option<u64> {
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
pub(super) fn parse_decimal_ms(b: &[u8]) -> Option<Result<u64, DurationParseError>> {
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

pub(super) fn digit(x: u64) -> char {
    char::from(b'0' + (x % 10) as u8)
}

pub(super) fn push_u64(out: &mut String, mut v: u64) {
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

pub(super) fn push2(out: &mut String, v: u32) {
    out.push(digit(u64::from(v / 10)));
    out.push(digit(u64::from(v)));
}
