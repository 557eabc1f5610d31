//! RFC 3339 timestamps (UTC, milliseconds): `tocsin_template::rfc3339_millis`, the
//! workspace's one formatter, for the binary's `u64` milliseconds.

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_ms(ms: u64) -> String {
    tocsin_template::rfc3339_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}
