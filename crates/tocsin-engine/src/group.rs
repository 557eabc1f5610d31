//! A rule group: its compiled rules, one record per rule of everything that changes as it
//! runs ([`Rule`]), the one evaluation step of a rule ([`GroupDef::eval_rule`]), and the
//! records carried over a reload ([`GroupState::carry_over`]) (Prometheus 2.42
//! `rules/manager.go`; docs/rule-semantics.md, "Reload" and "Order within a group").
//!
//! Rules run sequentially in file order with the same `ts`; a failing rule never stops the
//! next one. The query is the caller's: the runner awaits its datasource between rules and
//! calls [`GroupDef::eval_rule`] with each result, and the tests call that same function
//! with canned results, so they exercise exactly what the daemon runs (stale markers,
//! external labels, generator URLs included).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tocsin_rules::{RuleGroup, RuleKind};

use crate::alert::{AlertingRule, AlertingState, Scratch};
use crate::error::{ErrorKind, RuleError};
use crate::expand::RuleTemplates;
use crate::labels::{Labels, Sample};
use crate::outgoing::OutgoingAlert;
use crate::recording::RecordingRule;
use crate::schedule::GroupSchedule;
use crate::stale::StaleTracker;
use crate::status::RuleStatus;
use crate::template::Expander;
use crate::time::Timestamp;

/// One compiled rule.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleDef {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl RuleDef {
    pub fn from_rule(rule: &tocsin_rules::Rule) -> Self {
        match rule.kind() {
            RuleKind::Alerting => RuleDef::Alerting(AlertingRule::from_rule(rule)),
            RuleKind::Recording => RuleDef::Recording(RecordingRule::from_rule(rule)),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            RuleDef::Alerting(r) => r.name(),
            RuleDef::Recording(r) => r.name(),
        }
    }

    pub fn expr(&self) -> &str {
        match self {
            RuleDef::Alerting(r) => r.expr(),
            RuleDef::Recording(r) => r.expr(),
        }
    }

    /// The rule's labels as written.
    pub fn labels(&self) -> &Labels {
        match self {
            RuleDef::Alerting(r) => r.labels(),
            RuleDef::Recording(r) => r.labels(),
        }
    }

    /// An empty state for this rule.
    pub fn new_state(&self) -> RuleState {
        match self {
            RuleDef::Alerting(_) => RuleState::Alerting(AlertingState::default()),
            RuleDef::Recording(_) => RuleState::Recording(RuleStatus::default()),
        }
    }
}

/// The state of one rule: its alerts, or just its status.
#[derive(Clone, Debug)]
pub enum RuleState {
    Alerting(AlertingState),
    Recording(RuleStatus),
}

impl RuleState {
    pub fn status(&self) -> &RuleStatus {
        match self {
            RuleState::Alerting(s) => &s.status,
            RuleState::Recording(s) => s,
        }
    }
}

/// Manager-wide settings of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOptions {
    /// `--rules.alert.resend-delay` (1m).
    pub resend_delay: Duration,
    /// Whether to append `ALERTS`/`ALERTS_FOR_STATE` (Prometheus: once restored; tocsin
    /// restores from its state file, so always).
    pub alerts_series: bool,
    /// `global.external_labels`: added to each outgoing alert that lacks them.
    pub external_labels: Labels,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            resend_delay: crate::alert::DEFAULT_RESEND_DELAY,
            alerts_series: true,
            external_labels: Labels::empty(),
        }
    }
}

/// What one rule's evaluation produced.
#[derive(Debug, Default)]
pub struct RuleOutcome {
    /// Why it failed (also in the rule's status); `None`: it succeeded.
    pub error: Option<RuleError>,
    /// The alerts to (re)send, in Prometheus's resend rhythm.
    pub alerts: Vec<OutgoingAlert>,
    /// Output series: recording results or `ALERTS`/`ALERTS_FOR_STATE`, then stale
    /// markers for the rule's series that are gone.
    pub samples: Vec<Sample>,
}

impl RuleOutcome {
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A compiled rule group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDef {
    /// The file string exactly as Prometheus would hold it (the globbed path): it feeds
    /// the slot hash.
    pub file: Arc<str>,
    pub name: Arc<str>,
    pub interval: Duration,
    /// 0: no limit.
    pub limit: usize,
    pub rules: Vec<RuleDef>,
}

impl GroupDef {
    /// A group from a loaded rule file; `default_interval` is the global
    /// `evaluation_interval`.
    pub fn from_group(file: &str, group: &RuleGroup, default_interval: Duration) -> Self {
        GroupDef {
            file: file.into(),
            name: group.name.value.as_str().into(),
            interval: group
                .interval
                .as_ref()
                .map(|i| i.value.as_std())
                .filter(|d| !d.is_zero())
                .unwrap_or(default_interval),
            limit: usize::try_from(group.limit).unwrap_or(0),
            rules: group.rules.iter().map(RuleDef::from_rule).collect(),
        }
    }

