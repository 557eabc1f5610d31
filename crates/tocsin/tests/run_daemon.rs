//! `tocsin run` as a process against a real Prometheus: a bad reload keeps the old rules, a
//! `kill -9` neither resets a `for` timer nor re-announces a firing alert, a Prometheus
//! outage neither resolves nor fires anything, and SIGTERM stops it even while a DingTalk
//! robot is unreachable.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Daemon;
use tocsin_query::{AlertState, RuleHealth};
use tocsin_testkit::{
    eventually_with, free_port, http_post, Prometheus, PrometheusOptions, TempDir,
};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write rule file");
}

/// A child process killed (and reaped) on drop.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus() -> Prometheus {
    Prometheus::start(PrometheusOptions::default())
}

const RULES: &str = r#"groups:
  - name: daemon
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: label_replace(vector(3), "instance", "host1:9100", "", "")
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} at {{ $value }}"
"#;

#[test]
fn a_bad_reload_keeps_the_old_rules_running() {
    let prom = prometheus();
    let dir = TempDir::new("tocsin-reload").expect("temp dir");
    let rules = dir.path().join("alerting_rule_daemon.yaml");
    write(&rules, RULES);
    let daemon = Daemon::start(
        &[
            format!("--datasource={}", prom.url()),
            format!("--rules={}", rules.display()),
            "--web.enable-lifecycle".into(),
            // This test counts the reloads it asks for; the watcher would add its own.
            "--no-watch".into(),
        ],
        dir.path().join("tocsin.log"),
    );
    daemon.wait_for("the alert to fire", Duration::from_secs(20), || {
        daemon
            .alert("AlwaysFiring")
            .is_some_and(|a| a.state == AlertState::Firing)
    });

    write(
        &rules,
        "groups:\n  - name: daemon\n    rules:\n      - alert: Broken\n        expr: rate(up)\n",
    );
    let (status, body) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("could not parse expression"), "{body}");
    daemon.signal("-HUP");
    daemon.wait_for("two failed reloads", Duration::from_secs(10), || {
        daemon.metric("tocsin_config_reload_failures_total") == Some(2.0)
    });
    assert_eq!(
        daemon.metric("tocsin_config_last_reload_successful"),
        Some(0.0)
    );

    // The old rule is still listed, still healthy, and still evaluating.
    let before = daemon.rules();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].name(), "AlwaysFiring");
    let first = before[0].last_evaluation().to_string();
    daemon.wait_for("another evaluation", Duration::from_secs(10), || {
        daemon.rules()[0].last_evaluation() != first
    });
    assert_eq!(daemon.rules()[0].health(), RuleHealth::Ok);
    let alert = daemon.alert("AlwaysFiring").expect("still firing");
    assert_eq!(alert.state, AlertState::Firing);
    assert!(daemon
        .log_text()
        .contains("reload failed; the previous rules keep running"));

    // A good file afterwards is picked up.
    write(&rules, &RULES.replace("AlwaysFiring", "Renamed"));
    let (status, body) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(daemon.rules()[0].name(), "Renamed");
    assert_eq!(
        daemon.metric("tocsin_config_last_reload_successful"),
        Some(1.0)
    );
}

#[test]
fn reload_is_refused_without_the_lifecycle_flag() {
    let prom = prometheus();
    let dir = TempDir::new("tocsin-lifecycle").expect("temp dir");
    let rules = dir.path().join("alerting_rule_daemon.yaml");
    write(&rules, RULES);
    let daemon = Daemon::start(
        &[
            format!("--datasource={}", prom.url()),
            format!("--rules={}", rules.display()),
        ],
        dir.path().join("tocsin.log"),
    );
    let (status, _) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 403);
}

