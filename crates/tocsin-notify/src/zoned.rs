//! Times as messages show them to people: in the configured zone (`global.time_zone`,
//! UTC unless set), with that zone's offset at the instant (`2026-12-04 18:00:00 +08:00`),
//! so summer time and the reader's own zone are never guessed. The zone rules are the tz
//! database compiled into the binary ([`tocsin_template::zone`]).

use tocsin_template::zone::write_offset;
pub use tocsin_template::TimeZone;

use crate::time::Timestamp;

/// `2026-12-04 18:00:00 +08:00`: `t` in `zone`, with the offset in force then.
pub fn human(t: Timestamp, zone: TimeZone) -> String {
    let offset = zone.offset_seconds(t.unix_millis().div_euclid(1000));
    let mut out = t.human(offset / 60);
    out.push(' ');
    write_offset(&mut out, offset, true);
    out
}

/// `12-04 18:00`: `t` in `zone` without the year, seconds or offset (the compact layout's
/// `since` on every line, kept short).
pub fn short(t: Timestamp, zone: TimeZone) -> String {
    let offset = zone.offset_seconds(t.unix_millis().div_euclid(1000));
    let full = t.human(offset / 60);
    full.get(5..16).unwrap_or(&full).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04T10:00:00Z.
    const T: Timestamp = Timestamp::from_secs(1_796_378_400);

    #[test]
    fn times_show_the_zone_and_its_offset_at_that_instant() {
        let sh = TimeZone::named("Asia/Shanghai").unwrap();
        assert_eq!(human(T, sh), "2026-12-04 18:00:00 +08:00");
        assert_eq!(human(T, TimeZone::UTC), "2026-12-04 10:00:00 +00:00");
        assert_eq!(short(T, sh), "12-04 18:00");
        let ny = TimeZone::named("America/New_York").unwrap();
        assert_eq!(human(T, ny), "2026-12-04 05:00:00 -05:00");
        // 2026-07-01T00:00:00Z, in summer time.
        assert_eq!(
            human(Timestamp::from_secs(1_782_864_000), ny),
            "2026-06-30 20:00:00 -04:00"
        );
    }
}
