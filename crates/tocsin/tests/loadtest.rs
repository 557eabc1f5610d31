//! `tocsin loadtest`, end to end with real parts: the alerts load test through the
//! notification pipeline against `tocsin sink dingtalk` (DingTalk's 20 a minute, 130101,
//! throttle), through a real Alertmanager and `tocsin gateway` to the sink, and the rules
//! load test against a real Prometheus.
//!
//! What is compared is the load test's report against what the sink recorded, read here
//! independently from the sink's store file: messages, alerts listed (by their id) and
//! counted (`… and N more` lines). Waits have deadlines; nothing is timed.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{metric_value, Daemon, Sink, Stored};
use serde_json::Value;
use tocsin_testkit::{free_port, Alertmanager, TempDir};

const TOKEN: &str = "0b7c6d5e4f3a2b1c0d5d8c1f0e9a7b6c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8";

/// Runs `tocsin loadtest ARGS --format json`; its exit status and report.
fn loadtest(args: &[String]) -> (std::process::ExitStatus, Value, String) {
    let args: Vec<&str> = std::iter::once("loadtest")
        .chain(args.iter().map(String::as_str))
        .chain(["--format=json"])
        .collect();
    let out = common::tocsin(&args);
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{stderr}"));
    (out.status, report, stderr)
}

/// What the sink recorded, read the way a person reads the messages: ids (`lt` and seven
/// digits) listed, and the numbers of `… and N more` lines.
#[derive(Debug, Default)]
struct Seen {
    messages: usize,
    listed: BTreeSet<String>,
    counted: u64,
}

fn seen(messages: &[Stored]) -> Seen {
    let id = regex::Regex::new(r"\blt[0-9]{7}\b").expect("regex");
    let more = regex::Regex::new(r"^- … and ([0-9,]+) more ").expect("regex");
    let mut s = Seen {
        messages: messages.len(),
        ..Seen::default()
    };
    for m in messages {
        for found in id.find_iter(m.text()) {
            s.listed.insert(found.as_str().to_owned());
        }
        for line in m.text().lines() {
            if let Some(c) = more.captures(line.trim()) {
                s.counted += c[1].replace(',', "").parse::<u64>().expect("count");
            }
        }
    }
    s
}

fn robot_config(dir: &Path, sink: &Sink, route: &str, storm: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("token"), TOKEN).expect("token");
    let config = format!(
        r#"global:
  external_url: http://tocsin.example:9096
notify:
  route:
    receiver: robot
{route}
  receivers:
    - name: robot
      send_resolved: false
      dingtalk:
        url: {url}
        access_token_file: "{token}"
{storm}"#,
        url = sink.url(),
        token = dir.join("token").display(),
    );
    let path = dir.join("tocsin.yaml");
    std::fs::write(&path, config).expect("config");
    path
}

fn assert_report_matches_sink(report: &Value, sink: &Sink, receiver: &str, alerts: u64) {
    let s = seen(&sink.messages());
    let context = || format!("{report:#}");
    assert_eq!(report["alerts_in"], alerts, "{}", context());
    assert_eq!(report["alerts_lost"], 0, "{}", context());
    assert_eq!(report["complete"], true, "{}", context());
    assert_eq!(report["ok"], true, "{}", context());
    assert_eq!(report["answers_130101"], 0, "{}", context());
    assert_eq!(
        metric_value(
            &sink.metrics(),
            "tocsin_sink_requests_rejected_total{errcode=\"130101\"}"
        ),
        0.0
    );
    assert_eq!(report["messages"], s.messages as u64, "{}", context());
    assert_eq!(
        report["messages_per_receiver"][receiver]["total"],
        s.messages as u64,
        "{}",
        context()
    );
    let per_minute: u64 = report["messages_per_receiver"][receiver]["per_minute"]
        .as_array()
        .expect("per_minute")
        .iter()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(per_minute, s.messages as u64, "{}", context());
    assert_eq!(
        report["alerts_listed"],
        s.listed.len() as u64,
        "{}",
        context()
    );
    assert_eq!(report["alerts_counted"], s.counted, "{}", context());
    assert_eq!(
        s.listed.len() as u64 + s.counted,
        alerts,
        "the sink's messages account for every alert once: {}",
        context()
    );
}

/// A stand-in robot accepting [`TOKEN`], storing what it accepts under `dir`.
fn start_sink(dir: &Path) -> Sink {
    Sink::start(free_port(), dir.join("sink.jsonl"), &["--token", TOKEN])
}

