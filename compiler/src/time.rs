//! Event time: RFC 3339 text (and the space-separated UTC form some EKS
//! exports carry) or epoch seconds, to nanoseconds since the Unix epoch.

/// `2023-12-07T14:44:53.358394Z`, `2021-09-22T11:04:06+02:00`,
/// `2022-11-29 00:09:04.38` (UTC). `None` for anything else.
pub fn parse(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // Read for every event (its time and the schema's type check): digits
    // folded by hand rather than through `str::parse`.
    let num = |r: std::ops::Range<usize>| -> Option<i64> { digits(b.get(r)?) };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        // The first nine digits, scaled to nanoseconds; finer ones dropped.
        let kept = n.min(9);
        nanos = digits(&frac.as_bytes()[..kept])? * 10i64.pow(9 - kept as u32);
        rest = &frac[n..];
    }
    let offset_s: i64 = match rest {
        "" | "Z" | "z" => 0,
        tz if tz.len() == 6
            && matches!(tz.as_bytes()[0], b'+' | b'-')
            && tz.as_bytes()[3] == b':' =>
        {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let oh: i64 = tz.get(1..3)?.parse().ok()?;
            let om: i64 = tz.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// The number ASCII digits spell (at most 18 of them); `None` for any
/// other byte.
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_forms() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse("2023-12-07T14:44:53.358394Z"),
            Some(1_701_960_293_358_394_000)
        );
        assert_eq!(
            parse("2023-12-07T16:44:53.358394+02:00"),
            parse("2023-12-07T14:44:53.358394Z")
        );
        assert_eq!(
            parse("2022-11-29 00:09:04.38"),
            Some(1_669_680_544_380_000_000)
        );
        assert_eq!(
            parse("2024-11-13 18:34:10.595141000"),
            Some(1_731_522_850_595_141_000)
        );
        assert_eq!(
            parse("2024-02-29T00:00:00Z").map(|n| n / 1_000_000_000),
            Some(1_709_164_800)
        );
        // Digits past nanoseconds are dropped, not rounded.
        assert_eq!(
            parse("1970-01-01T00:00:01.1234567899Z"),
            Some(1_123_456_789)
        );
        assert_eq!(parse("1970-01-01T00:00:00.5Z"), Some(500_000_000));
        for bad in [
            "",
            "2023-13-01T00:00:00Z",
            "yesterday",
            "2023-12-07T14:44:53.Z",
            "2023-12-07T14:44:53+2",
            "2023-1a-07T14:44:53Z",
            "2023-12-07T14:44:5-Z",
            "+023-12-07T14:44:53Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
