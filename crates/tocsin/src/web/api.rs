//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus 2.42's JSON shapes, so Grafana and
//! scripts written against Prometheus read tocsin unchanged; and the engine's metrics in
//! Prometheus's own metric names (`prometheus_rule_*` become `tocsin_rule_*`).

use serde_json::{json, Map, Value};
use tocsin_core::GO_ZERO_TIME;
use tocsin_engine::runner::Engine;
use tocsin_engine::runner::{AlertStatus, GroupMetrics, GroupStatus, RuleReport, RuleType};
use tocsin_engine::{Health, Labels, Timestamp};

use super::exposition::Exposition;

/// The body for `GET /api/v1/rules?type=alert|record`, or a 400 body for a bad `type`.
pub fn rules(engine: &Engine, query: &str) -> Result<String, String> {
    let kind = match crate::query_string::param(query, "type").as_deref() {
        None | Some("") => None,
        Some("alert") => Some(RuleType::Alerting),
        Some("record") => Some(RuleType::Recording),
        Some(other) => {
            return Err(json!({
                "status": "error",
                "errorType": "bad_data",
                "error": format!("invalid parameter \"type\": not supported value {other:?}"),
            })
            .to_string())
        }
    };
    let mut groups = engine.rules_status();
    groups.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    let groups: Vec<Value> = groups.iter().map(|g| group_json(g, kind)).collect();
    Ok(json!({"status": "success", "data": {"groups": groups}}).to_string())
}

/// The body for `GET /api/v1/alerts`: every pending and firing alert.
pub fn alerts(engine: &Engine) -> String {
    let alerts: Vec<Value> = engine.active_alerts().iter().map(alert_json).collect();
    json!({"status": "success", "data": {"alerts": alerts}}).to_string()
}

fn group_json(g: &GroupStatus, kind: Option<RuleType>) -> Value {
    let rules: Vec<Value> = g
        .rules
        .iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .map(rule_json)
        .collect();
    json!({
        "name": g.name,
        "file": g.file,
        "rules": rules,
        "interval": g.interval.as_secs_f64(),
        "limit": g.limit,
        "evaluationTime": g.evaluation_time.as_secs_f64(),
        "lastEvaluation": last_evaluation(g.last_evaluation),
    })
}

fn rule_json(r: &RuleReport) -> Value {
    let mut o = Map::new();
    match r.kind {
        RuleType::Alerting => {
            let state = r.state.map_or("inactive", |s| s.as_str());
            o.insert("state".into(), state.into());
            o.insert("name".into(), r.name.clone().into());
            o.insert("query".into(), r.query.clone().into());
            o.insert("duration".into(), r.duration.as_secs_f64().into());
            o.insert(
                "keepFiringFor".into(),
                r.keep_firing_for.as_secs_f64().into(),
            );
            o.insert("labels".into(), labels_json(&r.labels));
            o.insert("annotations".into(), labels_json(&r.annotations));
            o.insert(
                "alerts".into(),
                Value::Array(r.alerts.iter().map(alert_json).collect()),
            );
        }
        RuleType::Recording => {
            o.insert("name".into(), r.name.clone().into());
            o.insert("query".into(), r.query.clone().into());
            // 2.42 omits empty recording-rule labels.
            if !r.labels.is_empty() {
                o.insert("labels".into(), labels_json(&r.labels));
            }
        }
    }
    o.insert("health".into(), health_str(r.health).into());
    if let Some(e) = &r.last_error {
        o.insert("lastError".into(), e.clone().into());
    }
    o.insert(
        "evaluationTime".into(),
        r.evaluation_time.as_secs_f64().into(),
    );
    o.insert(
        "lastEvaluation".into(),
        last_evaluation(r.last_evaluation).into(),
    );
    o.insert("type".into(), r.kind.as_str().into());
    Value::Object(o)
}

fn alert_json(a: &AlertStatus) -> Value {
    let mut o = Map::new();
    o.insert("labels".into(), labels_json(&a.labels));
    o.insert("annotations".into(), labels_json(&a.annotations));
    o.insert("state".into(), a.state.as_str().into());
    o.insert("activeAt".into(), a.active_at.rfc3339_nano().into());
    if let Some(since) = a.keep_firing_since {
        o.insert("keepFiringSince".into(), since.rfc3339_nano().into());
    }
    o.insert("value".into(), a.value_string().into());
    Value::Object(o)
}

