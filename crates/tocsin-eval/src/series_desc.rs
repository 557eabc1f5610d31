//! Prometheus's series description ("expanding notation"), used by the engine tests'
//! `load` blocks and by promtool's `input_series`:
//! `metric{label="value"} 1 2 _ stale 1+2x3 5-1x2 _x4`.
//!
//! `a+bxn` expands to the n+1 values a, a+b, …, a+nb (summed step by step as Prometheus
//! does), `axn` to n+1 copies of a, `_` to one omitted value and `_xn` to n omitted values;
//! `stale` is the staleness marker.

use crate::labels::{Labels, METRIC_NAME};
use crate::storage::stale_nan;

/// A parsed series description: its labels and one entry per step (`None` when omitted).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// A series description that does not parse: the byte offset in the input where it went
/// wrong and the reason (`Display`), worded as Prometheus's lexer where it matters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SeriesDescError {
    pub offset: usize,
    pub message: String,
}

impl SeriesDescError {
    /// As Prometheus's `ParseErr` prints it for a one-line input: `1:COL: parse error: MSG`.
    pub fn prometheus_text(&self) -> String {
        format!("1:{}: parse error: {}", self.offset + 1, self.message)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, SeriesDescError> {
    err_at(0, msg)
}

fn err_at<T>(offset: usize, msg: impl Into<String>) -> Result<T, SeriesDescError> {
    Err(SeriesDescError {
        offset,
        message: msg.into(),
    })
}

/// The lexer's error for a character it does not expect inside braces (Go's `%q` of it).
fn unexpected_in_braces<T>(input: &str, i: usize) -> Result<T, SeriesDescError> {
    let c = input[i..].chars().next().unwrap_or(' ');
    let quoted = match c {
        '\'' => r"'\''".to_owned(),
        '\\' => r"'\\'".to_owned(),
        c if c.is_ascii_graphic() || c == ' ' => format!("'{c}'"),
        c => format!("'\\u{:04x}'", c as u32),
    };
    err_at(i, format!("unexpected character inside braces: {quoted}"))
}

/// Parses `metric{labels} values...`.
pub fn parse_series_desc(input: &str) -> Result<SeriesDesc, SeriesDescError> {
    let (labels, rest) = parse_metric(input.trim())?;
    let mut values = Vec::new();
    for item in rest.split_whitespace() {
        parse_item(item, &mut values)?;
    }
    Ok(SeriesDesc { labels, values })
}

/// Parses only the metric part (`name{labels}` or `{labels}`) of a description, returning
/// the labels and the unparsed rest.
pub fn parse_metric(input: &str) -> Result<(Labels, &str), SeriesDescError> {
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut labels = Labels::empty();
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
    {
        i += 1;
    }
    if i > 0 {
        if bytes[0].is_ascii_digit() {
            return err(format!(
                "unexpected number {:?} in series description",
                &input[..i]
            ));
        }
        labels.set(METRIC_NAME, input[..i].to_owned());
    }
    if i < bytes.len() && bytes[i] == b'{' {
        i += 1;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() {
                return err_at(i, "unexpected end of input inside braces");
            }
            if bytes[i] == b'}' {
                i += 1;
                break;
            }
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let name = &input[start..i];
            if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
                return unexpected_in_braces(input, start);
            }
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] != b'=' {
                return err(format!("expected \"=\" after label name {name:?}"));
            }
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let q = match bytes.get(i) {
                Some(&q) if q == b'"' || q == b'\'' || q == b'`' => q,
                _ => return err(format!("expected a quoted label value for {name:?}")),
            };
            let vstart = i;
            i += 1;
            while i < bytes.len() && bytes[i] != q {
                if bytes[i] == b'\\' && q != b'`' {
                    i += 1;
                }
                i += 1;
            }
            if i >= bytes.len() {
                return err("unterminated quoted string");
            }
            i += 1;
            let value = tocsin_promql::go_unquote(&input[vstart..i]);
            labels.set(name, value);
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                Some(c) if !c.is_ascii_alphabetic() && *c != b'_' => {
                    return unexpected_in_braces(input, i)
                }
                _ => {
                    return err_at(
                        i,
                        "unexpected identifier in label matching, expected \",\" or \"}\"",
                    )
                }
            }
        }
    }
    if labels.is_empty() && i == 0 {
        return err("missing metric name or labels in series description");
    }
    let rest = &input[i..];
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return err(format!("unexpected {:?} after the metric", rest));
    }
    Ok((labels, rest))
}

