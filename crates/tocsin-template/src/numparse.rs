//! Go `strconv` number parsing (`ParseInt`/`ParseUint` with base 0,
//! `ParseFloat`), including base prefixes, underscores, hex floats and the
//! special values `Inf`/`Infinity`/`NaN`.

/// Why `ParseFloat` failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FloatError {
    Syntax,
    /// Out of range; Go still returns ±Inf (or 0) alongside the error.
    Range,
}

fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut saw = b'^';
    let b = if !b.is_empty() && (b[0] == b'+' || b[0] == b'-') {
        &b[1..]
    } else {
        b
    };
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || hex && (b'a'..=b'f').contains(&(c | 0x20)) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

fn parse_unsigned_base0(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (base, digits, prefixed) = if s.len() >= 2 && s.as_bytes()[0] == b'0' {
        match s.as_bytes()[1] | 0x20 {
            b'x' => (16, &s[2..], true),
            b'o' => (8, &s[2..], true),
            b'b' => (2, &s[2..], true),
            _ => (8, &s[1..], true),
        }
    } else {
        (10, s, false)
    };
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return if prefixed && base == 8 && digits.is_empty() {
            Some(0)
        } else {
            None
        };
    }
    if clean.starts_with('+') || clean.starts_with('-') {
        return None;
    }
    u64::from_str_radix(&clean, base).ok()
}

/// `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    parse_unsigned_base0(s)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_unsigned_base0(body)?;
    if neg {
        if u > 1u64 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// `strconv.ParseFloat(s, 64)`, `None` on any error.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    parse_float_err(s).ok()
}

/// `strconv.ParseFloat(s, 64)` with Go's error kinds.
pub(crate) fn parse_float_err(s: &str) -> Result<f64, FloatError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let sign = if neg { -1.0 } else { 1.0 };
    if lower == "inf" || lower == "infinity" {
        return Ok(sign * f64::INFINITY);
    }
    if lower == "nan" && !body.is_empty() && s.len() == 3 {
        return Ok(f64::NAN);
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'+' || b == b'-')
    {
        return Err(FloatError::Syntax);
    }
    if body.contains('_') && !underscore_ok(body) {
        return Err(FloatError::Syntax);
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean.as_bytes()[0] == b'0' && clean.as_bytes()[1] | 0x20 == b'x'
    {
        parse_hex_float(&clean[2..])?
    } else {
        let b = clean.as_bytes();
        // Rust accepts "inf"/"nan" words; those were handled above.
        if !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return Err(FloatError::Syntax);
        }
        if !b.iter().any(|c| c.is_ascii_digit()) {
            return Err(FloatError::Syntax);
        }
        clean.parse::<f64>().map_err(|_| FloatError::Syntax)?
    };
    if v.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(sign * v)
}

fn parse_hex_float(s: &str) -> Result<f64, FloatError> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (ip, fp) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    if ip.is_empty() && fp.is_empty() {
        return Err(FloatError::Syntax);
    }
    if fp.contains('.') || !ip.bytes().chain(fp.bytes()).all(|b| b.is_ascii_hexdigit()) {
        return Err(FloatError::Syntax);
    }
    if exp.is_none() && mant.contains('.') {
        return Err(FloatError::Syntax);
    }
    let e: i64 = match exp {
        Some(e) => {
            if e.is_empty()
                || !e
                    .trim_start_matches(['+', '-'])
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                || e.trim_start_matches(['+', '-']).is_empty()
            {
                return Err(FloatError::Syntax);
            }
            e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                -100_000
            } else {
                100_000
            })
        }
        None => 0,
    };
    let mut m: f64 = 0.0;
    for c in ip.chars() {
        m = m * 16.0 + c.to_digit(16).unwrap_or(0) as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        m += c.to_digit(16).unwrap_or(0) as f64 * scale;
        scale /= 16.0;
    }
    let e = e.clamp(-2000, 2000) as i32;
    Ok(m * 2f64.powi(e))
}

/// Parse a Go complex literal `re±imi` (as the lexer delimits it).
pub(crate) fn parse_complex(s: &str) -> Option<(f64, f64)> {
    let body = s.strip_suffix('i')?;
    let b = body.as_bytes();
    let split = (1..b.len())
        .rev()
        .find(|&i| (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1] | 0x20, b'e' | b'p'))?;
    let re = parse_float(&body[..split])?;
    let im = parse_float(&body[split..])?;
    Some((re, im))
}
