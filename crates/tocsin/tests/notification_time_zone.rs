//! `global.time_zone` end to end: the same Alertmanager webhook post (an alert that began
//! at 2026-12-04 10:00:00 UTC) through `tocsin gateway` to `tocsin sink dingtalk`, once
//! with `time_zone: Asia/Shanghai` and once without (UTC). The built-in layout and a
//! receiver's own template both show the configured zone; `tz` picks any other.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{wait_until, Daemon, Sink};
use tocsin_testkit::{free_port, http_post, TempDir};

const TOKEN: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECRET: &str = "SEC9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// The receiver `own-template`'s text: the alert's start as the data carries it, and in
/// New York through `tz`.
const TEXT: &str = r#"{{ range .Alerts }}{{ .StartsAt.Format "2006-01-02 15:04 MST" }} / {{ .StartsAt | tz "America/New_York" | date "15:04 -07:00" }}{{ end }}"#;

/// A config with two receivers on the sink's robot: `layout` (tocsin's own layout) and
/// `own-template`; `global` as given.
fn config(dir: &Path, sink: &Sink, global: &str) -> PathBuf {
    std::fs::write(dir.join("token"), TOKEN).expect("token file");
    std::fs::write(dir.join("secret"), SECRET).expect("secret file");
    let robot = format!(
        "url: {}\n        access_token_file: '{}'\n        secret_file: '{}'",
        sink.url(),
        dir.join("token").display(),
        dir.join("secret").display()
    );
    let path = dir.join("tocsin.yml");
    std::fs::write(
        &path,
        format!(
            "{global}notify:\n  route: {{receiver: layout, group_wait: 0s}}\n  receivers:\n    \
             - name: layout\n      dingtalk:\n        {robot}\n    \
             - name: own-template\n      dingtalk:\n        {robot}\n        \
             title: 'started'\n        text: '{TEXT}'\n"
        ),
    )
    .expect("config file");
    path
}

/// Posts the alert to both receivers through a gateway with `global`, and returns the
/// texts the robot got: (built-in layout, template).
fn texts_with(global: &str) -> (String, String) {
    let dir = TempDir::new("tocsin-tz").expect("temp dir");
    let sink = Sink::start(
        free_port(),
        dir.path().join("sink.jsonl"),
        &["--token", TOKEN, "--secret", SECRET],
    );
    let config = config(dir.path(), &sink, global);
    let gateway = Daemon::start_command(
        "gateway",
        &[format!("--config={}", config.display())],
        dir.path().join("gateway.log"),
        &[],
    );
    let payload = br#"{"version":"4","groupKey":"{}:{alertname=\"FlinkJobFailed\"}",
        "status":"firing","receiver":"x","groupLabels":{"alertname":"FlinkJobFailed"},
        "alerts":[{"status":"firing","labels":{"alertname":"FlinkJobFailed","job_name":"orders"},
        "annotations":{"summary":"orders is failing"},
        "startsAt":"2026-12-04T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
    for receiver in ["layout", "own-template"] {
        let (status, text) = http_post(
            &format!("{}/dingtalk/{receiver}/send", gateway.url),
            "application/json",
            payload,
        );
        assert_eq!(status, 200, "{text}");
        // One at a time, so the sink's order is the receivers' order.
        let want = if receiver == "layout" { 1 } else { 2 };
        wait_until(
            "the robot's message",
            Duration::from_secs(30),
            || sink.messages().len() >= want,
            || gateway.log_text(),
        );
    }
    let m = sink.messages();
    assert_eq!(m.len(), 2, "{m:?}");
    (m[0].text().to_owned(), m[1].text().to_owned())
}

#[test]
fn time_zone_setting_changes_times_in_the_default_layout_and_in_templates() {
    let (layout, template) = texts_with("global:\n  time_zone: Asia/Shanghai\n");
    assert!(
        layout.contains("Started 2026-12-04 18:00:00 +08:00"),
        "{layout}"
    );
    assert_eq!(template, "2026-12-04 18:00 CST / 05:00 -05:00");

    let (layout, template) = texts_with("");
    assert!(
        layout.contains("Started 2026-12-04 10:00:00 +00:00"),
        "{layout}"
    );
    assert_eq!(template, "2026-12-04 10:00 UTC / 05:00 -05:00");
}
