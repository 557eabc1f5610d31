//! Alert state as data that outlives the process: snapshots and restore.
//!
//! Prometheus restores only `activeAt`, from its own `ALERTS_FOR_STATE` series (docs/rule-semantics.md, "Restore after a restart").
//! tocsin keeps a state file instead and restores whole alerts, so a restart neither resets
//! a `for` timer nor sends a firing alert as a new one (its `startsAt` stays `firedAt`, its
//! resend schedule goes on). State older than the outage tolerance (1h) is dropped, as in
//! Prometheus. A pending alert's `for` timer keeps running through the restart by default
//! — it fires when it would have without the restart, which is what a daemon that replaces
//! in-pod evaluation must promise; [`RestorePolicy::pause_for_during_outage`] gives
//! Prometheus's own formula instead (the outage does not count, and an alert with `for` of
//! at least the grace period (10m) fires no sooner than the grace period after the restart).
//!
//! A snapshot is keyed by group (file and name), rule (name, raw labels, a hash of the
//! expression, and index for reading), and alert (label fingerprint). Rules are matched on
//! restore as on reload, by name and labels, preferring the one whose expression is
//! unchanged.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh64::xxh64;

use crate::alert::{Alert, AlertState};
use crate::group::{GroupDef, GroupState, RuleDef, RuleState};
use crate::labels::Labels;
use crate::time::{nanos, Timestamp};

/// The version written into every state file.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Everything persisted: one entry per group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub groups: Vec<GroupSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub file: String,
    pub name: String,
    /// The slot of the group's last evaluation: when the state was last known true.
    pub saved_at: Timestamp,
    pub rules: Vec<RuleSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleSnapshot {
    pub index: usize,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// xxHash64 of the expression text, hex.
    pub expr_hash: String,
    pub alerts: Vec<AlertSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    /// The label set's fingerprint, hex (informative; recomputed on restore).
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `pending`, `firing` or `inactive`.
    pub state: String,
    /// The value as Rust prints an `f64` (`NaN` and `inf` included, which JSON lacks).
    pub value: String,
    pub active_at: Timestamp,
    pub fired_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub keep_firing_since: Option<Timestamp>,
    pub last_sent_at: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
}

/// Prometheus's restore flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestorePolicy {
    /// `--rules.alert.for-outage-tolerance`: older state is dropped.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period` (only with `pause_for_during_outage`).
    pub grace_period: Duration,
    /// Prometheus's restore: a pending alert's `for` excludes the time tocsin was down.
    /// Off by default: the timer runs on, so a restart changes no alert's firing time.
    pub pause_for_during_outage: bool,
}

impl Default for RestorePolicy {
    fn default() -> Self {
        RestorePolicy {
            outage_tolerance: Duration::from_secs(3600),
            grace_period: Duration::from_secs(600),
            pause_for_during_outage: false,
        }
    }
}

fn map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn expr_hash(expr: &str) -> String {
    format!("{:016x}", xxh64(expr.as_bytes(), 0))
}

impl GroupSnapshot {
    /// The alerting state of a group after its evaluation at `saved_at`. Rules without
    /// alerts are left out.
    pub fn capture(def: &GroupDef, state: &GroupState, saved_at: Timestamp) -> Self {
        let rules = def
            .rules
            .iter()
            .zip(state.rules.iter().map(|r| &r.state))
            .enumerate()
            .filter_map(|(index, (rule, rule_state))| match (rule, rule_state) {
                (RuleDef::Alerting(r), RuleState::Alerting(s)) if !s.is_empty() => {
                    let mut alerts: Vec<&Alert> = s.alerts().collect();
                    alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
                    Some(RuleSnapshot {
                        index,
                        name: r.name().to_string(),
                        labels: map(r.labels()),
                        expr_hash: expr_hash(r.expr()),
                        alerts: alerts.into_iter().map(AlertSnapshot::capture).collect(),
                    })
                }
                _ => None,
            })
            .collect();
        GroupSnapshot {
            file: def.file.to_string(),
            name: def.name.to_string(),
            saved_at,
            rules,
        }
    }

