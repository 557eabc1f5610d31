//! The notification path end to end: real Prometheus, `tocsin run` as a process, and
//! `tocsin sink dingtalk` standing in for DingTalk (it verifies signatures, enforces the
//! 20-per-minute limit and stores what it accepted). Timers are short (1 s evaluations,
//! group_wait 1 s) so each behaviour shows in seconds.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use common::{metric_value, now_millis, wait_until, Daemon, Sink, Stored};
use tocsin_query::LabelsBuilder;
use tocsin_testkit::{free_port, http_get, http_post, Prometheus, PrometheusOptions, TempDir};

/// 64 hex characters, like a real robot token.
const TOKEN: &str = "7c2e9a41d05b8f36e1a7c94d2b0f58e3a6d1c7b49e20f8a35c6d1e7b0a9f4c2d";
const SECRET: &str = "SECa1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7a8b9";
const MOBILE: &str = "13800138000";

struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let dir = TempDir::new(name).expect("temp dir");
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).expect("token file");
        std::fs::write(dir.path().join("secret"), format!("{SECRET}\n")).expect("secret file");
        Setup { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write file");
    }

    /// A config with one robot receiver at `robot_url`, and `extra_routes` /
    /// `extra_receivers` YAML appended under `route:` and `receivers:`.
    fn config(&self, prometheus: &str, robot_url: &str, timers: &str) -> String {
        format!(
            r#"global:
  evaluation_interval: 1s
datasource:
  url: {prometheus}
rule_files: ["{rules}"]
state:
  dir: "{state}"
notify:
  route:
    receiver: robot
{timers}
  receivers:
    - name: robot
      dingtalk:
        url: {robot_url}
        access_token_file: "{token}"
        secret_file: "{secret}"
        message: markdown
        mention:
          mobiles: ["{MOBILE}"]
"#,
            rules = self.path("rules.yaml").display(),
            state = self.path("state").display(),
            token = self.path("token").display(),
            secret = self.path("secret").display(),
        )
    }

    fn start(&self, config: &str, log: &str) -> Daemon {
        self.write("tocsin.yaml", config);
        Daemon::start(
            &[
                format!("--config={}", self.path("tocsin.yaml").display()),
                "--web.enable-lifecycle".into(),
                "--log.level=debug".into(),
            ],
            self.path(log),
        )
    }
}

fn is_firing(m: &Stored) -> bool {
    m.title.starts_with("[FIRING")
}

fn is_resolved(m: &Stored) -> bool {
    m.title.starts_with("[RESOLVED")
}

fn describe(messages: &[Stored]) -> String {
    messages
        .iter()
        .map(|m| format!("{} {} {}", m.at_ms, m.msgtype, m.title))
        .collect::<Vec<_>>()
        .join("\n")
}

const ONE_ALERT: &str = r#"groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: DiskFull
        expr: label_replace(vector(97), "instance", "db-1:9100", "", "")
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.instance }} disk at {{ $value }}%"
"#;

