//! Alerting rules and the alert state machine (Prometheus 2.42 `rules/alerting.go`).
//!
//! One evaluation is [`AlertingRule::eval`]: a deterministic step from (the rule's
//! [`AlertingState`], the slot time `ts`, the query result) to the next state. No clock, no
//! I/O: the caller runs the query, passes its result, and afterwards asks for the alerts to
//! send ([`AlertingState::send`]) and the `ALERTS`/`ALERTS_FOR_STATE` series
//! ([`AlertingRule::alerts_series`]).
//!
//! Per evaluation (docs/rule-semantics.md, "One evaluation"):
//! 1. A failed query (or a duplicate label set; docs/rule-semantics.md, "One evaluation") returns the error and changes no
//!    alert: nothing fires, nothing resolves, nothing is sent.
//! 2. Each sample becomes a candidate: its labels minus `__name__`, each rule label set to
//!    its expanded value (an empty value deletes the label), then `alertname`. Annotations
//!    are expanded. Two samples with one label set fail the evaluation.
//! 3. A candidate whose label set has a pending or firing alert updates that alert's value
//!    and annotations; any other candidate starts a new pending alert at `ts`.
//! 4. Every alert absent from the result: a firing one within `keep_firing_for` stays
//!    firing; otherwise pending ones are deleted, firing ones become inactive with
//!    `resolvedAt = ts`, and inactive ones are deleted 15 minutes after resolution.
//!    Pending alerts that have been active for `for` fire.
//! 5. More than `limit` active alerts drops all of them and fails the evaluation.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use xxhash_rust::xxh64::xxh64;

use crate::error::RuleError;
use crate::labels::{merge_into, push_pair, BuildFingerprint, Labels, RawIter, Sample};
use crate::status::RuleStatus;
use crate::template::{expand_or_error, is_template, Expander, TemplateData};
use crate::time::{nanos, Timestamp};

/// The metric name of the synthetic series of active alerts.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The metric name of the series holding each active alert's `activeAt`.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";
/// How long a resolved alert is kept (and re-sent as resolved) before it is deleted.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);
/// Prometheus's `--rules.alert.resend-delay` default.
pub const DEFAULT_RESEND_DELAY: Duration = Duration::from_secs(60);

/// The state of one alert; ordered `Inactive < Pending < Firing` as the API's rule state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: a label set the rule's expression returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub state: AlertState,
    /// Identity: sample labels minus `__name__`, plus expanded rule labels and `alertname`.
    pub labels: Labels,
    pub annotations: Labels,
    /// The sample value at the last evaluation that saw this alert.
    pub value: f64,
    /// When the label set (re)appeared; the `for` timer runs from here.
    pub active_at: Timestamp,
    pub fired_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub last_sent_at: Option<Timestamp>,
    /// The `endsAt` a firing alert is sent with: a few intervals after the last send.
    pub valid_until: Option<Timestamp>,
    /// When a firing alert first went missing while `keep_firing_for` holds it.
    pub keep_firing_since: Option<Timestamp>,
}

impl Alert {
    /// Whether the alert is sent after the evaluation at `ts` (docs/rule-semantics.md, "Sending and endsAt"): never while pending;
    /// at once after firing or resolving; then whenever the last send is more than
    /// `resend_delay` before `ts` (strictly).
    pub fn needs_sending(&self, ts: Timestamp, resend_delay: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(resolved) = self.resolved_at {
            if self.last_sent_at.is_none_or(|sent| resolved > sent) {
                return true;
            }
        }
        match self.last_sent_at {
            None => true,
            Some(sent) => sent + resend_delay < ts,
        }
    }

    /// The notification's `startsAt`: when the alert fired (not when it became pending).
    pub fn starts_at(&self) -> Option<Timestamp> {
        self.fired_at
    }

    /// The notification's `endsAt`: the resolution time, else `valid_until`.
    pub fn ends_at(&self) -> Option<Timestamp> {
        self.resolved_at.or(self.valid_until)
    }
}

