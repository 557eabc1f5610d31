//! YAML nodes → the rule model, with the errors Go's `yaml.v3` gives for Prometheus's
//! `rulefmt` structs: unknown fields, duplicate keys and type mismatches, all collected.

use crate::duration::Duration;
use crate::model::{Entry, Rule, RuleGroup, Spanned};
use crate::pos::Pos;
use crate::yaml::{parse_int, Node, NodeKind, Tag};

/// A decoding error: where, and yaml.v3's message without its `line N:` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub pos: Pos,
    pub message: String,
}

/// The Go type names promtool 2.42 prints in decoding errors.
pub const TYPE_FILE: &str = "rulefmt.RuleGroups";
const TYPE_GROUP: &str = "rulefmt.RuleGroup";
const TYPE_RULE: &str = "rulefmt.RuleNode";
pub const TYPE_GROUP_LIST: &str = "[]rulefmt.RuleGroup";
const TYPE_RULE_LIST: &str = "[]rulefmt.RuleNode";
const TYPE_STRING_MAP: &str = "map[string]string";

const GROUP_FIELDS: &[&str] = &["name", "interval", "limit", "rules"];
const RULE_FIELDS: &[&str] = &[
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];

/// yaml.v3's "cannot unmarshal" text for `node` decoded into Go type `into`.
pub fn type_error(node: &Node<'_>, into: &str) -> DecodeError {
    let value = match &node.kind {
        NodeKind::Scalar(s) => {
            if s.value.len() > 10 {
                let cut = (0..=7).rev().find(|&i| s.value.is_char_boundary(i));
                format!(" `{}...`", &s.value[..cut.unwrap_or(0)])
            } else {
                format!(" `{}`", s.value)
            }
        }
        _ => String::new(),
    };
    DecodeError {
        pos: node.pos,
        message: format!(
            "cannot unmarshal {}{} into {}",
            node.short_tag(),
            value,
            into
        ),
    }
}

/// The `(key, value)` pairs of a mapping decoded into a Go struct with `fields`, merge keys
/// (`<<`) expanded. Unknown fields and repeated keys are reported; `None` for null.
pub fn struct_entries<'n, 'a>(
    node: &'n Node<'a>,
    type_name: &str,
    fields: &[&str],
    errors: &mut Vec<DecodeError>,
) -> Option<Vec<(&'n str, &'n Node<'a>, &'n Node<'a>)>> {
    if node.is_null() {
        return None;
    }
    let NodeKind::Map(entries) = &node.kind else {
        errors.push(type_error(node, type_name));
        return None;
    };
    if repeated_keys(entries.iter().map(|(k, _)| k), errors) {
        return None;
    }
    let mut out: Vec<(&str, &Node, &Node)> = Vec::new();
    for (key, value) in merged_entries(node) {
        let Some(name) = key.as_scalar().map(|s| s.value.as_ref()) else {
            continue;
        };
        if !fields.contains(&name) {
            errors.push(DecodeError {
                pos: key.pos,
                message: format!("field {name} not found in type {type_name}"),
            });
            continue;
        }
        if let Some((_, first, _)) = out.iter().find(|(n, _, _)| *n == name) {
            errors.push(duplicate_key(name, key.pos, first.pos));
            continue;
        }
        out.push((name, key, value));
    }
    Some(out)
}

/// yaml.v3 checks a mapping for repeated keys before decoding it: each repeat is an error
/// (`mapping key "x" already defined at line N`), and a mapping with any is not decoded
/// further (no unknown-field or type errors inside it). True when there were repeats.
pub fn repeated_keys<'n, 'a: 'n>(
    keys: impl Iterator<Item = &'n Node<'a>> + Clone,
    errors: &mut Vec<DecodeError>,
) -> bool {
    let before = errors.len();
    let keys: Vec<&Node> = keys.collect();
    for (i, first) in keys.iter().enumerate() {
        let Some(name) = first.as_scalar().map(|s| &s.value) else {
            continue;
        };
        for later in &keys[i + 1..] {
            if later.as_scalar().map(|s| &s.value) == Some(name) {
                errors.push(duplicate_key(name, later.pos, first.pos));
            }
        }
    }
    errors.len() > before
}

fn duplicate_key(name: &str, pos: Pos, first: Pos) -> DecodeError {
    DecodeError {
        pos,
        message: format!(
            "mapping key {} already defined at line {}",
            tocsin_promql::go_quote(name),
            first.line
        ),
    }
}

