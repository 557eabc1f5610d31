//! The semantic checks `promtool check rules` (Prometheus 2.42, `RuleNode.Validate`) runs on
//! each rule, in its order and wording, but with a position on every finding.
//!
//! Validation of one group is a pure function, so groups can be checked on any thread.

use crate::diag::{Diagnostic, RuleRef};
use crate::model::{Entry, Rule, RuleGroup};
use crate::names::{is_valid_label_name, is_valid_metric_name};
use crate::pos::Pos;

/// Every finding about the rules of `group` (group-level checks that need the whole file,
/// such as repeated names, are the caller's).
pub fn validate_group(group: &RuleGroup) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, rule) in group.rules.iter().enumerate() {
        let rule_ref = || RuleRef {
            group: group.name.value.clone(),
            index: i + 1,
            name: rule.name().to_string(),
        };
        for diagnostic in validate_rule(rule) {
            out.push(diagnostic.in_rule(rule_ref()));
        }
    }
    out
}

/// The findings about one rule, without the group/rule reference.
pub fn validate_rule(rule: &Rule) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let record = rule.record_name();
    let alert = rule.alert_name();
    let record_pos = rule.record.as_ref().map_or(rule.pos, |r| r.pos);

    if !record.is_empty() && !alert.is_empty() {
        out.push(Diagnostic::error(
            record_pos,
            "only one of 'record' and 'alert' must be set",
        ));
    }
    if record.is_empty() && alert.is_empty() {
        out.push(Diagnostic::error(
            rule.pos,
            "one of 'record' or 'alert' must be set",
        ));
    }

    match &rule.expr {
        Some(expr) if !expr.value.is_empty() => {
            if let Err(e) = tocsin_promql::parse(&expr.value) {
                out.push(Diagnostic::error(
                    expr.pos,
                    format!("could not parse expression: {e}"),
                ));
            }
        }
        other => out.push(Diagnostic::error(
            other.as_ref().map_or(rule.pos, |e| e.pos),
            "field 'expr' must be set in rule",
        )),
    }

    if !record.is_empty() {
        if !rule.annotations.is_empty() {
            out.push(Diagnostic::error(
                record_pos,
                "invalid field 'annotations' in recording rule",
            ));
        }
        if !rule.for_duration().is_zero() {
            out.push(Diagnostic::error(
                record_pos,
                "invalid field 'for' in recording rule",
            ));
        }
        if !rule.keep_firing_for_duration().is_zero() {
            out.push(Diagnostic::error(
                record_pos,
                "invalid field 'keep_firing_for' in recording rule",
            ));
        }
        if !is_valid_metric_name(record) {
            out.push(Diagnostic::error(
                record_pos,
                format!("invalid recording rule name: {record}"),
            ));
        }
    }

    for label in &rule.labels {
        let name = &label.name.value;
        if !is_valid_label_name(name) || name == "__name__" {
            out.push(Diagnostic::error(
                label.name.pos,
                format!("invalid label name: {name}"),
            ));
        }
        if !label.value_is_utf8 {
            out.push(Diagnostic::error(
                label.value.pos,
                format!("invalid label value: {}", label.value.value),
            ));
        }
    }
    for annotation in &rule.annotations {
        let name = &annotation.name.value;
        if !is_valid_label_name(name) {
            out.push(Diagnostic::error(
                annotation.name.pos,
                format!("invalid annotation name: {name}"),
            ));
        }
    }

    // Only alerting rules' labels and annotations are templates.
    if !alert.is_empty() {
        for (what, entries) in [("label", &rule.labels), ("annotation", &rule.annotations)] {
            for entry in entries {
                if let Err(e) = check_template(alert, entry) {
                    out.push(Diagnostic::error(
                        e.pos,
                        format!(
                            "{what} {}: {}",
                            tocsin_promql::go_quote(&entry.name.value),
                            e.message
                        ),
                    ));
                }
            }
        }
    }
    out
}

struct TemplateFinding {
    pos: Pos,
    message: String,
}

/// Parses an alert label/annotation value as Prometheus does (`__alert_<name>`, with
/// `$labels`, `$externalLabels`, `$externalURL` and `$value` defined). The finding sits at
/// the value; Go's message names the line inside the template, and we add the column.
fn check_template(alert: &str, entry: &Entry) -> Result<(), TemplateFinding> {
    let name = format!("__alert_{alert}");
    tocsin_template::parse_alert_template(&name, &entry.value.value)
        .map(|_| ())
        .map_err(|e| {
            let mut message = e.to_string();
            if let Some(column) = e.column() {
                message.push_str(&format!(" (template line {}, column {column})", e.line()));
            }
            TemplateFinding {
                pos: entry.value.pos,
                message,
            }
        })
}
