//! Durations and times as people type them: `500ms`, `3s`, `10m`, `48h`, `09:00,17:00`, RFC 3339.

/// Parses a duration into milliseconds.
pub fn parse(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 3s, 10m or 48h"))?;
    let mult = match unit.trim() {
        "ms" => 1.0,
        "s" | "" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => {
            return Err(format!(
                "{s:?} is not a duration like 500ms, 3s, 10m or 48h"
            ))
        }
    };
    let ms = n * mult;
    if !ms.is_finite() || !(1.0..=1e15).contains(&ms) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(ms.round() as u64)
}

/// Parses `HH:MM[,HH:MM…]` (UTC) into ascending minutes after midnight.
pub fn parse_times(s: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (h, m) = part
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("{part:?} is not HH:MM"))?;
        let h: u32 = h.parse().map_err(|_| format!("{part:?} is not HH:MM"))?;
        let m: u32 = m.parse().map_err(|_| format!("{part:?} is not HH:MM"))?;
        if h > 23 || m > 59 {
            return Err(format!("{part:?} is not a time of day"));
        }
        out.push(h * 60 + m);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("give at least one HH:MM".into());
    }
    Ok(out)
}

/// A deadline: a duration from `now`, or an RFC 3339 UTC time like `2026-11-26T18:00:00Z`.
pub fn deadline(s: &str, now: u64) -> Result<u64, String> {
    if let Ok(d) = parse(s) {
        return Ok(now + d);
    }
    rfc3339(s).ok_or_else(|| {
        format!(
            "{s:?} is neither a duration (10m, 48h) nor an RFC 3339 time (2026-11-26T18:00:00Z)"
        )
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into Unix milliseconds.
fn rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = &s[19..];
    let mut frac_ms = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        let padded = format!("{:0<3}", &digits[..digits.len().min(3)]);
        frac_ms = padded.parse().ok()?;
        rest = &r[digits.len()..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    u64::try_from(secs * 1000 + frac_ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("500ms"), Ok(500));
        assert_eq!(parse("3s"), Ok(3000));
        assert_eq!(parse("10m"), Ok(600_000));
        assert_eq!(parse("48h"), Ok(172_800_000));
        assert_eq!(parse("1.5s"), Ok(1500));
        assert!(parse("ten minutes").is_err());
        assert!(parse("0s").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_times("17:00,09:00"), Ok(vec![540, 1020]));
        assert!(parse_times("25:00").is_err());
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339("2026-11-26T18:00:00Z"), Some(1_795_716_000_000));
        assert_eq!(
            rfc3339("2026-11-26T19:00:00+01:00"),
            Some(1_795_716_000_000)
        );
        assert_eq!(rfc3339("2026-11-26T18:00:00.250Z"), Some(1_795_716_000_250));
        assert_eq!(deadline("10s", 1000), Ok(11_000));
        assert!(deadline("tomorrow", 0).is_err());
    }
}
