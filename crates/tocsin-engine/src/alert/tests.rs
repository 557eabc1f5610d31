//! The alert state machine, pinned scenario by scenario. Times are evaluation slots in
//! minutes; nothing sleeps.

use std::time::Duration;

use super::*;
use crate::error::ErrorKind;
use crate::status::Health;
use crate::template::{ExpandError, Verbatim};

const MIN: Duration = Duration::from_secs(60);

fn minute(m: i64) -> Timestamp {
    Timestamp::from_secs(m * 60)
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn series(pairs: &[(&str, &str)], value: f64) -> Sample {
    let mut all = vec![("__name__", "load")];
    all.extend_from_slice(pairs);
    Sample::new(Labels::new(all), value)
}

fn host(name: &str) -> Sample {
    series(&[("instance", name)], 1.0)
}

fn alert_labels(instance: &str) -> Labels {
    Labels::new([("alertname", "HighLoad"), ("instance", instance)])
}

/// A rule and its state, evaluated at chosen times with chosen results.
struct Rig {
    rule: AlertingRule,
    state: AlertingState,
    scratch: Scratch,
    limit: usize,
    expander: Box<dyn Expander>,
    sent: Vec<(i64, Alert)>,
}

impl Rig {
    fn new(hold: Duration, keep_firing_for: Duration) -> Self {
        Self::with_rule(AlertingRule::new(
            "HighLoad",
            "load > 1",
            hold,
            keep_firing_for,
            [],
            [],
        ))
    }

    fn with_rule(rule: AlertingRule) -> Self {
        Rig {
            rule,
            state: AlertingState::default(),
            scratch: Scratch::default(),
            limit: 0,
            expander: Box::new(Verbatim),
            sent: Vec::new(),
        }
    }

    /// One evaluation at minute `m` followed, if it succeeded, by the send step
    /// (interval 1m, resend delay 1m), as the group does.
    fn eval(&mut self, m: i64, samples: &[Sample]) -> Result<usize, RuleError> {
        self.eval_result(m, Ok(samples))
    }

    fn eval_result(
        &mut self,
        m: i64,
        result: Result<&[Sample], RuleError>,
    ) -> Result<usize, RuleError> {
        let out = self.rule.eval(
            &mut self.state,
            minute(m),
            result,
            self.limit,
            &*self.expander,
            &mut self.scratch,
        );
        if out.is_ok() {
            let sent = &mut self.sent;
            self.state.send(minute(m), DEFAULT_RESEND_DELAY, MIN, |a| {
                sent.push((m, a.clone()))
            });
        }
        out
    }

    fn alert(&self, instance: &str) -> Option<&Alert> {
        self.state.get(&alert_labels(instance))
    }

    fn state_of(&self, instance: &str) -> Option<AlertState> {
        self.alert(instance).map(|a| a.state)
    }

    fn sent_minutes(&self) -> Vec<i64> {
        self.sent.iter().map(|(m, _)| *m).collect()
    }
}

#[test]
fn for_zero_fires_on_first_evaluation() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    assert_eq!(rig.eval(0, &[host("a")]), Ok(1));
    let a = rig.alert("a").expect("alert exists");
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.active_at, minute(0));
    assert_eq!(a.fired_at, Some(minute(0)));
}

#[test]
fn pending_alert_fires_after_for_duration() {
    // for 5m at interval 1m: pending at 0..4m, firing at 5m, the sixth evaluation.
    let mut rig = Rig::new(mins(5), Duration::ZERO);
    for m in 0..5 {
        rig.eval(m, &[host("a")]).expect("evaluates");
        assert_eq!(rig.state_of("a"), Some(AlertState::Pending), "minute {m}");
    }
    rig.eval(5, &[host("a")]).expect("evaluates");
    let a = rig.alert("a").expect("alert exists");
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.active_at, minute(0));
    assert_eq!(a.fired_at, Some(minute(5)));
}

#[test]
fn for_comparison_is_inclusive_to_the_nanosecond() {
    let mut rig = Rig::new(Duration::from_nanos(90_000_000_001), Duration::ZERO);
    let t0 = Timestamp::from_nanos(1_000_000_000_123);
    let samples = [host("a")];
    for (ts, want) in [
        (t0, AlertState::Pending),
        (
            Timestamp::from_nanos(t0.as_nanos() + 90_000_000_000),
            AlertState::Pending,
        ),
        (
            Timestamp::from_nanos(t0.as_nanos() + 90_000_000_001),
            AlertState::Firing,
        ),
    ] {
        rig.rule
            .eval(
                &mut rig.state,
                ts,
                Ok(&samples),
                0,
                &Verbatim,
                &mut rig.scratch,
            )
            .expect("evaluates");
        assert_eq!(rig.state_of("a"), Some(want), "at {ts}");
    }
}