fn labels_json(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

fn last_evaluation(t: Option<Timestamp>) -> String {
    t.map_or_else(|| GO_ZERO_TIME.to_string(), Timestamp::rfc3339_nano)
}

fn health_str(h: Health) -> &'static str {
    match h {
        Health::Ok => "ok",
        Health::Err => "err",
        Health::Unknown => "unknown",
    }
}

/// Prometheus's rule-manager metrics, renamed under `tocsin_`.
pub fn engine_metrics(engine: &Engine, page: &mut Exposition) {
    let m = engine.metrics();
    type Field = fn(&GroupMetrics) -> f64;
    let per_group: [(&str, &str, &str, Field); 7] = [
        (
            "tocsin_rule_group_iterations_total",
            "counter",
            "Scheduled iterations of a rule group, run or missed.",
            |g| g.iterations as f64,
        ),
        (
            "tocsin_rule_group_iterations_missed_total",
            "counter",
            "Iterations skipped because the group was still evaluating.",
            |g| g.missed_iterations as f64,
        ),
        (
            "tocsin_rule_evaluations_total",
            "counter",
            "Rule evaluations.",
            |g| g.evaluations as f64,
        ),
        (
            "tocsin_rule_evaluation_failures_total",
            "counter",
            "Rule evaluations that failed.",
            |g| g.evaluation_failures as f64,
        ),
        (
            "tocsin_rule_group_last_duration_seconds",
            "gauge",
            "Duration of the group's last evaluation.",
            |g| g.last_duration.as_secs_f64(),
        ),
        (
            "tocsin_rule_group_interval_seconds",
            "gauge",
            "The group's evaluation interval.",
            |g| g.interval.as_secs_f64(),
        ),
        (
            "tocsin_rule_group_rules",
            "gauge",
            "Rules in the group.",
            |g| g.rules as f64,
        ),
    ];
    for (name, kind, help, field) in per_group {
        page.family(name, kind, help);
        for g in &m.groups {
            page.sample(name, [("rule_group", g.key.as_str())], field(g));
        }
    }
    page.family(
        "tocsin_rule_group_last_evaluation_timestamp_seconds",
        "gauge",
        "When the group last started evaluating.",
    );
    for g in &m.groups {
        let ts = g.last_evaluation.map_or(0.0, |t| t.as_nanos() as f64 / 1e9);
        page.sample(
            "tocsin_rule_group_last_evaluation_timestamp_seconds",
            [("rule_group", g.key.as_str())],
            ts,
        );
    }
    page.family("tocsin_rules", "gauge", "Rules by health.");
    for (health, n) in [
        ("ok", m.rules_by_health.ok),
        ("err", m.rules_by_health.err),
        ("unknown", m.rules_by_health.unknown),
    ] {
        page.sample("tocsin_rules", [("health", health)], n as f64);
    }
    page.family("tocsin_alerts", "gauge", "Active alerts by state.");
    page.sample(
        "tocsin_alerts",
        [("state", "pending")],
        m.alerts_pending as f64,
    );
    page.sample(
        "tocsin_alerts",
        [("state", "firing")],
        m.alerts_firing as f64,
    );
    page.family(
        "tocsin_state_write_failures_total",
        "counter",
        "Alert-state file writes that failed.",
    );
    page.sample(
        "tocsin_state_write_failures_total",
        [],
        m.state_write_failures as f64,
    );
    page.family(
        "tocsin_config_last_reload_successful",
        "gauge",
        "Whether the last rule (re)load succeeded.",
    );
    page.sample(
        "tocsin_config_last_reload_successful",
        [],
        if m.last_reload_successful.unwrap_or(false) {
            1.0
        } else {
            0.0
        },
    );
    page.family(
        "tocsin_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the rules were last (re)loaded successfully.",
    );
    page.sample(
        "tocsin_config_last_reload_success_timestamp_seconds",
        [],
        m.last_reload_success
            .map_or(0.0, |t| t.as_nanos() as f64 / 1e9),
    );
}
