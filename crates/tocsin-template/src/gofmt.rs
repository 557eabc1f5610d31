//! Pieces of Go's `fmt` and `strconv` formatting that template output
//! depends on: `strconv.Quote`, `unicode.IsPrint`, float formatting
//! (`%v`/`%g`/`%e`/`%f`) and `Printf` verb handling.

use std::fmt::Write;

/// Go's `strconv.IsPrint`, approximated with Rust's character classes.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xD800..=0xF8FF | 0xFEFF | 0xFFF0..=0xFFFB | 0xFFFE | 0xFFFF
        | 0xE0000..=0xE007F | 0xF0000..=0x10FFFF)
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote_into(&mut out, s, '"', false);
    out
}

/// Append `s` quoted with `q` (`"` for strings, `'` for runes); `ascii`
/// escapes every non-ASCII character (`%+q`).
pub(crate) fn quote_into(out: &mut String, s: &str, q: char, ascii: bool) {
    out.push(q);
    for c in s.chars() {
        escape_char(out, c, q, ascii);
    }
    out.push(q);
}

pub(crate) fn escape_char(out: &mut String, c: char, q: char, ascii: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if (!ascii || c.is_ascii()) && is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Decimal digits and exponent of a float: value = 0.d1d2d3... × 10^dp.
struct Digits {
    digits: Vec<u8>,
    dp: i32,
}

/// Shortest round-trip digits (what Go's strconv uses for precision -1).
fn shortest(v: f64) -> Digits {
    // Rust's `{:e}` prints the shortest round-trip representation.
    let s = format!("{:e}", v.abs());
    from_sci(&s)
}

/// Digits rounded to `n` significant digits (n ≥ 1), trailing zeros trimmed.
fn rounded_sig(v: f64, n: usize) -> Digits {
    let s = format!("{:.*e}", n - 1, v.abs());
    let mut d = from_sci(&s);
    while d.digits.len() > 1 && d.digits.last() == Some(&b'0') {
        d.digits.pop();
    }
    d
}

fn from_sci(s: &str) -> Digits {
    let (m, e) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    let digits: Vec<u8> = m.bytes().filter(|b| b.is_ascii_digit()).collect();
    if digits.iter().all(|&b| b == b'0') {
        return Digits {
            digits: vec![b'0'],
            dp: 1,
        };
    }
    Digits {
        digits,
        dp: exp + 1,
    }
}

fn fmt_e(out: &mut String, neg: bool, d: &Digits, prec: usize, upper: bool) {
    if neg {
        out.push('-');
    }
    out.push(d.digits[0] as char);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(*d.digits.get(i).unwrap_or(&b'0') as char);
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if d.digits == [b'0'] { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    let _ = write!(out, "{a}");
}

fn fmt_f(out: &mut String, neg: bool, d: &Digits, prec: usize) {
    if neg {
        out.push('-');
    }
    if d.dp > 0 {
        for i in 0..d.dp as usize {
            out.push(*d.digits.get(i).unwrap_or(&b'0') as char);
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let j = d.dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                *d.digits.get(j as usize).unwrap_or(&b'0')
            };
            out.push(c as char);
        }
    }
}

/// Go's `strconv.AppendFloat(v, fmt, prec, 64)` for fmt in `e E f g G`.
pub(crate) fn format_float(out: &mut String, v: f64, verb: char, prec: i32) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    let neg = v.is_sign_negative();
    match verb {
        'e' | 'E' => {
            if prec < 0 {
                let d = shortest(v);
                fmt_e(out, neg, &d, d.digits.len() - 1, verb == 'E');
            } else {
                let d = rounded_sig(v, prec as usize + 1);
                fmt_e(out, neg, &d, prec as usize, verb == 'E');
            }
        }
        'f' | 'F' => {
            if prec < 0 {
                let d = shortest(v);
                let p = (d.digits.len() as i32 - d.dp).max(0) as usize;
                fmt_f(out, neg, &d, p);
            } else {
                let s = format!("{:.*}", prec as usize, v.abs());
                if neg {
                    out.push('-');
                }
                out.push_str(&s);
            }
        }
        _ => {
            // 'g' / 'G'
            let shortest_mode = prec < 0;
            let (d, mut p) = if shortest_mode {
                let d = shortest(v);
                let n = d.digits.len() as i32;
                (d, n)
            } else {
                let p = if prec == 0 { 1 } else { prec };
                (rounded_sig(v, p as usize), p)
            };
            let nd = d.digits.len() as i32;
            let mut eprec = p;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest_mode {
                eprec = 6;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(out, neg, &d, (p - 1).max(0) as usize, verb == 'G');
                return;
            }
            if p > d.dp {
                p = nd;
            }
            fmt_f(out, neg, &d, (p - d.dp).max(0) as usize);
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`, with `+Inf`).
pub(crate) fn write_float_v(out: &mut String, v: f64) {
    format_float(out, v, 'g', -1);
}

/// Go's `fmt.Sprintf("%.4g", v)`.
pub(crate) fn g4(v: f64) -> String {
    let mut s = String::new();
    format_float(&mut s, v, 'g', 4);
    s
}
