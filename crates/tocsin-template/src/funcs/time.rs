//! `*time.Time` values (from `toTime`, always UTC) and notification
//! templates' `time.Time` values (in a [`TimeZone`]): Go's `Time.String()`,
//! `Format` layouts and the common accessor methods.

use super::{msg, FR};
use crate::ast::Arg;
use crate::exec::{State, R};
use crate::value::Value;
use crate::zone::{write_offset, TimeZone};
use std::borrow::Cow;
use std::fmt::Write;
use tocsin_core::civil_from_days;

/// Prometheus's `floatToTime`: seconds → ns, truncated to milliseconds.
pub(crate) fn float_to_time(v: f64) -> FR<i64> {
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        let mut s = String::new();
        crate::gofmt::write_float_v(&mut s, v);
        return msg(format!(
            "{s} cannot be represented as a nanoseconds timestamp since it overflows int64"
        ));
    }
    let ns = ts as i64;
    let ms = ns / 1_000_000;
    Ok(ms * 1_000_000)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nanos: u32,
    yday: u32,
    wday: u32,
}

fn civil(secs: i64, nanos: u32) -> Civil {
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400) as u32;
    let (year, m, d) = civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUM[(m - 1) as usize] + d + u32::from(leap && m > 2);
    Civil {
        year,
        month: m,
        day: d,
        hour: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        nanos,
        yday,
        wday: (days + 4).rem_euclid(7) as u32,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `Time.String()` layout.
const STRING_LAYOUT: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

/// Go's `Time.String()` for a UTC time.
pub(crate) fn write_time(out: &mut String, ns: i64) {
    let (secs, nanos) = split_ns(ns);
    format(out, secs, nanos, TimeZone::UTC, STRING_LAYOUT);
}

/// [`write_time`] for a time given as Unix seconds and nanoseconds in `zone`.
pub(crate) fn write_time_parts(out: &mut String, secs: i64, nanos: u32, zone: TimeZone) {
    format(out, secs, nanos, zone, STRING_LAYOUT);
}

fn split_ns(ns: i64) -> (i64, u32) {
    (
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
}

/// The offset (seconds east) and abbreviation of `zone` at `secs`.
fn zone_at(zone: TimeZone, secs: i64) -> (i32, Cow<'static, str>) {
    if zone.is_utc() {
        return (0, Cow::Borrowed("UTC"));
    }
    let o = zone.offset_at(secs);
    (o.seconds, Cow::Owned(o.abbreviation))
}

/// Go's `Time.Format` for a time in `zone`.
pub(crate) fn format(out: &mut String, secs: i64, nanos: u32, zone: TimeZone, layout: &str) {
    let (offset, abbreviation) = zone_at(zone, secs);
    let c = civil(secs.saturating_add(i64::from(offset)), nanos);
    let mut rest = layout;
    while !rest.is_empty() {
        let tokens: &[(&str, u8)] = &[
            ("January", 1),
            ("Jan", 2),
            ("Monday", 3),
            ("Mon", 4),
            ("MST", 5),
            ("2006", 6),
            ("06", 7),
            ("01", 8),
            ("02", 9),
            ("_2", 10),
            ("002", 11),
            ("15", 12),
            ("03", 13),
            ("04", 14),
            ("05", 15),
            ("PM", 16),
            ("pm", 17),
            ("-07:00:00", 18),
            ("-0700", 19),
            ("-07:00", 20),
            ("-07", 21),
            ("Z07:00:00", 22),
            ("Z0700", 23),
            ("Z07:00", 24),
            ("Z07", 25),
        ];
        let mut matched = false;
        // fractional seconds: .000 / .999 / ,000
        let b = rest.as_bytes();
        if (b[0] == b'.' || b[0] == b',') && b.len() > 1 && (b[1] == b'0' || b[1] == b'9') {
            let d = b[1];
            let n = b[1..].iter().take_while(|&&x| x == d).count();
            if !b.get(n + 1).is_some_and(|x| x.is_ascii_digit()) {
                let digits = format!("{:09}", c.nanos);
                let mut frac = digits[..n.min(9)].to_string();
                if d == b'9' {
                    while frac.ends_with('0') {
                        frac.pop();
                    }
                    if !frac.is_empty() {
                        out.push(b[0] as char);
                        out.push_str(&frac);
                    }
                } else {
                    out.push(b[0] as char);
                    out.push_str(&frac);
                }
                rest = &rest[n + 1..];
                continue;
            }
        }
        // "2" and "1" and "3","4","5" single forms
        for (tok, id) in tokens {
            if rest.starts_with(tok) {
                match id {
                    1 => out.push_str(MONTHS[(c.month - 1) as usize]),
                    2 => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
                    3 => out.push_str(DAYS[c.wday as usize]),
                    4 => out.push_str(&DAYS[c.wday as usize][..3]),
                    5 => out.push_str(&abbreviation),
                    6 => {
                        let _ = write!(out, "{:04}", c.year);
                    }
                    7 => {
                        let _ = write!(out, "{:02}", c.year.rem_euclid(100));
                    }
                    8 => {
                        let _ = write!(out, "{:02}", c.month);
                    }
                    9 => {
                        let _ = write!(out, "{:02}", c.day);
                    }
                    10 => {
                        let _ = write!(out, "{:>2}", c.day);
                    }
                    11 => {
                        let _ = write!(out, "{:03}", c.yday);
                    }
                    12 => {
                        let _ = write!(out, "{:02}", c.hour);
                    }
                    13 => {
                        let _ = write!(out, "{:02}", (c.hour + 11) % 12 + 1);
                    }
                    14 => {
                        let _ = write!(out, "{:02}", c.min);
                    }
                    15 => {
                        let _ = write!(out, "{:02}", c.sec);
                    }
                    16 => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                    17 => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                    22..=25 if offset == 0 => out.push('Z'),
                    _ => push_numeric_zone(out, offset, *id),
                }
                rest = &rest[tok.len()..];
                matched = true;
                break;
            }
        }
        if matched {
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        let single = match ch {
            '1' => Some(c.month as i64),
            '2' => Some(c.day as i64),
            '3' => Some(((c.hour + 11) % 12 + 1) as i64),
            '4' => Some(c.min as i64),
            '5' => Some(c.sec as i64),
            _ => None,
        };
        match single {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.push(ch),
        }
        rest = &rest[ch.len_utf8()..];
    }
}

/// Go's numeric zone forms: `-07:00:00` (18), `-0700` (19), `-07:00` (20),
/// `-07` (21) and their `Z` variants (22 to 25) for a non-zero offset.
fn push_numeric_zone(out: &mut String, offset: i32, id: u8) {
    let form = if id >= 22 { id - 4 } else { id };
    match form {
        21 => {
            let mut s = String::new();
            write_offset(&mut s, offset, false);
            out.push_str(&s[..3]);
        }
        19 => write_offset(out, offset, false),
        _ => write_offset(out, offset, true),
    }
    if form == 18 {
        let _ = write!(out, ":{:02}", offset.unsigned_abs() % 60);
    }
}

/// Methods of `*time.Time` (`ptr`) and `time.Time` reachable as fields
/// (`.Format "..."`, `.Unix`), for a time given as Unix seconds and nanoseconds.
pub(crate) fn method<'t, 'a>(
    s: &mut State<'t, 'a>,
    dot: &Value<'a>,
    (secs, nanos, ptr, zone): (i64, u32, bool, TimeZone),
    name: &str,
    _node: &'t Arg,
    args: &'t [Arg],
    final_: Option<Value<'a>>,
) -> R<Option<Value<'a>>>
where
    't: 'a,
{
    let nargs = args.len().saturating_sub(1) + usize::from(final_.is_some());
    let want = usize::from(name == "Format");
    let c = civil(
        secs.saturating_add(i64::from(zone.offset_seconds(secs))),
        nanos,
    );
    let v = match name {
        "Format" | "Unix" | "UnixMilli" | "UnixNano" | "String" | "Year" | "YearDay" | "Day"
        | "Hour" | "Minute" | "Second" | "Nanosecond" | "UTC" | "Month" | "Weekday" => {
            if nargs != want {
                return s.errorf(format!(
                    "wrong number of args for {name}: want {want} got {nargs}"
                ));
            }
            match name {
                "Format" => {
                    let layout = match final_ {
                        Some(v) => s.validate_string(v)?,
                        None => s.eval_arg_string(dot, &args[1])?,
                    };
                    let mut out = String::new();
                    format(&mut out, secs, nanos, zone, &layout);
                    Value::Str(Cow::Owned(out))
                }
                "Unix" => Value::Int(secs),
                "UnixMilli" => Value::Int(
                    secs.saturating_mul(1000)
                        .saturating_add(i64::from(nanos / 1_000_000)),
                ),
                // Go's UnixNano is undefined outside i64 nanoseconds; wrap as it does.
                "UnixNano" => Value::Int(
                    secs.wrapping_mul(1_000_000_000)
                        .wrapping_add(i64::from(nanos)),
                ),
                "String" => {
                    let mut out = String::new();
                    write_time_parts(&mut out, secs, nanos, zone);
                    Value::Str(Cow::Owned(out))
                }
                "Year" => Value::Int(c.year),
                "YearDay" => Value::Int(c.yday as i64),
                "Day" => Value::Int(c.day as i64),
                "Hour" => Value::Int(c.hour as i64),
                "Minute" => Value::Int(c.min as i64),
                "Second" => Value::Int(c.sec as i64),
                "Nanosecond" => Value::Int(c.nanos as i64),
                "Month" => Value::Str(Cow::Borrowed(MONTHS[(c.month - 1) as usize])),
                "Weekday" => Value::Str(Cow::Borrowed(DAYS[c.wday as usize])),
                _ if ptr => Value::Time(
                    secs.wrapping_mul(1_000_000_000)
                        .wrapping_add(i64::from(nanos)),
                ),
                _ => Value::GoTime(secs, nanos, TimeZone::UTC),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}
