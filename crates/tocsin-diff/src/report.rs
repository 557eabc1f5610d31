//! The report `tocsin diff` produces: what was compared and found, serialized as the
//! `--format json` document (docs/diff.md, "JSON") and rendered by [`crate::render`]; and
//! the time and label formats it uses.

use std::collections::BTreeMap;

use serde::Serialize;
use tocsin_engine::Timestamp;

use crate::backtest::{Cost, ErrorTally, RecordingComparison};

/// How a rule of one set relates to the other set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unchanged,
    Changed,
    Renamed,
    Added,
    Removed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unchanged => "unchanged",
            Status::Changed => "changed",
            Status::Renamed => "renamed",
            Status::Added => "added",
            Status::Removed => "removed",
        }
    }
}

// ---------------------------------------------------------------------------------------
// The report

/// One firing interval, as reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// RFC 3339, the first slot the alert was firing at.
    pub start: String,
    /// RFC 3339, the last slot it was firing at.
    pub end: String,
}

/// One alert of one side: its labels and firing intervals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertRecord {
    pub labels: BTreeMap<String, String>,
    /// The annotations when it first fired.
    pub annotations: BTreeMap<String, String>,
    pub intervals: Vec<Interval>,
}

/// One side of a rule pair: its definition and its replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SideReport {
    pub file: String,
    pub line: usize,
    pub group: String,
    pub expr: String,
    /// The evaluation step, Prometheus notation.
    pub step: String,
    pub evaluations: u64,
    pub errors: ErrorTally,
    pub cost: Cost,
    /// Selectors that match no series over the window.
    pub empty_selectors: Vec<String>,
    /// Alerting rules: distinct alerts and firing intervals.
    pub alerts: usize,
    pub firing_intervals: usize,
    pub first_firing: Option<String>,
    pub last_firing: Option<String>,
    pub firing: Vec<AlertRecord>,
    /// Recording rules: output series over the window.
    pub series: usize,
}

/// An alert whose label set differs between the sets while it fires at the same times.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IdentityChange {
    pub old_labels: BTreeMap<String, String>,
    pub new_labels: BTreeMap<String, String>,
    /// Human-readable: `+sev="page"`, `-severity="page"`, `team: "a" → "b"`.
    pub changes: Vec<String>,
}

/// An annotation that reads differently for the same alert at the same time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnnotationChange {
    pub labels: BTreeMap<String, String>,
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One alert's firing interval present on one side only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FiringChange {
    pub labels: BTreeMap<String, String>,
    pub start: String,
    pub end: String,
}

/// How the alerts of an alerting rule pair differ.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlertDiff {
    pub added: Vec<FiringChange>,
    pub removed: Vec<FiringChange>,
    /// Distinct alerts only in one set (identity changes excluded).
    pub alerts_only_old: Vec<BTreeMap<String, String>>,
    pub alerts_only_new: Vec<BTreeMap<String, String>>,
    pub identity_changes: Vec<IdentityChange>,
    pub annotation_changes: Vec<AnnotationChange>,
    /// Firing intervals on both sides that overlap but start or end at other slots.
    pub timing_changes: usize,
}

/// One rule pair in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleDiff {
    pub group: String,
    pub name: String,
    pub kind: &'static str,
    pub status: Status,
    pub definition_changes: Vec<String>,
    pub old: Option<SideReport>,
    pub new: Option<SideReport>,
    pub alerts: Option<AlertDiff>,
    pub recording: Option<RecordingComparison>,
    /// `--config`: what this rule's alerts alone would have made the route send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<RuleNotifications>,
    pub notes: Vec<String>,
}

/// What went out over the window (`--config`), as the receivers would have seen it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotifyCounts {
    /// Notifications delivered: group flushes (first, updates, repeats, resolutions); a
    /// digest delivers every notification it lists.
    pub notifications: u64,
    /// Requests to receivers of every kind (a DingTalk message is one).
    pub requests: u64,
    /// DingTalk messages, split parts and digest parts included.
    pub dingtalk_messages: u64,
    /// Of those, parts of storm digests (the robot's rate limit was reached).
    pub digest_messages: u64,
    /// Of those, parts beyond the first of notifications too long for one message.
    pub split_parts: u64,
}

/// One alerting rule's notifications on each side, its alerts alone through the route.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleNotifications {
    pub old: Option<NotifyCounts>,
    pub new: Option<NotifyCounts>,
}

/// One destination's deliveries: `dingtalk:<receiver>` (receivers on one robot share
/// the first one's), `webhook:<receiver>`, `alertmanager:<receiver>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReceiverNotifications {
    #[serde(flatten)]
    pub counts: NotifyCounts,
    /// Requests per UTC day (`YYYY-MM-DD`).
    pub per_day: BTreeMap<String, u64>,
    /// Requests over the window scaled to a week.
    pub requests_per_week: f64,
}