#[test]
fn firing_alert_sends_one_signed_markdown_message_repeats_after_repeat_interval_and_resolves_once()
{
    let prom = Prometheus::start(PrometheusOptions::default());
    let setup = Setup::new("notify-e2e-basic");
    let sink = Sink::start(
        0,
        setup.path("sink.jsonl"),
        &["--secret", SECRET, "--token", TOKEN],
    );
    setup.write("rules.yaml", ONE_ALERT);
    let timers = "    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 3s\n    repeat_interval: 20s";
    let daemon = setup.start(
        &setup.config(&prom.url(), &sink.url(), timers),
        "tocsin.log",
    );
    let context = || {
        format!(
            "{}\nmessages:\n{}",
            daemon.log_text(),
            describe(&sink.messages())
        )
    };

    wait_until(
        "the firing message",
        Duration::from_secs(60),
        || !sink.messages().is_empty(),
        context,
    );
    let first = sink.messages()[0].clone();
    // The sink ran with --secret: it only stores requests whose signature verified.
    assert_eq!(first.msgtype, "markdown");
    assert!(is_firing(&first), "{}", first.title);
    assert!(first.title.contains("DiskFull"), "{}", first.title);
    assert!(
        first.text().contains("db-1:9100 disk at 97%"),
        "{}",
        first.text()
    );
    assert!(
        first.text().contains(&format!("@{MOBILE}")),
        "{}",
        first.text()
    );
    assert_eq!(
        first.body["at"]["atMobiles"],
        serde_json::json!([MOBILE]),
        "{}",
        first.body
    );

    // Nothing more until repeat_interval has passed; then exactly one repeat.
    wait_until(
        "the repeat",
        Duration::from_secs(90),
        || sink.messages().len() >= 2,
        context,
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "{}", describe(&messages));
    let repeat = &messages[1];
    assert!(is_firing(repeat), "{}", describe(&messages));
    let gap = repeat.at_ms - first.at_ms;
    // The sink stamps arrival times, tocsin measures from its own send: allow a second of
    // delivery latency on a loaded machine. An early repeat would come a whole
    // group_interval (3 s) tick or more before 20 s, so this still catches one.
    assert!(
        gap >= 19_000,
        "repeated after {gap} ms:\n{}",
        describe(&messages)
    );

    // Resolution: the same rule, now returning nothing.
    setup.write(
        "rules.yaml",
        &ONE_ALERT.replace(
            r#"label_replace(vector(97), "instance", "db-1:9100", "", "")"#,
            r#"label_replace(vector(97), "instance", "db-1:9100", "", "") > 100"#,
        ),
    );
    let (status, body) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 200, "{body}");
    wait_until(
        "the resolved message",
        Duration::from_secs(60),
        || sink.messages().iter().any(is_resolved),
        context,
    );
    let resolved_at = now_millis();
    // Past group_interval and repeat_interval: nothing follows the resolved message.
    wait_until(
        "25 s of quiet after resolution",
        Duration::from_secs(40),
        || now_millis() - resolved_at > 25_000,
        context,
    );
    let messages = sink.messages();
    let resolved: Vec<&Stored> = messages.iter().filter(|m| is_resolved(m)).collect();
    assert_eq!(resolved.len(), 1, "{}", describe(&messages));
    assert_eq!(resolved[0].msgtype, "markdown");
    assert!(
        resolved[0].text().contains("db-1:9100"),
        "{}",
        resolved[0].text()
    );
    let last_firing = messages
        .iter()
        .filter(|m| is_firing(m))
        .map(|m| m.at_ms)
        .max();
    assert!(
        last_firing < Some(resolved[0].at_ms),
        "firing after resolution:\n{}",
        describe(&messages)
    );
    assert_eq!(messages.len(), 3, "{}", describe(&messages));
}

/// Writes one sample per series at `at_ms` by remote write.
fn remote_write(prom: &Prometheus, series: &[(Vec<(&str, String)>, f64)], at_ms: i64) {
    let mut builder = LabelsBuilder::default();
    let samples: Vec<_> = series
        .iter()
        .map(|(labels, value)| {
            for (k, v) in labels {
                builder.push(k, v);
            }
            (builder.build(), *value, at_ms)
        })
        .collect();
    common::remote_write(&prom.url(), &samples);
}

/// Words of letters, digits and `-`, the way alert ids appear in message text.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
}

