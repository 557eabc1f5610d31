//! Prometheus's `model.Duration` text form (common v0.39): `1h30m`, `500ms`, `2w`, `0`.
//!
//! Rule files' `for:`/`interval:`, Alertmanager's timers and tocsin's own duration flags
//! all use it; PromQL's range and offset literals use the same units (the parser adds its
//! own "greater than 0" rule on top).

use std::fmt::Write;

use crate::gostr::go_quote;

/// The units of Prometheus durations in milliseconds, in the only order a duration may use
/// them, largest first.
pub const DURATION_UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Prometheus's `model.ParseDuration` in milliseconds: each unit at most once, largest
/// first, integers only; the bare string `0` is allowed (rule files' `for:`,
/// Alertmanager's timers). Errors carry Prometheus's wording: `empty duration string`,
/// `not a valid duration string: "…"`, `duration out of range`.
pub fn parse_model_duration(text: &str) -> Result<u64, String> {
    match text {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(text));
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        rest = &rest[digits..];
        // `ms` must be tried before `m`.
        let unit = DURATION_UNITS[next_unit..]
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| rest.starts_with(name))
            .max_by_key(|(_, (name, _))| name.len())
            .map(|(i, (name, ms))| (next_unit + i, *name, *ms as u64));
        let Some((index, name, millis)) = unit else {
            return Err(invalid());
        };
        rest = &rest[name.len()..];
        next_unit = index + 1;
        total = number
            .checked_mul(millis)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= i64::MAX as u64 / 1_000_000)
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}

/// [`parse_model_duration`] as a `std::time::Duration`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    parse_model_duration(text).map(std::time::Duration::from_millis)
}

/// Milliseconds as Prometheus's `model.Duration` prints them: largest units first,
/// years and weeks only when they divide exactly (`90d`, not `12w6d`), `0s` for zero.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (name, unit) in DURATION_UNITS {
        if (name == "y" || name == "w") && rest % unit != 0 {
            continue;
        }
        if rest >= unit {
            let _ = write!(out, "{}{name}", rest / unit);
            rest %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus_model_duration() {
        assert_eq!(parse_model_duration("30s"), Ok(30_000));
        assert_eq!(parse_model_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_model_duration("500ms"), Ok(500));
        assert_eq!(parse_model_duration("1m500ms"), Ok(60_500));
        assert_eq!(parse_model_duration("0"), Ok(0));
        assert_eq!(parse_model_duration("0s"), Ok(0));
        assert_eq!(parse_model_duration("2w"), Ok(14 * 86_400_000));
        assert_eq!(
            parse_model_duration("30m1h"),
            Err(r#"not a valid duration string: "30m1h""#.to_owned())
        );
        assert_eq!(
            parse_model_duration("1.5h"),
            Err(r#"not a valid duration string: "1.5h""#.to_owned())
        );
        assert_eq!(
            parse_model_duration(""),
            Err("empty duration string".to_owned())
        );
        assert_eq!(
            parse_model_duration("300000y"),
            Err("duration out of range".to_owned())
        );
        assert_eq!(
            parse_duration("1h30m"),
            Ok(std::time::Duration::from_secs(5400))
        );
    }

    #[test]
    fn durations_print_like_prometheus_model_duration() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(90 * 60_000), "1h30m");
        assert_eq!(format_duration(90 * 24 * 3_600_000), "90d");
        assert_eq!(format_duration(14 * 24 * 3_600_000), "2w");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(3_723_000), "1h2m3s");
    }
}
