//! Percent-decoding, in its two forms. `application/x-www-form-urlencoded` query strings
//! are decoded as DingTalk's servers (and Go's `url.ParseQuery`) do: `%XX` escapes and `+`
//! for space (so an unencoded `+` in a signature breaks it); used by the sink and by
//! `/api/v1/rules?type=`. A path segment is decoded as Go's `url.PathUnescape` does: `%XX`
//! only, `+` stays `+`; used for the gateway's receiver names. Both decode with the
//! workspace's one decoder, `tocsin_wire::percent_decode`.

/// The first value of `name` in `query`, decoded.
pub fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k) == name).then(|| decode(v))
        })
        .next()
}

/// One path segment with its `%XX` escapes decoded; `None` when the result is not UTF-8
/// (no receiver can be named by it).
pub fn decode_path_segment(s: &str) -> Option<String> {
    String::from_utf8(tocsin_wire::percent_decode(s, false)).ok()
}

fn decode(s: &str) -> String {
    String::from_utf8_lossy(&tocsin_wire::percent_decode(s, true)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_decode_escapes_but_not_plus() {
        assert_eq!(decode_path_segment("%72%31").as_deref(), Some("r1"));
        assert_eq!(
            decode_path_segment("%E9%92%89%E9%92%89%20%E5%80%BC%E7%8F%AD").as_deref(),
            Some("钉钉 值班")
        );
        assert_eq!(decode_path_segment("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode_path_segment("100%").as_deref(), Some("100%"));
        assert_eq!(decode_path_segment("%FF"), None);
    }

    #[test]
    fn decodes_percent_escapes_and_plus() {
        let q = "access_token=abc&timestamp=17&sign=a%2Bb%2Fc%3D&x=a+b";
        assert_eq!(param(q, "access_token").as_deref(), Some("abc"));
        assert_eq!(param(q, "sign").as_deref(), Some("a+b/c="));
        assert_eq!(param(q, "x").as_deref(), Some("a b"));
        assert_eq!(param(q, "missing"), None);
        assert_eq!(param("access_token", "access_token").as_deref(), Some(""));
    }

    #[test]
    fn broken_escapes_are_kept_literally() {
        assert_eq!(param("a=%zz%4", "a").as_deref(), Some("%zz%4"));
        assert_eq!(param("a=%41", "a").as_deref(), Some("A"));
        assert_eq!(param("x=a+b%2", "x").as_deref(), Some("a b%2"));
    }

    #[test]
    fn the_rules_api_type_filter_is_decoded() {
        assert_eq!(param("type=alert", "type").as_deref(), Some("alert"));
        assert_eq!(
            param("a=1&type=re%63ord", "type").as_deref(),
            Some("record")
        );
        assert_eq!(param("a=1", "type"), None);
    }
}
