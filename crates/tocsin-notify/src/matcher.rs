//! Label matchers as Alertmanager's routes use them: `=`, `!=`, `=~`, `!~`, with regexes
//! anchored at both ends (`^(?:re)$`), written either as structured `match`/`match_re`
//! maps or as strings in the `matchers` list (`severity="critical"`, `job=~"a|b"`).

use std::fmt;

use regex::Regex;

use crate::alert::Labels;

/// The comparison a matcher makes: PromQL's four operators, the same in Alertmanager.
pub use tocsin_core::MatchOp;

/// One label matcher. A missing label matches as the empty string, as in Alertmanager
/// (so `foo!="bar"` matches alerts without `foo`, and `foo=~".*"` matches everything).
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
    /// What the regex amounts to when it is one of the common plain shapes, checked
    /// without running it (routing 100,000 alerts spent most of its time in the regex
    /// engine on `job=~"flink-.*"`).
    plain: Option<Plain>,
}

/// Anchored regexes that are plain text: `abc`, `abc.*`, `a|b|c`.
#[derive(Clone, Debug)]
enum Plain {
    /// `^(?:abc)$` and `^(?:a|b|c)$`: equal to one of these.
    OneOf(Vec<String>),
    /// `^(?:abc.*)$`: starts with this, and the rest has no newline (`.` does not match
    /// one).
    Prefix(String),
}

impl Plain {
    fn of(re: &str) -> Option<Plain> {
        // Regex syntax characters; any other character matches itself.
        let literal = |s: &str| {
            !s.contains([
                '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
            ])
        };
        if let Some(prefix) = re.strip_suffix(".*") {
            return literal(prefix).then(|| Plain::Prefix(prefix.to_owned()));
        }
        let alternatives: Vec<&str> = re.split('|').collect();
        alternatives
            .iter()
            .all(|a| literal(a))
            .then(|| Plain::OneOf(alternatives.iter().map(|a| (*a).to_owned()).collect()))
    }

    fn is_match(&self, v: &str) -> bool {
        match self {
            Plain::OneOf(values) => values.iter().any(|x| x == v),
            Plain::Prefix(p) => v
                .strip_prefix(p.as_str())
                .is_some_and(|rest| !rest.contains('\n')),
        }
    }
}

/// A matcher that does not parse or whose regex does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad matcher {input:?}: {reason}")]
pub struct MatcherError {
    pub input: String,
    pub reason: String,
}

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, MatcherError> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError {
                    input: format!("{name}{}{value:?}", op.as_str()),
                    reason: e.to_string(),
                })?,
            ),
            _ => None,
        };
        let plain = regex.as_ref().and_then(|_| Plain::of(value));
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
            plain,
        })
    }

    /// Parses `name<op>"value"` (value quoted with Go escapes, or unquoted), surrounding
    /// whitespace allowed — the syntax of a route's `matchers` list.
    pub fn parse(input: &str) -> Result<Matcher, MatcherError> {
        let bad = |reason: &str| MatcherError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let s = input.trim();
        let name_len = s
            .find(|c: char| matches!(c, '=' | '!' | '~') || c.is_whitespace())
            .ok_or_else(|| bad("no operator (expected =, !=, =~ or !~)"))?;
        let name = &s[..name_len];
        if name.is_empty() {
            return Err(bad("no label name"));
        }
        let rest = s[name_len..].trim_start();
        let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
            (MatchOp::Regex, r)
        } else if let Some(r) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (MatchOp::Equal, r)
        } else {
            return Err(bad("no operator (expected =, !=, =~ or !~)"));
        };
        let rest = rest.trim();
        let value = if let Some(q) = rest.strip_prefix('"') {
            let inner = q
                .strip_suffix('"')
                .ok_or_else(|| bad("unterminated quoted value"))?;
            unquote(inner).ok_or_else(|| bad("invalid escape in quoted value"))?
        } else {
            if rest.contains('"') {
                return Err(bad("stray quote in value"));
            }
            rest.to_owned()
        };
        Matcher::new(name, op, &value)
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        if let Some(p) = &self.plain {
            return p.is_match(v) == (self.op == MatchOp::Regex);
        }
        match (&self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // `new` always compiles a regex for the regex ops.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// Undoes `\"`, `\\`, `\n`, `\t` escapes.
fn unquote(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                '"' => '"',
                '\\' => '\\',
                'n' => '\n',
                't' => '\t',
                _ => return None,
            }),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;

    fn m(s: &str) -> Matcher {
        Matcher::parse(s).unwrap()
    }

    #[test]
    fn string_syntax_parses_all_four_operators() {
        assert_eq!(m(r#"severity="critical""#).op, MatchOp::Equal);
        assert_eq!(m(r#"severity!="info""#).op, MatchOp::NotEqual);
        assert_eq!(m(r#"job=~"node|flink""#).op, MatchOp::Regex);
        assert_eq!(m(r#" job !~ "test.*" "#).op, MatchOp::NotRegex);
        assert_eq!(m("team=ops").value, "ops");
        assert_eq!(m(r#"x="a\"b""#).value, "a\"b");
    }

    #[test]
    fn malformed_matchers_are_errors_naming_the_input() {
        for bad in ["severity", r#"="x""#, r#"a="x"#, r#"a=~"(""#] {
            let e = Matcher::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
    }

    #[test]
    fn regexes_are_anchored_at_both_ends() {
        let l = labels([("job", "node-exporter")]);
        assert!(!m(r#"job=~"node""#).matches(&l));
        assert!(m(r#"job=~"node.*""#).matches(&l));
        assert!(m(r#"job!~"node""#).matches(&l));
        assert!(m(r#"job=~"flink|node-exporter""#).matches(&l));
    }

    /// The regexes checked without the regex engine match exactly what the engine
    /// matches.
    #[test]
    fn plain_regexes_match_as_the_regex_engine_does() {
        let values = [
            "",
            "flink",
            "flink-",
            "flink-job-7",
            "flink-job\n7",
            "xflink-job",
            "FLINK-job",
            "stream",
            "batch",
            "stream|batch",
            "streams",
            "é",
            "éa",
            "a\n",
        ];
        for re in [
            "flink-.*",
            ".*",
            "stream|batch",
            "flink",
            "",
            "é.*",
            "a|",
            "|a",
            "stream|batch|é",
        ] {
            let plain = Plain::of(re).unwrap_or_else(|| panic!("{re} is plain"));
            let engine = Regex::new(&format!("^(?:{re})$")).unwrap();
            for v in values {
                assert_eq!(plain.is_match(v), engine.is_match(v), "{re:?} on {v:?}");
                let l = labels([("job", v)]);
                let eq = Matcher::new("job", MatchOp::Regex, re).unwrap();
                let ne = Matcher::new("job", MatchOp::NotRegex, re).unwrap();
                assert_eq!(eq.matches(&l), engine.is_match(v), "{re:?} on {v:?}");
                assert_eq!(ne.matches(&l), !engine.is_match(v), "{re:?} on {v:?}");
            }
        }
        for re in [
            "flink-.+", "a.b", "(a|b)", "[ab]", "a?", "x.*y", "\\d", "(?i)a", "a{2}",
        ] {
            assert!(Plain::of(re).is_none(), "{re}");
        }
    }

    #[test]
    fn a_missing_label_matches_as_empty() {
        let l = labels([("job", "x")]);
        assert!(m(r#"team!="ops""#).matches(&l));
        assert!(m(r#"team="""#).matches(&l));
        assert!(!m(r#"team=~".+""#).matches(&l));
    }
}
