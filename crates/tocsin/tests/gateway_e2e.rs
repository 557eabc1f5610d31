//! Gateway mode end to end: a real Alertmanager whose `webhook_configs` point at
//! `tocsin gateway` (as they pointed at the DingTalk gateway deployment it replaces) gets
//! its notifications to `tocsin sink dingtalk` as signed DingTalk messages, firing and
//! resolved; bad posts are refused with the reason; `tocsin run` serves the same endpoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tocsin_notify::time::Timestamp;
use tocsin_testkit::{
    free_port, http_get, http_post, http_request, wait_until, Alertmanager, TempDir,
};

const TOKEN: &str = "7c1e0a9b8d6f5e4d3c2b1a0918273645f5e4d3c2b1a09f8e7d6c5b4a39281706";
const SECRET: &str = "SECa1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6";
const PATIENCE: Duration = Duration::from_secs(30);

/// A child process on a known port, killed on drop; its output goes to `log`.
struct Process {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Process {
    fn start(args: &[String], port: u16, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).expect("log file");
        let err = file.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(args)
            .stdout(file)
            .stderr(err)
            .stdin(Stdio::null())
            .spawn()
            .expect("start tocsin");
        let p = Process {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        p.wait_for("ready", || {
            http_request("GET", &format!("{}/-/ready", p.url), &[], b"")
                .is_ok_and(|r| r.status == 200)
        });
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        wait_until(what, PATIENCE, done, || format!("log:\n{}", self.log()));
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tocsin sink dingtalk`, signed, on a known port.
fn sink(dir: &Path) -> Process {
    let port = free_port();
    Process::start(
        &[
            "sink".into(),
            "dingtalk".into(),
            format!("--listen=127.0.0.1:{port}"),
            format!("--secret={SECRET}"),
            format!("--token={TOKEN}"),
        ],
        port,
        dir.join("sink.log"),
    )
}

/// `tocsin gateway --config config` on a known port.
fn gateway(dir: &Path, config: &Path) -> Process {
    let port = free_port();
    Process::start(
        &[
            "gateway".into(),
            format!("--config={}", config.display()),
            format!("--listen=127.0.0.1:{port}"),
        ],
        port,
        dir.join("gateway.log"),
    )
}

fn messages(sink: &Process) -> Vec<Value> {
    let (status, body) = http_get(&format!("{}/messages", sink.url));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body)
        .expect("messages JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A config file with one DingTalk receiver, `flink-oncall`, on the sink's robot.
fn config(dir: &Path, sink: &Process, extra: &str) -> PathBuf {
    std::fs::write(dir.join("token"), TOKEN).expect("token file");
    std::fs::write(dir.join("secret"), SECRET).expect("secret file");
    let path = dir.join("tocsin.yml");
    std::fs::write(
        &path,
        format!(
            "{extra}state: {{dir: '{state}'}}\n\
             notify:\n  route: {{receiver: flink-oncall, group_wait: 1s}}\n  receivers:\n    \
             - name: flink-oncall\n      dingtalk:\n        url: {url}/robot/send\n        \
             access_token_file: '{token}'\n        secret_file: '{secret}'\n        \
             message: markdown\n        mention: {{mobiles: ['13800000000']}}\n    \
             - name: hook-only\n      webhook: {{url: 'http://127.0.0.1:9/hook'}}\n",
            state = dir.join("state").display(),
            url = sink.url,
            token = dir.join("token").display(),
            secret = dir.join("secret").display(),
        ),
    )
    .expect("config file");
    path
}

/// Posts one alert to Alertmanager's v2 API; `ends` in the past resolves it.
fn post_alert(am: &Alertmanager, ends: Option<Timestamp>) {
    let mut alert = serde_json::json!({
        "labels": {"alertname": "FlinkJobRestarting", "job_name": "orders-etl",
                   "severity": "critical"},
        "annotations": {"summary": "orders-etl restarted 5 times in 10 minutes"},
        "startsAt": (Timestamp::now() - Duration::from_secs(60)).rfc3339_nano(),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
    });
    if let Some(ends) = ends {
        alert["endsAt"] = ends.rfc3339_nano().into();
    }
    let body = serde_json::to_vec(&[alert]).expect("JSON");
    let (status, text) = http_post(
        &format!("{}/api/v2/alerts", am.url()),
        "application/json",
        &body,
    );
    assert_eq!(status, 200, "{text}");
}

fn text_of(m: &Value) -> String {
    m["body"]["markdown"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn alertmanager_webhooks_reach_dingtalk_through_tocsin_gateway() {
    let dir = TempDir::new("gateway-e2e").expect("temp dir");
    let sink = sink(dir.path());
    let config = config(dir.path(), &sink, "");
    let gateway = gateway(dir.path(), &config);
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: dingtalk\n  group_by: [alertname]\n  group_wait: 1s\n  \
         group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n  - name: dingtalk\n    \
         webhook_configs:\n      - url: {}/dingtalk/flink-oncall/send\n        \
         send_resolved: true\n",
        gateway.url
    ));

    post_alert(&am, None);
    gateway.wait_for("the firing message", || !messages(&sink).is_empty());
    let firing = messages(&sink);
    let m = &firing[0];
    assert_eq!(m["msgtype"], "markdown");
    let text = text_of(m);
    assert!(text.contains("FlinkJobRestarting"), "{text}");
    assert!(text.contains("orders-etl restarted 5 times"), "{text}");
    assert!(text.contains("@13800000000"), "{text}");
    assert_eq!(m["body"]["at"]["atMobiles"][0], "13800000000");

    // Resolution: Alertmanager sends the resolved notice at its next group_interval.
    post_alert(&am, Some(Timestamp::now() - Duration::from_secs(1)));
    gateway.wait_for("the resolved message", || messages(&sink).len() >= 2);
    // Several group intervals later nothing more arrived: one message each.
    std::thread::sleep(Duration::from_secs(6));
    let all = messages(&sink);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all[0]["title"].as_str().unwrap_or("").contains("FIRING"));
    assert!(
        all[1]["title"].as_str().unwrap_or("").contains("RESOLVED"),
        "{all:#?}"
    );
    // The sink verified every signature; the gateway counted what it sent.
    let (_, metrics) = http_get(&format!("{}/metrics", gateway.url));
    assert!(
        metrics.contains("tocsin_notification_messages_sent_total 2"),
        "{metrics}"
    );
    assert!(!gateway.log().contains(TOKEN) && !gateway.log().contains(SECRET));
}

#[test]
fn bad_gateway_posts_are_refused_with_the_reason() {
    let dir = TempDir::new("gateway-refusals").expect("temp dir");
    let sink = sink(dir.path());
    let config = config(dir.path(), &sink, "");
    let gateway = gateway(dir.path(), &config);
    let post = |path: &str, body: &[u8]| {
        http_post(&format!("{}{path}", gateway.url), "application/json", body)
    };
    let (status, text) = post("/dingtalk/flink-oncall/send", b"{\"alerts\": 3");
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("not an Alertmanager webhook payload"),
        "{text}"
    );
    let (status, text) = post(
        "/dingtalk/flink-oncall/send",
        br#"{"version":"3","alerts":[]}"#,
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("version \"3\""), "{text}");
    let payload = br#"{"version":"4","groupKey":"{}:{}","alerts":[{"status":"firing",
        "labels":{"alertname":"X"},"annotations":{},"startsAt":"2026-11-25T08:00:00Z",
        "endsAt":"0001-01-01T00:00:00Z"}]}"#;
    let (status, text) = post("/dingtalk/nobody/send", payload);
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("no receiver named \"nobody\""), "{text}");
    let (status, text) = post("/dingtalk/hook-only/send", payload);
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("no dingtalk robot"), "{text}");
    assert!(messages(&sink).is_empty());
}

#[test]
fn tocsin_run_serves_the_gateway_endpoint_too() {
    let dir = TempDir::new("gateway-run").expect("temp dir");
    let sink = sink(dir.path());
    let rules = dir.path().join("alerting_rule_none.yaml");
    std::fs::write(&rules, "groups: []\n").expect("rules");
    // No Prometheus is needed for a file without rules; the datasource is never queried.
    let config = config(
        dir.path(),
        &sink,
        &format!(
            "datasource: {{url: 'http://127.0.0.1:{}'}}\nrule_files: ['{}']\n",
            free_port(),
            rules.display()
        ),
    );
    let port = free_port();
    let run = Process::start(
        &[
            "run".into(),
            format!("--config={}", config.display()),
            format!("--listen=127.0.0.1:{port}"),
        ],
        port,
        dir.path().join("run.log"),
    );
    let payload = br#"{"version":"4","groupKey":"{}:{alertname=\"FlinkCheckpointFailing\"}",
        "groupLabels":{"alertname":"FlinkCheckpointFailing"},
        "alerts":[{"status":"firing","labels":{"alertname":"FlinkCheckpointFailing",
        "job_name":"billing"},"annotations":{"summary":"3 failed checkpoints"},
        "startsAt":"2026-11-25T08:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
    let (status, text) = http_post(
        &format!("{}/dingtalk/flink-oncall/send", run.url),
        "application/json",
        payload,
    );
    assert_eq!(status, 200, "{text}");
    run.wait_for("the message", || !messages(&sink).is_empty());
    let text = text_of(&messages(&sink)[0]);
    assert!(text.contains("3 failed checkpoints"), "{text}");
}

#[test]
fn percent_encoded_receiver_names_reach_their_robot_and_a_decoded_slash_is_refused() {
    let dir = TempDir::new("gateway-encoded-names").expect("temp dir");
    let sink = sink(dir.path());
    std::fs::write(dir.path().join("token"), TOKEN).expect("token file");
    std::fs::write(dir.path().join("secret"), SECRET).expect("secret file");
    let robot = |name: &str| {
        format!(
            "    - name: '{name}'\n      dingtalk:\n        url: {url}/robot/send\n        \
             access_token_file: '{token}'\n        secret_file: '{secret}'\n        \
             message: markdown\n",
            url = sink.url,
            token = dir.path().join("token").display(),
            secret = dir.path().join("secret").display(),
        )
    };
    let config = dir.path().join("tocsin.yml");
    std::fs::write(
        &config,
        format!(
            "notify:\n  route: {{receiver: r1, group_wait: 1s}}\n  receivers:\n{}{}",
            robot("r1"),
            robot("钉钉 值班")
        ),
    )
    .expect("config file");
    let gateway = gateway(dir.path(), &config);
    // Alertmanager sends the URL as configured: the name percent-encoded.
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: dingtalk\n  group_by: [alertname]\n  group_wait: 1s\n  \
         group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n  - name: dingtalk\n    \
         webhook_configs:\n      - url: '{}/dingtalk/%E9%92%89%E9%92%89%20%E5%80%BC%E7%8F%AD/send'\n",
        gateway.url
    ));
    post_alert(&am, None);
    gateway.wait_for("the message for 钉钉 值班", || {
        !messages(&sink).is_empty()
    });
    assert!(text_of(&messages(&sink)[0]).contains("FlinkJobRestarting"));

    let payload =
        br#"{"version":"4","groupKey":"{}:{alertname=\"X\"}","groupLabels":{"alertname":"X"},
        "alerts":[{"status":"firing","labels":{"alertname":"X"},"annotations":{},
        "startsAt":"2026-11-25T08:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
    let post = |path: &str| {
        http_post(
            &format!("{}{path}", gateway.url),
            "application/json",
            payload,
        )
    };
    let (status, text) = post("/dingtalk/%72%31/send");
    assert_eq!(status, 200, "{text}");
    gateway.wait_for("the message for r1", || messages(&sink).len() >= 2);
    // `%2F` decodes to a slash, which names no receiver.
    let (status, text) = post("/dingtalk/r%2F1/send");
    assert_eq!(status, 404, "{text}");
}