/// A label or annotation of a rule: its name and its value, a template or a literal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TemplateEntry {
    name: Box<str>,
    text: Box<str>,
    template: bool,
}

impl TemplateEntry {
    fn new(name: &str, text: &str) -> Self {
        TemplateEntry {
            name: name.into(),
            text: text.into(),
            template: is_template(text),
        }
    }
}

/// The definition of an alerting rule, compiled for evaluation.
#[derive(Clone, Debug)]
pub struct AlertingRule {
    name: Arc<str>,
    expr: Arc<str>,
    hold: Duration,
    keep_firing_for: Duration,
    /// The rule's labels as written (identity of the rule; base of `ALERTS`).
    raw_labels: Labels,
    /// The labels applied to each sample, sorted by name: the rule's labels without
    /// `alertname`, and `alertname` itself, which always wins.
    label_ops: Vec<TemplateEntry>,
    /// Annotations sorted by name.
    annotations: Vec<TemplateEntry>,
    /// The annotations when none of them is a template, shared by all alerts.
    literal_annotations: Option<Labels>,
}

impl PartialEq for AlertingRule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.expr == other.expr
            && self.hold == other.hold
            && self.keep_firing_for == other.keep_firing_for
            && self.raw_labels == other.raw_labels
            && self.annotations == other.annotations
    }
}

impl AlertingRule {
    /// A rule from its parts; labels and annotations in any order (names are unique in a
    /// rule file).
    pub fn new<'a>(
        name: &str,
        expr: &str,
        hold: Duration,
        keep_firing_for: Duration,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let raw_labels = Labels::new(labels);
        let mut label_ops: Vec<TemplateEntry> = raw_labels
            .iter()
            .filter(|(n, _)| *n != "alertname")
            .map(|(n, v)| TemplateEntry::new(n, v))
            .collect();
        label_ops.push(TemplateEntry {
            name: "alertname".into(),
            text: name.into(),
            template: false,
        });
        label_ops.sort_by(|a, b| a.name.cmp(&b.name));

        let annotation_set = Labels::new(annotations);
        let annotations: Vec<TemplateEntry> = annotation_set
            .iter()
            .map(|(n, v)| TemplateEntry::new(n, v))
            .collect();
        let literal_annotations = annotations
            .iter()
            .all(|a| !a.template)
            .then_some(annotation_set);
        AlertingRule {
            name: name.into(),
            expr: expr.into(),
            hold,
            keep_firing_for,
            raw_labels,
            label_ops,
            annotations,
            literal_annotations,
        }
    }

    /// The rule as loaded from a rule file.
    pub fn from_rule(rule: &tocsin_rules::Rule) -> Self {
        Self::new(
            rule.alert_name(),
            &rule.canonical_expr(),
            rule.for_duration().as_std(),
            rule.keep_firing_for_duration().as_std(),
            rule.labels
                .iter()
                .map(|e| (e.name.value.as_str(), e.value.value.as_str())),
            rule.annotations
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

    /// `for`.
    pub fn hold_duration(&self) -> Duration {
        self.hold
    }

    pub fn keep_firing_for(&self) -> Duration {
        self.keep_firing_for
    }

    /// The labels as written in the rule file (unexpanded).
    pub fn labels(&self) -> &Labels {
        &self.raw_labels
    }

    /// The annotations as written in the rule file (unexpanded).
    pub fn annotations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.annotations.iter().map(|a| (&*a.name, &*a.text))
    }

    /// The notification's `generatorURL`: `<external_url>/graph?g0.expr=…&g0.tab=1`.
    /// Rules loaded from files hold the expression in Prometheus's printed form
    /// ([`tocsin_rules::Rule::canonical_expr`]), so the URL is the one Prometheus sends.
    pub fn generator_url(&self, external_url: &str) -> String {
        format!(
            "{external_url}/graph?g0.expr={}&g0.tab=1",
            query_escape(&self.expr)
        )
    }

    /// Heap bytes owned by the definition (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        let arc = 2 * std::mem::size_of::<usize>();
        let entries = |v: &[TemplateEntry]| {
            std::mem::size_of_val(v) + v.iter().map(|e| e.name.len() + e.text.len()).sum::<usize>()
        };
        arc + self.name.len()
            + arc
            + self.expr.len()
            + self.raw_labels.heap_bytes()
            + entries(&self.label_ops)
            + entries(&self.annotations)
            + self
                .literal_annotations
                .as_ref()
                .map_or(0, Labels::heap_bytes)
    }
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The alerts of one alerting rule and the outcome of its last evaluation.
#[derive(Clone, Debug, Default)]
pub struct AlertingState {
    /// Alerts by label-set fingerprint. Like Prometheus, two label sets are the same alert
    /// when their fingerprints are equal.
    active: HashMap<u64, Alert, BuildFingerprint>,
    pub status: RuleStatus,
}

