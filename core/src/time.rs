//! RFC 3339 timestamps to and from integer nanoseconds, and the strftime subset index
//! names use.
//!
//! Why: collectors disagree on precision (Fluent Bit es: milliseconds; Vector:
//! nanoseconds, fewest exact digits; Filebeat: milliseconds) and floats lose
//! nanoseconds, which scrambles line order. Inside the core every time is an i64 of
//! nanoseconds since the epoch (UTC); only encoders round, each the way its collector
//! does (truncation).

pub const NS: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[derive(Debug, PartialEq, Eq)]
pub struct TimeError(pub &'static str);

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `2024-05-01T12:00:00.000000001Z` (any fraction length, `Z` or `±hh:mm`/`±hhmm`,
/// `T`, `t` or space) → ns since the epoch. Fraction digits past nine are ignored.
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeError> {
    let b = text.as_bytes();
    let bad = TimeError("not an RFC 3339 timestamp");
    let (y, mo, d) = (digits(b, 0, 4).ok_or(TimeError("not an RFC 3339 timestamp"))?, digits(b, 5, 2), digits(b, 8, 2));
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(bad);
    }
    let (h, mi, s) = (digits(b, 11, 2), digits(b, 14, 2), digits(b, 17, 2));
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err(bad);
    }
    let (Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (mo, d, h, mi, s) else { return Err(bad) };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(TimeError("field out of range"));
    }
    if d > days_in_month(y, mo) {
        return Err(TimeError("no such day in that month"));
    }
    let mut i = 19;
    let mut ns: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                ns = ns * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        if i == start {
            return Err(bad);
        }
        for _ in (i - start).min(9)..9 {
            ns *= 10;
        }
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        _ => zone_offset(&b[i..]).ok_or(bad)?,
    };
    let secs = days_from_civil(y as i64, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64 - offset;
    secs.checked_mul(NS).and_then(|v| v.checked_add(ns)).ok_or(TimeError("out of range"))
}

/// Days in month `mo` (1-12) of year `y`, leap years Gregorian.
fn days_in_month(y: u32, mo: u32) -> u32 {
    match mo {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `±hh:mm` or `±hhmm`, the whole of `b`, in seconds east of UTC.
fn zone_offset(b: &[u8]) -> Option<i64> {
    let (sign, [h1, h2, m1, m2]) = match b {
        [sign, h1, h2, b':', m1, m2] | [sign, h1, h2, m1, m2] => (*sign, [*h1, *h2, *m1, *m2]),
        _ => return None,
    };
    if ![h1, h2, m1, m2].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let d = |c: u8| (c - b'0') as i64;
    let (hh, mm) = (d(h1) * 10 + d(h2), d(m1) * 10 + d(m2));
    if hh > 23 || mm > 59 {
        return None; // RFC 3339 time-numoffset: hours 00-23, minutes 00-59
    }
    let off = hh * 3600 + mm * 60;
    match sign {
        b'+' => Some(off),
        b'-' => Some(-off),
        _ => None,
    }
}

/// The UTC offset, in seconds, an RFC 3339 text was written with (`±hh:mm` / `±hhmm`
/// after the 19 characters of date and time); 0 for `Z` and for anything else.
/// Filebeat formats `%{+…}` dates of an index in the zone the runtime wrote (Go keeps a
/// parsed time's offset), not in UTC.
pub fn utc_offset_secs(text: &str) -> i64 {
    let b = text.as_bytes();
    [6, 5]
        .iter()
        .find_map(|&k| b.len().checked_sub(k).filter(|&at| at >= 19).and_then(|at| zone_offset(&b[at..])))
        .unwrap_or(0)
}

fn push2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// The first `digits` (at most 9) digits of `ns` (0..1e9) written as nine, zero-padded.
pub fn push_frac(out: &mut String, ns: i64, digits: usize) {
    let mut buf = [b'0'; 9];
    let mut v = ns.rem_euclid(NS);
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &c in &buf[..digits.min(9)] {
        out.push(c as char);
    }
}

fn push4(out: &mut String, v: i64) {
    if (0..10_000).contains(&v) {
        push2(out, (v / 100) as u32);
        push2(out, (v % 100) as u32);
    } else {
        out.push_str(&v.to_string());
    }
}

/// Broken-down UTC time of a second.
pub struct Tm {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub yday: u32,
}

pub fn gmtime(secs: i64) -> Tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let yday = (days - days_from_civil(year, 1, 1)) as u32 + 1;
    Tm { year, month, day, hour: rem / 3600, min: rem / 60 % 60, sec: rem % 60, yday }
}

/// `YYYY-MM-DDTHH:MM:SS` + `.` + exactly `digits` fraction digits (truncated) + `Z`.
pub fn format_rfc3339(ts_ns: i64, digits: usize) -> String {
    let secs = ts_ns.div_euclid(NS);
    let ns = ts_ns.rem_euclid(NS);
    let t = gmtime(secs);
    let mut out = String::with_capacity(32);
    push4(&mut out, t.year);
    out.push('-');
    push2(&mut out, t.month);
    out.push('-');
    push2(&mut out, t.day);
    out.push('T');
    push2(&mut out, t.hour);
    out.push(':');
    push2(&mut out, t.min);
    out.push(':');
    push2(&mut out, t.sec);
    if digits > 0 {
        out.push('.');
        push_frac(&mut out, ns, digits);
    }
    out.push('Z');
    out
}

/// chrono's `SecondsFormat::AutoSi`: 0, 3, 6 or 9 fraction digits, the fewest exact.
pub fn format_autosi(ts_ns: i64) -> String {
    let ns = ts_ns.rem_euclid(NS);
    let digits = if ns == 0 {
        0
    } else if ns % 1_000_000 == 0 {
        3
    } else if ns % 1000 == 0 {
        6
    } else {
        9
    };
    format_rfc3339(ts_ns, digits)
}

/// Directives `strftime` supports here (the ones index names and time keys use).
pub const STRFTIME_DIRECTIVES: &str = "%Y %y %m %d %e %H %M %S %j %F %T %%";

/// Is every `%` directive of `fmt` one we render? Returns the first unknown one.
pub fn check_strftime(fmt: &str) -> Result<(), String> {
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            match it.next() {
                Some('Y' | 'y' | 'm' | 'd' | 'e' | 'H' | 'M' | 'S' | 'j' | 'F' | 'T' | '%') => {}
                Some(o) => return Err(format!("%{o}")),
                None => return Err("%".into()),
            }
        }
    }
    Ok(())
}