/// One rule set's notifications, all its alerting rules through one pipeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SideNotifications {
    pub total: NotifyCounts,
    pub dingtalk_messages_per_week: f64,
    pub receivers: BTreeMap<String, ReceiverNotifications>,
}

/// `--config`: the notifications both sets would have sent over the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NotificationReport {
    /// The config file the `notify:` section came from.
    pub config: String,
    pub old: SideNotifications,
    pub new: SideNotifications,
    /// New minus old: firing intervals (alerts added minus removed), notifications,
    /// DingTalk messages, and those messages as a weekly rate.
    pub alerts_added: i64,
    pub notifications_added: i64,
    pub dingtalk_messages_added: i64,
    pub dingtalk_messages_added_per_week: f64,
    /// Simulations that could not run, with why.
    pub errors: Vec<String>,
}

/// Why the verdict is "regressed".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Regression {
    pub group: String,
    pub rule: String,
    /// `query_error`, `selector_matches_nothing`, `alerts_added`, `alerts_removed`,
    /// `identity_changed`.
    pub kind: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub rules_old: usize,
    pub rules_new: usize,
    pub unchanged: usize,
    pub changed: usize,
    pub renamed: usize,
    pub added: usize,
    pub removed: usize,
    pub alerts_added: usize,
    pub alerts_removed: usize,
    pub identity_changes: usize,
    pub annotation_changes: usize,
    pub query_errors_new: usize,
    pub empty_selectors_new: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostReport {
    pub old: Cost,
    pub new: Cost,
    /// What was actually sent: an expression both sets share on one grid is queried once.
    pub issued: Cost,
    /// `/api/v1/series` requests for the selector check.
    pub series_requests: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowReport {
    pub start: String,
    pub end: String,
    /// The `--step` override, if any (else each group's interval).
    pub step: Option<String>,
}

/// Everything `tocsin diff` found. Serialized as the `--format json` document
/// (docs/diff.md, "JSON").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub schema: u32,
    pub datasource: String,
    pub window: WindowReport,
    pub old_files: Vec<String>,
    pub new_files: Vec<String>,
    pub allow_added: usize,
    pub allow_removed: usize,
    pub summary: Summary,
    pub regressed: bool,
    pub regressions: Vec<Regression>,
    pub rules: Vec<RuleDiff>,
    pub cost: CostReport,
    /// `--config` only: what the notification route would have sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationReport>,
    /// `--live` only: how the live comparison ran and where states differed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
}

/// What a live comparison (`tocsin diff --live`) adds to the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveReport {
    /// `prometheus` (the server's own alerts) or `rules` (`--old`, evaluated live).
    pub baseline: &'static str,
    /// The whole run, Prometheus notation.
    pub duration: String,
    /// The first part of the run, not compared, and why it lasts that long.
    pub warm_up: String,
    pub warm_up_reason: String,
    /// Slots compared after the warm-up, per side: (group, slot) pairs evaluated or
    /// observed.
    pub slots_old: u64,
    pub slots_new: u64,
    /// (alerting rule, slot) pairs both sides saw: where states were compared.
    pub slots_compared: u64,
    /// Alerts with the same labels on both sides whose state or activeAt differ at one
    /// slot, counted per (alert, slot).
    pub state_mismatches: u64,
    /// The first mismatches (at most 20).
    pub mismatches: Vec<StateMismatch>,
    /// Groups of the server not in the candidate, left out of the comparison.
    pub groups_not_compared: Vec<String>,
}

/// One alert at one slot whose state or activeAt differs between the sets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateMismatch {
    pub group: String,
    pub rule: String,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339, the slot.
    pub at: String,
    /// `pending`/`firing` and activeAt (RFC 3339) on each side.
    pub old: (String, String),
    pub new: (String, String),
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.rfc3339_millis()
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    Timestamp::parse_rfc3339(s).map(Timestamp::unix_millis)
}

/// `{a="b", c="d"}`.
pub fn fmt_labels(l: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A label set as the report's map.
pub fn label_map_of(l: &tocsin_engine::Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Nanoseconds since the epoch of an RFC 3339 time as Prometheus's API prints it
/// (`2026-01-02T15:04:05.123456789Z`, or with a `+01:00` offset in a non-UTC zone); `None`
/// for Prometheus's zero time (`0001-01-01T00:00:00Z`, never evaluated), which does not fit.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    Timestamp::parse_rfc3339(s).map(Timestamp::as_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_parse_to_the_nanosecond_with_any_offset_and_the_zero_time_is_none() {
        let utc = parse_rfc3339_nanos("2026-01-02T15:04:05.123456789Z");
        assert_eq!(utc, Some(1_767_366_245_123_456_789));
        assert_eq!(
            parse_rfc3339_nanos("2026-01-02T16:04:05.123456789+01:00"),
            utc
        );
        assert_eq!(
            parse_rfc3339_nanos("2026-01-02T15:04:05Z"),
            Some(1_767_366_245_000_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos("yesterday"), None);
    }
}
