//! Prometheus durations (`model.Duration`): `1h30m`, `5m`, `1d`, `500ms`, `0`.

use std::fmt;

/// A non-negative span of time in milliseconds, as Prometheus's `model.Duration` holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    millis: u64,
}

impl Duration {
    pub const ZERO: Duration = Duration { millis: 0 };

    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }

    pub const fn is_zero(self) -> bool {
        self.millis == 0
    }

    /// Parses like Prometheus 2.42: each unit at most once, largest first, integers only;
    /// the bare string `0` is allowed. Errors carry Prometheus's wording.
    pub fn parse(text: &str) -> Result<Self, String> {
        tocsin_core::parse_model_duration(text).map(Duration::from_millis)
    }
}

impl fmt::Display for Duration {
    /// Prometheus's canonical form: largest units first, `y` and `w` only when exact.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = i64::try_from(self.millis).unwrap_or(i64::MAX);
        f.write_str(&tocsin_core::format_duration(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_prometheus_durations() {
        assert_eq!(Duration::parse("5m").map(Duration::as_millis), Ok(300_000));
        assert_eq!(
            Duration::parse("1h30m").map(Duration::as_millis),
            Ok(5_400_000)
        );
        assert_eq!(Duration::parse("500ms").map(Duration::as_millis), Ok(500));
        assert_eq!(
            Duration::parse("1m500ms").map(Duration::as_millis),
            Ok(60_500)
        );
        assert_eq!(
            Duration::parse("1w").map(Duration::as_millis),
            Ok(604_800_000)
        );
        assert_eq!(Duration::parse("0").map(Duration::as_millis), Ok(0));
        assert_eq!(Duration::parse("0s").map(Duration::as_millis), Ok(0));
    }

    #[test]
    fn rejects_what_prometheus_rejects_with_its_wording() {
        for bad in ["1.5m", "-5m", "5x", "5m1h", "1h1h", "5", " 5m", "m", "5M"] {
            assert_eq!(
                Duration::parse(bad),
                Err(format!("not a valid duration string: \"{bad}\"")),
                "{bad}"
            );
        }
        assert_eq!(Duration::parse(""), Err("empty duration string".into()));
        assert_eq!(
            Duration::parse("99999999999999y"),
            Err("duration out of range".into())
        );
    }

    #[test]
    fn prints_canonically() {
        let show = |s: &str| Duration::parse(s).map(|d| d.to_string());
        assert_eq!(show("90m"), Ok("1h30m".into()));
        assert_eq!(show("7d"), Ok("1w".into()));
        assert_eq!(show("8d"), Ok("8d".into()));
        assert_eq!(show("0"), Ok("0s".into()));
        assert_eq!(show("1500ms"), Ok("1s500ms".into()));
    }
}
