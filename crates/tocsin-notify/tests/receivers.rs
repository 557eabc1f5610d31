//! The pipeline against real endpoints: a real Alertmanager (read back with `amtool`), a
//! request recorder standing in for a webhook and a DingTalk robot, and a restart with
//! the outbox holding what a failing robot did not take.

use std::process::Command;
use std::time::Duration;

use tocsin_notify::alert::{fingerprint, labels, Labels, NotifyAlert};
use tocsin_notify::config::NotifyConfig;
use tocsin_notify::pipeline::{Notifier, PipelineOptions};
use tocsin_notify::time::Timestamp;
use tocsin_testkit::{
    eventually, http_get, Alertmanager, CannedResponse, Recorder, TempDir, NULL_RECEIVER_CONFIG,
};

fn config(json: &str) -> NotifyConfig {
    serde_json::from_str(json).unwrap()
}

fn alert(name: &str, inst: &str) -> NotifyAlert {
    let mut a = NotifyAlert::firing(
        labels([
            ("alertname", name),
            ("instance", inst),
            ("severity", "critical"),
        ]),
        labels([("summary", "disk almost full")]),
        Timestamp::now() - Duration::from_secs(120),
    );
    a.generator_url = "http://prometheus:9090/graph?g0.expr=up".into();
    a
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn alerts_posted_to_a_real_alertmanager_are_listed_by_amtool() {
    let am = Alertmanager::start(NULL_RECEIVER_CONFIG);
    let cfg = config(&format!(
        r#"{{"route": {{"receiver": "am", "group_by": ["alertname"], "group_wait": "0s"}},
            "receivers": [{{"name": "am", "alertmanager": {{"url": "{}"}}}}]}}"#,
        am.url()
    ));
    let mut n = Notifier::from_config(&cfg, &PipelineOptions::default(), false).unwrap();
    let rt = runtime();
    let a = alert("TocsinDiskFull", "node-1:9100");
    let fp = a.fingerprint;
    n.ingest(
        [a, alert("TocsinDiskFull", "node-2:9100")],
        Timestamp::now(),
    );
    assert_eq!(rt.block_on(n.flush(Timestamp::now())).unwrap(), 1);
    assert_eq!(n.pipeline().stats().batches_delivered, 1);

    let listed = eventually(
        "amtool to list both alerts",
        Duration::from_secs(10),
        || {
            let out = Command::new("amtool")
                .args(["alert", "query", "-o", "json"])
                .arg(format!("--alertmanager.url={}", am.url()))
                .arg("alertname=TocsinDiskFull")
                .output()
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            (v.as_array()?.len() == 2).then_some(v)
        },
    );
    let first = &listed[0];
    assert_eq!(first["labels"]["severity"], "critical");
    assert_eq!(first["annotations"]["summary"], "disk almost full");
    assert_eq!(
        first["generatorURL"],
        "http://prometheus:9090/graph?g0.expr=up"
    );
    // Our fingerprint is Alertmanager's.
    let fps: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["fingerprint"].as_str())
        .collect();
    assert!(
        fps.contains(&format!("{fp:016x}").as_str()),
        "{fps:?} vs {fp:016x}"
    );

    // Resolving it: Alertmanager shows it no longer as active.
    let resolved = alert("TocsinDiskFull", "node-1:9100").resolved_at(Timestamp::now());
    n.ingest([resolved], Timestamp::now());
    // The group's next flush is group_interval (5m) away; a later tick does it.
    let later = Timestamp::now() + Duration::from_secs(301);
    rt.block_on(n.flush(later)).unwrap();
    let active = eventually("one alert left active", Duration::from_secs(10), || {
        let (status, body) = http_get(&format!(
            "{}/api/v2/alerts?active=true&filter=alertname%3D%22TocsinDiskFull%22",
            am.url()
        ));
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (status == 200 && v.as_array()?.len() == 1).then_some(v)
    });
    assert_eq!(active[0]["labels"]["instance"], "node-2:9100");
}