/// Prometheus 2.42 refuses a rule set whose glob matches a symbolic link loop or a dangling
/// link (`open …: too many levels of symbolic links`); so must tocsin, at start and on reload.
#[test]
fn a_symlink_loop_under_the_rule_glob_fails_the_load_and_a_reload_keeps_the_old_rules() {
    let prom = prometheus();
    let dir = TempDir::new("tocsin-symlinks").expect("temp dir");
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).expect("rules dir");
    write(&rules_dir.join("alerting_rule_daemon.yaml"), RULES);
    let glob = format!("--rules={}/*.yaml", rules_dir.display());
    let daemon = Daemon::start(
        &[
            format!("--datasource={}", prom.url()),
            glob.clone(),
            "--web.enable-lifecycle".into(),
        ],
        dir.path().join("tocsin.log"),
    );
    assert_eq!(daemon.rules().len(), 1);

    let a = rules_dir.join("loop_a.yaml");
    let b = rules_dir.join("loop_b.yaml");
    std::os::unix::fs::symlink(&b, &a).expect("symlink");
    std::os::unix::fs::symlink(&a, &b).expect("symlink");
    let (status, body) = http_post(&format!("{}/-/reload", daemon.url), "text/plain", b"");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&format!(
            "open {}: too many levels of symbolic links",
            a.display()
        )),
        "{body}"
    );
    let after = daemon.rules();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name(), "AlwaysFiring");

    // Started with the loop in place, it refuses to start, as Prometheus does.
    let log = dir.path().join("second.log");
    // Killed on drop, should it keep running and the wait below fail.
    let mut second = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["run", &format!("--datasource={}", prom.url()), &glob])
            .arg(format!("--listen=127.0.0.1:{}", free_port()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start tocsin run"),
    );
    let status = eventually_with(
        "tocsin run to refuse to start",
        Duration::from_secs(30),
        || second.0.try_wait().expect("wait"),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            format!("still running: {text}")
        },
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "{status:?}: {text}");
    assert!(text.contains("too many levels of symbolic links"), "{text}");
}

/// Seconds since the epoch of an RFC 3339 `activeAt` (UTC, as the API prints it).
fn unix_seconds(rfc3339: &str) -> f64 {
    let t = tocsin_core::Timestamp::parse_rfc3339(rfc3339)
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {rfc3339:?}"));
    t.as_nanos() as f64 / 1e9
}

#[test]
fn kill_9_neither_resets_a_for_timer_nor_reannounces_a_firing_alert() {
    let prom = prometheus();
    let dir = TempDir::new("tocsin-kill9").expect("temp dir");
    let rules = dir.path().join("alerting_rule_daemon.yaml");
    write(
        &rules,
        &format!("{RULES}      - alert: SlowToFire\n        expr: vector(1)\n        for: 8s\n"),
    );
    let state = dir.path().join("state");
    let args = [
        format!("--datasource={}", prom.url()),
        format!("--rules={}", rules.display()),
        format!("--state-dir={}", state.display()),
    ];
    let mut first = Daemon::start(&args, dir.path().join("first.log"));
    first.wait_for(
        "AlwaysFiring to be announced",
        Duration::from_secs(20),
        || {
            first
                .log_text()
                .contains("alertname=AlwaysFiring state=firing")
        },
    );
    first.wait_for(
        "SlowToFire halfway through its for",
        Duration::from_secs(20),
        || {
            first.alert("SlowToFire").is_some_and(|a| {
                a.state == AlertState::Pending
                    && unix_seconds(a.active_at.as_deref().unwrap_or("")) + 4.0 <= now_seconds()
            })
        },
    );
    let pending = first.alert("SlowToFire").expect("pending alert");
    let active_at = pending.active_at.expect("activeAt");
    let firing_active_at = first.alert("AlwaysFiring").expect("firing").active_at;
    first.kill_9();

    let second = Daemon::start(&args, dir.path().join("second.log"));
    // The restored pending alert keeps its activeAt, so it fires 8 s after it, not 8 s after
    // the restart.
    let restored = second.alert("SlowToFire").expect("restored alert");
    assert_eq!(restored.active_at.as_deref(), Some(active_at.as_str()));
    second.wait_for("SlowToFire to fire", Duration::from_secs(20), || {
        second
            .alert("SlowToFire")
            .is_some_and(|a| a.state == AlertState::Firing)
    });
    let fired = second.alert("SlowToFire").expect("firing");
    assert_eq!(fired.active_at.as_deref(), Some(active_at.as_str()));
    assert_eq!(
        second
            .alert("AlwaysFiring")
            .expect("still firing")
            .active_at,
        firing_active_at
    );
    // AlwaysFiring was announced before the kill and the resend delay (1m) has not passed:
    // the restarted daemon must not announce it again as new.
    second.wait_for("SlowToFire's announcement", Duration::from_secs(10), || {
        second
            .log_text()
            .contains("alertname=SlowToFire state=firing")
    });
    assert!(
        !second
            .log_text()
            .contains("alertname=AlwaysFiring state=firing"),
        "re-announced after restart:\n{}",
        second.log_text()
    );
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[test]
fn a_prometheus_outage_neither_resolves_nor_fires_anything() {
    // Stopped and started again on the same port: an outage of the datasource.
    let mut prom = prometheus();
    let dir = TempDir::new("tocsin-outage").expect("temp dir");
    let rules = dir.path().join("alerting_rule_daemon.yaml");
    write(
        &rules,
        &format!("{RULES}      - alert: NotYet\n        expr: vector(1)\n        for: 1h\n"),
    );
    let daemon = Daemon::start(
        &[
            format!("--datasource={}", prom.url()),
            format!("--rules={}", rules.display()),
        ],
        dir.path().join("tocsin.log"),
    );
    daemon.wait_for("both alerts", Duration::from_secs(20), || {
        daemon.alerts().len() == 2
    });
    let before = daemon.alerts();

    prom.stop();
    // Three 1 s intervals with the datasource gone: every rule errs, no alert moves.
    daemon.wait_for(
        "rules to report the outage",
        Duration::from_secs(10),
        || daemon.rules().iter().all(|r| r.health() == RuleHealth::Err),
    );
    let failures_at_start = daemon
        .metric("tocsin_rule_evaluation_failures_total")
        .unwrap_or(0.0);
    daemon.wait_for("three failed intervals", Duration::from_secs(15), || {
        daemon
            .metric("tocsin_rule_evaluation_failures_total")
            .unwrap_or(0.0)
            >= failures_at_start + 6.0
    });
    for rule in daemon.rules() {
        assert_eq!(rule.health(), RuleHealth::Err);
        assert!(rule.last_error().is_some(), "no lastError on {rule:?}");
    }
    assert_eq!(daemon.alerts(), before, "alerts changed during the outage");
    assert!(
        !daemon.log_text().contains("state=resolved"),
        "{}",
        daemon.log_text()
    );

    prom.restart();
    daemon.wait_for("rules to recover", Duration::from_secs(15), || {
        daemon.rules().iter().all(|r| r.health() == RuleHealth::Ok)
    });
    let after = daemon.alerts();
    assert_eq!(after.len(), 2);
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.state, b.state);
        assert_eq!(a.active_at, b.active_at, "timer reset by the outage");
    }
}

