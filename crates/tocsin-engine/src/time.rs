//! Evaluation time: nanoseconds since the Unix epoch, as Go's `time.Time` holds a slot time.
//!
//! Slot times carry the group's phase in nanoseconds (docs/rule-semantics.md, "Slot offsets"), so alert times
//! (`activeAt`, `firedAt`, …) keep nanosecond precision and comparisons such as
//! `ts - activeAt >= for` are exact. Durations are plain `std::time::Duration`s at the API
//! and signed nanoseconds inside.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An instant as nanoseconds since 1970-01-01T00:00:00Z (valid until the year 2262).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis.saturating_mul(1_000_000))
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    /// The wall clock now. Only the caller's loop should read it; the engine takes time
    /// as an argument.
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

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down: Go's `Time.Unix()`, the `ALERTS_FOR_STATE` value.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Milliseconds, rounded down: Prometheus's `timestamp.FromTime`, the sample timestamp.
    pub const fn unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// `self - earlier` in signed nanoseconds (Go's `Time.Sub`).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    /// Unix seconds with nanoseconds, e.g. `1700000000.123456789`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let sub = self.0.rem_euclid(1_000_000_000);
        write!(f, "{secs}.{sub:09}")
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// `self + d`, saturating.
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(nanos(d)))
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;

    /// `self - d`, saturating.
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(nanos(d)))
    }
}

/// A duration in signed nanoseconds, saturating at `i64::MAX` (292 years).
pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