#[test]
fn webhook_receives_alertmanager_payload_v4() {
    let hook = Recorder::start(CannedResponse::json("{}"));
    let cfg = config(&format!(
        r#"{{"route": {{"receiver": "hook", "group_by": ["alertname"], "group_wait": "0s"}},
            "receivers": [{{"name": "hook", "webhook": {{"url": "{}/alerts"}}}}]}}"#,
        hook.url()
    ));
    let opts = PipelineOptions {
        external_url: "http://tocsin:9096".into(),
        ..PipelineOptions::default()
    };
    let mut n = Notifier::from_config(&cfg, &opts, false).unwrap();
    n.ingest([alert("A", "1"), alert("B", "1")], Timestamp::now());
    let rt = runtime();
    rt.block_on(n.flush(Timestamp::now())).unwrap();
    // One request per group, sent one at a time per destination.
    while rt.block_on(n.flush(Timestamp::now())).unwrap() > 0 {}
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 2);
    let v: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(reqs[0].target, "/alerts");
    assert_eq!(v["version"], "4");
    assert_eq!(v["receiver"], "hook");
    assert_eq!(v["groupKey"], "{}:{alertname=\"A\"}");
    assert_eq!(v["externalURL"], "http://tocsin:9096");
    assert_eq!(v["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let l: Labels = serde_json::from_value(v["alerts"][0]["labels"].clone()).unwrap();
    assert_eq!(
        v["alerts"][0]["fingerprint"],
        format!("{:016x}", fingerprint(&l))
    );
}

fn dingtalk_config(url: &str, token_file: &std::path::Path) -> NotifyConfig {
    config(&format!(
        r#"{{"route": {{"receiver": "robot", "group_by": ["alertname"], "group_wait": "0s"}},
            "receivers": [{{"name": "robot", "dingtalk": {{"url": "{url}/robot/send",
                "access_token_file": "{}", "keyword": "tocsin",
                "mention": {{"mobiles": ["13800000000"]}}}}}}]}}"#,
        token_file.display()
    ))
}

#[test]
fn dingtalk_robot_gets_one_markdown_message_per_group_with_keyword_and_mention() {
    let robot = Recorder::start(CannedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#));
    let dir = TempDir::new("notify-dt").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-abc123\n").unwrap();
    let mut n = Notifier::from_config(
        &dingtalk_config(&robot.url(), &token),
        &PipelineOptions::default(),
        false,
    )
    .unwrap();
    n.ingest(
        [
            alert("DiskFull", "1"),
            alert("DiskFull", "2"),
            alert("CpuHigh", "1"),
        ],
        Timestamp::now(),
    );
    runtime().block_on(n.flush(Timestamp::now())).unwrap();
    let reqs = robot.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[0]
            .target
            .starts_with("/robot/send?access_token=tok-abc123"),
        "{}",
        reqs[0].target
    );
    let v: serde_json::Value = serde_json::from_slice(&reqs[1].body).unwrap();
    assert_eq!(v["msgtype"], "markdown");
    assert_eq!(v["markdown"]["title"], "[FIRING:2] DiskFull [tocsin]");
    let text = v["markdown"]["text"].as_str().unwrap();
    assert!(text.starts_with("#### \\[FIRING:2\\] DiskFull"), "{text}");
    assert!(text.contains("**[CRITICAL] disk almost full**"), "{text}");
    assert!(text.contains("@13800000000"), "{text}");
    assert_eq!(v["at"]["atMobiles"][0], "13800000000");
    // The token is in no log-facing text.
    assert!(!format!("{n:?}").contains("tok-abc123"));
}

#[test]
fn notifications_a_failing_robot_did_not_take_are_sent_after_a_restart() {
    let dir = TempDir::new("notify-outbox").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-abc123").unwrap();
    let opts = PipelineOptions {
        outbox_dir: Some(dir.path().join("outbox")),
        ..PipelineOptions::default()
    };
    // A robot endpoint that is down (HTTP 503 every time); after the restart the config
    // points at one that works.
    let down = Recorder::start(CannedResponse {
        status: 503,
        ..CannedResponse::json("{}")
    });
    {
        let mut n =
            Notifier::from_config(&dingtalk_config(&down.url(), &token), &opts, false).unwrap();
        n.ingest(
            [alert("DiskFull", "1"), alert("CpuHigh", "1")],
            Timestamp::now(),
        );
        runtime().block_on(n.flush(Timestamp::now())).unwrap();
        assert_eq!(n.pipeline().stats().batches_delivered, 0);
        assert!(!down.requests().is_empty());
        // The process dies here.
    }

    let up = Recorder::start(CannedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#));
    let mut n = Notifier::from_config(&dingtalk_config(&up.url(), &token), &opts, false).unwrap();
    assert_eq!(n.pipeline().queued().values().sum::<usize>(), 2);
    runtime().block_on(n.flush(Timestamp::now())).unwrap();
    let titles: Vec<String> = up
        .requests()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["markdown"]["title"]
                .to_string()
        })
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        titles[0].contains("CpuHigh") && titles[1].contains("DiskFull"),
        "{titles:?}"
    );
    drop(n);
    // Delivered and acknowledged: a second restart has nothing to send.
    let n = Notifier::from_config(&dingtalk_config(&up.url(), &token), &opts, false).unwrap();
    assert_eq!(n.pipeline().queued().values().sum::<usize>(), 0);
}