/// A mapping's entries with `<<` merges expanded; the mapping's own keys come first and win.
fn merged_entries<'n, 'a>(node: &'n Node<'a>) -> Vec<(&'n Node<'a>, &'n Node<'a>)> {
    let NodeKind::Map(entries) = &node.kind else {
        return Vec::new();
    };
    let is_merge = |k: &Node| matches!(&k.kind, NodeKind::Scalar(s) if s.tag == Tag::Merge);
    let mut own: Vec<(&Node, &Node)> = entries
        .iter()
        .filter(|(k, _)| !is_merge(k))
        .map(|(k, v)| (k, v))
        .collect();
    for (_, source) in entries.iter().filter(|(k, _)| is_merge(k)) {
        let sources: Vec<&Node> = match &source.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![source],
        };
        for merged in sources {
            for (k, v) in merged_entries(merged) {
                let name = k.as_scalar().map(|s| &s.value);
                if !own
                    .iter()
                    .any(|(o, _)| o.as_scalar().map(|s| &s.value) == name)
                {
                    own.push((k, v));
                }
            }
        }
    }
    own
}

/// A Go `string` field: any scalar's text, null as "", `!!binary` base64-decoded (bytes that
/// are not UTF-8 are replaced, and [`is_invalid_utf8_binary`] tells validation about them).
fn string_field(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> Spanned<String> {
    let value = match &node.kind {
        NodeKind::Scalar(s) if s.tag == Tag::Null => String::new(),
        NodeKind::Scalar(s) if s.tag == Tag::Binary => match base64_decode(&s.value) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => {
                errors.push(type_error(node, "string"));
                String::new()
            }
        },
        NodeKind::Scalar(s) => s.value.to_string(),
        _ => {
            errors.push(type_error(node, "string"));
            String::new()
        }
    };
    Spanned {
        value,
        pos: node.pos,
    }
}

/// A `yaml.Node` field (`record`, `alert`, `expr` in 2.42): a scalar's raw text, else "".
fn raw_field(node: &Node<'_>) -> Spanned<String> {
    let value = node
        .as_scalar()
        .map(|s| s.value.to_string())
        .unwrap_or_default();
    Spanned {
        value,
        pos: node.pos,
    }
}