#[test]
fn pending_alert_missing_from_result_is_deleted_silently() {
    let mut rig = Rig::new(mins(5), Duration::ZERO);
    rig.eval(0, &[host("a")]).expect("evaluates");
    assert_eq!(rig.eval(1, &[]), Ok(0));
    assert!(rig.state.is_empty());
    assert!(rig.sent.is_empty(), "a pending alert is never sent");
}

#[test]
fn firing_alert_missing_from_result_resolves_at_that_evaluation() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    rig.eval(0, &[host("a")]).expect("evaluates");
    assert_eq!(rig.eval(1, &[]), Ok(0), "resolved alerts are not active");
    let a = rig.alert("a").expect("kept as resolved");
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at, Some(minute(1)));
    assert_eq!(a.fired_at, Some(minute(0)));
    assert_eq!(rig.state.active_alerts().count(), 0);
}

#[test]
fn firing_alert_kept_as_resolved_for_fifteen_minutes() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    rig.eval(0, &[host("a")]).expect("evaluates");
    rig.eval(1, &[]).expect("evaluates");
    rig.eval(16, &[]).expect("evaluates");
    assert!(
        rig.alert("a").is_some(),
        "exactly 15m after resolution it is kept"
    );
    rig.eval(17, &[]).expect("evaluates");
    assert!(
        rig.alert("a").is_none(),
        "more than 15m after resolution it is gone"
    );
}

#[test]
fn resolved_alert_that_reappears_starts_a_new_pending_alert() {
    let mut rig = Rig::new(mins(2), Duration::ZERO);
    for m in 0..3 {
        rig.eval(m, &[host("a")]).expect("evaluates");
    }
    assert_eq!(rig.state_of("a"), Some(AlertState::Firing));
    rig.eval(3, &[]).expect("evaluates");
    assert_eq!(rig.state_of("a"), Some(AlertState::Inactive));
    rig.eval(4, &[host("a")]).expect("evaluates");
    let a = rig.alert("a").expect("alert exists");
    assert_eq!(a.state, AlertState::Pending);
    assert_eq!(a.active_at, minute(4));
    assert_eq!(a.fired_at, None);
    assert_eq!(a.resolved_at, None);
}

#[test]
fn query_error_changes_no_alert_state() {
    let mut rig = Rig::new(mins(5), Duration::ZERO);
    rig.eval(0, &[host("pending")]).expect("evaluates");
    let quick = AlertingRule::new(
        "HighLoad",
        "load > 1",
        Duration::ZERO,
        Duration::ZERO,
        [],
        [],
    );
    let mut firing = Rig::with_rule(quick);
    firing.eval(0, &[host("a"), host("b")]).expect("evaluates");
    firing.eval(1, &[host("a")]).expect("evaluates");
    let before = (rig.state.clone(), firing.state.clone());
    let sent_before = firing.sent.len();

    let err = RuleError::query(
        ErrorKind::Timeout,
        "query timed out in expression evaluation",
    );
    assert_eq!(rig.eval_result(9, Err(err.clone())), Err(err.clone()));
    assert_eq!(firing.eval_result(30, Err(err.clone())), Err(err.clone()));

    let same = |a: &AlertingState, b: &AlertingState| {
        let mut x: Vec<_> = a.alerts().cloned().collect();
        let mut y: Vec<_> = b.alerts().cloned().collect();
        x.sort_by(|p, q| p.labels.cmp(&q.labels));
        y.sort_by(|p, q| p.labels.cmp(&q.labels));
        x == y
    };
    assert!(same(&rig.state, &before.0), "pending stays pending");
    assert!(
        same(&firing.state, &before.1),
        "firing stays firing, resolved stays kept"
    );
    assert_eq!(firing.sent.len(), sent_before, "nothing is sent");
    assert_eq!(rig.state.status.health, Health::Err);
    assert_eq!(
        rig.state
            .status
            .last_error
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("query timed out in expression evaluation")
    );
}

