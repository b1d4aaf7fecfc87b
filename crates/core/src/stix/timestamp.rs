//! STIX 2.1 timestamps (STIX 2.1 §3.2): RFC 3339 in UTC with an upper-case
//! `T` and `Z`, any number of fractional digits. TAXII 2.1 uses the same
//! form for `date_added`, `added_after` and versions.

use std::cmp::Ordering;
use std::fmt;

/// A point in time as STIX writes it: the text it came as, and the instant
/// it names, which is what comparisons use (`…:48Z` equals `…:48.000Z`).
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// Nanoseconds since the Unix epoch; negative before 1970.
    nanos: i128,
    /// The text as written, so that what is served is what was received.
    text: String,
}

impl Timestamp {
    /// Reads a STIX timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, a real
    /// calendar date, seconds 00–59 (as the reference validator reads them,
    /// a leap second is refused). Fraction digits beyond nanoseconds are
    /// kept in the text and ignored in comparisons.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        // The fixed part: 19 bytes, then an optional fraction, then `Z`.
        if b.len() < 20 || b[b.len() - 1] != b'Z' {
            return None;
        }
        let shape_ok = b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
        if !shape_ok {
            return None;
        }
        let frac = &b[19..b.len() - 1];
        let frac_digits = match frac.split_first() {
            None => &[][..],
            Some((b'.', digits)) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
                digits
            }
            _ => return None,
        };
        let num =
            |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let (year, month, day) = (num(0..4), num(5..7), num(8..10));
        let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
        let nano = frac_digits
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(9)
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
        let date =
            time::Date::from_calendar_date(year as i32, month, u8::try_from(day).ok()?).ok()?;
        let t = time::Time::from_hms_nano(
            u8::try_from(hour).ok()?,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
            nano,
        )
        .ok()?;
        Some(Timestamp {
            nanos: date.with_time(t).assume_utc().unix_timestamp_nanos(),
            text: s.to_owned(),
        })
    }

    /// The instant `ms` Unix milliseconds, written to the millisecond
    /// (`2025-01-31T09:30:00.250Z`): how a station's `stored_at` becomes a
    /// TAXII `date_added`.
    pub fn from_unix_ms(ms: u64) -> Timestamp {
        let nanos = i128::from(ms) * 1_000_000;
        // Every u64 millisecond count up to year 9999 is in range; beyond
        // it the clock is not one a station runs on, and the epoch stands in.
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
        Timestamp {
            nanos: t.unix_timestamp_nanos(),
            text,
        }
    }

    /// Unix milliseconds of the instant, rounded down; 0 before 1970.
    pub fn unix_ms(&self) -> u64 {
        u64::try_from(self.nanos.div_euclid(1_000_000)).unwrap_or(0)
    }

    /// The text as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Two timestamps are equal when they name the same instant, however written.
impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stix_form_is_read_and_others_are_not() {
        for ok in [
            "2016-04-06T20:03:48Z",
            "2016-04-06T20:03:48.000Z",
            "2016-04-06T20:03:48.123456789123Z",
            "2024-02-29T23:59:59.9Z",
            "1969-07-20T20:17:40Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "2016-04-06T20:03:48",
            "2016-04-06t20:03:48Z",
            "2016-04-06T20:03:48z",
            "2016-04-06 20:03:48Z",
            "2016-04-06T20:03:48+00:00",
            "2016-04-06T20:03:48.Z",
            "2016-04-06T20:03:60Z",
            "2016-04-06T24:00:00Z",
            "2016-13-06T20:03:48Z",
            "2023-02-29T00:00:00Z",
            "2016-04-31T00:00:00Z",
            "2016-4-06T20:03:48Z",
            "",
            "Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn equal_instants_compare_equal_whatever_the_precision() {
        let a = Timestamp::parse("2016-04-06T20:03:48Z").unwrap();
        let b = Timestamp::parse("2016-04-06T20:03:48.000Z").unwrap();
        let c = Timestamp::parse("2016-04-06T20:03:48.001Z").unwrap();
        assert_eq!(a, b);
        assert!(c > b);
        assert_eq!(a.as_str(), "2016-04-06T20:03:48Z");
    }

    #[test]
    fn milliseconds_are_written_as_taxii_writes_them_and_read_back() {
        let t = Timestamp::from_unix_ms(1_738_315_800_250);
        assert_eq!(t.as_str(), "2025-01-31T09:30:00.250Z");
        assert_eq!(Timestamp::parse(t.as_str()).unwrap(), t);
        assert_eq!(t.unix_ms(), 1_738_315_800_250);
        assert_eq!(
            Timestamp::from_unix_ms(0).as_str(),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
