//! Time as the pipeline sees it: milliseconds since the Unix epoch, always passed in by
//! the caller (nothing in the pipeline reads the clock, so tests never sleep), plus the
//! RFC 3339 and Prometheus-duration text forms the config and the payloads use.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant in milliseconds since 1970-01-01T00:00:00Z. Notifications need no finer
/// precision; the engine's nanosecond timestamps convert with `from_millis(t.unix_millis())`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// The wall clock; only the driving loop calls this.
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(_) => Timestamp(0),
        }
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// `self - earlier`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// RFC 3339 in UTC with milliseconds when there are any (`2026-08-20T08:21:00Z`,
    /// `…:00.250Z`), as Go's `time.Time` marshals.
    pub fn rfc3339(self) -> String {
        self.format(0, true)
    }

    /// `2026-08-20 16:21:00` at `offset_minutes` east of UTC (for people, in messages).
    pub fn human(self, offset_minutes: i32) -> String {
        self.format(offset_minutes, false)
    }

    fn format(self, offset_minutes: i32, rfc: bool) -> String {
        let ms = self.0 + i64::from(offset_minutes) * 60_000;
        let secs = ms.div_euclid(1000);
        let frac = ms.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = tocsin_template::civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
        if !rfc {
            return format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}");
        }
        let frac = if frac == 0 {
            String::new()
        } else {
            format!(".{frac:03}")
        };
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z")
    }

    /// Parses what [`Timestamp::rfc3339`] writes and any RFC 3339 time with an offset and
    /// up to nanosecond fractions (kept to the millisecond). `None` when malformed.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut rest = s.get(19..)?;
        let mut ms = 0i64;
        if let Some(f) = rest.strip_prefix('.') {
            let digits = f.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let mut scaled = f.get(..digits.min(3))?.to_owned();
            while scaled.len() < 3 {
                scaled.push('0');
            }
            ms = scaled.parse().ok()?;
            rest = f.get(digits..)?;
        }
        let offset_min = match rest {
            "Z" | "z" => 0,
            // Bytes, not string slices: the tail may be any text (a fuzzer found
            // `.4187值班`, six bytes that are no offset, and a slice inside a character).
            o if o.len() == 6
                && matches!(o.as_bytes()[0], b'+' | b'-')
                && o.as_bytes()[3] == b':' =>
            {
                let v = num_str(o.get(1..3)?)? * 60 + num_str(o.get(4..6)?)?;
                if o.starts_with('-') {
                    -v
                } else {
                    v
                }
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
        Some(Timestamp(secs * 1000 + ms))
    }
}

fn num_str(t: &str) -> Option<i64> {
    t.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| t.parse().ok())?
}

/// `t + d`, saturating.
impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

/// `t - d`, saturating.
impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Go's zero `time.Time` as RFC 3339: what Alertmanager writes as `endsAt` of a firing
/// alert that has no end.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

// Howard Hinnant's civil calendar algorithm (the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a Prometheus duration (`30s`, `1h30m`, `500ms`, `0`): units largest first, each
/// at most once, integers only — what Alertmanager's config accepts.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    tocsin_promql::parse_model_duration(text).map(Duration::from_millis)
}

/// `1h2m3s` style, as Prometheus prints durations (for messages: "resolved after 1h2m").
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, unit) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= unit {
            out.push_str(&format!("{}{name}", ms / unit));
            ms %= unit;
        }
    }
    if out.is_empty() {
        out = format!("{ms}ms");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_ending_in_other_text_is_malformed_not_a_panic() {
        // Found by fuzzing the gateway's decoder: six bytes after the seconds that are not
        // an offset, with a character boundary inside the sign's place.
        for s in [
            "4052-12-04T16:03:19.4187值班",
            "2026-12-04T16:03:19值班",
            "2026-12-04T16:03:19+0值:00",
            "2026-12-04T16:03:19+08值0",
            "2026-12-04T16:03:19.1é",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s), None, "{s}");
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-12-04T16:03:19+08:00"),
            Timestamp::parse_rfc3339("2026-12-04T08:03:19Z")
        );
    }

    #[test]
    fn rfc3339_round_trips_with_and_without_milliseconds() {
        let t = Timestamp::from_millis(1_787_214_060_000);
        assert_eq!(t.rfc3339(), "2026-08-20T08:21:00Z");
        assert_eq!(Timestamp::parse_rfc3339("2026-08-20T08:21:00Z"), Some(t));
        let t2 = Timestamp::from_millis(1_787_214_060_250);
        assert_eq!(t2.rfc3339(), "2026-08-20T08:21:00.250Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-08-20T16:21:00.250123456+08:00"),
            Some(t2)
        );
        assert_eq!(Timestamp::parse_rfc3339("2026-08-20 nonsense"), None);
        assert_eq!(
            Timestamp::parse_rfc3339(GO_ZERO_TIME).map(|t| t.rfc3339()),
            Some(GO_ZERO_TIME.to_owned())
        );
    }

    #[test]
    fn human_time_applies_the_offset() {
        let t = Timestamp::from_millis(1_787_214_060_000);
        assert_eq!(t.human(8 * 60), "2026-08-20 16:21:00");
    }

    #[test]
    fn prometheus_durations_parse_like_alertmanager() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_print_compactly() {
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format_duration(Duration::from_secs(90_000)), "1d1h");
    }
}