/// A `model.Duration` field: null means zero; other scalars go through `ParseDuration`.
fn duration_field(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> Option<Spanned<Duration>> {
    match &node.kind {
        NodeKind::Scalar(s) if s.tag == Tag::Null => None,
        NodeKind::Scalar(s) => match Duration::parse(&s.value) {
            Ok(d) => Some(Spanned {
                value: d,
                pos: node.pos,
            }),
            Err(message) => {
                errors.push(DecodeError {
                    pos: node.pos,
                    message,
                });
                None
            }
        },
        _ => {
            errors.push(type_error(node, "string"));
            None
        }
    }
}

/// A Go `int`: integers, and floats truncated toward zero as yaml.v3 does.
fn int_field(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> i64 {
    match &node.kind {
        NodeKind::Scalar(s) if s.tag == Tag::Null => 0,
        NodeKind::Scalar(s) if s.tag == Tag::Float => {
            match s.value.replace('_', "").parse::<f64>() {
                Ok(f) if f.is_finite() && f.abs() < 9.2e18 => f as i64,
                _ => {
                    errors.push(type_error(node, "int"));
                    0
                }
            }
        }
        NodeKind::Scalar(s) if s.tag == Tag::Int => match parse_int(&s.value) {
            Some(v) => v,
            None => {
                errors.push(type_error(node, "int"));
                0
            }
        },
        _ => {
            errors.push(type_error(node, "int"));
            0
        }
    }
}

/// A `map[string]string`, in file order, repeated keys reported.
fn string_map(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> Vec<Entry> {
    if node.is_null() {
        return Vec::new();
    }
    let NodeKind::Map(entries) = &node.kind else {
        errors.push(type_error(node, TYPE_STRING_MAP));
        return Vec::new();
    };
    if repeated_keys(entries.iter().map(|(k, _)| k), errors) {
        return Vec::new();
    }
    let mut out: Vec<Entry> = Vec::new();
    for (key, value) in merged_entries(node) {
        let name = string_field(key, errors);
        if let Some(first) = out.iter().find(|e| e.name.value == name.value) {
            errors.push(duplicate_key(&name.value, key.pos, first.name.pos));
            continue;
        }
        let value_is_utf8 = !is_invalid_utf8_binary(value);
        out.push(Entry {
            name,
            value: string_field(value, errors),
            value_is_utf8,
        });
    }
    out
}

/// Decodes one item of `groups:`. Errors are collected; the group is as complete as the
/// input allows.
pub fn decode_group(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> RuleGroup {
    let mut group = RuleGroup {
        pos: node.pos,
        ..RuleGroup::default()
    };
    let Some(entries) = struct_entries(node, TYPE_GROUP, GROUP_FIELDS, errors) else {
        return group;
    };
    for (name, _key, value) in entries {
        match name {
            "name" => group.name = string_field(value, errors),
            "interval" => {
                group.interval = duration_field(value, errors).filter(|d| !d.value.is_zero())
            }
            "limit" => group.limit = int_field(value, errors),
            "rules" => group.rules = decode_rules(value, errors),
            _ => {}
        }
    }
    group
}

fn decode_rules(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> Vec<Rule> {
    match &node.kind {
        // yaml.v3 drops null items when decoding into a slice of structs.
        NodeKind::Seq(items) => items
            .iter()
            .filter(|n| !n.is_null())
            .map(|n| decode_rule(n, errors))
            .collect(),
        _ if node.is_null() => Vec::new(),
        _ => {
            errors.push(type_error(node, TYPE_RULE_LIST));
            Vec::new()
        }
    }
}

fn decode_rule(node: &Node<'_>, errors: &mut Vec<DecodeError>) -> Rule {
    let mut rule = Rule {
        pos: node.pos,
        ..Rule::default()
    };
    let Some(entries) = struct_entries(node, TYPE_RULE, RULE_FIELDS, errors) else {
        return rule;
    };
    for (name, _key, value) in entries {
        match name {
            "record" => rule.record = Some(raw_field(value)),
            "alert" => rule.alert = Some(raw_field(value)),
            "expr" => {
                rule.expr = Some(raw_field(value));
            }
            "for" => rule.for_ = duration_field(value, errors),
            "keep_firing_for" => rule.keep_firing_for = duration_field(value, errors),
            "labels" => rule.labels = string_map(value, errors),
            "annotations" => rule.annotations = string_map(value, errors),
            _ => {}
        }
    }
    rule
}

/// Whether `node` is a `!!binary` scalar whose bytes are not UTF-8 (an invalid label value).
fn is_invalid_utf8_binary(node: &Node<'_>) -> bool {
    matches!(&node.kind, NodeKind::Scalar(s) if s.tag == Tag::Binary
        && base64_decode(&s.value).is_some_and(|b| std::str::from_utf8(&b).is_err()))
}

/// Standard base64 with padding; whitespace ignored (YAML folds `!!binary` across lines).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        let mut bits = 0u32;
        for &c in &chunk[..4 - pad] {
            bits = bits << 6 | sextet(c)?;
        }
        bits <<= 6 * pad as u32;
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::GroupStream;

    fn decode(text: &str) -> (Vec<RuleGroup>, Vec<DecodeError>) {
        let (mut stream, _) = GroupStream::open(text).expect("yaml");
        let mut errors = Vec::new();
        let mut groups = Vec::new();
        while let Some(node) = stream.next_group().expect("yaml") {
            groups.push(decode_group(&node, &mut errors));
        }
        (groups, errors)
    }

    #[test]
    fn unknown_fields_are_named_with_their_go_type() {
        let (_, errors) = decode("groups:\n- name: a\n  foo: 1\n  rules:\n  - record: x\n    expr: y\n    annotation: {}\n");
        let messages: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.pos, e.message))
            .collect();
        assert_eq!(
            messages,
            [
                "3:3: field foo not found in type rulefmt.RuleGroup",
                "7:5: field annotation not found in type rulefmt.RuleNode"
            ]
        );
    }

    #[test]
    fn type_mismatches_read_like_yaml_v3() {
        let (_, errors) = decode("groups:\n- name: a\n  limit: abc\n  rules: {}\n");
        assert_eq!(errors[0].message, "cannot unmarshal !!str `abc` into int");
        assert_eq!(
            errors[1].message,
            "cannot unmarshal !!map into []rulefmt.RuleNode"
        );
        let (_, errors) = decode("groups:\n- name: a\n  limit: abcdefghijklmnop\n");
        assert_eq!(
            errors[0].message,
            "cannot unmarshal !!str `abcdefg...` into int"
        );
    }

    #[test]
    fn base64_decodes_binary_values() {
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("/w=="), Some(vec![0xff]));
        assert_eq!(base64_decode("abc"), None);
    }

    #[test]
    fn repeated_keys_are_errors() {
        let (_, errors) = decode("groups:\n- name: a\n  name: b\n");
        assert_eq!(
            errors[0].message,
            "mapping key \"name\" already defined at line 2"
        );
        assert_eq!(errors[0].pos, Pos::new(3, 3));
    }

    #[test]
    fn a_mapping_with_a_repeated_key_reports_only_the_repeat_as_yaml_v3_does() {
        let (_, errors) = decode("groups:\n- name: a\n  foo: 1\n  name: b\n  limit: x\n");
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["mapping key \"name\" already defined at line 2"]);
    }

    #[test]
    fn raw_fields_keep_the_yaml_text() {
        let (groups, errors) =
            decode("groups:\n- name: a\n  rules:\n  - record: x\n    expr: null\n");
        assert!(errors.is_empty());
        assert_eq!(groups[0].rules[0].expr_text(), "null");
    }

    #[test]
    fn merge_keys_fill_in_missing_fields() {
        let text = "groups:\n- name: a\n  rules:\n  - &base\n    alert: A\n    expr: up == 0\n  - <<: *base\n    alert: B\n";
        let (groups, errors) = decode(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(groups[0].rules[1].alert_name(), "B");
        assert_eq!(groups[0].rules[1].expr_text(), "up == 0");
    }
}