#[test]
fn a_storm_of_5000_alerts_in_50_groups_stays_under_20_a_minute_and_reports_every_alert() {
    let prom = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..PrometheusOptions::default()
    });
    let setup = Setup::new("notify-e2e-storm");
    let sink = Sink::start(
        0,
        setup.path("sink.jsonl"),
        &["--secret", SECRET, "--token", TOKEN],
    );
    let ids: Vec<String> = (0..5000).map(|i| format!("a{i:04}")).collect();
    let series: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                vec![
                    ("__name__", "storm_up".to_owned()),
                    ("alert_id", id.clone()),
                    ("shard", format!("s{:02}", i % 50)),
                ],
                1.0,
            )
        })
        .collect();
    // One sample each, valid for Prometheus's 5-minute lookback: longer than the test.
    remote_write(&prom, &series, now_millis());
    setup.write(
        "rules.yaml",
        "groups:\n  - name: storm\n    interval: 1s\n    rules:\n      - alert: Storm\n        expr: storm_up > 0\n",
    );
    let timers = "    group_by: [shard]\n    group_wait: 1s\n    group_interval: 5s\n    repeat_interval: 1h";
    let started = now_millis();
    let daemon = setup.start(
        &setup.config(&prom.url(), &sink.url(), timers),
        "tocsin.log",
    );
    let context = || {
        format!(
            "{}\nmessages:\n{}",
            tail(&daemon.log_text()),
            describe(&sink.messages())
        )
    };
    wait_until(
        "5,000 firing alerts",
        Duration::from_secs(60),
        || daemon.alerts().len() == 5000,
        context,
    );

    let missing = |messages: &[Stored]| -> Vec<String> {
        let seen: HashSet<&str> = messages.iter().flat_map(|m| words(m.text())).collect();
        ids.iter()
            .filter(|id| !seen.contains(id.as_str()))
            .cloned()
            .collect()
    };
    // Every alert reported within 3 minutes of the firing evaluation (measured from
    // before tocsin started, so the allowance only shrinks).
    wait_until(
        "every alert in some message",
        Duration::from_secs(200),
        || missing(&sink.messages()).is_empty() || now_millis() - started > 180_000,
        context,
    );
    let messages = sink.messages();
    let gone = missing(&messages);
    assert!(
        gone.is_empty(),
        "{} alerts not reported within 3 minutes, e.g. {:?}:\n{}",
        gone.len(),
        &gone[..gone.len().min(10)],
        describe(&messages)
    );
    assert!(
        messages.iter().all(|m| m.at_ms - started <= 180_000),
        "{}",
        describe(&messages)
    );
    // Never more than 20 in any rolling minute, and the sink never had to refuse one.
    for (i, m) in messages.iter().enumerate() {
        let in_window = messages[i..]
            .iter()
            .take_while(|n| n.at_ms - m.at_ms < 60_000)
            .count();
        assert!(
            in_window <= 20,
            "{in_window} in a minute:\n{}",
            describe(&messages)
        );
    }
    let metrics = sink.metrics();
    assert_eq!(
        metric_value(&metrics, "tocsin_sink_throttled_total"),
        0.0,
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            "tocsin_sink_requests_rejected_total{errcode=\"130101\"}"
        ),
        0.0,
        "{metrics}"
    );
    eprintln!(
        "storm: {} messages, last at +{} ms, largest body {} bytes",
        messages.len(),
        messages
            .iter()
            .map(|m| m.at_ms - started)
            .max()
            .unwrap_or(0),
        messages
            .iter()
            .map(|m| m.body.to_string().len())
            .max()
            .unwrap_or(0)
    );
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

const THREE_ALERTS: &str = r#"groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: QueueStuck
        expr: vector(1)
      - alert: ReplicaLag
        expr: vector(2)
      - alert: CertExpiring
        expr: vector(3)
"#;

fn outbox_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("state").join("outbox"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn notifications_queued_while_dingtalk_is_down_arrive_exactly_once_after_kill_9_and_restart() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let setup = Setup::new("notify-e2e-outage");
    setup.write("rules.yaml", THREE_ALERTS);
    let port = free_port(); // reserved for the sink, which is not running yet
    let robot_url = format!("http://127.0.0.1:{port}/robot/send");
    let timers = "    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 3s\n    repeat_interval: 1h";
    let config = setup.config(&prom.url(), &robot_url, timers);

    let mut first = setup.start(&config, "tocsin-1.log");
    wait_until(
        "failed sends to the stopped robot, queued in the outbox",
        Duration::from_secs(60),
        || {
            outbox_files(setup.dir.path()) > 0
                && setup.path("state").join("alerts.json").exists()
                && first.log_text().contains("send failed; will retry")
        },
        || first.log_text(),
    );
    first.kill_9();

    let second = setup.start(&config, "tocsin-2.log");
    let sink = Sink::start(port, setup.path("sink.jsonl"), &["--secret", SECRET]);
    let context = || {
        format!(
            "{}\nmessages:\n{}",
            second.log_text(),
            describe(&sink.messages())
        )
    };
    wait_until(
        "one message per group",
        Duration::from_secs(90),
        || sink.messages().len() >= 3,
        context,
    );
    let arrived = now_millis();
    // Several group_intervals and retry rounds later, still nothing new.
    wait_until(
        "15 s after the arrivals",
        Duration::from_secs(30),
        || now_millis() - arrived > 15_000,
        context,
    );
    let messages = sink.messages();
    let mut per_alert: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &messages {
        assert!(is_firing(m), "{}", describe(&messages));
        for name in ["QueueStuck", "ReplicaLag", "CertExpiring"] {
            if m.title.contains(name) {
                *per_alert.entry(name).or_default() += 1;
            }
        }
    }
    assert_eq!(
        per_alert,
        BTreeMap::from([("CertExpiring", 1), ("QueueStuck", 1), ("ReplicaLag", 1)]),
        "{}",
        describe(&messages)
    );
    assert_eq!(messages.len(), 3, "{}", describe(&messages));
}

/// Everything a reader could see: logs, API answers, error texts, the state directory.
fn assert_no_secrets(what: &str, text: &str) {
    assert!(
        !text.contains(TOKEN),
        "the access token leaked into {what}:\n{text}"
    );
    assert!(
        !text.contains(SECRET),
        "the signing secret leaked into {what}:\n{text}"
    );
}

