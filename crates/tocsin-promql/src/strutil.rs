//! Go-compatible string helpers: `%q` quoting, `%#U`, string unquoting,
//! `strconv` number parsing and `model.ParseDuration`.

pub use tocsin_core::gostr::go_quote as quote;
use tocsin_core::gostr::{is_go_printable, push_escaped};

/// Go's `%.10q...` as used by `Item.String` for long values.
pub fn quote_item(s: &str) -> String {
    if s.len() > 10 {
        let cut: String = s.chars().take(10).collect();
        format!("{}...", quote(&cut))
    } else {
        quote(s)
    }
}

/// Go's `%q` for a rune; `None` stands for Go's eof rune (-1).
pub fn quote_rune(c: Option<char>) -> String {
    let c = c.unwrap_or('\u{fffd}');
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Go's `%#U` for a rune.
pub fn unicode_hash_u(c: Option<char>) -> String {
    let c = c.unwrap_or('\u{fffd}');
    if is_go_printable(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Unquotes a string token the lexer already validated (quotes included).
pub fn unquote(tok: &str) -> String {
    let bytes = tok.as_bytes();
    if bytes.len() < 2 {
        return String::new();
    }
    let inner = &tok[1..tok.len() - 1];
    if bytes[0] == b'`' {
        return inner.replace('\r', "");
    }
    if !inner.contains('\\') {
        return inner.to_owned();
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let ib = inner.as_bytes();
    let mut i = 0;
    while i < ib.len() {
        if ib[i] != b'\\' {
            out.push(ib[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&e) = ib.get(i) else { break };
        i += 1;
        let simple = match e {
            b'a' => Some(7u8),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' | b'\'' | b'"' => Some(e),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, base, is_byte) = match e {
            b'0'..=b'7' => {
                i -= 1;
                (3, 8, true)
            }
            b'x' => (2, 16, true),
            b'u' => (4, 16, false),
            b'U' => (8, 16, false),
            _ => continue,
        };
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = ib
                .get(i)
                .and_then(|&c| (c as char).to_digit(base))
                .unwrap_or(0);
            v = v.wrapping_mul(base).wrapping_add(d);
            i += 1;
        }
        if is_byte {
            out.push(v as u8);
        } else {
            let c = char::from_u32(v).unwrap_or('\u{fffd}');
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `strconv.ParseInt(s, 0, 64)` then `strconv.ParseFloat(s, 64)` as
/// Prometheus's parser does, for the shapes the lexer produces.
pub fn parse_number(s: &str) -> Result<f64, String> {
    if let Some(v) = parse_go_int(s) {
        return Ok(v);
    }
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "+inf" | "infinity" => return Ok(f64::INFINITY),
        "-inf" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    let invalid = || format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(s));
    if lower.starts_with("0x") || lower.contains("inf") || lower.contains("nan") {
        return Err(invalid());
    }
    // Go requires at least one mantissa digit and digits after an exponent marker.
    let (mant, exp) = match lower.find('e') {
        Some(i) => (&lower[..i], Some(&lower[i + 1..])),
        None => (lower.as_str(), None),
    };
    if !mant.bytes().any(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if let Some(exp) = exp {
        let digits = exp.trim_start_matches(['+', '-']);
        if digits.is_empty() || exp.len() - digits.len() > 1 {
            return Err(invalid());
        }
    }
    match lower.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            quote(s)
        )),
        Ok(v) => Ok(v),
        Err(_) => Err(invalid()),
    }
}

fn parse_go_int(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (digits, radix) = if b.len() > 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') {
        (&s[2..], 16)
    } else if b.len() > 1 && b[0] == b'0' {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return None;
    }
    i64::from_str_radix(digits, radix).ok().map(|v| v as f64)
}

pub use tocsin_core::duration::{parse_model_duration, DURATION_UNITS};

/// Prometheus `model.ParseDuration` (common v0.39) plus the parser's
/// "greater than 0" rule. Returns milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Err("duration must be greater than 0".to_owned());
    }
    if s.is_empty() {
        return Err("empty duration string".to_owned());
    }
    let invalid = || format!("not a valid duration string: {}", quote(s));
    let b = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total_ns: i64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        let num = &s[start..i];
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let Some(idx) = DURATION_UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .map(|p| p + next_unit)
        else {
            return Err(invalid());
        };
        next_unit = idx + 1;
        let mult = DURATION_UNITS[idx].1;
        let n: i64 = num.parse().unwrap_or(i64::MAX);
        if n > i64::MAX / mult / 1_000_000 {
            overflow = true;
        }
        let d = n.wrapping_mul(1_000_000).wrapping_mul(mult);
        total_ns = total_ns.wrapping_add(d);
        if total_ns < 0 {
            overflow = true;
        }
    }
    if overflow {
        return Err("duration out of range".to_owned());
    }
    let ms = total_ns / 1_000_000;
    if ms == 0 {
        return Err("duration must be greater than 0".to_owned());
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_like_go() {
        assert_eq!(super::quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(super::quote("é"), "\"é\"");
    }
}
