//! Time: [`Timestamp`], its RFC 3339 text forms, and the civil-calendar arithmetic behind
//! them (no date-time dependency).
//!
//! A timestamp is nanoseconds since the Unix epoch, as Go's `time.Time` holds a rule
//! group's slot time: slot times carry the group's phase in nanoseconds
//! (docs/rule-semantics.md, "Slot offsets"), so alert times (`activeAt`, `firedAt`, …)
//! keep nanosecond precision and comparisons such as `ts - activeAt >= for` are exact.
//! Stages that need less (notifications work in milliseconds) truncate with
//! `Timestamp::from_millis(t.unix_millis())`. The range is 1677-09-21 to 2262-04-11.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_MS: i64 = 1_000_000;

/// An instant as nanoseconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    #[inline]
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    #[inline]
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis.saturating_mul(NS_PER_MS))
    }

    #[inline]
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(NS_PER_SEC))
    }

    /// The wall clock now. Only a driving loop should read it; pure cores take time as an
    /// argument.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// The same instant as a `SystemTime` (what `Datasource::instant_query` takes).
    pub fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_nanos(self.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_nanos(self.0.unsigned_abs())
        }
    }

    #[inline]
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down: Go's `Time.Unix()`, the `ALERTS_FOR_STATE` value.
    #[inline]
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NS_PER_SEC)
    }

    /// Milliseconds, rounded down: Prometheus's `timestamp.FromTime`, the sample timestamp.
    #[inline]
    pub const fn unix_millis(self) -> i64 {
        self.0.div_euclid(NS_PER_MS)
    }

    /// `self - earlier` in signed nanoseconds (Go's `Time.Sub`).
    #[inline]
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `self - earlier` as a `Duration`, zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(u64::try_from(self.since(earlier)).unwrap_or(0))
    }

    /// RFC 3339 in UTC as Go's `time.RFC3339Nano` prints it — what `time.Time` marshals
    /// to in JSON and what Prometheus's API shows: the fraction's trailing zeros dropped,
    /// no fraction when zero (`2026-11-24T00:26:28.826202645Z`, `…:20.5Z`, `…:00Z`).
    pub fn rfc3339_nano(self) -> String {
        let mut out = self.date_time(0, 'T');
        let nanos = self.0.rem_euclid(NS_PER_SEC);
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }

    /// RFC 3339 in UTC with milliseconds always printed, `YYYY-MM-DDTHH:MM:SS.mmmZ`
    /// (logs, diff reports, the DingTalk stand-in's records).
    pub fn rfc3339_millis(self) -> String {
        let mut out = self.date_time(0, 'T');
        let ms = self.0.rem_euclid(NS_PER_SEC) / NS_PER_MS;
        out.push_str(&format!(".{ms:03}Z"));
        out
    }

    /// `2026-08-20 16:21:00` at `offset_minutes` east of UTC (for people, in messages).
    pub fn human(self, offset_minutes: i32) -> String {
        self.date_time(offset_minutes, ' ')
    }

    /// `YYYY-MM-DD<sep>HH:MM:SS` at `offset_minutes` east of UTC.
    fn date_time(self, offset_minutes: i32, sep: char) -> String {
        let secs = self.unix_seconds() + i64::from(offset_minutes) * 60;
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        format!(
            "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )
    }

    /// Parses an RFC 3339 time: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length
    /// (kept to the nanosecond), then `Z` or a `±HH:MM` offset; `t` and `z` are accepted
    /// for `T` and `Z`, as RFC 3339 allows. `None` when malformed or outside the representable range
    /// (so Go's zero time, [`GO_ZERO_TIME`], is `None`).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (y, mo, d) = (digits(s, 0..4)?, digits(s, 5..7)?, digits(s, 8..10)?);
        let (h, mi, se) = (digits(s, 11..13)?, digits(s, 14..16)?, digits(s, 17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut rest = s.get(19..)?;
        let mut nanos = 0i64;
        if let Some(f) = rest.strip_prefix('.') {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            for (i, c) in f.bytes().take(9).take_while(u8::is_ascii_digit).enumerate() {
                nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
            }
            rest = f.get(n..)?;
        }
        // Bytes, not string slices: the tail may be any text (a fuzzer found `.4187值班`,
        // six bytes that are no offset, and a slice inside a character).
        let offset_secs = match rest.as_bytes() {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let v = digits(rest, 1..3)? * 3600 + digits(rest, 4..6)? * 60;
                if *sign == b'-' {
                    -v
                } else {
                    v
                }
            }
            _ => return None,
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
        secs.checked_mul(NS_PER_SEC)?
            .checked_add(nanos)
            .map(Timestamp)
    }
}

/// The decimal number in `s[r]`, all ASCII digits.
fn digits(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    let t = s.get(r)?;
    t.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| t.parse().ok())?
}

impl fmt::Display for Timestamp {
    /// Unix seconds with nanoseconds, e.g. `1700000000.123456789`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NS_PER_SEC);
        let sub = self.0.rem_euclid(NS_PER_SEC);
        write!(f, "{secs}.{sub:09}")
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// `self + d`, saturating.
    #[inline]
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(nanos(d)))
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;

    /// `self - d`, saturating.
    #[inline]
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(nanos(d)))
    }
}

