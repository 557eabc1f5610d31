//! Time as the pipeline sees it: the workspace's one [`Timestamp`] (from `tocsin-core`),
//! always passed in by the caller (nothing in the pipeline reads the clock, so tests never
//! sleep). Notifications work in milliseconds: times that enter the pipeline are truncated
//! with `Timestamp::from_millis(t.unix_millis())`, and the outbox stores milliseconds.
//! Text forms: RFC 3339 as Go marshals `time.Time` (`Timestamp::rfc3339_nano`),
//! `Timestamp::human` for people, Prometheus durations (`tocsin_core::duration`).

use std::time::Duration;

pub use tocsin_core::duration::parse_duration;
pub use tocsin_core::{Timestamp, GO_ZERO_TIME};

/// A duration for people in messages ("resolved after 1h2m"): Prometheus's form, in whole
/// seconds once it is a second or more.
pub fn format_duration(d: Duration) -> String {
    let ms = if d >= Duration::from_secs(1) {
        d.as_secs().saturating_mul(1000)
    } else {
        d.as_millis() as u64
    };
    tocsin_core::format_duration(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_compactly_in_whole_seconds() {
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format_duration(Duration::from_secs(90_000)), "1d1h");
        assert_eq!(format_duration(Duration::from_millis(61_250)), "1m1s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