#[test]
fn pending_alert_whose_for_elapsed_during_query_errors_fires_on_recovery() {
    let mut rig = Rig::new(mins(5), Duration::ZERO);
    rig.eval(0, &[host("a")]).expect("evaluates");
    for m in 1..8 {
        let _ = rig.eval_result(
            m,
            Err(RuleError::query(
                ErrorKind::Unreachable,
                "connection refused",
            )),
        );
        assert_eq!(
            rig.state_of("a"),
            Some(AlertState::Pending),
            "frozen at {m}"
        );
    }
    rig.eval(8, &[host("a")]).expect("evaluates");
    let a = rig.alert("a").expect("alert exists");
    assert_eq!((a.state, a.fired_at), (AlertState::Firing, Some(minute(8))));
    assert_eq!(rig.state.status.health, Health::Ok);
    assert_eq!(rig.state.status.last_error, None);
}

#[test]
fn duplicate_label_sets_fail_the_evaluation_and_change_nothing() {
    // {__name__=~"a|b"} returning a{x="1"} and b{x="1"}: both become {alertname, x="1"}.
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    let a = Sample::new(Labels::new([("__name__", "a"), ("x", "1")]), 1.0);
    let b = Sample::new(Labels::new([("__name__", "b"), ("x", "1")]), 2.0);
    rig.eval(0, &[host("h")]).expect("evaluates");
    let err = rig.eval(1, &[a, b]).expect_err("duplicate");
    assert_eq!(
        err.to_string(),
        "vector contains metrics with the same labelset after applying alert labels"
    );
    assert_eq!(rig.state_of("h"), Some(AlertState::Firing), "not resolved");
    assert_eq!(rig.state.len(), 1);
}

#[test]
fn exceeding_the_limit_drops_every_alert_of_the_rule() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    rig.limit = 1;
    rig.eval(0, &[host("a")])
        .expect("one alert is within the limit");
    let err = rig
        .eval(1, &[host("a"), host("b")])
        .expect_err("over the limit");
    assert_eq!(err.to_string(), "exceeded limit of 1 with 2 alerts");
    assert!(rig.state.is_empty(), "all alerts dropped");
    assert_eq!(
        rig.sent_minutes(),
        [0],
        "no resolved notification for dropped alerts"
    );
}

#[test]
fn resolved_alerts_do_not_count_toward_the_limit() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    rig.limit = 1;
    rig.eval(0, &[host("a")]).expect("evaluates");
    assert_eq!(rig.eval(1, &[host("b")]), Ok(1), "a resolved, b firing");
    assert_eq!(rig.state.len(), 2);
}

#[test]
fn keep_firing_for_holds_a_vanished_alert() {
    // B11 #2: for 0, keep_firing_for 3m, true at 0–1m, false 2–7m, true at 8m.
    let mut rig = Rig::new(Duration::ZERO, mins(3));
    for m in 0..=7 {
        let samples: &[Sample] = if m <= 1 { &[host("a")] } else { &[] };
        rig.eval(m, samples).expect("evaluates");
        let a = rig.alert("a").expect("kept");
        let want = if m <= 4 {
            AlertState::Firing
        } else {
            AlertState::Inactive
        };
        assert_eq!(a.state, want, "minute {m}");
        if (2..=4).contains(&m) {
            assert_eq!(a.keep_firing_since, Some(minute(2)), "set once, at {m}");
        }
    }
    assert_eq!(rig.alert("a").and_then(|a| a.resolved_at), Some(minute(5)));
    rig.eval(8, &[host("a")]).expect("evaluates");
    let a = rig.alert("a").expect("new alert");
    assert_eq!(
        (a.state, a.active_at, a.fired_at),
        (AlertState::Firing, minute(8), Some(minute(8)))
    );
    let starts: Vec<_> = rig.sent.iter().map(|(_, a)| a.starts_at()).collect();
    assert_eq!(starts.first(), Some(&Some(minute(0))));
    assert_eq!(starts.last(), Some(&Some(minute(8))), "a new startsAt");
}

