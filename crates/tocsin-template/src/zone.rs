//! Time zones by IANA name (`Asia/Shanghai`), for the times notifications show: Go's
//! `time.Location` as notification templates see it (`tz`, `.StartsAt.Format "MST"`) and
//! the zone of tocsin's own message layouts (`global.time_zone`).
//!
//! The zone rules come from the tz database compiled into the binary (the `jiff` crate's
//! bundled copy), never from `/usr/share/zoneinfo`: tocsin's container image is `scratch`
//! and has none, and a message must not change with the host it was sent from.

use std::fmt;
use std::sync::Mutex;

/// A time zone: UTC, or a named zone of the tz database. Cheap to copy: named zones are
/// loaded once per process and kept (there are a few hundred names at most).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeZone(Option<&'static Named>);

struct Named {
    name: Box<str>,
    tz: jiff::tz::TimeZone,
}

impl PartialEq for Named {
    fn eq(&self, other: &Named) -> bool {
        self.name == other.name
    }
}

impl Eq for Named {}

/// A zone name the tz database does not have, worded as Go's `time.LoadLocation` does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0}")]
pub struct UnknownTimeZone(pub String);

/// The zone's offset and abbreviation at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneOffset {
    /// Seconds east of UTC.
    pub seconds: i32,
    /// `CST`, `CEST`, `UTC`; numeric (`+04`) where the database has no letters.
    pub abbreviation: String,
}

static LOADED: Mutex<Vec<&'static Named>> = Mutex::new(Vec::new());

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(None);

    /// The zone called `name`, spelled exactly as in the tz database (as Go's
    /// `time.LoadLocation`: case matters). `""` and `UTC` are UTC; so is `Local`, since
    /// tocsin never takes the host's zone.
    pub fn named(name: &str) -> Result<TimeZone, UnknownTimeZone> {
        if matches!(name, "" | "UTC" | "Local") {
            return Ok(TimeZone::UTC);
        }
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(z) = loaded.iter().find(|z| &*z.name == name) {
            return Ok(TimeZone(Some(z)));
        }
        let unknown = || UnknownTimeZone(name.to_owned());
        let tz = jiff::tz::TimeZone::get(name).map_err(|_| unknown())?;
        // jiff finds names case-insensitively; Go does not.
        if tz.iana_name() != Some(name) {
            return Err(unknown());
        }
        let z: &'static Named = Box::leak(Box::new(Named {
            name: name.into(),
            tz,
        }));
        loaded.push(z);
        Ok(TimeZone(Some(z)))
    }

    /// The name it was given by (`UTC` for UTC).
    pub fn name(&self) -> &str {
        self.0.map_or("UTC", |z| &z.name)
    }

    pub fn is_utc(&self) -> bool {
        self.0.is_none()
    }

    /// The offset and abbreviation in force at `unix_secs`.
    pub fn offset_at(&self, unix_secs: i64) -> ZoneOffset {
        let Some(z) = self.0 else {
            return ZoneOffset {
                seconds: 0,
                abbreviation: "UTC".to_owned(),
            };
        };
        // Outside jiff's range (years ±9999) the nearest end's rules apply.
        let clamped = unix_secs.clamp(
            jiff::Timestamp::MIN.as_second(),
            jiff::Timestamp::MAX.as_second(),
        );
        let ts = jiff::Timestamp::from_second(clamped).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let info = z.tz.to_offset_info(ts);
        ZoneOffset {
            seconds: info.offset().seconds(),
            abbreviation: info.abbreviation().to_owned(),
        }
    }

    /// Seconds east of UTC at `unix_secs` (without the abbreviation).
    pub fn offset_seconds(&self, unix_secs: i64) -> i32 {
        match self.0 {
            None => 0,
            Some(_) => self.offset_at(unix_secs).seconds,
        }
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.name())
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `+08:00` / `-04:00` / `+05:45`: an offset as RFC 3339 writes it.
pub fn write_offset(out: &mut String, seconds: i32, colon: bool) {
    let sign = if seconds < 0 { '-' } else { '+' };
    let m = seconds.unsigned_abs() / 60;
    out.push(sign);
    let (h, m) = (m / 60, m % 60);
    out.push(char::from(b'0' + (h / 10) as u8));
    out.push(char::from(b'0' + (h % 10) as u8));
    if colon {
        out.push(':');
    }
    out.push(char::from(b'0' + (m / 10) as u8));
    out.push(char::from(b'0' + (m % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_zones_come_from_the_embedded_database_with_their_rules() {
        let sh = TimeZone::named("Asia/Shanghai").unwrap();
        // 2026-12-04T10:00:00Z
        assert_eq!(
            sh.offset_at(1_796_378_400),
            ZoneOffset {
                seconds: 8 * 3600,
                abbreviation: "CST".into()
            }
        );
        let ny = TimeZone::named("America/New_York").unwrap();
        // Summer and winter time: 2026-07-01 and 2026-12-04.
        assert_eq!(ny.offset_at(1_782_864_000).abbreviation, "EDT");
        assert_eq!(ny.offset_at(1_796_378_400).seconds, -5 * 3600);
        assert_eq!(TimeZone::named("Asia/Shanghai").unwrap(), sh);
        assert_eq!(sh.name(), "Asia/Shanghai");
    }

    #[test]
    fn unknown_or_miscased_names_are_refused_as_go_words_it() {
        for name in ["Mars/Olympus_Mons", "asia/shanghai", "Asia/Shanghai "] {
            assert_eq!(
                TimeZone::named(name).unwrap_err().to_string(),
                format!("unknown time zone {name}")
            );
        }
        assert!(TimeZone::named("UTC").unwrap().is_utc());
        assert!(TimeZone::named("").unwrap().is_utc());
    }

    #[test]
    fn offsets_print_with_sign_hours_and_minutes() {
        let mut s = String::new();
        write_offset(&mut s, 8 * 3600, true);
        write_offset(&mut s, -(5 * 3600 + 45 * 60), false);
        write_offset(&mut s, 0, true);
        assert_eq!(s, "+08:00-0545+00:00");
    }
}
