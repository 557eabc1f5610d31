//! Removing secrets from text a remote server sent back.
//!
//! A robot, a proxy or a load balancer may echo the request (its URL with the token, its
//! `Authorization` header) in an error page or message, in whatever encoding it saw or
//! chose. Replacing the raw value only is not enough: the token went out percent-encoded,
//! a basic-auth password went out in base64. So each secret is matched in every form it
//! may take, and each byte of it may be written in any way a URL or JSON string may write
//! it.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::percent::hex_pair;

/// What a secret is replaced by.
pub const REDACTED: &str = "***";

/// `text` with every occurrence of every secret in `secrets` replaced by [`REDACTED`]:
///
/// - the raw value, and the value with any of its bytes written as `%XX` (upper- or
///   lower-case hex), `+` for a space, or as a JSON escape (`\/`, `\u00XX`) — so
///   `tok%2Ben%2F`, `tok%2ben/` and `tok+en` (for `tok en`) all match;
/// - the value percent-encoded once more (`%252B`: an echo of an encoded URL, re-encoded);
/// - its base64 and base64url encodings at each of the three alignments it can have inside
///   a longer encoded string (a basic-auth header holds `base64(user:password)`: pass
///   `user:password` as a secret too). At most two bytes' worth of characters at either
///   end of such a match can remain, which never reveals the secret.
///
/// Empty secrets are ignored. Overlapping matches are merged into one `***`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let forms = forms(secrets);
    if forms.is_empty() {
        return text.to_owned();
    }
    let t = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for start in 0..t.len() {
        let end = forms.iter().filter_map(|f| match_at(t, start, f)).max();
        if let Some(end) = end {
            match spans.last_mut() {
                Some((_, e)) if *e >= start => *e = (*e).max(end),
                _ => spans.push((start, end)),
            }
        }
    }
    if spans.is_empty() {
        return text.to_owned();
    }
    let mut out = Vec::with_capacity(t.len());
    let mut at = 0;
    for (s, e) in spans {
        out.extend_from_slice(&t[at..s]);
        out.extend_from_slice(REDACTED.as_bytes());
        at = e;
    }
    out.extend_from_slice(&t[at..]);
    // Matches start and end on whole characters of `text` (see `match_at`), but do not
    // rely on it for a `String`.
    String::from_utf8_lossy(&out).into_owned()
}

/// The byte strings to look for.
fn forms(secrets: &[&str]) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    let mut add = |f: Vec<u8>| {
        if !f.is_empty() && !forms.contains(&f) {
            forms.push(f);
        }
    };
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let raw = s.as_bytes();
        add(raw.to_vec());
        add(percent_encode_all(raw));
        for shift in 0..3.min(raw.len()) {
            let rest = &raw[shift..];
            let whole = &rest[..rest.len() - rest.len() % 3];
            if whole.is_empty() {
                continue;
            }
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                add(engine.encode(whole).into_bytes());
            }
        }
    }
    forms
}

/// Every byte outside `A-Za-z0-9-._~` as `%XX`.
fn percent_encode_all(raw: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(raw.len() * 3);
    for &b in raw {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    out
}

/// Where the longest match of `form` starting at `text[start]` ends, if there is one.
/// A byte may be spelled more than one way at a position (`%` literally, or `%25`), so
/// every way is followed: the set of positions reached after each byte of `form`.
fn match_at(text: &[u8], start: usize, form: &[u8]) -> Option<usize> {
    let mut at = vec![start];
    let mut next = Vec::new();
    for &want in form {
        next.clear();
        for &i in &at {
            for n in units_at(text, i, want).into_iter().flatten() {
                if !next.contains(&(i + n)) {
                    next.push(i + n);
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        std::mem::swap(&mut at, &mut next);
    }
    at.into_iter().max()
}

/// The ways `text` at `i` spells the byte `want`: how many bytes each takes.
fn units_at(text: &[u8], i: usize, want: u8) -> [Option<usize>; 2] {
    let rest = text.get(i..).unwrap_or_default();
    let literal = (rest.first() == Some(&want)).then_some(1);
    let escaped = match rest {
        [b'+', ..] if want == b' ' => Some(1),
        [b'%', h, l, ..] if hex_pair(*h, *l) == Some(want) => Some(3),
        [b'\\', b'/', ..] if want == b'/' => Some(2),
        [b'\\', b'u', b'0', b'0', h, l, ..] if want < 0x80 && hex_pair(*h, *l) == Some(want) => {
            Some(6)
        }
        _ => None,
    };
    [literal, escaped]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok+en/ab=cd ef";

    fn clean(text: &str) -> String {
        redact(text, &[TOKEN])
    }

    #[test]
    fn the_raw_value_is_redacted() {
        assert_eq!(clean("token tok+en/ab=cd ef here"), "token *** here");
    }

    #[test]
    fn every_percent_encoding_is_redacted() {
        for encoded in [
            "tok%2Ben%2Fab%3Dcd+ef",
            "tok%2ben%2fab%3dcd%20ef",
            "tok%2Ben/ab%3Dcd%20ef",
            "%74%6F%6B%2B%65%6E%2F%61%62%3D%63%64%20%65%66",
            "tok%252Ben%252Fab%253Dcd%2520ef",
            r"tok+en\/ab\u003dcd ef",
        ] {
            let url = format!("https://robot/send?access_token={encoded}&x=1");
            assert_eq!(
                clean(&url),
                "https://robot/send?access_token=***&x=1",
                "{encoded}"
            );
        }
    }

    #[test]
    fn base64_at_every_alignment_is_redacted() {
        for prefix in ["", "u:", "us:", "use:"] {
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(format!("{prefix}{TOKEN}"));
                let text = format!("Authorization: Basic {encoded}");
                let out = clean(&text);
                assert!(out.contains(REDACTED), "{prefix:?}: {out}");
                // What may remain is the encoded prefix and at most two secret bytes at each end.
                let left = out.trim_start_matches("Authorization: Basic ");
                let kept = left.len() - REDACTED.len();
                assert!(kept <= (prefix.len() + 2) * 4 / 3 + 4, "{prefix:?}: {out}");
            }
        }
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        assert_eq!(
            clean("errcode 310000: keywords not in content"),
            "errcode 310000: keywords not in content"
        );
        assert_eq!(redact("abc", &[""]), "abc");
        assert_eq!(redact("ünïcode tok ünï", &["tok"]), "ünïcode *** ünï");
    }

    #[test]
    fn overlapping_secrets_become_one_mark() {
        assert_eq!(redact("xxabcdefyy", &["abcd", "cdef"]), "xx***yy");
    }
}