#[test]
fn keep_firing_for_is_reset_when_the_series_returns() {
    // B11 #3: for 2m, keep_firing_for 2m, present at 0,1,2,3,5 and absent at 4,6,7,8.
    let mut rig = Rig::new(mins(2), mins(2));
    let present = [true, true, true, true, false, true, false, false, false];
    let want = [
        AlertState::Pending,
        AlertState::Pending,
        AlertState::Firing,
        AlertState::Firing,
        AlertState::Firing,
        AlertState::Firing,
        AlertState::Firing,
        AlertState::Firing,
        AlertState::Inactive,
    ];
    for (m, (&p, &w)) in present.iter().zip(&want).enumerate() {
        let samples: &[Sample] = if p { &[host("a")] } else { &[] };
        rig.eval(m as i64, samples).expect("evaluates");
        assert_eq!(rig.state_of("a"), Some(w), "minute {m}");
    }
    assert_eq!(rig.alert("a").and_then(|a| a.resolved_at), Some(minute(8)));
}

#[test]
fn keep_firing_for_never_holds_a_pending_alert() {
    let mut rig = Rig::new(mins(5), mins(10));
    rig.eval(0, &[host("a")]).expect("evaluates");
    rig.eval(1, &[]).expect("evaluates");
    assert!(rig.state.is_empty());
}

#[test]
fn keep_firing_alert_keeps_its_last_value_and_counts_as_active() {
    let mut rig = Rig::new(Duration::ZERO, mins(5));
    rig.eval(0, &[series(&[("instance", "a")], 7.5)])
        .expect("evaluates");
    assert_eq!(rig.eval(1, &[]), Ok(1));
    assert_eq!(rig.alert("a").map(|a| a.value), Some(7.5));
}

#[test]
fn flapping_series_restarts_for_timer() {
    let mut rig = Rig::new(mins(3), Duration::ZERO);
    let pattern = [true, true, false, true, true, true, true];
    for (m, &p) in pattern.iter().enumerate() {
        let samples: &[Sample] = if p { &[host("a")] } else { &[] };
        rig.eval(m as i64, samples).expect("evaluates");
    }
    // Gone at 2m, so the timer restarts at 3m and the alert fires at 6m, not 3m.
    let a = rig.alert("a").expect("alert exists");
    assert_eq!(a.active_at, minute(3));
    assert_eq!(a.fired_at, Some(minute(6)));
    assert!(rig.sent_minutes().iter().all(|&m| m >= 6));
}