/// What `tocsin loadtest alerts --config` did with a robot at a fresh sink.
struct PipelineRun {
    _dir: TempDir,
    sink: Sink,
    status: std::process::ExitStatus,
    report: Value,
    stderr: String,
}

/// Runs `tocsin loadtest alerts` with `args` through the pipeline of a config whose robot
/// (with `storm` settings) is a fresh sink, routed by `route`.
fn through_pipeline(name: &str, route: &str, storm: &str, args: &[&str]) -> PipelineRun {
    let dir = TempDir::new(name).expect("temp dir");
    let sink = start_sink(dir.path());
    let config = robot_config(dir.path(), &sink, route, storm);
    let mut all = vec![
        "alerts".to_owned(),
        format!("--config={}", config.display()),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let (status, report, stderr) = loadtest(&all);
    PipelineRun {
        _dir: dir,
        sink,
        status,
        report,
        stderr,
    }
}

#[test]
fn a_100000_alert_storm_through_the_pipeline_loses_nothing_and_its_report_matches_the_sink() {
    // 100,000 alerts in 1,000 groups (alertname, namespace): one storm digest, which at
    // 15 messages fits in the robot's first minute; what the listing cannot hold is counted.
    let PipelineRun {
        _dir,
        sink,
        status,
        report,
        stderr,
    } = through_pipeline(
        "loadtest-pipeline",
        "    group_by: [alertname, namespace]\n    group_wait: 5s\n    group_interval: 5m\n    repeat_interval: 4h",
        "        storm: {max_messages: 15}\n",
        &[
            "--alerts=100000",
            "--label=namespace=1000",
            "--label=job_name=100000",
            "--deadline=10m",
        ],
    );
    assert!(status.success(), "{report:#}\n{stderr}");
    assert_eq!(report["target"], "pipeline");
    assert_eq!(report["notifications"], 1000, "{report:#}");
    assert!(report["digests"].as_u64() >= Some(1), "{report:#}");
    assert_eq!(report["undelivered_notifications"], 0, "{report:#}");
    assert_eq!(report["outbox_evicted"], 0, "{report:#}");
    for q in ["p50", "p95", "max"] {
        assert!(
            report["latency_seconds"][q]
                .as_f64()
                .is_some_and(|v| v > 0.0),
            "{report:#}"
        );
    }
    assert_report_matches_sink(&report, &sink, "robot", 100_000);
}

/// `tocsin gateway` delivering its receiver `robot` to a `tocsin sink dingtalk`.
struct Chain {
    dir: TempDir,
    sink: Sink,
    gateway: Daemon,
}

impl Chain {
    fn start(name: &str) -> Chain {
        let dir = TempDir::new(name).expect("temp dir");
        let sink = start_sink(dir.path());
        let config = robot_config(
            dir.path(),
            &sink,
            "    group_by: [alertname]",
            "        storm: {max_messages: 15}\n",
        );
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push_str(&format!(
            "state:\n  dir: \"{}\"\n",
            dir.path().join("state").display()
        ));
        std::fs::write(&config, text).expect("config");
        let gateway = Daemon::start_command(
            "gateway",
            &[format!("--config={}", config.display())],
            dir.path().join("gateway.log"),
            &[],
        );
        Chain { dir, sink, gateway }
    }

    /// `tocsin loadtest alerts --target KIND URL --sink …` with `scenario`; checks that it
    /// succeeded and that its report matches what the sink recorded.
    fn load(&self, kind: &str, url: String, scenario: &[&str], alerts: u64) {
        let mut args = vec![
            "alerts".to_owned(),
            "--target".to_owned(),
            kind.to_owned(),
            url,
            format!("--sink=http://127.0.0.1:{}", self.sink.port),
            "--deadline=5m".to_owned(),
        ];
        args.extend(scenario.iter().map(|a| (*a).to_owned()));
        let (status, report, stderr) = loadtest(&args);
        assert!(
            status.success(),
            "{report:#}\n{stderr}\n{}",
            self.gateway.log_text()
        );
        assert_eq!(report["target"], kind);
        assert_report_matches_sink(&report, &self.sink, "sink", alerts);
        assert!(self.dir.path().join("state").is_dir());
    }
}

#[test]
fn alerts_posted_to_a_real_alertmanager_reach_the_sink_through_the_gateway_and_the_report_matches_it(
) {
    let chain = Chain::start("loadtest-alertmanager");
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: dingtalk\n  group_by: [alertname, namespace]\n  group_wait: 10s\n  \
         group_interval: 10m\n  repeat_interval: 4h\nreceivers:\n  - name: dingtalk\n    \
         webhook_configs:\n      - url: {}/dingtalk/robot/send\n        send_resolved: false\n",
        chain.gateway.url
    ));
    // The late alerts join their groups within Alertmanager's group_wait: each alert is in
    // one notification (later ones would come a group_interval later, and again list the
    // alerts already reported).
    chain.load(
        "alertmanager",
        am.url(),
        &[
            "--alerts=3000",
            "--label=namespace=60",
            "--at-once=2000",
            "--ramp=2s",
        ],
        3000,
    );
}

