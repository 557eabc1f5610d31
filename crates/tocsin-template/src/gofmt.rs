//! Pieces of Go's `fmt` and `strconv` formatting that template output
//! depends on: `strconv.Quote`, `unicode.IsPrint`, float formatting
//! (`%v`/`%g`/`%e`/`%f`) and `Printf` verb handling.

use crate::digits::{exact_fixed, fixed, rounded_sig, shortest, Digits};
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

fn fmt_e(out: &mut String, neg: bool, d: &Digits, prec: usize, upper: bool) {
    if neg {
        out.push('-');
    }
    let digits = d.digits();
    out.push(digits[0] as char);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(*digits.get(i).unwrap_or(&b'0') as char);
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if d.is_zero() { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    let _ = write!(out, "{a}");
}

pub(crate) fn fmt_f(out: &mut String, neg: bool, d: &Digits, prec: usize) {
    if neg {
        out.push('-');
    }
    let digits = d.digits();
    if d.dp > 0 {
        for i in 0..d.dp as usize {
            out.push(*digits.get(i).unwrap_or(&b'0') as char);
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
                *digits.get(j as usize).unwrap_or(&b'0')
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
                fmt_e(out, neg, &d, d.digits().len() - 1, verb == 'E');
            } else {
                let d = rounded_sig(v, prec as usize + 1);
                fmt_e(out, neg, &d, prec as usize, verb == 'E');
            }
        }
        'f' | 'F' => {
            if prec < 0 {
                let d = shortest(v);
                let p = (d.digits().len() as i32 - d.dp).max(0) as usize;
                fmt_f(out, neg, &d, p);
            } else {
                match fixed(v, prec) {
                    Some(d) => fmt_f(out, neg, &d, prec as usize),
                    None => fmt_f_exact(out, neg, v, prec),
                }
            }
        }
        _ => {
            // 'g' / 'G'
            let shortest_mode = prec < 0;
            let (d, mut p) = if shortest_mode {
                let d = shortest(v);
                let n = d.digits().len() as i32;
                (d, n)
            } else {
                let p = if prec == 0 { 1 } else { prec };
                (rounded_sig(v, p as usize), p)
            };
            let nd = d.digits().len() as i32;
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

/// `%.{prec}f` by exact decimal expansion.
fn fmt_f_exact(out: &mut String, neg: bool, v: f64, prec: i32) {
    if neg {
        out.push('-');
    }
    exact_fixed(out, v, prec as usize);
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`, with `+Inf`).
pub(crate) fn write_float_v(out: &mut String, v: f64) {
    format_float(out, v, 'g', -1);
}

/// Go's `fmt.Sprintf("%.4g", v)`.
pub(crate) fn g4(v: f64) -> String {
    let mut s = String::new();
    g4_into(&mut s, v);
    s
}

pub(crate) fn g4_into(out: &mut String, v: f64) {
    format_float(out, v, 'g', 4);
}

use crate::value::Value;

fn is_stringish(v: &Value) -> bool {
    matches!(v, Value::Str(_) | Value::Html(_))
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(crate) fn sprint(out: &mut String, args: &[Value]) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !is_stringish(a) && !is_stringish(&args[i - 1]) {
            out.push(' ');
        }
        a.write_v(out, true);
    }
}

/// Go's `fmt.Sprintln`.
pub(crate) fn sprintln(out: &mut String, args: &[Value]) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        a.write_v(out, true);
    }
    out.push('\n');
}

#[derive(Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(out: &mut String, s: &str, sp: &Spec, numeric: bool) {
    let n = s.chars().count();
    let w = sp.width.unwrap_or(0);
    if n >= w {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if sp.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if sp.zero && numeric {
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'-' | b'+' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(rest);
    } else if sp.zero {
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(s);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn bad_verb(out: &mut String, verb: char, v: &Value) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    match v {
        Value::Invalid | Value::Nil => out.push_str("<nil>"),
        v => {
            out.push_str(v.type_name());
            out.push('=');
            v.write_v(out, true);
        }
    }
    out.push(')');
}

fn fmt_int(out: &mut String, i: i128, verb: char, sp: &Spec) {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let mut digits = match verb {
        'b' => format!("{a:b}"),
        'o' | 'O' => format!("{a:o}"),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        _ => format!("{a}"),
    };
    if let Some(p) = sp.prec {
        if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
        if p == 0 && a == 0 {
            digits.clear();
        }
    }
    let prefix = match verb {
        'O' => "0o",
        'x' if sp.sharp => "0x",
        'X' if sp.sharp => "0X",
        'o' if sp.sharp && !digits.starts_with('0') => "0",
        'b' if sp.sharp => "0b",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if sp.plus {
        "+"
    } else if sp.space {
        " "
    } else {
        ""
    };
    let s = format!("{sign}{prefix}{digits}");
    let mut sp2 = *sp;
    if sp.prec.is_some() {
        sp2.zero = false;
    }
    pad(out, &s, &sp2, true);
}

fn fmt_float_verb(out: &mut String, f: f64, verb: char, sp: &Spec) {
    let (v, prec) = match verb {
        'v' => ('g', sp.prec.map_or(-1, |p| p as i32)),
        'e' | 'E' | 'f' | 'F' => (verb, sp.prec.map_or(6, |p| p as i32)),
        _ => (verb, sp.prec.map_or(-1, |p| p as i32)),
    };
    if sp.width.is_none() && f.is_finite() {
        // Nothing to pad: write straight into the output.
        if !f.is_sign_negative() {
            if sp.plus {
                out.push('+');
            } else if sp.space {
                out.push(' ');
            }
        }
        format_float(out, f, v, prec);
        return;
    }
    let mut s = String::new();
    format_float(&mut s, f, v, prec);
    if f.is_nan() {
        let s = if sp.plus {
            "+NaN"
        } else if sp.space {
            " NaN"
        } else {
            "NaN"
        };
        let mut sp2 = *sp;
        sp2.zero = false;
        pad(out, s, &sp2, false);
        return;
    }
    if f.is_infinite() {
        let mut sp2 = *sp;
        sp2.zero = false;
        let s = if f > 0.0 && !sp.plus && sp.space {
            " Inf".to_string()
        } else {
            s
        };
        pad(out, &s, &sp2, false);
        return;
    }
    if !s.starts_with('-') {
        if sp.plus {
            s.insert(0, '+');
        } else if sp.space {
            s.insert(0, ' ');
        }
    }
    pad(out, &s, sp, true);
}

fn fmt_str(out: &mut String, s: &str, verb: char, sp: &Spec) {
    match verb {
        's' | 'v' => {
            let s: String = match sp.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            pad(out, &s, sp, false);
        }
        'q' => {
            let s: String = match sp.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            let mut q = String::new();
            if sp.sharp && !s.contains('`') {
                q.push('`');
                q.push_str(&s);
                q.push('`');
            } else {
                quote_into(&mut q, &s, '"', sp.plus);
            }
            pad(out, &q, sp, false);
        }
        'x' | 'X' => {
            let b = s.as_bytes();
            let b = match sp.prec {
                Some(p) => &b[..p.min(b.len())],
                None => b,
            };
            let mut h = String::new();
            for (i, byte) in b.iter().enumerate() {
                if sp.space && i > 0 {
                    h.push(' ');
                }
                if sp.sharp && (sp.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(h, "{byte:02x}");
                } else {
                    let _ = write!(h, "{byte:02X}");
                }
            }
            pad(out, &h, sp, false);
        }
        _ => unreachable_verb(out, verb, s),
    }
}