#[test]
fn alert_labels_are_sample_labels_without_name_plus_rule_labels_and_alertname() {
    let rule = AlertingRule::new(
        "HighLoad",
        "load > 1",
        Duration::ZERO,
        Duration::ZERO,
        [
            ("severity", "page"),
            ("job", "from-rule"),
            ("alertname", "Ignored"),
        ],
        [],
    );
    let mut rig = Rig::with_rule(rule);
    let sample = series(
        &[
            ("instance", "a"),
            ("job", "node"),
            ("alertname", "FromData"),
        ],
        1.0,
    );
    rig.eval(0, &[sample]).expect("evaluates");
    let got: Vec<_> = rig.state.alerts().map(|a| a.labels.to_string()).collect();
    assert_eq!(
        got,
        [r#"{alertname="HighLoad", instance="a", job="from-rule", severity="page"}"#]
    );
}

/// A stand-in for tocsin-template: `{{ $labels.NAME }}` and `{{ $value }}` only, and an
/// error for `{{ fail }}`.
fn toy_expander(data: &TemplateData<'_>, text: &str) -> Result<String, ExpandError> {
    if text.contains("{{ fail }}") {
        return Err(ExpandError(
            "template: __alert_HighLoad:1: function \"fail\" not defined".into(),
        ));
    }
    let mut out = text.replace("{{ $value }}", &data.value.to_string());
    for (n, v) in data.labels.iter() {
        out = out.replace(&format!("{{{{ $labels.{n} }}}}"), v);
    }
    while let (Some(s), Some(e)) = (out.find("{{ $labels."), out.find(" }}")) {
        out.replace_range(s..e + 3, "");
    }
    Ok(out)
}

#[test]
fn label_template_expanding_to_empty_deletes_the_label_but_alerts_series_keeps_raw_text() {
    // B11 #7: labels {instance: '', x: '{{ $labels.missing }}'}.
    let rule = AlertingRule::new(
        "HighLoad",
        "load > 1",
        Duration::ZERO,
        Duration::ZERO,
        [("instance", ""), ("x", "{{ $labels.missing }}")],
        [],
    );
    let mut rig = Rig::with_rule(rule);
    rig.expander = Box::new(toy_expander);
    rig.eval(0, &[series(&[("instance", "a"), ("job", "node")], 1.0)])
        .expect("evaluates");
    let labels: Vec<_> = rig.state.alerts().map(|a| a.labels.to_string()).collect();
    assert_eq!(labels, [r#"{alertname="HighLoad", job="node"}"#]);

    let mut out = Vec::new();
    rig.rule.alerts_series(&rig.state, &mut out);
    let alerts = out
        .iter()
        .find(|s| s.labels.get("__name__") == Some("ALERTS"))
        .expect("ALERTS series");
    assert_eq!(
        alerts.labels.to_string(),
        r#"{__name__="ALERTS", alertname="HighLoad", alertstate="firing", job="node", x="{{ $labels.missing }}"}"#
    );
}

#[test]
fn template_error_becomes_the_value_not_a_failure() {
    let rule = AlertingRule::new(
        "HighLoad",
        "load > 1",
        Duration::ZERO,
        Duration::ZERO,
        [],
        [("summary", "{{ fail }}")],
    );
    let mut rig = Rig::with_rule(rule);
    rig.expander = Box::new(toy_expander);
    assert_eq!(rig.eval(0, &[host("a")]), Ok(1));
    let a = rig.alert("a").expect("alert exists");
    assert_eq!(
        a.annotations.get("summary"),
        Some("<error expanding template: template: __alert_HighLoad:1: function \"fail\" not defined>")
    );
}

#[test]
fn annotations_and_value_follow_each_evaluation_while_labels_and_active_at_stay() {
    let rule = AlertingRule::new(
        "HighLoad",
        "load > 1",
        mins(10),
        Duration::ZERO,
        [],
        [("summary", "load is {{ $value }}"), ("empty", "")],
    );
    let mut rig = Rig::with_rule(rule);
    rig.expander = Box::new(toy_expander);
    rig.eval(0, &[series(&[("instance", "a")], 2.0)])
        .expect("evaluates");
    rig.eval(1, &[series(&[("instance", "a")], 3.0)])
        .expect("evaluates");
    let a = rig.alert("a").expect("alert exists");
    assert_eq!(a.value, 3.0);
    assert_eq!(a.annotations.get("summary"), Some("load is 3"));
    assert_eq!(
        a.annotations.get("empty"),
        Some(""),
        "empty annotations are kept"
    );
    assert_eq!(a.active_at, minute(0));
}

#[test]
fn a_label_templated_with_value_makes_a_new_alert_per_value() {
    let rule = AlertingRule::new(
        "HighLoad",
        "load > 1",
        mins(1),
        Duration::ZERO,
        [("value", "{{ $value }}")],
        [],
    );
    let mut rig = Rig::with_rule(rule);
    rig.expander = Box::new(toy_expander);
    rig.eval(0, &[series(&[("instance", "a")], 2.0)])
        .expect("evaluates");
    rig.eval(1, &[series(&[("instance", "a")], 3.0)])
        .expect("evaluates");
    assert_eq!(
        rig.state.len(),
        1,
        "the old one was pending, so it is deleted"
    );
    let a = rig.state.alerts().next().expect("one alert");
    assert_eq!((a.state, a.active_at), (AlertState::Pending, minute(1)));
}

#[test]
fn alerts_series_cover_pending_and_firing_alerts_only() {
    let mut rig = Rig::new(mins(1), Duration::ZERO);
    rig.eval(0, &[host("a"), host("b")]).expect("evaluates");
    rig.eval(1, &[host("a"), host("c")]).expect("evaluates");
    let mut out = Vec::new();
    rig.rule.alerts_series(&rig.state, &mut out);
    let mut got: Vec<_> = out
        .iter()
        .map(|s| format!("{} {}", s.labels, s.value))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            r#"{__name__="ALERTS", alertname="HighLoad", alertstate="firing", instance="a"} 1"#,
            r#"{__name__="ALERTS", alertname="HighLoad", alertstate="pending", instance="c"} 1"#,
            r#"{__name__="ALERTS_FOR_STATE", alertname="HighLoad", instance="a"} 0"#,
            r#"{__name__="ALERTS_FOR_STATE", alertname="HighLoad", instance="c"} 60"#,
        ]
    );
}

#[test]
fn firing_alert_sent_at_once_with_valid_until_four_intervals_ahead() {
    // B11 #1: for 5m, true at 0–6m, false from 7m.
    let mut rig = Rig::new(mins(5), Duration::ZERO);
    for m in 0..=24 {
        let samples: &[Sample] = if m <= 6 { &[host("a")] } else { &[] };
        rig.eval(m, samples).expect("evaluates");
    }
    assert_eq!(rig.sent_minutes(), [5, 7, 9, 11, 13, 15, 17, 19, 21]);
    let (_, first) = &rig.sent[0];
    assert_eq!(first.starts_at(), Some(minute(5)));
    assert_eq!(first.ends_at(), Some(minute(9)));
    let (_, resolved) = &rig.sent[1];
    assert_eq!(resolved.ends_at(), Some(minute(7)));
    assert!(rig.state.is_empty(), "deleted at 23m, 16m after resolution");
}

#[test]
fn resend_is_strict_so_interval_one_minute_resends_every_two_minutes() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    for m in 0..=6 {
        rig.eval(m, &[host("a")]).expect("evaluates");
    }
    assert_eq!(rig.sent_minutes(), [0, 2, 4, 6]);
}

