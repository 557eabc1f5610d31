//! Types of `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/status/buildinfo` (docs/rule-semantics.md, "HTTP API shapes").
//!
//! Times stay as the RFC 3339 strings Prometheus sends (`lastEvaluation`, `activeAt`):
//! callers compare or display them, and parsing them here would add a date dependency
//! to every user of the crate.

use serde::Deserialize;

use crate::decode::parse_float;
use tocsin_core::Labels;

/// Which rules `/api/v1/rules` should list (`type=alert|record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `type=alert`.
    Alerting,
    /// `type=record`.
    Recording,
}

impl RuleKind {
    pub(crate) fn param(self) -> &'static str {
        match self {
            RuleKind::Alerting => "alert",
            RuleKind::Recording => "record",
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RulesData {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AlertsData {
    pub alerts: Vec<Alert>,
}

/// A rule group as Prometheus reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// The rule file path as configured (globbed).
    pub file: String,
    /// Evaluation interval, seconds.
    pub interval: f64,
    /// Alert/series limit: a Go `int`, and only a limit above 0 is enforced, so Prometheus
    /// reports `limit: -1` from a rule file as `-1`.
    #[serde(default)]
    pub limit: i64,
    /// Duration of the last evaluation, seconds.
    #[serde(default)]
    pub evaluation_time: f64,
    /// RFC 3339 start of the last evaluation (`0001-01-01T00:00:00Z` before the first).
    #[serde(default)]
    pub last_evaluation: String,
    /// Rules in file order.
    pub rules: Vec<Rule>,
}

/// An alerting or recording rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Rule {
    /// `"type":"alerting"`.
    Alerting(AlertingRule),
    /// `"type":"recording"`.
    Recording(RecordingRule),
}

impl Rule {
    /// The `alert:` or `record:` name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.name,
            Rule::Recording(r) => &r.name,
        }
    }

    /// The normalised PromQL, as the server prints it.
    pub fn query(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.query,
            Rule::Recording(r) => &r.query,
        }
    }

    /// Its health.
    pub fn health(&self) -> RuleHealth {
        match self {
            Rule::Alerting(r) => r.health,
            Rule::Recording(r) => r.health,
        }
    }

    /// Its last error, if any.
    pub fn last_error(&self) -> Option<&str> {
        match self {
            Rule::Alerting(r) => r.last_error.as_deref(),
            Rule::Recording(r) => r.last_error.as_deref(),
        }
        .filter(|e| !e.is_empty())
    }

    /// RFC 3339 start of its last evaluation.
    pub fn last_evaluation(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.last_evaluation,
            Rule::Recording(r) => &r.last_evaluation,
        }
    }
}

/// `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleHealth {
    /// `ok`.
    Ok,
    /// `err`.
    Err,
    /// `unknown` (or anything else).
    #[serde(other)]
    Unknown,
}

/// Alert or alerting-rule `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// `inactive`.
    Inactive,
    /// `pending`.
    Pending,
    /// `firing`.
    Firing,
    /// `unknown` (newer servers, before the first evaluation) or anything else.
    #[serde(other)]
    Unknown,
}

/// An alerting rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRule {
    /// `alert:` name.
    pub name: String,
    /// Normalised PromQL.
    pub query: String,
    /// `for`, seconds.
    #[serde(default)]
    pub duration: f64,
    /// `keep_firing_for`, seconds.
    #[serde(default)]
    pub keep_firing_for: f64,
    /// Label templates.
    #[serde(default)]
    pub labels: Labels,
    /// Annotation templates.
    #[serde(default)]
    pub annotations: Labels,
    /// The rule's state (most severe of its alerts).
    pub state: AlertState,
    /// Pending and firing alerts.
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// Health.
    pub health: RuleHealth,
    /// Last error, if any.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub evaluation_time: f64,
    /// RFC 3339.
    #[serde(default)]
    pub last_evaluation: String,
}

/// A recording rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRule {
    /// `record:` name.
    pub name: String,
    /// Normalised PromQL.
    pub query: String,
    /// Labels (omitted by 2.42 when empty).
    #[serde(default)]
    pub labels: Labels,
    /// Health.
    pub health: RuleHealth,
    /// Last error, if any.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub evaluation_time: f64,
    /// RFC 3339.
    #[serde(default)]
    pub last_evaluation: String,
}

/// An active (pending or firing) alert.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Labels including `alertname` (no external labels).
    pub labels: Labels,
    /// Expanded annotations.
    #[serde(default)]
    pub annotations: Labels,
    /// `pending` or `firing`.
    pub state: AlertState,
    /// RFC 3339 (ns) evaluation time it became active.
    #[serde(default)]
    pub active_at: Option<String>,
    /// RFC 3339, only while kept firing.
    #[serde(default)]
    pub keep_firing_since: Option<String>,
    /// The value as sent: Go `%e` form (`"1e+00"`, `"NaN"`, `"+Inf"`).
    pub value: String,
}

impl Alert {
    /// [`Alert::value`] as a number (`None` if it does not parse).
    pub fn value_f64(&self) -> Option<f64> {
        parse_float(&self.value)
    }
}

/// `/api/v1/status/buildinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// e.g. `2.42.0+ds`.
    pub version: String,
    /// Git revision or distribution revision.
    #[serde(default)]
    pub revision: String,
    /// Branch.
    #[serde(default)]
    pub branch: String,
    /// Build user.
    #[serde(default)]
    pub build_user: String,
    /// Build date.
    #[serde(default)]
    pub build_date: String,
    /// Go version.
    #[serde(default)]
    pub go_version: String,
}

impl BuildInfo {
    /// `(major, minor, patch)` of [`BuildInfo::version`], ignoring suffixes like `+ds` or
    /// `-rc.0`.
    pub fn semver(&self) -> Option<(u64, u64, u64)> {
        let core = self
            .version
            .trim_start_matches('v')
            .split(['+', '-'])
            .next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
    }
}