impl AlertingState {
    /// Every alert the rule holds, resolved ones included, in no particular order.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Pending and firing alerts (what `/api/v1/alerts` lists).
    pub fn active_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.resolved_at.is_none())
    }

    /// The alert with this label set, if the rule holds one.
    pub fn get(&self, labels: &Labels) -> Option<&Alert> {
        self.active
            .get(&labels.fingerprint())
            .filter(|a| a.labels == *labels)
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The rule's state for the API: the highest state among its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Puts an alert back (restore from a snapshot, reload carry-over).
    pub fn insert(&mut self, alert: Alert) {
        self.active.insert(alert.labels.fingerprint(), alert);
    }

    /// Takes all alerts out, leaving the state empty.
    pub fn drain(&mut self) -> impl Iterator<Item = Alert> + '_ {
        self.active.drain().map(|(_, a)| a)
    }

    /// Decides, after a successful evaluation at `ts`, which alerts go out (docs/rule-semantics.md, "Sending and endsAt"), marks
    /// them sent (`last_sent_at = ts`, `valid_until = ts + 4 × max(resend_delay,
    /// interval)`) and hands each to `notify`. Returns how many were sent.
    pub fn send(
        &mut self,
        ts: Timestamp,
        resend_delay: Duration,
        interval: Duration,
        mut notify: impl FnMut(&Alert),
    ) -> usize {
        let delta = resend_delay.max(interval);
        let valid_until = ts + delta.saturating_mul(4);
        let mut sent = 0;
        for alert in self.active.values_mut() {
            if alert.needs_sending(ts, resend_delay) {
                alert.last_sent_at = Some(ts);
                alert.valid_until = Some(valid_until);
                notify(alert);
                sent += 1;
            }
        }
        sent
    }

    /// Heap bytes behind the state: the map's table and each alert's label sets (shared
    /// annotation sets counted once per alert, an upper bound).
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u64, Alert)>() + 1;
        self.active.capacity() * slot
            + self
                .active
                .values()
                .map(|a| a.labels.heap_bytes() + a.annotations.heap_bytes())
                .sum::<usize>()
    }
}

/// Buffers one evaluation reuses; keep one per evaluating thread.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Candidate label sets, encoded back to back.
    buf: Vec<u8>,
    candidates: Vec<Candidate>,
    seen: HashSet<u64, BuildFingerprint>,
    /// Expanded values of templated rule labels, by index into `label_ops`.
    values: Vec<String>,
    /// One candidate's annotations, encoded.
    annotations: Vec<u8>,
}

#[derive(Debug)]
struct Candidate {
    start: usize,
    end: usize,
    fingerprint: u64,
    value: f64,
    /// `None`: the same as the live alert's, which keeps its own (no allocation).
    annotations: Option<Labels>,
}

impl AlertingRule {
    /// Evaluates the rule at slot time `ts` with the result of its query. Returns the number
    /// of active (pending or firing) alerts. Records the outcome in `state.status`.
    ///
    /// `limit` is the group's limit (0: none); `expander` expands label and annotation
    /// templates.
    pub fn eval(
        &self,
        state: &mut AlertingState,
        ts: Timestamp,
        result: Result<&[Sample], RuleError>,
        limit: usize,
        expander: &dyn Expander,
        scratch: &mut Scratch,
    ) -> Result<usize, RuleError> {
        let outcome = self.step(state, ts, result, limit, expander, scratch);
        state.status.record(ts, &outcome);
        outcome
    }

