//! The client against a real Prometheus 2.42 (started by tocsin-testkit).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tocsin_query::{
    Datasource, ErrorType, HttpClientConfig, Labels, Point, PrometheusClient, QueryError,
    QueryValue, RetryPolicy, Rule, RuleKind,
};
use tocsin_testkit::{eventually_async, Prometheus, PrometheusOptions, TempDir};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn client(prom: &Prometheus) -> PrometheusClient {
    PrometheusClient::new(HttpClientConfig::new(prom.url())).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

#[tokio::test]
async fn vectors_decode_with_labels_and_the_query_time() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let c = client(&prom);
    let expr =
        r#"label_replace(label_replace(vector(1), "job", "flink", "", ""), "a", "x\"y", "", "")"#;
    let r = Datasource::instant_query(&c, expr, at(1_700_000_000_500))
        .await
        .unwrap();
    let QueryValue::Vector(v) = r.value else {
        panic!("{:?}", r.value)
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].labels, labels(&[("a", "x\"y"), ("job", "flink")]));
    assert_eq!(v[0].timestamp_ms, 1_700_000_000_500);
    assert_eq!(v[0].value, 1.0);
}

#[tokio::test]
async fn nan_and_infinities_decode() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let c = client(&prom);
    let t = at(1_700_000_000_000);
    let value = |r: tocsin_query::QueryResult| match r.value {
        QueryValue::Vector(v) => v[0].value,
        other => panic!("{other:?}"),
    };
    assert!(value(c.instant_query("vector(0/0)", t).await.unwrap()).is_nan());
    assert_eq!(
        value(c.instant_query("vector(1/0)", t).await.unwrap()),
        f64::INFINITY
    );
    assert_eq!(
        value(c.instant_query("vector(-1/0)", t).await.unwrap()),
        f64::NEG_INFINITY
    );
    assert_eq!(
        value(c.instant_query("vector(1e21)", t).await.unwrap()),
        1e21
    );
}

#[tokio::test]
async fn scalars_strings_and_matrices_decode() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let c = client(&prom);
    let t = at(1_700_000_000_250);
    assert_eq!(
        c.instant_query("2.5", t).await.unwrap().value,
        QueryValue::Scalar {
            timestamp_ms: 1_700_000_000_250,
            value: 2.5
        }
    );
    assert_eq!(
        c.instant_query(r#""hello""#, t).await.unwrap().value,
        QueryValue::String {
            timestamp_ms: 1_700_000_000_250,
            value: "hello".into()
        }
    );
    let r = c
        .instant_query(
            r#"label_replace(vector(7), "k", "v", "", "")[3s:1s]"#,
            at(1_700_000_003_000),
        )
        .await
        .unwrap();
    let QueryValue::Matrix(m) = r.value else {
        panic!("{:?}", r.value)
    };
    assert_eq!(m[0].labels, labels(&[("k", "v")]));
    assert_eq!(
        m[0].points
            .iter()
            .map(|p| p.timestamp_ms)
            .collect::<Vec<_>>(),
        // 2.42's subquery range includes its start.
        [
            1_700_000_000_000,
            1_700_000_001_000,
            1_700_000_002_000,
            1_700_000_003_000
        ]
    );
}

#[tokio::test]
async fn range_queries_return_a_point_per_step() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let c = client(&prom);
    let r = c
        .range_query(
            "vector(3)",
            at(1_700_000_000_000),
            at(1_700_000_002_000),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    let QueryValue::Matrix(m) = r.value else {
        panic!("{:?}", r.value)
    };
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].points,
        [0, 1000, 2000].map(|d| Point {
            timestamp_ms: 1_700_000_000_000 + d,
            value: 3.0
        })
    );
}

#[tokio::test]
async fn bad_data_keeps_its_type_message_and_status_and_is_not_retried() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let c = client(&prom);
    let err = c
        .instant_query("rate(vector(1))", at(1_700_000_000_000))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), Some(&ErrorType::BadData));
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_retryable());
    let QueryError::Api { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("expected type range vector in call to function \"rate\""),
        "{message}"
    );
    assert!(
        err.to_string().starts_with("bad_data: invalid parameter"),
        "{err}"
    );
}

#[tokio::test]
async fn retries_against_a_stopped_server_end_at_the_deadline_with_a_connect_error() {
    let mut prom = Prometheus::start(PrometheusOptions::default());
    prom.stop();
    let mut cfg = HttpClientConfig::new(prom.url());
    cfg.deadline = Duration::from_millis(500);
    cfg.retry = RetryPolicy {
        max_retries: u32::MAX,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    };
    let c = PrometheusClient::new(cfg).unwrap();
    // A watchdog, not a timing assertion: unbounded retries would never return.
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        c.instant_query("vector(1)", SystemTime::now()),
    )
    .await
    .expect("retries must stop at the deadline")
    .unwrap_err();
    assert!(matches!(err, QueryError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
}

#[tokio::test]
async fn rules_alerts_and_buildinfo_come_back_typed() {
    let dir = TempDir::new("query-rules").unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(
        &file,
        r#"groups:
  - name: g
    rules:
      - alert: AlwaysFiring
        expr: label_replace(vector(1), "instance", "i1", "", "")
        labels: {severity: page}
        annotations: {summary: "value {{ $value }} on {{ $labels.instance }}"}
      - record: one:vector
        expr: vector(1)
"#,
    )
    .unwrap();
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![file.clone()],
        ..Default::default()
    });
    let c = client(&prom);

    let info = c.build_info().await.unwrap();
    assert_eq!(info.semver().map(|v| (v.0, v.1)), Some((2, 42)), "{info:?}");

    let groups = c.rules(None).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].file, file.display().to_string());
    assert_eq!(groups[0].interval, 1.0);
    assert_eq!(groups[0].rules.len(), 2);
    let recording = c.rules(Some(RuleKind::Recording)).await.unwrap();
    assert!(matches!(&recording[0].rules[..], [Rule::Recording(r)] if r.name == "one:vector"));

    // The first evaluation comes one slot (≤ 1 s) after start: wait for the alert.
    let c = &c;
    let alerts = eventually_async("the alert", Duration::from_secs(30), || async move {
        Some(c.alerts().await.unwrap()).filter(|a| !a.is_empty())
    })
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        a.labels,
        labels(&[
            ("alertname", "AlwaysFiring"),
            ("instance", "i1"),
            ("severity", "page")
        ])
    );
    assert_eq!(a.annotations.get("summary"), Some("value 1 on i1"));
    assert_eq!(a.state, tocsin_query::AlertState::Firing);
    assert_eq!(a.value, "1e+00");
}

#[tokio::test]
async fn a_negative_group_limit_decodes_as_prometheus_reports_it() {
    let dir = TempDir::new("query-limit").unwrap();
    let file = dir.path().join("rules.yml");
    // Prometheus enforces only a limit above 0 and reports the one given, negative or not.
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    limit: -1\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![file],
        ..Default::default()
    });
    let groups = client(&prom).rules(None).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].limit, -1);
}