#[test]
fn valid_until_uses_the_larger_of_interval_and_resend_delay() {
    let mut state = AlertingState::default();
    let rule = AlertingRule::new(
        "HighLoad",
        "load > 1",
        Duration::ZERO,
        Duration::ZERO,
        [],
        [],
    );
    rule.eval(
        &mut state,
        minute(0),
        Ok(&[host("a")]),
        0,
        &Verbatim,
        &mut Scratch::default(),
    )
    .expect("evaluates");
    let mut ends = Vec::new();
    state.send(minute(0), DEFAULT_RESEND_DELAY, mins(5), |a| {
        ends.push(a.ends_at())
    });
    assert_eq!(ends, [Some(minute(20))]);
}

#[test]
fn scalar_result_is_one_alert_and_matrix_is_an_error() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    let samples = crate::QueryValue::Scalar(4.0)
        .into_samples()
        .expect("scalar");
    rig.eval(0, &samples).expect("evaluates");
    let labels: Vec<_> = rig.state.alerts().map(|a| a.labels.to_string()).collect();
    assert_eq!(labels, [r#"{alertname="HighLoad"}"#]);
    let err = crate::QueryValue::Other.into_samples().expect_err("matrix");
    assert_eq!(err.to_string(), "rule result is not a vector or scalar");
}

#[test]
fn health_is_unknown_until_evaluated_then_follows_each_outcome() {
    let mut rig = Rig::new(Duration::ZERO, Duration::ZERO);
    assert_eq!(rig.state.status.health, Health::Unknown);
    rig.eval(0, &[]).expect("evaluates");
    assert_eq!(rig.state.status.health, Health::Ok);
    assert_eq!(rig.state.status.last_evaluation, Some(minute(0)));
    let _ = rig.eval_result(
        1,
        Err(RuleError::query(
            ErrorKind::BadQuery,
            "bad_data: parse error",
        )),
    );
    assert_eq!(rig.state.status.health, Health::Err);
    rig.eval(2, &[]).expect("evaluates");
    assert_eq!(
        rig.state.status,
        RuleStatus {
            health: Health::Ok,
            last_error: None,
            last_evaluation: Some(minute(2)),
        }
    );
}

#[test]
fn rule_state_is_the_highest_alert_state() {
    let mut rig = Rig::new(mins(1), Duration::ZERO);
    assert_eq!(rig.state.state(), AlertState::Inactive);
    rig.eval(0, &[host("a")]).expect("evaluates");
    assert_eq!(rig.state.state(), AlertState::Pending);
    rig.eval(1, &[host("a"), host("b")]).expect("evaluates");
    assert_eq!(rig.state.state(), AlertState::Firing);
}

#[test]
fn generator_url_escapes_the_expression_like_go() {
    // The URL Prometheus 2.42 sent in an end-to-end run (docs/rule-semantics.md, "Sending and endsAt").
    let rule = AlertingRule::new(
        "Flap",
        "vector(1) and on () (vector(time()) % 60 < 20)",
        Duration::ZERO,
        Duration::ZERO,
        [],
        [],
    );
    assert_eq!(
        rule.generator_url("http://prom.example:9090/pfx"),
        "http://prom.example:9090/pfx/graph?g0.expr=vector%281%29+and+on+%28%29+%28vector%28time%28%29%29+%25+60+%3C+20%29&g0.tab=1"
    );
}