    /// `file;name`, the group's key in the manager and in metrics.
    pub fn key(&self) -> String {
        format!("{};{}", self.file, self.name)
    }

    pub fn schedule(&self) -> GroupSchedule {
        GroupSchedule::new(&self.file, &self.name, self.interval)
    }

    /// The one evaluation step of rule `i` at slot `ts`, with the result of its query
    /// (docs/rule-semantics.md, "One evaluation", "Sending and endsAt", "Staleness
    /// markers"): the state machine (or recording output), then, on success, the alerts to
    /// send (with external labels and generator URL), `ALERTS`/`ALERTS_FOR_STATE` if
    /// `options.alerts_series`, and stale markers. Pure and synchronous: `expander` must
    /// not wait on I/O (the runner renders query templates beforehand). The rule's run
    /// timings are the caller's to record.
    // Inputs (state, rule, time, result, templates, options, buffers) are distinct seams.
    #[allow(clippy::too_many_arguments)]
    pub fn eval_rule(
        &self,
        state: &mut GroupState,
        i: usize,
        ts: Timestamp,
        result: Result<&[Sample], RuleError>,
        expander: &dyn Expander,
        options: &EvalOptions,
        scratch: &mut Scratch,
    ) -> RuleOutcome {
        let mut out = RuleOutcome::default();
        let (Some(def), Some(rule)) = (self.rules.get(i), state.rules.get_mut(i)) else {
            out.error = Some(RuleError::query(ErrorKind::Config, "no such rule"));
            return out;
        };
        let outcome = match (def, &mut rule.state) {
            (RuleDef::Alerting(r), RuleState::Alerting(s)) => {
                let outcome = r.eval(s, ts, result, self.limit, expander, scratch);
                if outcome.is_ok() {
                    let url = &rule.generator_url;
                    s.send(ts, options.resend_delay, self.interval, |a| {
                        out.alerts
                            .push(OutgoingAlert::of(a, ts, &options.external_labels, url));
                    });
                    if options.alerts_series {
                        r.alerts_series(s, &mut out.samples);
                    }
                }
                outcome.map(|_| ())
            }
            (RuleDef::Recording(r), RuleState::Recording(s)) => r
                .eval(s, ts, result, self.limit, &mut out.samples)
                .map(|_| ()),
            // A state built for another definition: start that rule afresh.
            (def, slot) => {
                *slot = def.new_state();
                Err(RuleError::query(
                    ErrorKind::Config,
                    "rule state did not match its definition",
                ))
            }
        };
        match outcome {
            Ok(()) => {
                let mut markers = Vec::new();
                rule.stale.update(&out.samples, &mut markers);
                out.samples.extend(markers);
            }
            Err(e) => out.error = Some(e),
        }
        out
    }
}

/// One rule as it runs: what was compiled from its definition (`GroupDef::rules` at the
/// same index) — templates and generator URL — and everything that changes: its alerts and
/// health, the series it wrote last (for stale markers), and when its last evaluation
/// started and how long it took.
#[derive(Clone, Debug)]
pub struct Rule {
    pub templates: Arc<RuleTemplates>,
    /// `<external_url>/graph?g0.expr=…&g0.tab=1` (empty for recording rules).
    pub generator_url: Arc<str>,
    pub state: RuleState,
    pub stale: StaleTracker,
    /// Wall time the rule's last evaluation started (Prometheus's `lastEvaluation`).
    pub last_evaluation: Option<Timestamp>,
    pub evaluation_time: Duration,
}

impl Rule {
    /// A rule that never ran: templates compiled, no alerts, health `unknown`.
    pub fn new(def: &RuleDef, external_url: &str) -> Self {
        let (templates, generator_url) = match def {
            RuleDef::Alerting(a) => (RuleTemplates::compile(a), a.generator_url(external_url)),
            RuleDef::Recording(_) => (RuleTemplates::default(), String::new()),
        };
        Rule {
            templates: Arc::new(templates),
            generator_url: generator_url.into(),
            state: def.new_state(),
            stale: StaleTracker::default(),
            last_evaluation: None,
            evaluation_time: Duration::ZERO,
        }
    }
}

/// The record of every rule of a group, in rule order.
#[derive(Clone, Debug, Default)]
pub struct GroupState {
    pub rules: Vec<Rule>,
}

/// How Prometheus matches rules across a reload: the name and the raw labels.
fn rule_key(rule: &RuleDef) -> (&str, &Labels) {
    (rule.name(), rule.labels())
}

impl GroupState {
    /// The records of `def`'s rules before any evaluation; `external_url` for the
    /// generator URLs.
    pub fn new(def: &GroupDef, external_url: &str) -> Self {
        GroupState {
            rules: def
                .rules
                .iter()
                .map(|r| Rule::new(r, external_url))
                .collect(),
        }
    }