    /// Restores this snapshot into `state` (a fresh state of `def`) at `now`. Returns how
    /// many alerts were restored; none when the snapshot is older than the outage
    /// tolerance.
    pub fn restore_into(
        &self,
        def: &GroupDef,
        state: &mut GroupState,
        now: Timestamp,
        policy: RestorePolicy,
    ) -> usize {
        if now.since(self.saved_at) > nanos(policy.outage_tolerance) {
            return 0;
        }
        let mut unused: Vec<&RuleSnapshot> = self.rules.iter().collect();
        let mut restored = 0;
        for (rule, rule_state) in def
            .rules
            .iter()
            .zip(state.rules.iter_mut().map(|r| &mut r.state))
        {
            let (RuleDef::Alerting(r), RuleState::Alerting(s)) = (rule, rule_state) else {
                continue;
            };
            let labels = map(r.labels());
            let hash = expr_hash(r.expr());
            let same_rule = |snap: &&RuleSnapshot| snap.name == r.name() && snap.labels == labels;
            let pick = unused
                .iter()
                .position(|snap| same_rule(snap) && snap.expr_hash == hash)
                .or_else(|| unused.iter().position(same_rule));
            let Some(pick) = pick else { continue };
            let snap = unused.remove(pick);
            for a in &snap.alerts {
                if let Some(mut alert) = a.to_alert() {
                    if alert.state == AlertState::Pending && policy.pause_for_during_outage {
                        alert.active_at = restored_active_at(
                            alert.active_at,
                            self.saved_at,
                            now,
                            r.hold_duration(),
                            policy.grace_period,
                        );
                    }
                    s.insert(alert);
                    restored += 1;
                }
            }
        }
        restored
    }
}

/// Prometheus's `activeAt` for a pending alert restored at `now` that was last seen at
/// `down_at` (docs/rule-semantics.md, "Restore after a restart"): the pending time before the outage counts, the outage does not, and an
/// alert with `for >= grace` that would fire within the grace period fires exactly at its
/// end.
pub fn restored_active_at(
    active_at: Timestamp,
    down_at: Timestamp,
    now: Timestamp,
    hold: Duration,
    grace: Duration,
) -> Timestamp {
    let hold_ns = nanos(hold);
    let remaining = hold_ns - down_at.since(active_at);
    if remaining <= 0 {
        return active_at;
    }
    if hold >= grace && remaining < nanos(grace) {
        return Timestamp::from_nanos(now.as_nanos() + nanos(grace) - hold_ns);
    }
    Timestamp::from_nanos(active_at.as_nanos() + now.since(down_at))
}

impl AlertSnapshot {
    fn capture(a: &Alert) -> Self {
        AlertSnapshot {
            fingerprint: format!("{:016x}", a.labels.fingerprint()),
            labels: map(&a.labels),
            annotations: map(&a.annotations),
            state: a.state.as_str().to_string(),
            value: a.value.to_string(),
            active_at: a.active_at,
            fired_at: a.fired_at,
            resolved_at: a.resolved_at,
            keep_firing_since: a.keep_firing_since,
            last_sent_at: a.last_sent_at,
            valid_until: a.valid_until,
        }
    }

    /// The alert, or `None` for an unknown state name.
    fn to_alert(&self) -> Option<Alert> {
        let state = match self.state.as_str() {
            "pending" => AlertState::Pending,
            "firing" => AlertState::Firing,
            "inactive" => AlertState::Inactive,
            _ => return None,
        };
        Some(Alert {
            state,
            labels: Labels::new(&self.labels),
            annotations: Labels::new(&self.annotations),
            value: self.value.parse().unwrap_or(f64::NAN),
            active_at: self.active_at,
            fired_at: self.fired_at,
            resolved_at: self.resolved_at,
            keep_firing_since: self.keep_firing_since,
            last_sent_at: self.last_sent_at,
            valid_until: self.valid_until,
        })
    }
}

impl Snapshot {
    /// A snapshot of several groups, each with the slot of its last evaluation.
    pub fn capture<'a>(
        groups: impl IntoIterator<Item = (&'a GroupDef, &'a GroupState, Timestamp)>,
    ) -> Self {
        Snapshot {
            version: SNAPSHOT_VERSION,
            groups: groups
                .into_iter()
                .map(|(def, state, at)| GroupSnapshot::capture(def, state, at))
                .collect(),
        }
    }

    /// Restores every group found in the snapshot (by file and name) into its fresh
    /// state. Returns the number of alerts restored.
    pub fn restore<'a>(
        &self,
        groups: impl IntoIterator<Item = (&'a GroupDef, &'a mut GroupState)>,
        now: Timestamp,
        policy: RestorePolicy,
    ) -> usize {
        let by_key: HashMap<(&str, &str), &GroupSnapshot> = self
            .groups
            .iter()
            .map(|g| ((g.file.as_str(), g.name.as_str()), g))
            .collect();
        groups
            .into_iter()
            .filter_map(|(def, state)| {
                let snap = by_key.get(&(&*def.file, &*def.name))?;
                Some(snap.restore_into(def, state, now, policy))
            })
            .sum()
    }
}
