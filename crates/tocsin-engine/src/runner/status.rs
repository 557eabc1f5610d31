//! Read-only views for the HTTP API and `/metrics`: what `/api/v1/rules`, `/api/v1/alerts`
//! and the rule-manager metrics of Prometheus report, as plain values. JSON encoding is
//! the server's business; the helpers here cover the formats that are easy to get wrong
//! ([`format_value`]; times print with `Timestamp::rfc3339_nano`).

use std::time::Duration;

use crate::alert::{Alert, AlertState};
use crate::labels::Labels;
use crate::status::Health;
use crate::time::Timestamp;

/// One group as `/api/v1/rules` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupStatus {
    pub name: String,
    /// The file string as loaded (the globbed path).
    pub file: String,
    pub interval: Duration,
    /// 0: no limit.
    pub limit: usize,
    /// Duration of the last iteration (`evaluationTime`).
    pub evaluation_time: Duration,
    /// Wall time the last iteration started (`lastEvaluation`; `None` before the first,
    /// which Prometheus prints as `0001-01-01T00:00:00Z`).
    pub last_evaluation: Option<Timestamp>,
    /// The slot of the last iteration (not in Prometheus's API; exact for comparisons).
    pub last_slot: Option<Timestamp>,
    pub rules: Vec<RuleReport>,
}

/// `alerting` or `recording`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleType {
    Alerting,
    Recording,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Alerting => "alerting",
            RuleType::Recording => "recording",
        }
    }
}

/// One rule as `/api/v1/rules` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleReport {
    pub kind: RuleType,
    /// Alert name or record name.
    pub name: String,
    /// The expression as written (Prometheus prints its normalised form).
    pub query: String,
    /// `for` (alerting only; zero for recording rules).
    pub duration: Duration,
    pub keep_firing_for: Duration,
    /// Raw (unexpanded) labels.
    pub labels: Labels,
    /// Raw annotations (empty for recording rules).
    pub annotations: Labels,
    /// Pending and firing alerts, sorted by labels (alerting only).
    pub alerts: Vec<AlertStatus>,
    pub health: Health,
    pub last_error: Option<String>,
    pub evaluation_time: Duration,
    /// Wall time the rule's last evaluation started.
    pub last_evaluation: Option<Timestamp>,
    /// The highest state among the rule's alerts (`inactive` when none; alerting only).
    pub state: Option<AlertState>,
}

/// One alert as `/api/v1/alerts` (and the `alerts` of a rule) lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertStatus {
    pub labels: Labels,
    pub annotations: Labels,
    pub state: AlertState,
    /// The slot time the label set appeared (ns precision).
    pub active_at: Timestamp,
    pub keep_firing_since: Option<Timestamp>,
    pub value: f64,
}

impl AlertStatus {
    pub(crate) fn of(a: &Alert) -> Self {
        AlertStatus {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            state: a.state,
            active_at: a.active_at,
            keep_firing_since: a.keep_firing_since,
            value: a.value,
        }
    }

    /// `value` as the API prints it (Go's `strconv.FormatFloat(v, 'e', -1, 64)`).
    pub fn value_string(&self) -> String {
        format_value(self.value)
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, exponent signed and at
/// least two digits (`1e+00`, `2.5e+00`, `1.234567891e+06`, `1e-07`, `NaN`, `+Inf`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Counters and gauges of one group (Prometheus's `prometheus_rule_group_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMetrics {
    /// `<file>;<name>`, the `rule_group` label.
    pub key: String,
    pub interval: Duration,
    pub rules: usize,
    /// `prometheus_rule_group_iterations_total` (run or skipped).
    pub iterations: u64,
    /// `prometheus_rule_group_iterations_missed_total`.
    pub missed_iterations: u64,
    /// `prometheus_rule_evaluations_total`.
    pub evaluations: u64,
    /// `prometheus_rule_evaluation_failures_total`.
    pub evaluation_failures: u64,
    /// `prometheus_rule_group_last_duration_seconds`.
    pub last_duration: Duration,
    /// `prometheus_rule_group_last_evaluation_timestamp_seconds` (wall time).
    pub last_evaluation: Option<Timestamp>,
    /// `prometheus_rule_group_last_evaluation_samples`.
    pub last_samples: usize,
}

/// Rules by health and alerts by state, engine-wide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub ok: usize,
    pub err: usize,
    pub unknown: usize,
}

/// Everything tocsin's `/metrics` says about the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineMetrics {
    pub groups: Vec<GroupMetrics>,
    pub rules_by_health: HealthCounts,
    pub alerts_pending: usize,
    pub alerts_firing: usize,
    /// `prometheus_config_last_reload_successful`: `None` before the first `apply`.
    pub last_reload_successful: Option<bool>,
    /// `prometheus_config_last_reload_success_timestamp_seconds` (wall time).
    pub last_reload_success: Option<Timestamp>,
    /// State-file writes that failed since start.
    pub state_write_failures: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_like_go_format_float_e() {
        let cases = [
            (1.0, "1e+00"),
            (0.0, "0e+00"),
            (2.5, "2.5e+00"),
            (1234567.891, "1.234567891e+06"),
            (1e-7, "1e-07"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (-0.5, "-5e-01"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(v), want, "{v}");
        }
    }
}
