//! A rule group: its compiled rules, their state, one synchronous evaluation step, and the
//! state carried over a reload (Prometheus 2.42 `rules/manager.go`; docs/rule-semantics.md, "Reload" and "Order within a group").
//!
//! Rules run sequentially in file order with the same `ts`; a failing rule never stops the
//! next one. The query is the caller's: an async runner does the same few steps as
//! [`GroupDef::eval`] with an `.await` on its datasource.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tocsin_rules::{RuleGroup, RuleKind};

use crate::alert::{Alert, AlertingRule, AlertingState, Scratch};
use crate::error::RuleError;
use crate::labels::{Labels, Sample};
use crate::recording::RecordingRule;
use crate::schedule::GroupSchedule;
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

/// Runs a rule's expression at a time: the datasource as the group sees it.
pub type QueryFn<'a> = dyn FnMut(&str, Timestamp) -> Result<Vec<Sample>, RuleError> + 'a;

/// Manager-wide settings of an iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// `--rules.alert.resend-delay` (1m).
    pub resend_delay: Duration,
    /// Whether to append `ALERTS`/`ALERTS_FOR_STATE` (Prometheus: once restored).
    pub alerts_series: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            resend_delay: crate::alert::DEFAULT_RESEND_DELAY,
            alerts_series: true,
        }
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

    /// A fresh state: no alerts, every rule `unknown`.
    pub fn new_state(&self) -> GroupState {
        GroupState {
            rules: self.rules.iter().map(RuleDef::new_state).collect(),
        }
    }

    /// One iteration at slot `ts`, rules in order: `query(expr, ts)` runs each rule's
    /// expression; alerting rules then send through `notify(rule, alert)` (docs/rule-semantics.md, "Sending and endsAt"); recording
    /// outputs (and, if `options.alerts_series`, `ALERTS`/`ALERTS_FOR_STATE`) are appended
    /// to `out`. Returns how many rules failed; each rule's outcome is in its status.
    // Inputs (state, time, query, templates, options) and sinks (notify, out) are all
    // distinct seams; bundling them would only hide that.
    #[allow(clippy::too_many_arguments)]
    pub fn eval(
        &self,
        state: &mut GroupState,
        ts: Timestamp,
        query: &mut QueryFn<'_>,
        expander: &dyn Expander,
        options: EvalOptions,
        notify: &mut dyn FnMut(&AlertingRule, &Alert),
        out: &mut Vec<Sample>,
    ) -> usize {
        let mut scratch = Scratch::default();
        let mut failed = 0;
        for (def, rule_state) in self.rules.iter().zip(state.rules.iter_mut()) {
            let result = query(def.expr(), ts);
            let result = result.as_deref().map_err(Clone::clone);
            let ok = match (def, rule_state) {
                (RuleDef::Alerting(rule), RuleState::Alerting(s)) => {
                    let r = rule.eval(s, ts, result, self.limit, expander, &mut scratch);
                    if r.is_ok() {
                        s.send(ts, options.resend_delay, self.interval, |a| notify(rule, a));
                        if options.alerts_series {
                            rule.alerts_series(s, out);
                        }
                    }
                    r.is_ok()
                }
                (RuleDef::Recording(rule), RuleState::Recording(s)) => {
                    rule.eval(s, ts, result, self.limit, out).is_ok()
                }
                // A state built for another definition: start that rule afresh.
                (def, slot) => {
                    *slot = def.new_state();
                    false
                }
            };
            if !ok {
                failed += 1;
            }
        }
        failed
    }
}

/// The state of every rule of a group, in rule order.
#[derive(Clone, Debug)]
pub struct GroupState {
    pub rules: Vec<RuleState>,
}

/// How Prometheus matches rules across a reload: the name and the raw labels.
fn rule_key(rule: &RuleDef) -> (&str, &Labels) {
    (rule.name(), rule.labels())
}

impl GroupState {
    /// The state a reloaded group starts with (docs/rule-semantics.md, "Reload"). An unchanged group (`old_def ==
    /// new_def`) keeps running as it is, so callers only get here for changed groups:
    /// alerting rules are matched by name and labels, repeated ones first to first, and a
    /// matched rule keeps all its alerts (`activeAt` and all) and its status.
    pub fn carry_over(old_def: &GroupDef, old: GroupState, new_def: &GroupDef) -> GroupState {
        let mut by_key: HashMap<(&str, &Labels), Vec<RuleState>> = HashMap::new();
        // Reverse so `pop` hands out the first of repeated rules first.
        for (def, state) in old_def.rules.iter().zip(old.rules).rev() {
            by_key.entry(rule_key(def)).or_default().push(state);
        }
        let rules = new_def
            .rules
            .iter()
            .map(|def| {
                let carried = by_key.get_mut(&rule_key(def)).and_then(Vec::pop);
                match (def, carried) {
                    (RuleDef::Alerting(_), Some(s @ RuleState::Alerting(_)))
                    | (RuleDef::Recording(_), Some(s @ RuleState::Recording(_))) => s,
                    _ => def.new_state(),
                }
            })
            .collect();
        GroupState { rules }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertState;
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

    fn run(
        def: &GroupDef,
        state: &mut GroupState,
        minute: i64,
        out: &mut Vec<Sample>,
    ) -> Vec<String> {
        let mut sent = Vec::new();
        def.eval(
            state,
            Timestamp::from_secs(minute * 60),
            &mut |expr, _| match expr {
                "fail" => Err(RuleError::Query("boom".into())),
                _ => Ok(vec![up("a")]),
            },
            &Verbatim,
            EvalOptions::default(),
            &mut |rule, alert| sent.push(format!("{} {}", rule.name(), alert.labels)),
            out,
        );
        sent
    }

    #[test]
    fn group_runs_rules_in_order_and_a_failure_does_not_stop_the_next() {
        let def = group(vec![
            alerting("Broken", "fail", 0, &[]),
            RuleDef::Recording(RecordingRule::new("up:copy", "up", [])),
            alerting("Down", "up == 0", 0, &[]),
        ]);
        let mut state = def.new_state();
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
            .map(|r| r.status().health.as_str())
            .collect();
        assert_eq!(health, ["err", "ok", "ok"]);
    }

    #[test]
    fn reload_carries_alerts_of_rules_matched_by_name_and_labels() {
        let old_def = group(vec![
            alerting("Down", "up == 0", 10, &[("severity", "page")]),
            alerting("Down", "up == 0", 10, &[("severity", "ticket")]),
        ]);
        let mut state = old_def.new_state();
        run(&old_def, &mut state, 0, &mut Vec::new());

        // Reordered, one expression edited, one labels edited, one added.
        let new_def = group(vec![
            alerting("New", "up == 0", 10, &[]),
            alerting("Down", "up < 1", 10, &[("severity", "ticket")]),
            alerting("Down", "up == 0", 10, &[("severity", "critical")]),
        ]);
        assert_ne!(old_def, new_def);
        let mut carried = GroupState::carry_over(&old_def, state, &new_def);
        let counts: Vec<_> = carried
            .rules
            .iter()
            .map(|r| match r {
                RuleState::Alerting(s) => s.len(),
                RuleState::Recording(_) => 0,
            })
            .collect();
        assert_eq!(
            counts,
            [0, 1, 0],
            "only name+labels matches keep their alerts"
        );

        run(&new_def, &mut carried, 5, &mut Vec::new());
        let RuleState::Alerting(s) = &carried.rules[1] else {
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
