//! The testkit against the real servers.

use std::path::Path;

use tocsin_testkit::{
    http_get, http_post, Alertmanager, CannedResponse, Prometheus, PrometheusOptions, Recorder,
    NULL_RECEIVER_CONFIG,
};

fn process_alive(pid: u32) -> bool {
    // A reaped process has no /proc entry.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn prometheus_starts_on_a_free_port_and_answers_queries() {
    let prom = Prometheus::start(PrometheusOptions::default());
    assert!(prom.url().starts_with("http://127.0.0.1:"));
    assert_eq!(prom.url(), format!("http://127.0.0.1:{}", prom.port()));
    let (status, body) = http_post(
        &format!("{}/api/v1/query", prom.url()),
        "application/x-www-form-urlencoded",
        b"query=vector(1)&time=1700000000.5",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.500,"1"]}]}}"#
    );
}

#[test]
fn two_prometheus_servers_get_different_ports() {
    let a = Prometheus::start(PrometheusOptions::default());
    let b = Prometheus::start(PrometheusOptions::default());
    assert_ne!(a.port(), b.port());
    assert_eq!(http_get(&format!("{}/-/ready", b.url())).0, 200);
}

#[test]
fn dropping_prometheus_kills_it_and_removes_its_temp_dir() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let pid = prom.pid().expect("running");
    let dir = prom.dir().to_path_buf();
    assert!(dir.join("data").is_dir());
    assert!(process_alive(pid));
    drop(prom);
    assert!(!process_alive(pid), "pid {pid} still alive");
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[test]
fn stop_closes_the_port_but_keeps_the_url() {
    let mut prom = Prometheus::start(PrometheusOptions::default());
    prom.stop();
    assert_eq!(prom.pid(), None);
    assert!(
        tocsin_testkit::http_request("GET", &format!("{}/-/ready", prom.url()), &[], b"").is_err()
    );
    prom.stop();
}

#[test]
fn a_restarted_prometheus_answers_again_on_the_same_port() {
    let mut prom = Prometheus::start(PrometheusOptions::default());
    let url = prom.url();
    let first_pid = prom.pid().expect("running");
    prom.stop();
    assert!(tocsin_testkit::http_request("GET", &format!("{url}/-/ready"), &[], b"").is_err());
    prom.restart();
    assert_eq!(prom.url(), url);
    assert_ne!(prom.pid(), Some(first_pid));
    assert!(prom.pid().is_some_and(process_alive));
    let (status, body) = http_get(&format!("{url}/api/v1/query?query=vector(1)"));
    assert_eq!(status, 200, "{body}");
    // Restarting a running server stops it first.
    let second_pid = prom.pid().expect("running");
    prom.restart();
    assert!(!process_alive(second_pid));
    assert!(prom.pid().is_some_and(process_alive));
    assert_eq!(prom.url(), url);
}

#[test]
fn prometheus_loads_rule_files_and_reloads_changes() {
    let scratch = tocsin_testkit::TempDir::new("rules").unwrap();
    let rules = scratch.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![rules.clone()],
        ..Default::default()
    });
    let (status, body) = http_get(&format!("{}/api/v1/rules", prom.url()));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""name":"one""#), "{body}");
    assert!(
        body.contains(&format!(r#""file":"{}""#, rules.display())),
        "{body}"
    );

    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - record: two\n        expr: vector(2)\n",
    )
    .unwrap();
    prom.reload();
    let (_, body) = http_get(&format!("{}/api/v1/rules", prom.url()));
    assert!(body.contains(r#""name":"two""#), "{body}");
    assert!(!body.contains(r#""name":"one""#), "{body}");
}

#[test]
fn prometheus_accepts_remote_write_when_asked() {
    let prom = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..Default::default()
    });
    // An empty snappy-compressed WriteRequest would be 204; an undecodable body is 400,
    // while a server without the receiver answers 404.
    let (status, body) = http_post(
        &format!("{}/api/v1/write", prom.url()),
        "application/x-protobuf",
        b"junk",
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn prometheus_config_points_at_the_given_alertmanager() {
    let am = Alertmanager::start(NULL_RECEIVER_CONFIG);
    let scratch = tocsin_testkit::TempDir::new("rules").unwrap();
    let rules = scratch.path().join("alerts.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: Always\n        expr: vector(1)\n",
    )
    .unwrap();
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![rules],
        alertmanager_url: Some(am.url()),
        ..Default::default()
    });
    // Discovery of the target is asynchronous; the loaded config is not.
    let (status, body) = http_get(&format!("{}/api/v1/status/config", prom.url()));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("127.0.0.1:{}", am.port())), "{body}");
}

#[test]
fn alertmanager_starts_and_reports_its_status() {
    let am = Alertmanager::start(NULL_RECEIVER_CONFIG);
    let (status, body) = http_get(&format!("{}/api/v2/status", am.url()));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""cluster":{"#), "{body}");
    assert!(body.contains(r#""status":"disabled""#), "{body}");
    assert!(body.contains(r#""version":"0.25"#), "{body}");
}

#[test]
fn a_bad_alertmanager_config_fails_with_the_log_tail() {
    let result = std::panic::catch_unwind(|| Alertmanager::start("route: [not a route\n"));
    let err = result.expect_err("startup must fail");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("alertmanager exited during startup"), "{msg}");
    assert!(msg.contains("log tail"), "{msg}");
}

#[test]
fn the_recorder_captures_headers_and_body() {
    let rec = Recorder::start(CannedResponse::json("{}"));
    let resp = tocsin_testkit::http_request(
        "POST",
        &format!("{}/x?y=1", rec.url()),
        &[("X-Scope-OrgID", "tenant-a")],
        b"a=b",
    )
    .unwrap();
    assert_eq!((resp.status, resp.text()), (200, "{}".to_string()));
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].target, "/x?y=1");
    assert_eq!(reqs[0].header("x-scope-orgid"), Some("tenant-a"));
    assert_eq!(reqs[0].body, b"a=b");
}
