//! promtool's duplicate-rule lint: rules in one file with the same name and labels.
//!
//! Prometheus would evaluate both and, for recording rules, write the same series twice;
//! promtool reports it but still passes the file, and so do we, as a warning.

use std::collections::HashMap;

use crate::diag::Diagnostic;
use crate::model::Rule;
use crate::pos::Pos;

/// Collects each rule's (name, sorted labels) across a file.
#[derive(Default)]
pub struct DuplicateRules {
    first_seen: HashMap<(String, Vec<(String, String)>), Pos>,
    findings: Vec<Diagnostic>,
    reported: std::collections::HashSet<(String, Vec<(String, String)>)>,
}

impl DuplicateRules {
    pub fn observe(&mut self, rule: &Rule) {
        let mut labels: Vec<(String, String)> = rule
            .labels
            .iter()
            .map(|e| (e.name.value.clone(), e.value.value.clone()))
            .collect();
        labels.sort();
        let key = (rule.name().to_string(), labels);
        match self.first_seen.get(&key) {
            None => {
                self.first_seen.insert(key, rule.pos);
            }
            Some(first) => {
                if self.reported.insert(key.clone()) {
                    let (name, labels) = &key;
                    let labels: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    self.findings.push(Diagnostic::warning(
                        crate::diag::checks::DUPLICATE_RULES,
                        Some(rule.pos),
                        format!(
                            "duplicate rule: {name:?} with labels {{{}}} is also defined at {first}; \
                             might cause inconsistency while recording expressions",
                            labels.join(", ")
                        ),
                    ));
                }
            }
        }
    }

    pub fn into_findings(self) -> Vec<Diagnostic> {
        self.findings
    }
}