#[test]
fn token_and_secret_appear_in_no_log_line_api_answer_error_or_state_file() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let setup = Setup::new("notify-e2e-secrets");
    setup.write("rules.yaml", THREE_ALERTS);
    let good = Sink::start(0, setup.path("good.jsonl"), &["--secret", SECRET]);
    // A robot with another secret answers 310000 (sign not match).
    let other = Sink::start(
        0,
        setup.path("other.jsonl"),
        &[
            "--secret",
            "SECffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ],
    );
    let down = free_port(); // nothing listens: connection refused
    let timers = "    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 3s\n    repeat_interval: 1h\n    routes:\n      - receiver: other\n        continue: true\n      - receiver: down\n        continue: true\n      - receiver: robot";
    let base = setup.config(&prom.url(), &good.url(), timers);
    let robot = base
        .split_once("    - name: robot\n")
        .map(|(_, r)| r.to_owned())
        .expect("robot receiver");
    let config = format!(
        "{base}    - name: other\n{}    - name: down\n{}",
        robot.replace(&good.url(), &other.url()),
        robot.replace(&good.url(), &format!("http://127.0.0.1:{down}/robot/send")),
    );
    let daemon = setup.start(&config, "tocsin.log");
    let context = || daemon.log_text();
    wait_until(
        "three delivered messages",
        Duration::from_secs(60),
        || good.messages().len() >= 3,
        context,
    );
    wait_until(
        "a 310000 answer and a refused connection",
        Duration::from_secs(60),
        || {
            metric_value(
                &other.metrics(),
                "tocsin_sink_requests_rejected_total{errcode=\"310000\"}",
            ) >= 1.0
                && daemon.log_text().contains("sign not match")
                && daemon.log_text().contains(&format!("127.0.0.1:{down}"))
                && daemon.log_text().contains("Connection refused")
        },
        context,
    );

    let mut seen = Vec::new();
    for path in [
        "/api/v1/alerts",
        "/api/v1/rules",
        "/metrics",
        "/-/ready",
        "/-/healthy",
    ] {
        let (status, body) = http_get(&format!("{}{path}", daemon.url));
        assert_eq!(status, 200, "{path}: {body}");
        seen.push((path.to_owned(), body));
    }
    setup.write(
        "rules.yaml",
        "groups:\n  - name: e2e\n    rules:\n      - alert: Broken\n        expr: rate(up\n",
    );
    let (status, body) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 500, "{body}");
    seen.push(("/-/reload".to_owned(), body));
    for (path, body) in &seen {
        assert_no_secrets(path, body);
    }
    assert!(
        daemon.log_text().contains("level=debug"),
        "{}",
        daemon.log_text()
    );
    assert_no_secrets("tocsin's log", &daemon.log_text());
    // The computed signature rides in the query string, which logs always redact.
    assert!(
        !daemon.log_text().contains("sign="),
        "{}",
        daemon.log_text()
    );
    for line in daemon
        .log_text()
        .lines()
        .filter(|l| l.contains("level=warn") || l.contains("level=error"))
        .take(4)
    {
        eprintln!("log: {line}");
    }
    drop(daemon);

    // State: the outbox and alert state files.
    let mut stack = vec![setup.path("state")];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("state dir")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).expect("state file");
                assert_no_secrets(
                    &path.display().to_string(),
                    &String::from_utf8_lossy(&bytes),
                );
            }
        }
    }
    assert!(files > 0, "no state files written");

    // Config errors about the receiver: the token and secret inlined by mistake, and a bad
    // message format in a receiver whose credentials come from the environment. The
    // errors name fields, never credential values.
    setup.write("rules.yaml", THREE_ALERTS);
    let inlined = config.replacen(
        "        secret_file:",
        &format!("        access_token: {TOKEN}\n        secret: {SECRET}\n        secret_file:"),
        1,
    );
    let from_env = config
        .replacen(
            &format!("access_token_file: \"{}\"", setup.path("token").display()),
            "access_token_env: E2E_ROBOT_TOKEN",
            1,
        )
        .replacen(
            &format!("secret_file: \"{}\"", setup.path("secret").display()),
            "secret_env: E2E_ROBOT_SECRET",
            1,
        )
        .replacen("message: markdown", "message: html", 1);
    assert!(from_env.contains("E2E_ROBOT_SECRET"), "{from_env}");
    for (name, bad) in [("inlined", inlined), ("environment", from_env)] {
        setup.write("bad.yaml", &bad);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["run", "--log.level=debug"])
            .arg(format!("--config={}", setup.path("bad.yaml").display()))
            .arg(format!("--listen=127.0.0.1:{}", free_port()))
            .env("E2E_ROBOT_TOKEN", TOKEN)
            .env("E2E_ROBOT_SECRET", SECRET)
            .output()
            .expect("run tocsin");
        assert!(!out.status.success(), "{name}: the bad config was accepted");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("access_token") || text.contains("html"),
            "{name}: {text}"
        );
        assert_no_secrets(&format!("the {name} config error"), &text);
        eprintln!("{name} config error: {}", text.trim());
    }
}