#[test]
fn sigterm_stops_the_daemon_even_while_a_robot_is_unreachable() {
    let prom = prometheus();
    let dir = TempDir::new("tocsin-sigterm").expect("temp dir");
    let rules = dir.path().join("alerting_rule_daemon.yaml");
    write(&rules, RULES);
    std::fs::write(dir.path().join("token"), "0123456789abcdef").expect("token");
    // Nothing listens on this port: every send fails and is retried.
    let robot = format!("http://127.0.0.1:{}/robot/send", free_port());
    let config = dir.path().join("tocsin.yml");
    std::fs::write(
        &config,
        format!(
            "datasource: {{url: '{}'}}\nrule_files: ['{}']\nstate: {{dir: '{}'}}\n\
             notify:\n  route: {{receiver: robot, group_wait: 0s}}\n  receivers:\n    \
             - name: robot\n      dingtalk: {{url: '{robot}', access_token_file: '{}'}}\n",
            prom.url(),
            rules.display(),
            dir.path().join("state").display(),
            dir.path().join("token").display(),
        ),
    )
    .expect("config");
    let mut daemon = Daemon::start(
        &[format!("--config={}", config.display())],
        dir.path().join("tocsin.log"),
    );
    daemon.wait_for("a failed send", Duration::from_secs(30), || {
        daemon.log_text().contains("will retry")
    });
    daemon.signal("-TERM");
    // No timing claim: only that it does stop, and cleanly, instead of hanging (the
    // bound is the usual patience of these tests).
    let log = daemon.log.clone();
    let mut exited = None;
    common::wait_until(
        "tocsin run to exit after SIGTERM",
        Duration::from_secs(60),
        || {
            exited = daemon.try_wait();
            exited.is_some()
        },
        || std::fs::read_to_string(&log).unwrap_or_default(),
    );
    let status = exited.expect("exited");
    assert!(status.success(), "{status:?}; log:\n{}", daemon.log_text());
    assert!(
        daemon.log_text().contains("shutting down"),
        "{}",
        daemon.log_text()
    );
}