/// `strftime` of a UTC second for the directives above (unknown ones are kept as written;
/// `check_strftime` refuses them at configuration time).
pub fn strftime(fmt: &str, secs: i64) -> String {
    let t = gmtime(secs);
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('Y') => push4(&mut out, t.year),
            Some('y') => push2(&mut out, t.year.rem_euclid(100) as u32),
            Some('m') => push2(&mut out, t.month),
            Some('d') => push2(&mut out, t.day),
            Some('e') => {
                if t.day < 10 {
                    out.push(' ');
                    out.push((b'0' + t.day as u8) as char);
                } else {
                    push2(&mut out, t.day);
                }
            }
            Some('H') => push2(&mut out, t.hour),
            Some('M') => push2(&mut out, t.min),
            Some('S') => push2(&mut out, t.sec),
            Some('j') => out.push_str(&format!("{:03}", t.yday)),
            Some('F') => out.push_str(&strftime("%Y-%m-%d", secs)),
            Some('T') => out.push_str(&strftime("%H:%M:%S", secs)),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A strftime result cached per second (index names change once a day; time keys once
/// a second): one format per record would be the hot path otherwise.
#[derive(Default)]
pub struct StrftimeCache {
    fmt: String,
    secs: i64,
    text: String,
    valid: bool,
}

impl StrftimeCache {
    pub fn new(fmt: &str) -> Self {
        StrftimeCache { fmt: fmt.to_string(), secs: 0, text: String::new(), valid: false }
    }
    pub fn get(&mut self, secs: i64) -> &str {
        if !self.valid || self.secs != secs {
            self.text = strftime(&self.fmt, secs);
            self.secs = secs;
            self.valid = true;
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_a_time_was_written_with() {
        assert_eq!(utc_offset_secs("2025-03-15T04:51:52.026+05:30"), 19_800);
        assert_eq!(utc_offset_secs("2025-03-15T04:51:52-0800"), -28_800);
        assert_eq!(utc_offset_secs("2025-03-15T04:51:52.123456789Z"), 0);
        assert_eq!(utc_offset_secs("1714564800.5"), 0);
        assert_eq!(utc_offset_secs("+05:30"), 0);
        assert_eq!(utc_offset_secs(""), 0);
        assert_eq!(utc_offset_secs("2025-03-15T04:51:52.026+0x:30"), 0);
    }

    #[test]
    fn parses_nanoseconds_and_offsets() {
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00.000000001Z"), Ok(1_714_564_800_000_000_001));
        assert_eq!(parse_rfc3339("2024-05-01T14:00:00.5+02:00"), Ok(1_714_564_800_500_000_000));
        assert_eq!(parse_rfc3339("2024-05-01T14:00:00.5+0200"), Ok(1_714_564_800_500_000_000));
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00.1234567891Z"), Ok(1_714_564_800_123_456_789));
        assert!(parse_rfc3339("2024-13-01T12:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2024-05-01T12:00:00Zjunk").is_err());
    }

    #[test]
    fn formats_and_round_trips() {
        let t = 1_714_564_800_000_000_001;
        assert_eq!(format_rfc3339(t, 9), "2024-05-01T12:00:00.000000001Z");
        assert_eq!(format_rfc3339(t, 3), "2024-05-01T12:00:00.000Z");
        assert_eq!(format_autosi(1_714_564_800_500_000_000), "2024-05-01T12:00:00.500Z");
        assert_eq!(format_rfc3339(-1, 3), "1969-12-31T23:59:59.999Z");
        for d in [-800_000, -1, 0, 59, 19_844, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn strftime_subset() {
        assert_eq!(strftime("logstash-%Y.%m.%d", 1_714_564_800), "logstash-2024.05.01");
        assert_eq!(strftime("%j %F %T %%", 1_714_564_800), "122 2024-05-01 12:00:00 %");
        assert!(check_strftime("%Y.%m.%d").is_ok());
        assert_eq!(check_strftime("%Y-%b"), Err("%b".into()));
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    #[test]
    fn days_that_do_not_exist_and_offsets_out_of_range_are_refused() {
        for bad in [
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-01T00:00:00+99:99",
            "2024-05-01T00:00:00+24:00",
            "2024-05-01T00:00:00-05:60",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        for good in ["2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2024-12-31T23:59:59+23:59"] {
            assert!(parse_rfc3339(good).is_ok(), "{good}");
        }
        assert!(parse_rfc3339("1900-02-29T00:00:00Z").is_err());
    }
}
