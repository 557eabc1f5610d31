//! Percent-decoding, the one implementation of the workspace: URL userinfo (tocsin-query),
//! query strings and path segments (the binary's HTTP server), and matching encoded
//! secrets ([`crate::redact`]).

/// `s` with its `%XX` escapes decoded (either hex case) and, when `plus_is_space`, `+` as
/// a space (`application/x-www-form-urlencoded`); a `%` not followed by two hex digits is
/// kept as it is. Bytes, since an escape can spell invalid UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i..] {
            [b'+', ..] if plus_is_space => out.push(b' '),
            [b'%', h, l, ..] if hex_pair(h, l).is_some() => {
                out.extend(hex_pair(h, l));
                i += 3;
                continue;
            }
            [b, ..] => out.push(b),
            [] => break,
        }
        i += 1;
    }
    out
}

/// The byte two hex digits spell.
pub(crate) fn hex_pair(h: u8, l: u8) -> Option<u8> {
    Some(hex(h)? << 4 | hex(l)?)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_in_either_case_and_plus_only_in_forms() {
        assert_eq!(percent_decode("p%40ss%3aw0rd", false), b"p@ss:w0rd");
        assert_eq!(percent_decode("a+b%2B", true), b"a b+");
        assert_eq!(percent_decode("a+b", false), b"a+b");
        assert_eq!(percent_decode("100%", false), b"100%");
        assert_eq!(percent_decode("%zz%4", false), b"%zz%4");
        assert_eq!(percent_decode("%FF", false), [0xff]);
    }
}
