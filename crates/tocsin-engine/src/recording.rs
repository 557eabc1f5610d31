//! Recording rules (Prometheus 2.42 `rules/recording.go`): query result → output series.
//!
//! Each sample keeps its labels, `__name__` becomes the record name, then each rule label
//! is set literally (not a template; an empty value deletes the label). Two output series
//! with one label set, or more than `limit` of them, fail the evaluation and nothing is
//! written. Output samples carry the evaluation timestamp, which the caller knows.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::RuleError;
use crate::labels::{merge_into, BuildFingerprint, Labels, Sample};
use crate::status::RuleStatus;
use crate::time::Timestamp;

/// The definition of a recording rule, compiled for evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordingRule {
    name: Arc<str>,
    expr: Arc<str>,
    raw_labels: Labels,
    /// `__name__` and the rule labels, sorted; a rule label beats `__name__`.
    ops: Labels,
}

impl RecordingRule {
    pub fn new<'a>(
        record: &str,
        expr: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let raw_labels = Labels::new(labels);
        // `Labels::new` keeps the last of repeated names, so rule labels win.
        let ops = Labels::new(std::iter::once(("__name__", record)).chain(raw_labels.iter()));
        RecordingRule {
            name: record.into(),
            expr: expr.into(),
            raw_labels,
            ops,
        }
    }

    /// The rule as loaded from a rule file.
    pub fn from_rule(rule: &tocsin_rules::Rule) -> Self {
        Self::new(
            rule.record_name(),
            &rule.canonical_expr(),
            rule.labels
                .iter()
                .map(|e| (e.name.value.as_str(), e.value.value.as_str())),
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn labels(&self) -> &Labels {
        &self.raw_labels
    }

    /// Evaluates the rule at `ts` with its query result, appending the output series to
    /// `out` (nothing on error). Returns how many were appended; records the outcome in
    /// `status`. `limit` is the group's limit (0: none).
    pub fn eval(
        &self,
        status: &mut RuleStatus,
        ts: Timestamp,
        result: Result<&[Sample], RuleError>,
        limit: usize,
        out: &mut Vec<Sample>,
    ) -> Result<usize, RuleError> {
        let start = out.len();
        let outcome = self.step(result, limit, out);
        if outcome.is_err() {
            out.truncate(start);
        }
        status.record(ts, &outcome);
        outcome
    }

    fn step(
        &self,
        result: Result<&[Sample], RuleError>,
        limit: usize,
        out: &mut Vec<Sample>,
    ) -> Result<usize, RuleError> {
        let samples = result?;
        let mut seen: HashSet<u64, BuildFingerprint> = HashSet::default();
        let mut buf = Vec::new();
        for sample in samples {
            buf.clear();
            merge_into(
                &mut buf,
                sample.labels.raw_pairs(),
                b"",
                self.ops.raw_pairs(),
            );
            let labels = Labels::from_encoded(&buf);
            if !seen.insert(labels.fingerprint()) {
                return Err(RuleError::DuplicateRuleLabels);
            }
            out.push(Sample::new(labels, sample.value));
        }
        if limit > 0 && samples.len() > limit {
            return Err(RuleError::SeriesLimit {
                limit,
                count: samples.len(),
            });
        }
        Ok(samples.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(
        rule: &RecordingRule,
        samples: &[Sample],
        limit: usize,
    ) -> Result<Vec<String>, RuleError> {
        let mut out = vec![];
        let mut status = RuleStatus::default();
        rule.eval(
            &mut status,
            Timestamp::from_secs(60),
            Ok(samples),
            limit,
            &mut out,
        )?;
        Ok(out
            .iter()
            .map(|s| format!("{} {}", s.labels, s.value))
            .collect())
    }

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample::new(Labels::new(pairs.iter().copied()), value)
    }

    #[test]
    fn recording_output_takes_record_name_and_literal_rule_labels() {
        let rule = RecordingRule::new(
            "job:up:sum",
            "sum by (job) (up)",
            [
                ("team", "{{ not a template }}"),
                ("job", "override"),
                ("drop", ""),
            ],
        );
        let got = eval(
            &rule,
            &[sample(
                &[("__name__", "up"), ("job", "node"), ("drop", "x")],
                3.0,
            )],
            0,
        );
        assert_eq!(
            got,
            Ok(vec![
                r#"{__name__="job:up:sum", job="override", team="{{ not a template }}"} 3"#
                    .to_string()
            ])
        );
    }

    #[test]
    fn recording_rule_labels_colliding_series_is_an_error() {
        // B11 #6: labels {k: same} over two series differing only in k.
        let rule = RecordingRule::new("r", "x", [("k", "same")]);
        let samples = [sample(&[("k", "a")], 1.0), sample(&[("k", "b")], 2.0)];
        let mut out = vec![Sample::new(Labels::empty(), 0.0)];
        let mut status = RuleStatus::default();
        let err = rule
            .eval(
                &mut status,
                Timestamp::from_secs(0),
                Ok(&samples),
                0,
                &mut out,
            )
            .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "vector contains metrics with the same labelset after applying rule labels"
        );
        assert_eq!(out.len(), 1, "nothing appended");
        assert_eq!(status.health, crate::Health::Err);
    }

    #[test]
    fn recording_rule_over_limit_writes_nothing() {
        let rule = RecordingRule::new("r", "x", []);
        let samples = [sample(&[("k", "a")], 1.0), sample(&[("k", "b")], 2.0)];
        let err = eval(&rule, &samples, 1).expect_err("limit");
        assert_eq!(err.to_string(), "exceeded limit of 1 with 2 series");
        assert_eq!(eval(&rule, &samples, 2).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn recording_scalar_result_is_one_named_series() {
        let rule = RecordingRule::new("answer", "42", []);
        let samples = crate::QueryValue::Scalar(42.0)
            .into_samples()
            .expect("scalar");
        assert_eq!(
            eval(&rule, &samples, 0),
            Ok(vec![r#"{__name__="answer"} 42"#.to_string()])
        );
    }
}