/// A duration in signed nanoseconds, saturating at `i64::MAX` (292 years).
#[inline]
pub fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Go's zero `time.Time` as RFC 3339: what Alertmanager writes as `endsAt` of a firing
/// alert that has no end. Outside [`Timestamp`]'s range; compare the text.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The proleptic Gregorian `(year, month, day)` of a day counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day counted from 1970-01-01 of a proleptic Gregorian date: the inverse of
/// [`civil_from_days`] (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Serde for a [`Timestamp`] stored as integer milliseconds (files written when that was
/// the notifier's unit keep reading back): `#[serde(with = "tocsin_core::time::millis")]`.
pub mod millis {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.unix_millis())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        i64::deserialize(d).map(Timestamp::from_millis)
    }

    /// The same for an `Option<Timestamp>` (`null` for `None`).
    pub mod option {
        use super::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&t.unix_millis()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Ok(Option::<i64>::deserialize(d)?.map(Timestamp::from_millis))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [-719_468, -1, 0, 1, 59, 60, 365, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn times_print_like_go_rfc3339_nano() {
        assert_eq!(
            Timestamp::from_secs(0).rfc3339_nano(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_nanos(1_700_000_000_500_000_000).rfc3339_nano(),
            "2023-11-14T22:13:20.5Z"
        );
        assert_eq!(
            Timestamp::from_nanos(1_795_480_006_826_202_645).rfc3339_nano(),
            "2026-11-24T00:26:46.826202645Z"
        );
        assert_eq!(
            Timestamp::from_millis(-1).rfc3339_nano(),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn millisecond_form_always_has_three_digits() {
        assert_eq!(
            Timestamp::from_millis(1_700_000_000_123).rfc3339_millis(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            Timestamp::from_secs(0).rfc3339_millis(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_nanos(1_700_000_000_999_999_999).rfc3339_millis(),
            "2023-11-14T22:13:20.999Z"
        );
        assert_eq!(
            Timestamp::from_millis(951_782_400_000).rfc3339_millis(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(-1).rfc3339_millis(),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn human_time_applies_the_offset() {
        let t = Timestamp::from_millis(1_787_214_060_000);
        assert_eq!(t.human(8 * 60), "2026-08-20 16:21:00");
        assert_eq!(t.human(-60), "2026-08-20 07:21:00");
    }

    #[test]
    fn rfc3339_parses_fractions_and_offsets() {
        let t = Timestamp::from_millis(1_787_214_060_000);
        assert_eq!(Timestamp::parse_rfc3339("2026-08-20T08:21:00Z"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339_nano()), Some(t));
        assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339_millis()), Some(t));
        assert_eq!(
            Timestamp::parse_rfc3339("2026-08-20T16:21:00.250123456+08:00"),
            Some(Timestamp::from_nanos(1_787_214_060_250_123_456))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-08-20t08:21:00.25z"),
            Some(Timestamp::from_millis(1_787_214_060_250))
        );
        // Digits past the nanosecond are dropped, as Go does.
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00.0000000019Z"),
            Some(Timestamp::from_nanos(1))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00-01:30"),
            Some(Timestamp::from_secs(5400))
        );
    }

    #[test]
    fn malformed_or_unrepresentable_times_are_none_not_a_panic() {
        // Found by fuzzing the gateway's decoder: six bytes after the seconds that are not
        // an offset, with a character boundary inside the sign's place.
        for s in [
            "4052-12-04T16:03:19.4187值班",
            "2026-12-04T16:03:19值班",
            "2026-12-04T16:03:19+0值:00",
            "2026-12-04T16:03:19+08值0",
            "2026-12-04T16:03:19.1é",
            "2026-08-20 nonsense",
            "2026-08-20 08:21:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            GO_ZERO_TIME,
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s), None, "{s}");
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-12-04T16:03:19+08:00"),
            Timestamp::parse_rfc3339("2026-12-04T08:03:19Z")
        );
    }

    #[test]
    fn millis_serde_keeps_the_millisecond_file_format() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "millis")]
            at: Timestamp,
            #[serde(with = "millis::option")]
            end: Option<Timestamp>,
        }
        let v = T {
            at: Timestamp::from_millis(1_500),
            end: None,
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(text, r#"{"at":1500,"end":null}"#);
        assert_eq!(serde_json::from_str::<T>(&text).unwrap(), v);
        let with_end: T = serde_json::from_str(r#"{"at":1,"end":2}"#).unwrap();
        assert_eq!(with_end.end, Some(Timestamp::from_millis(2)));
    }

    #[test]
    fn durations_between_times_saturate_at_zero() {
        let (a, b) = (Timestamp::from_secs(10), Timestamp::from_secs(12));
        assert_eq!(b.saturating_duration_since(a), Duration::from_secs(2));
        assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
        assert_eq!(b.since(a), 2_000_000_000);
    }
}
