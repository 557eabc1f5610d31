//! Go's `strconv.Unquote` and `strconv.UnquoteChar` for template literals.

/// Unquote a Go interpreted ("...") or raw (`...`) string literal.
pub(crate) fn unquote(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return None;
    }
    let q = b[0];
    if q != b[b.len() - 1] {
        return None;
    }
    let body = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if body.contains('`') {
                return None;
            }
            Some(body.replace('\r', ""))
        }
        b'"' => {
            if body.contains('\n') {
                return None;
            }
            let mut out = String::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                let (c, tail) = unquote_char_inner(rest, '"')?;
                match c {
                    Unq::Char(c) => out.push(c),
                    Unq::Byte(b) => {
                        // Go strings may hold arbitrary bytes; we keep valid
                        // UTF-8 by mapping lone bytes to U+FFFD.
                        if b < 0x80 {
                            out.push(b as char)
                        } else {
                            out.push('\u{FFFD}')
                        }
                    }
                }
                rest = tail;
            }
            Some(out)
        }
        _ => None,
    }
}

enum Unq {
    Char(char),
    Byte(u8),
}

/// Decode one (possibly escaped) character; returns it and the remaining text.
pub(crate) fn unquote_char(s: &str, quote: char) -> Option<(char, &str)> {
    match unquote_char_inner(s, quote)? {
        (Unq::Char(c), t) => Some((c, t)),
        (Unq::Byte(b), t) => Some((b as char, t)),
    }
}

fn unquote_char_inner(s: &str, quote: char) -> Option<(Unq, &str)> {
    let mut it = s.chars();
    let c = it.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((Unq::Char(c), it.as_str()));
    }
    let e = it.next()?;
    let rest = it.as_str();
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if e != quote {
                return None;
            }
            Some(e)
        }
        _ => None,
    };
    if let Some(c) = simple {
        return Some((Unq::Char(c), rest));
    }
    let hex = |n: usize| -> Option<(u32, &str)> {
        if rest.len() < n || !rest.is_char_boundary(n) {
            return None;
        }
        let v = u32::from_str_radix(&rest[..n], 16).ok()?;
        if !rest[..n].bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some((v, &rest[n..]))
    };
    match e {
        'x' => {
            let (v, t) = hex(2)?;
            if quote == '\'' {
                return Some((Unq::Char(char::from_u32(v)?), t));
            }
            Some((Unq::Byte(v as u8), t))
        }
        'u' => {
            let (v, t) = hex(4)?;
            Some((Unq::Char(char::from_u32(v)?), t))
        }
        'U' => {
            let (v, t) = hex(8)?;
            Some((Unq::Char(char::from_u32(v)?), t))
        }
        '0'..='7' => {
            if rest.len() < 2 {
                return None;
            }
            let digits = format!("{e}{}", &rest.get(..2)?);
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return None;
            }
            let v = u32::from_str_radix(&digits, 8).ok()?;
            if v > 255 {
                return None;
            }
            if quote == '\'' {
                return Some((Unq::Char(char::from_u32(v)?), &rest[2..]));
            }
            Some((Unq::Byte(v as u8), &rest[2..]))
        }
        _ => None,
    }
}