    fn step(
        &self,
        state: &mut AlertingState,
        ts: Timestamp,
        result: Result<&[Sample], RuleError>,
        limit: usize,
        expander: &dyn Expander,
        scratch: &mut Scratch,
    ) -> Result<usize, RuleError> {
        // 1. A failed query leaves every alert as it was.
        let samples = result?;

        // 2. Candidates, before touching any alert: a duplicate must change nothing.
        self.candidates(samples, ts, expander, &state.active, scratch)?;

        // 3. Merge the candidates into the alerts.
        let Scratch {
            buf,
            candidates,
            seen,
            ..
        } = scratch;
        for c in candidates.drain(..) {
            match state.active.get_mut(&c.fingerprint) {
                Some(alert) if alert.state != AlertState::Inactive => {
                    alert.value = c.value;
                    if let Some(annotations) = c.annotations {
                        alert.annotations = annotations;
                    }
                }
                _ => {
                    let labels = Labels::from_encoded_with(&buf[c.start..c.end], c.fingerprint);
                    tracing::debug!(alertname = %self.name, labels = %labels, "alert pending");
                    state.active.insert(
                        c.fingerprint,
                        Alert {
                            state: AlertState::Pending,
                            labels,
                            // `None` only ever means "as the live alert has them".
                            annotations: c.annotations.unwrap_or_default(),
                            value: c.value,
                            active_at: ts,
                            fired_at: None,
                            resolved_at: None,
                            last_sent_at: None,
                            valid_until: None,
                            keep_firing_since: None,
                        },
                    );
                }
            }
        }

        // 4. Resolve, delete, keep firing, fire.
        let hold = nanos(self.hold);
        let keep_for = nanos(self.keep_firing_for);
        let retention = nanos(RESOLVED_RETENTION);
        let mut active = 0;
        state.active.retain(|fingerprint, alert| {
            if seen.contains(fingerprint) {
                alert.keep_firing_since = None;
            } else {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && keep_for > 0 {
                    let since = *alert.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts.since(since) < keep_for;
                }
                let delete = alert.state == AlertState::Pending
                    || alert
                        .resolved_at
                        .is_some_and(|resolved| ts.since(resolved) > retention);
                if delete {
                    if alert.state == AlertState::Pending {
                        tracing::debug!(alertname = %self.name, labels = %alert.labels, "alert inactive (was pending)");
                    }
                    return false;
                }
                if !keep_firing {
                    if alert.state != AlertState::Inactive {
                        alert.state = AlertState::Inactive;
                        alert.resolved_at = Some(ts);
                        tracing::debug!(alertname = %self.name, labels = %alert.labels, "alert inactive (resolved)");
                    }
                    return true;
                }
            }
            active += 1;
            if alert.state == AlertState::Pending && ts.since(alert.active_at) >= hold {
                alert.state = AlertState::Firing;
                alert.fired_at = Some(ts);
                tracing::debug!(alertname = %self.name, labels = %alert.labels, "alert firing");
            }
            true
        });

        // 5. Too many alerts: drop them all, silently.
        if limit > 0 && active > limit {
            state.active.clear();
            return Err(RuleError::AlertLimit {
                limit,
                count: active,
            });
        }
        Ok(active)
    }