fn parse_item(item: &str, out: &mut Vec<Option<f64>>) -> Result<(), SeriesDescError> {
    if let Some(rest) = item.strip_prefix('_') {
        if rest.is_empty() {
            out.push(None);
            return Ok(());
        }
        let n = parse_times(rest, item)?;
        out.extend(std::iter::repeat_n(None, n as usize));
        return Ok(());
    }
    let (first, rest) = parse_value(item, item)?;
    if rest.is_empty() {
        out.push(Some(first));
        return Ok(());
    }
    if rest.starts_with('x') {
        let n = parse_times(rest, item)?;
        out.extend(std::iter::repeat_n(Some(first), n as usize + 1));
        return Ok(());
    }
    if rest.starts_with(['+', '-']) {
        let (step, rest) = parse_value(rest, item)?;
        let n = parse_times(rest, item)?;
        let mut v = first;
        for _ in 0..=n {
            out.push(Some(v));
            v += step;
        }
        return Ok(());
    }
    err(format!("invalid series value {item:?}"))
}

/// `xN` with an unsigned integer N.
fn parse_times(s: &str, item: &str) -> Result<u64, SeriesDescError> {
    match s.strip_prefix('x').map(str::parse::<u64>) {
        Some(Ok(n)) => Ok(n),
        _ => err(format!("invalid repetition in series values {item:?}")),
    }
}

/// A value (`stale`, a number, or a signed number), returning it and what follows.
fn parse_value<'a>(s: &'a str, item: &str) -> Result<(f64, &'a str), SeriesDescError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut sign = 1.0;
    if let Some(&c) = b.first() {
        if c == b'+' || c == b'-' {
            if c == b'-' {
                sign = -1.0;
            }
            i = 1;
        }
    }
    let start = i;
    if i < b.len() && b[i].is_ascii_alphabetic() {
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = &s[start..i];
        let v = match word.to_ascii_lowercase().as_str() {
            "stale" if start == 0 && word == "stale" => stale_nan(),
            "inf" => f64::INFINITY,
            "nan" => f64::NAN,
            _ => {
                return err(format!(
                    "unexpected identifier {word:?} in series values, expected number or \"stale\""
                ))
            }
        };
        return Ok((if sign < 0.0 { -v } else { v }, &s[i..]));
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == start {
        return err(format!("invalid series value {item:?}"));
    }
    match tocsin_promql::parse_number(&s[start..i]) {
        Ok(v) => Ok((sign * v, &s[i..])),
        Err(e) => err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(s: &str) -> Vec<Option<f64>> {
        parse_series_desc(s).unwrap().values
    }

    #[test]
    fn expanding_notation_expands_like_prometheus() {
        assert_eq!(
            vals("m 1+2x3"),
            vec![Some(1.0), Some(3.0), Some(5.0), Some(7.0)]
        );
        assert_eq!(vals("m 5-1x2"), vec![Some(5.0), Some(4.0), Some(3.0)]);
        assert_eq!(vals("m 7x2"), vec![Some(7.0); 3]);
        assert_eq!(vals("m _x3 1 _"), vec![None, None, None, Some(1.0), None]);
        assert_eq!(vals("m -1 +2"), vec![Some(-1.0), Some(2.0)]);
        assert_eq!(
            vals("m 1e3 -Inf"),
            vec![Some(1000.0), Some(f64::NEG_INFINITY)]
        );
        let stale = vals("m stale")[0].unwrap();
        assert!(crate::is_stale_nan(stale));
    }

    #[test]
    fn metric_and_labels_are_parsed_in_all_quote_styles() {
        let d = parse_series_desc(r#"a:b{x="1", y='2', z=`3`,} 1"#).unwrap();
        assert_eq!(
            d.labels.to_string(),
            r#"{__name__="a:b", x="1", y="2", z="3"}"#
        );
        let d = parse_series_desc(r#"{__name__="m"} 1"#).unwrap();
        assert_eq!(d.labels.get(METRIC_NAME), "m");
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse_series_desc("m 1+x").is_err());
        assert!(parse_series_desc("m foo").is_err());
        assert!(parse_series_desc("m{a=1} 1").is_err());
    }
}