    /// The records a reloaded group starts with (docs/rule-semantics.md, "Reload"): `fresh`
    /// (the new definition's records, compiled) with what each rule carries from `old`.
    /// An unchanged group (`old_def == new_def`) keeps running as it is, so callers only
    /// get here for changed groups. Rules are matched by name and labels, repeated ones
    /// first to first; a matched rule keeps its alerts (`activeAt` and all) and status when
    /// it is still of the same kind, and its stale tracking and timings. Series of old
    /// rules without a match get stale markers, appended to `markers`.
    pub fn carry_over(
        old_def: &GroupDef,
        old: GroupState,
        new_def: &GroupDef,
        mut fresh: GroupState,
        markers: &mut Vec<Sample>,
    ) -> GroupState {
        let mut by_key: HashMap<(&str, &Labels), Vec<Rule>> = HashMap::new();
        // Reverse so `pop` hands out the first of repeated rules first.
        for (def, rule) in old_def.rules.iter().zip(old.rules).rev() {
            by_key.entry(rule_key(def)).or_default().push(rule);
        }
        for (def, rule) in new_def.rules.iter().zip(fresh.rules.iter_mut()) {
            let Some(carried) = by_key.get_mut(&rule_key(def)).and_then(Vec::pop) else {
                continue;
            };
            if let (RuleDef::Alerting(_), RuleState::Alerting(_))
            | (RuleDef::Recording(_), RuleState::Recording(_)) = (def, &carried.state)
            {
                rule.state = carried.state;
            }
            rule.stale = carried.stale;
            rule.last_evaluation = carried.last_evaluation;
            rule.evaluation_time = carried.evaluation_time;
        }
        for mut rule in by_key.into_values().flatten() {
            rule.stale.retire(markers);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertState;
    use crate::outgoing::OutgoingState;
    use crate::template::Verbatim;

    fn alerting(name: &str, expr: &str, hold_min: u64, labels: &[(&str, &str)]) -> RuleDef {
        RuleDef::Alerting(AlertingRule::new(
            name,
            expr,
            Duration::from_secs(hold_min * 60),
            Duration::ZERO,
            labels.iter().copied(),
            [],
        ))
    }

    fn group(rules: Vec<RuleDef>) -> GroupDef {
        GroupDef {
            file: "rules.yml".into(),
            name: "g".into(),
            interval: Duration::from_secs(60),
            limit: 0,
            rules,
        }
    }

    fn up(instance: &str) -> Sample {
        Sample::new(
            Labels::new([("__name__", "up"), ("instance", instance)]),
            0.0,
        )
    }

    /// One iteration as the runner does it: each rule's canned result through
    /// [`GroupDef::eval_rule`], in order. Returns the alerts sent as `name labels`.
    fn run_with(
        def: &GroupDef,
        state: &mut GroupState,
        minute: i64,
        options: &EvalOptions,
        answer: impl Fn(&str) -> Result<Vec<Sample>, RuleError>,
        out: &mut Vec<Sample>,
    ) -> Vec<OutgoingAlert> {
        let mut sent = Vec::new();
        let mut scratch = Scratch::default();
        let ts = Timestamp::from_secs(minute * 60);
        for (i, rule) in def.rules.iter().enumerate() {
            let result = answer(rule.expr());
            let result = result.as_deref().map_err(Clone::clone);
            let outcome = def.eval_rule(state, i, ts, result, &Verbatim, options, &mut scratch);
            sent.extend(outcome.alerts);
            out.extend(outcome.samples);
        }
        sent
    }

    fn run(
        def: &GroupDef,
        state: &mut GroupState,
        minute: i64,
        out: &mut Vec<Sample>,
    ) -> Vec<String> {
        let answer = |expr: &str| match expr {
            "fail" => Err(RuleError::query(ErrorKind::Server, "boom")),
            _ => Ok(vec![up("a")]),
        };
        run_with(def, state, minute, &EvalOptions::default(), answer, out)
            .iter()
            .map(|a| format!("{} {}", a.labels.get("alertname").unwrap_or(""), a.labels))
            .collect()
    }

    #[test]
    fn group_runs_rules_in_order_and_a_failure_does_not_stop_the_next() {
        let def = group(vec![
            alerting("Broken", "fail", 0, &[]),
            RuleDef::Recording(RecordingRule::new("up:copy", "up", [])),
            alerting("Down", "up == 0", 0, &[]),
        ]);
        let mut state = GroupState::new(&def, "");
        let mut out = Vec::new();
        let sent = run(&def, &mut state, 0, &mut out);
        assert_eq!(sent, [r#"Down {alertname="Down", instance="a"}"#]);
        let names: Vec<_> = out
            .iter()
            .filter_map(|s| s.labels.get("__name__"))
            .collect();
        assert_eq!(names, ["up:copy", "ALERTS", "ALERTS_FOR_STATE"]);
        let health: Vec<_> = state
            .rules
            .iter()
            .map(|r| r.state.status().health.as_str())
            .collect();
        assert_eq!(health, ["err", "ok", "ok"]);
    }

    #[test]
    fn sent_alerts_carry_external_labels_the_alert_lacks_and_the_generator_url() {
        let def = group(vec![alerting("Down", "up == 0", 0, &[("env", "rule")])]);
        let mut state = GroupState::new(&def, "http://tocsin:9099");
        let options = EvalOptions {
            external_labels: Labels::new([("env", "prod"), ("region", "eu")]),
            ..EvalOptions::default()
        };
        let sent = run_with(
            &def,
            &mut state,
            0,
            &options,
            |_| Ok(vec![up("a")]),
            &mut Vec::new(),
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].labels.to_string(),
            r#"{alertname="Down", env="rule", instance="a", region="eu"}"#
        );
        assert_eq!(
            sent[0].generator_url,
            "http://tocsin:9099/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
        );
        assert_eq!(sent[0].state, OutgoingState::Firing);
    }

    #[test]
    fn series_a_rule_stops_producing_get_one_stale_marker() {
        let def = group(vec![RuleDef::Recording(RecordingRule::new(
            "up:copy",
            "up",
            [],
        ))]);
        let mut state = GroupState::new(&def, "");
        let both = |_: &str| Ok(vec![up("a"), up("b")]);
        let only_b = |_: &str| Ok(vec![up("b")]);
        let opts = EvalOptions::default();
        run_with(&def, &mut state, 0, &opts, both, &mut Vec::new());
        let mut out = Vec::new();
        run_with(&def, &mut state, 1, &opts, only_b, &mut out);
        let stale: Vec<_> = out
            .iter()
            .filter(|s| crate::stale::is_stale_marker(s.value))
            .map(|s| s.labels.get("instance").unwrap_or(""))
            .collect();
        assert_eq!(stale, ["a"]);
        out.clear();
        let failing = |_: &str| Err(RuleError::query(ErrorKind::Server, "boom"));
        run_with(&def, &mut state, 2, &opts, failing, &mut out);
        assert!(out.is_empty(), "a failed evaluation marks nothing stale");
    }

    #[test]
    fn reload_carries_alerts_of_rules_matched_by_name_and_labels() {
        let old_def = group(vec![
            alerting("Down", "up == 0", 10, &[("severity", "page")]),
            alerting("Down", "up == 0", 10, &[("severity", "ticket")]),
        ]);
        let mut state = GroupState::new(&old_def, "");
        run(&old_def, &mut state, 0, &mut Vec::new());

        // Reordered, one expression edited, one labels edited, one added.
        let new_def = group(vec![
            alerting("New", "up == 0", 10, &[]),
            alerting("Down", "up < 1", 10, &[("severity", "ticket")]),
            alerting("Down", "up == 0", 10, &[("severity", "critical")]),
        ]);
        assert_ne!(old_def, new_def);
        let mut markers = Vec::new();
        let fresh = GroupState::new(&new_def, "");
        let mut carried = GroupState::carry_over(&old_def, state, &new_def, fresh, &mut markers);
        let counts: Vec<_> = carried
            .rules
            .iter()
            .map(|r| match &r.state {
                RuleState::Alerting(s) => s.len(),
                RuleState::Recording(_) => 0,
            })
            .collect();
        assert_eq!(
            counts,
            [0, 1, 0],
            "only name+labels matches keep their alerts"
        );
        // The unmatched `severity="page"` rule's ALERTS series end.
        let stale: Vec<_> = markers
            .iter()
            .map(|s| {
                (
                    s.labels.get("__name__").unwrap_or(""),
                    s.labels.get("severity"),
                )
            })
            .collect();
        assert_eq!(stale.len(), 2, "{stale:?}");
        assert!(
            stale.iter().all(|(_, sev)| *sev == Some("page")),
            "{stale:?}"
        );

        run(&new_def, &mut carried, 5, &mut Vec::new());
        let RuleState::Alerting(s) = &carried.rules[1].state else {
            panic!("alerting state")
        };
        let a = s.alerts().next().expect("alert kept");
        assert_eq!(
            a.active_at,
            Timestamp::from_secs(0),
            "the for timer was not reset"
        );
        assert_eq!(a.state, AlertState::Pending);
    }
}
