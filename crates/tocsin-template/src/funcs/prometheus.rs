//! Prometheus's template functions (`template/template.go`, v2.42).

use super::{msg, FR};
use crate::gofmt::{g4, g4_into};
use crate::numparse::{parse_float_err, FloatError};
use crate::value::Value;
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;

/// Prometheus's `convertToFloat`.
pub(crate) fn to_float(v: &Value) -> FR<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint8(u) => Ok(*u as f64),
        Value::Str(s) => match parse_float_err(s) {
            Ok(f) => Ok(f),
            Err(FloatError::Syntax) => msg(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                crate::gofmt::quote(s)
            )),
            Err(FloatError::Range) => msg(format!(
                "strconv.ParseFloat: parsing {}: value out of range",
                crate::gofmt::quote(s)
            )),
        },
        Value::Nil | Value::Invalid => msg("can't convert <nil> to float"),
        other => msg(format!("can't convert {} to float", other.type_name())),
    }
}

pub(crate) fn humanize(v: f64) -> String {
    let mut out = String::new();
    humanize_into(&mut out, v);
    out
}

/// `humanize`, appended to `out` (the common `{{ humanize $value }}` is
/// printed straight into the render's output).
pub(crate) fn humanize_into(out: &mut String, mut v: f64) {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4_into(out, v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    g4_into(out, v);
    out.push_str(prefix);
}

pub(crate) fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    g4(v) + prefix
}

/// Go's float64 → int64 conversion on amd64 (out of range gives MinInt64).
fn go_i64(v: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if v.is_nan() || !(-LIMIT..LIMIT).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

pub(crate) fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return g4(v) + "s";
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = go_i64(v);
        let seconds = d % 60;
        let minutes = (d / 60) % 60;
        let hours = (d / 60 / 60) % 24;
        let days = d / 60 / 60 / 24;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Compile (and cache) a Go RE2 pattern.
fn compile(pat: &str) -> Result<Regex, String> {
    if let Some(r) = REGEX_CACHE.with(|c| c.borrow().get(pat).cloned()) {
        return Ok(r);
    }
    let re = regex::RegexBuilder::new(pat)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| go_regex_error(pat, &e))?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(pat.to_string(), re.clone());
    });
    Ok(re)
}

fn go_regex_error(pat: &str, e: &regex::Error) -> String {
    // Go's messages name the offending construct; ours come from the
    // regex crate, so only the prefix matches Go.
    let detail = e.to_string();
    let last = detail
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("invalid regexp");
    format!(
        "error parsing regexp: {}: `{pat}`",
        last.trim_start_matches("error: ")
    )
}

pub(crate) fn re_replace_all(pat: &str, repl: &str, text: &str) -> FR<String> {
    match compile(pat) {
        Ok(re) => replace_all_bounded(&re, repl, text),
        Err(e) => msg(format!(
            "regexp: Compile({}): {e}",
            crate::gofmt::quote(pat).replace('"', "`")
        )),
    }
}

/// `Regex::replace_all` (the same matches and `$name` expansion), but
/// failing once the result could exceed [`crate::MAX_OUTPUT`]: a megabyte
/// text and replacement would otherwise build a terabyte before any bound
/// is checked. Each expansion is at most the replacement plus, per `$`, the
/// match (capture groups lie within it).
fn replace_all_bounded(re: &Regex, repl: &str, text: &str) -> FR<String> {
    let dollars = repl.bytes().filter(|&b| b == b'$').count();
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        let bound = dollars
            .saturating_mul(m.len())
            .saturating_add(repl.len())
            .saturating_add(m.start() - last)
            .saturating_add(out.len());
        if bound > crate::MAX_OUTPUT {
            return msg(format!("result exceeds {} bytes", crate::MAX_OUTPUT));
        }
        out.push_str(&text[last..m.start()]);
        caps.expand(repl, &mut out);
        last = m.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

pub(crate) fn re_match(pat: &str, text: &str) -> FR<bool> {
    match compile(pat) {
        Ok(re) => Ok(re.is_match(text)),
        Err(e) => msg(e),
    }
}

fn go_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn go_lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

pub(crate) fn to_upper(s: &str) -> String {
    s.chars().map(go_upper).collect()
}

pub(crate) fn to_lower(s: &str) -> String {
    s.chars().map(go_lower).collect()
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    c.is_whitespace()
}

/// Go's `strings.Title` (Prometheus 2.42).
pub(crate) fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let r = if is_separator(prev) { go_title(c) } else { c };
            prev = c;
            r
        })
        .collect()
}

fn go_title(c: char) -> char {
    // Title case equals upper case except for a few digraphs.
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        c => go_upper(c),
    }
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k);
    if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 == hp.len() || end + 1 != i {
            return None;
        }
        host = &hp[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        j = 0;
        k = 0;
    }
    if hp[j..].contains('[') && j == 0 || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

pub(crate) fn strip_port(hp: &str) -> String {
    match split_host_port(hp) {
        Some((h, _)) => h.to_string(),
        None => hp.to_string(),
    }
}

fn is_ip(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_ok()
}

pub(crate) fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if is_ip(host) {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("");
    if !port.is_empty() {
        if host.contains(':') {
            return format!("[{host}]:{port}");
        }
        return format!("{host}:{port}");
    }
    host.to_string()
}

pub(crate) fn path_prefix(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => return url.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    match rest.find('/') {
        Some(i) => rest[i..].split(['?', '#']).next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// Prometheus `model.ParseDuration` (`tocsin-core`'s, with its error words), in seconds.
pub(crate) fn parse_duration(s: &str) -> FR<f64> {
    match tocsin_core::parse_model_duration(s) {
        // Go: float64(d) / float64(time.Second), d in nanoseconds (at most i64::MAX).
        Ok(ms) => Ok((ms as i64 * 1_000_000) as f64 / 1e9),
        Err(e) => msg(e),
    }
}
