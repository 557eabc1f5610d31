//! The rules-directory layout of the Flink-on-ACK Prometheus pod.
//!
//! That pod loads `/prometheus/rules/alerting_rule*.yaml` and
//! `/prometheus/rules/recording_rule*.yaml` and nothing else: a file named otherwise (the
//! setup guide itself creates `recoding_rules-flink-job.yaml`) is silently never evaluated.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::model::{Rule, RuleKind};

/// Which of the pod's rule globs a file name matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckRole {
    Alerting,
    Recording,
}

pub const ALERTING_GLOB: &str = "alerting_rule*.yaml";
pub const RECORDING_GLOB: &str = "recording_rule*.yaml";

/// The role the pod's globs give `path`, or `None` when the pod would not load it.
pub fn ack_role(path: &str) -> Option<AckRole> {
    let name = Path::new(path).file_name()?.to_str()?;
    if !name.ends_with(".yaml") {
        return None;
    }
    if name.starts_with("alerting_rule") {
        Some(AckRole::Alerting)
    } else if name.starts_with("recording_rule") {
        Some(AckRole::Recording)
    } else {
        None
    }
}

/// The warning for a file the pod's globs would not load, with the name it should have
/// given the kind of rules it holds.
pub fn not_loaded_message(path: &str, alerting: usize, recording: usize) -> String {
    let mut message = format!(
        "the in-pod Prometheus would not load this file: its name matches neither \
         {ALERTING_GLOB} nor {RECORDING_GLOB}"
    );
    if let Some(name) = suggested_name(path, alerting, recording) {
        message.push_str(&format!("; rename it to {name}"));
    }
    message
}

/// A name the pod would load: the extension fixed, a misspelt prefix corrected, or the
/// right prefix added for the rules the file holds.
fn suggested_name(path: &str, alerting: usize, recording: usize) -> Option<String> {
    let name = Path::new(path).file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name);
    if stem.starts_with("alerting_rule") || stem.starts_with("recording_rule") {
        return Some(format!("{stem}.yaml"));
    }
    let (kind, prefix) = match (alerting, recording) {
        (0, 0) => return None,
        (_, 0) => ("alerting", "alerting_rule_"),
        (0, _) => ("recording", "recording_rule_"),
        _ => return None, // mixed rules belong in two files
    };
    let first_word_end = stem.find(['_', '-']).unwrap_or(stem.len());
    if edit_distance(&stem[..first_word_end], kind) <= 2 {
        return Some(format!("{kind}{}.yaml", &stem[first_word_end..]));
    }
    Some(format!("{prefix}{stem}.yaml"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A warning when a rule sits in the file for the other kind of rule.
pub fn misfiled_rule(role: AckRole, rule: &Rule) -> Option<Diagnostic> {
    let message = match (role, rule.kind()) {
        (AckRole::Alerting, RuleKind::Recording) => format!(
            "recording rule {:?} is in an alerting rule file; the in-pod layout keeps recording \
             rules in {RECORDING_GLOB}",
            rule.name()
        ),
        (AckRole::Recording, RuleKind::Alerting) => format!(
            "alerting rule {:?} is in a recording rule file; the in-pod layout keeps alerting \
             rules in {ALERTING_GLOB}",
            rule.name()
        ),
        _ => return None,
    };
    Some(Diagnostic::warning(
        crate::diag::checks::LAYOUT_MISFILED,
        Some(rule.pos),
        message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_pod_globs_are_loaded() {
        assert_eq!(ack_role("/r/alerting_rule.yaml"), Some(AckRole::Alerting));
        assert_eq!(
            ack_role("alerting_rule_flink.yaml"),
            Some(AckRole::Alerting)
        );
        assert_eq!(ack_role("recording_rules.yaml"), Some(AckRole::Recording));
        assert_eq!(ack_role("recoding_rules-flink-job.yaml"), None);
        assert_eq!(ack_role("alerting_rule_x.yml"), None);
        assert_eq!(ack_role("rules.yaml"), None);
    }

    #[test]
    fn suggests_a_name_the_pod_would_load() {
        let s = |p, a, r| suggested_name(p, a, r);
        assert_eq!(
            s("recoding_rules-flink-job.yaml", 0, 3).as_deref(),
            Some("recording_rules-flink-job.yaml")
        );
        assert_eq!(
            s("alerting_rule_x.yml", 2, 0).as_deref(),
            Some("alerting_rule_x.yaml")
        );
        assert_eq!(
            s("flink.yaml", 2, 0).as_deref(),
            Some("alerting_rule_flink.yaml")
        );
        assert_eq!(s("flink.yaml", 2, 1), None);
    }
}