fn unreachable_verb(out: &mut String, verb: char, s: &str) {
    bad_verb(out, verb, &Value::Str(std::borrow::Cow::Borrowed(s)));
}

fn fmt_value(out: &mut String, v: &Value, verb: char, sp: &Spec) {
    match v {
        Value::Invalid | Value::Nil => match verb {
            'v' => pad(out, "<nil>", sp, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, sp, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Int(_) | Value::Uint8(_) => {
            let i: i128 = match v {
                Value::Int(i) => *i as i128,
                Value::Uint8(u) => *u as i128,
                _ => 0,
            };
            match verb {
                'd' | 'v' => fmt_int(out, i, 'd', sp),
                'b' | 'o' | 'O' | 'x' | 'X' => fmt_int(out, i, verb, sp),
                'c' => {
                    let c = char::from_u32(i as u32).unwrap_or('\u{FFFD}');
                    pad(out, &c.to_string(), sp, false);
                }
                'q' => {
                    let c = char::from_u32(i as u32).unwrap_or('\u{FFFD}');
                    let mut q = String::new();
                    q.push('\'');
                    escape_char(&mut q, c, '\'', sp.plus);
                    q.push('\'');
                    pad(out, &q, sp, false);
                }
                'U' => {
                    let s = format!("U+{:04X}", i);
                    pad(out, &s, sp, false);
                }
                _ => bad_verb(out, verb, v),
            }
        }
        Value::Float(f) => match verb {
            'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => fmt_float_verb(out, *f, verb, sp),
            _ => bad_verb(out, verb, v),
        },
        Value::Str(s) | Value::Html(s) => match verb {
            's' | 'v' | 'q' | 'x' | 'X' => fmt_str(out, s, verb, sp),
            _ => bad_verb(out, verb, v),
        },
        Value::Time(_) => {
            let mut s = String::new();
            v.write_v(&mut s, true);
            match verb {
                's' | 'v' | 'q' | 'x' | 'X' => fmt_str(out, &s, verb, sp),
                _ => bad_verb(out, verb, v),
            }
        }
        Value::Labels(_) | Value::SampleLabels(..) => {
            let l = match v.as_map() {
                Some(crate::value::MapRef::Labels(l)) => l,
                _ => return,
            };
            let mut s = String::from("map[");
            for (i, (k, val)) in l.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                fmt_str_elem(&mut s, k, verb);
                s.push(':');
                fmt_str_elem(&mut s, val, verb);
            }
            s.push(']');
            pad(out, &s, sp, false);
        }
        _ => {
            let mut s = String::new();
            v.write_v(&mut s, true);
            pad(out, &s, sp, false);
        }
    }
}

fn fmt_str_elem(out: &mut String, s: &str, verb: char) {
    match verb {
        's' | 'v' | 'q' | 'x' | 'X' => fmt_str(out, s, verb, &Spec::default()),
        _ => unreachable_verb(out, verb, s),
    }
}

/// Go's fmt `tooLarge` bound on `*` width and precision arguments.
const GO_FMT_MAX_ARG: u64 = 1_000_000;

/// Go's `fmt.Sprintf` for the verbs templates use.
pub(crate) fn sprintf(out: &mut String, format: &str, args: &[Value]) {
    let mut argn = 0;
    let mut it = format.char_indices().peekable();
    while let Some((_, c)) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&(_, f)) = it.peek() {
            match f {
                '+' => sp.plus = true,
                '-' => sp.minus = true,
                '#' => sp.sharp = true,
                ' ' => sp.space = true,
                '0' => sp.zero = !sp.minus,
                _ => break,
            }
            it.next();
        }
        // width
        let mut bad_width = false;
        if let Some(&(_, '*')) = it.peek() {
            it.next();
            match args.get(argn) {
                // Go's intFromArg rejects |n| > 1e6 ("tooLarge") as not an
                // int: BADWIDTH, no width (and no huge padding).
                Some(Value::Int(w)) if w.unsigned_abs() <= GO_FMT_MAX_ARG => {
                    if *w < 0 {
                        sp.minus = true;
                        sp.zero = false;
                    }
                    sp.width = Some(w.unsigned_abs() as usize);
                }
                _ => bad_width = true,
            }
            argn += 1;
        } else {
            let mut w = None;
            while let Some(&(_, d)) = it.peek() {
                if let Some(n) = d.to_digit(10) {
                    w = Some(
                        w.unwrap_or(0usize)
                            .saturating_mul(10)
                            .saturating_add(n as usize)
                            .min(1_000_000),
                    );
                    it.next();
                } else {
                    break;
                }
            }
            sp.width = w;
        }
        let mut bad_prec = false;
        if let Some(&(_, '.')) = it.peek() {
            it.next();
            if let Some(&(_, '*')) = it.peek() {
                it.next();
                match args.get(argn) {
                    Some(Value::Int(p)) if (0..=GO_FMT_MAX_ARG as i64).contains(p) => {
                        sp.prec = Some(*p as usize)
                    }
                    _ => bad_prec = true,
                }
                argn += 1;
            } else {
                let mut p = 0usize;
                while let Some(&(_, d)) = it.peek() {
                    if let Some(n) = d.to_digit(10) {
                        p = p
                            .saturating_mul(10)
                            .saturating_add(n as usize)
                            .min(1_000_000);
                        it.next();
                    } else {
                        break;
                    }
                }
                sp.prec = Some(p);
            }
        }
        if bad_width {
            out.push_str("%!(BADWIDTH)");
        }
        if bad_prec {
            out.push_str("%!(BADPREC)");
        }
        let Some((_, verb)) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argn) {
            None => {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(MISSING)");
            }
            Some(v) => {
                if verb == 'T' {
                    pad(out, v.type_name(), &sp, false);
                } else {
                    fmt_value(out, v, verb, &sp);
                }
            }
        }
        argn += 1;
    }
    if argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, v) in args[argn..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match v {
                Value::Invalid | Value::Nil => out.push_str("<nil>"),
                v => {
                    out.push_str(v.type_name());
                    out.push('=');
                    v.write_v(out, true);
                }
            }
        }
        out.push(')');
    }
}
