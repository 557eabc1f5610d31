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
    pub notes: Vec<String>,
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
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ts: Timestamp) -> String {
    let ms = ts.unix_millis();
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = tocsin_template::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || !s.ends_with('Z')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse::<i64>().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = &s[19..s.len() - 1];
    let ms = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()) => {
            let mut digits: String = f.chars().take(3).collect();
            while digits.len() < 3 {
                digits.push('0');
            }
            digits.parse::<i64>().ok()?
        }
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (the inverse of `civil_from_days`).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + ms)
}

/// `{a="b", c="d"}`.
pub fn fmt_labels(l: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}