    /// Fills `scratch` with one candidate per sample; fails on a repeated label set.
    fn candidates(
        &self,
        samples: &[Sample],
        ts: Timestamp,
        expander: &dyn Expander,
        active: &HashMap<u64, Alert, BuildFingerprint>,
        scratch: &mut Scratch,
    ) -> Result<(), RuleError> {
        scratch.buf.clear();
        scratch.candidates.clear();
        scratch.seen.clear();
        scratch
            .values
            .resize_with(self.label_ops.len(), String::new);
        for sample in samples {
            let data = TemplateData {
                rule_name: &self.name,
                labels: &sample.labels,
                value: sample.value,
                ts,
            };
            for (op, value) in self.label_ops.iter().zip(scratch.values.iter_mut()) {
                if op.template {
                    *value = expand_or_error(expander, &data, &op.text);
                }
            }
            let overrides = self
                .label_ops
                .iter()
                .zip(scratch.values.iter())
                .map(|(op, value)| {
                    let v = if op.template {
                        value.as_str()
                    } else {
                        &op.text
                    };
                    (op.name.as_bytes(), v.as_bytes())
                });
            let start = scratch.buf.len();
            merge_into(
                &mut scratch.buf,
                sample.labels.raw_pairs(),
                b"__name__",
                overrides,
            );
            let end = scratch.buf.len();
            let fingerprint = xxh64(&scratch.buf[start..end], 0);
            if !scratch.seen.insert(fingerprint) {
                return Err(RuleError::DuplicateAlertLabels);
            }
            let live = active
                .get(&fingerprint)
                .filter(|a| a.state != AlertState::Inactive);
            let annotations = match &self.literal_annotations {
                Some(shared) if live.is_some_and(|a| a.annotations.same_allocation(shared)) => None,
                Some(shared) => Some(shared.clone()),
                None => {
                    // Annotations are sorted and unique by construction: encode in place.
                    let buf = &mut scratch.annotations;
                    buf.clear();
                    for a in &self.annotations {
                        if a.template {
                            let v = expand_or_error(expander, &data, &a.text);
                            push_pair(buf, a.name.as_bytes(), v.as_bytes());
                        } else {
                            push_pair(buf, a.name.as_bytes(), a.text.as_bytes());
                        }
                    }
                    match live {
                        Some(a) if a.annotations.as_bytes() == buf.as_slice() => None,
                        _ => Some(Labels::from_encoded(buf)),
                    }
                }
            };
            scratch.candidates.push(Candidate {
                start,
                end,
                fingerprint,
                value: sample.value,
                annotations,
            });
        }
        Ok(())
    }

    /// The synthetic series of the rule's pending and firing alerts (docs/rule-semantics.md, "ALERTS and ALERTS_FOR_STATE"), appended to
    /// `out`: `ALERTS{…, alertstate} 1` and `ALERTS_FOR_STATE{…} <activeAt seconds>`, to
    /// be written at the evaluation's timestamp. Labels start from the rule's raw labels,
    /// overwritten by the alert's (so a label whose template expanded to "" shows its raw
    /// text here, as in Prometheus). Prometheus writes them only once the rule's `for`
    /// state has been restored; the caller decides when to ask.
    pub fn alerts_series(&self, state: &AlertingState, out: &mut Vec<Sample>) {
        let mut alert_part = Vec::new();
        let mut buf = Vec::new();
        for alert in state.active.values() {
            if alert.state == AlertState::Inactive {
                continue;
            }
            for (metric, alertstate) in [
                (ALERTS_METRIC, Some(alert.state.as_str())),
                (ALERTS_FOR_STATE_METRIC, None),
            ] {
                let mut extra = vec![(&b"__name__"[..], metric.as_bytes())];
                if let Some(s) = alertstate {
                    extra.push((b"alertstate", s.as_bytes()));
                }
                extra.sort();
                alert_part.clear();
                merge_into(
                    &mut alert_part,
                    alert.labels.raw_pairs(),
                    b"alertstate",
                    extra.into_iter(),
                );
                buf.clear();
                merge_into(
                    &mut buf,
                    self.raw_labels.raw_pairs().filter(|(_, v)| !v.is_empty()),
                    b"",
                    RawIter::over(&alert_part),
                );
                let value = match alertstate {
                    Some(_) => 1.0,
                    None => alert.active_at.unix_seconds() as f64,
                };
                out.push(Sample::new(Labels::from_encoded(&buf), value));
            }
        }
    }
}

#[cfg(test)]
mod tests;