#[test]
fn webhook_posts_straight_to_the_gateway_reach_the_sink_and_the_report_matches_it() {
    let chain = Chain::start("loadtest-gateway");
    let url = format!("{}/dingtalk/robot/send", chain.gateway.url);
    chain.load(
        "gateway",
        url,
        &[
            "--alerts=2000",
            "--alertnames=3",
            "--label=namespace=40",
            "--group-by=alertname,namespace",
        ],
        2000,
    );
}

#[test]
fn a_light_rules_load_against_a_real_prometheus_evaluates_every_rule_and_misses_no_iteration() {
    let prom = tocsin_testkit::Prometheus::start(tocsin_testkit::PrometheusOptions::default());
    let (status, report, stderr) = loadtest(&[
        "rules".into(),
        format!("--datasource={}", prom.url()),
        "--rules=40".into(),
        "--interval=2s".into(),
        "--duration=12s".into(),
    ]);
    assert!(status.success(), "{report:#}\n{stderr}");
    let context = || format!("{report:#}");
    assert_eq!(report["rules"], 40, "{}", context());
    assert_eq!(report["groups"], 2, "{}", context());
    assert!(
        report["evaluations_per_second"].as_f64() > Some(0.0),
        "{}",
        context()
    );
    assert_eq!(report["missed_iterations"], 0, "{}", context());
    assert_eq!(report["evaluation_failures"], 0, "{}", context());
    let evaluations = report["evaluations"].as_u64().expect("evaluations");
    assert!(evaluations >= 40, "{}", context());
    // Every evaluation is at least one query (one may be in flight at the end), and
    // Prometheus saw them.
    let queries = report["prometheus"]["queries"].as_u64().expect("queries");
    assert!(queries >= evaluations, "{}", context());
    assert_eq!(report["prometheus"]["query_failures"], 0, "{}", context());
    let inner = &report["prometheus"]["engine_query_duration"]["inner_eval"]["count"];
    assert!(inner.as_f64() >= Some(evaluations as f64), "{}", context());
    for field in ["p50", "p95", "max"] {
        assert!(
            report["rule_evaluation_seconds"][field].is_number(),
            "{}",
            context()
        );
        assert!(
            report["group_iteration_seconds"][field].is_number(),
            "{}",
            context()
        );
    }
    assert!(report["tocsin"]["cpu_seconds"].is_number(), "{}", context());
    assert!(
        report["tocsin"]["peak_rss_bytes"].as_u64() > Some(0),
        "{}",
        context()
    );
}

#[test]
fn a_deadline_that_passes_before_delivery_is_an_error_naming_what_is_pending() {
    // group_wait holds every notification far past the deadline.
    let PipelineRun {
        _dir,
        sink,
        status,
        report,
        stderr,
    } = through_pipeline(
        "loadtest-deadline",
        "    group_by: [alertname]\n    group_wait: 10m",
        "",
        &["--alerts=50", "--deadline=3s"],
    );
    assert_eq!(status.code(), Some(1), "{report:#}\n{stderr}");
    assert_eq!(report["complete"], false, "{report:#}");
    assert_eq!(report["ok"], false, "{report:#}");
    assert_eq!(report["alerts_in"], 50, "{report:#}");
    let pending = report["pending"].as_str().expect("pending");
    assert!(
        pending.contains("50 alerts neither listed nor counted"),
        "{pending}"
    );
    assert!(stderr.contains("deadline passed"), "{stderr}");
    assert!(sink.messages().is_empty());
    assert_eq!(
        metric_value(&sink.metrics(), "tocsin_sink_messages_accepted_total"),
        0.0
    );
}