#[test]
fn a_resolution_that_meets_an_unwritable_outbox_is_sent_once_it_can_be_stored() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let setup = Setup::new("notify-e2e-outbox-full");
    let sink = Sink::start(
        0,
        setup.path("sink.jsonl"),
        &["--secret", SECRET, "--token", TOKEN],
    );
    setup.write("rules.yaml", ONE_ALERT);
    let timers = "    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 2s\n    repeat_interval: 1h";
    let daemon = setup.start(
        &setup.config(&prom.url(), &sink.url(), timers),
        "tocsin.log",
    );
    let context = || {
        format!(
            "{}\nmessages:\n{}",
            tail(&daemon.log_text()),
            describe(&sink.messages())
        )
    };
    wait_until(
        "the firing message",
        Duration::from_secs(60),
        || sink.messages().iter().any(is_firing),
        context,
    );

    // The outbox can no longer be written (as on a full disk): its directory is moved
    // away and a file stands in its place, so every append fails, for root too.
    let outbox = setup.path("state").join("outbox");
    let away = setup.path("state").join("outbox.away");
    std::fs::rename(&outbox, &away).expect("move the outbox away");
    std::fs::write(&outbox, b"").expect("a file in the outbox's place");

    setup.write(
        "rules.yaml",
        &ONE_ALERT.replace(
            r#"label_replace(vector(97), "instance", "db-1:9100", "", "")"#,
            r#"label_replace(vector(97), "instance", "db-1:9100", "", "") > 100"#,
        ),
    );
    let (status, body) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 200, "{body}");
    wait_until(
        "the resolution to fail to be stored",
        Duration::from_secs(60),
        || daemon.log_text().contains("sending notifications failed"),
        context,
    );
    assert!(!sink.messages().iter().any(is_resolved), "{}", context());

    // Space comes back.
    std::fs::remove_file(&outbox).expect("remove the stand-in");
    std::fs::rename(&away, &outbox).expect("put the outbox back");
    wait_until(
        "the resolved message",
        Duration::from_secs(60),
        || sink.messages().iter().any(is_resolved),
        context,
    );
    let messages = sink.messages();
    assert_eq!(
        messages.iter().filter(|m| is_resolved(m)).count(),
        1,
        "{}",
        describe(&messages)
    );
}

#[test]
fn dry_run_logs_each_message_in_full_as_it_would_be_sent_and_sends_nothing() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let setup = Setup::new("notify-e2e-dry-run");
    let sink = Sink::start(
        0,
        setup.path("sink.jsonl"),
        &["--secret", SECRET, "--token", TOKEN],
    );
    setup.write("rules.yaml", ONE_ALERT);
    let timers = "    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 3s\n    repeat_interval: 1h";
    setup.write(
        "tocsin.yaml",
        &setup.config(&prom.url(), &sink.url(), timers),
    );
    let daemon = Daemon::start(
        &[
            format!("--config={}", setup.path("tocsin.yaml").display()),
            "--dry-run".into(),
        ],
        setup.path("tocsin.log"),
    );
    let logged = || {
        daemon
            .log_text()
            .lines()
            .find(|l| l.contains("msg=\"dry run: message not sent\""))
            .map(str::to_owned)
    };
    daemon.wait_for("the message in the log", Duration::from_secs(60), || {
        logged().is_some()
    });
    let line = logged().unwrap_or_default();
    // Title and text as the robot would get them (logfmt-quoted, newlines as \n).
    assert!(line.contains("title=\"[FIRING:1] DiskFull\""), "{line}");
    assert!(
        line.contains("text=\"#### \\\\[FIRING:1\\\\] DiskFull\\n"),
        "{line}"
    );
    assert!(line.contains("db-1:9100 disk at 97%"), "{line}");
    assert!(line.contains("receiver=robot"), "{line}");
    assert!(sink.messages().is_empty(), "a dry run sent a message");
}
