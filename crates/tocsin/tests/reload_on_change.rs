//! `tocsin run` reloads when a watched file changes, as on SIGHUP: an edited rule file, a
//! Kubernetes ConfigMap update (the atomic swap of the `..data` symlink), a file appearing
//! or disappearing under a glob. A broken edit keeps the old rules; `--no-watch` turns the
//! watching off. `tocsin gateway` reloads its receivers on a config change and on SIGHUP
//! through one reload, and a broken config keeps the running receivers.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::{wait_until, Daemon, Sink};
use tocsin_testkit::{
    free_port, http_get, http_post, http_request, Prometheus, PrometheusOptions, TempDir,
};

/// Long enough for a loaded machine; the watcher itself waits half a second of quiet.
const RELOAD: Duration = Duration::from_secs(30);

fn rules(alert: &str) -> String {
    format!(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: {alert}\n        expr: vector(1)\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write rule file");
}

fn names(daemon: &Daemon) -> Vec<String> {
    let mut names: Vec<String> = daemon.rules().iter().map(|r| r.name().to_owned()).collect();
    names.sort();
    names
}

fn wait_for_names(daemon: &Daemon, what: &str, want: &[&str]) {
    daemon.wait_for(what, RELOAD, || names(daemon) == want);
}

/// Lays out `dir` as the kubelet does a ConfigMap volume: the data in `..<version>/`, a
/// `..data` symlink to it, and one symlink per key through `..data`.
fn configmap(dir: &Path, version: &str, files: &[(&str, &str)]) {
    let data = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&data).expect("configmap data dir");
    for (name, text) in files {
        write(&data.join(name), text);
    }
    let tmp = dir.join("..data_tmp");
    symlink(format!("..{version}"), &tmp).expect("..data_tmp");
    // The kubelet's atomic writer renames the new symlink over the old one.
    std::fs::rename(&tmp, dir.join("..data")).expect("swap ..data");
    for (name, _) in files {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(name), &link).expect("key symlink");
        }
    }
}

#[test]
fn edits_configmap_swaps_and_new_files_reload_and_a_broken_edit_keeps_the_old_rules() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let dir = TempDir::new("tocsin-watch").expect("temp dir");
    let cm = dir.path().join("configmap");
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&cm).expect("mkdir");
    std::fs::create_dir_all(&plain).expect("mkdir");
    configmap(
        &cm,
        "2026_12_04_01",
        &[("alerting_rule_cm.yaml", &rules("FromConfigMapV1"))],
    );
    let edited = plain.join("alerting_rule_edited.yaml");
    write(&edited, &rules("EditedV1"));
    let config = dir.path().join("tocsin.yml");
    write(
        &config,
        &format!(
            "datasource: {{url: '{}'}}\nrule_files:\n  - configmap/alerting_rule*.yaml\n  - plain/alerting_rule*.yaml\nstate: {{dir: '{}'}}\n",
            prom.url(),
            plain.join("state").display()
        ),
    );
    let daemon = Daemon::start(
        &[format!("--config={}", config.display())],
        dir.path().join("tocsin.log"),
    );
    assert_eq!(names(&daemon), ["EditedV1", "FromConfigMapV1"]);

    // 1. An edit in place.
    write(&edited, &rules("EditedV2"));
    wait_for_names(&daemon, "the edited rule", &["EditedV2", "FromConfigMapV1"]);

    // 2. A ConfigMap update: new data directory, `..data` swapped, old directory removed.
    configmap(
        &cm,
        "2026_12_04_02",
        &[("alerting_rule_cm.yaml", &rules("FromConfigMapV2"))],
    );
    std::fs::remove_dir_all(cm.join("..2026_12_04_01")).expect("remove old data");
    wait_for_names(
        &daemon,
        "the ConfigMap's new version",
        &["EditedV2", "FromConfigMapV2"],
    );

    // 3. A new file under a glob, then its removal.
    let added = plain.join("alerting_rule_added.yaml");
    write(&added, &rules("Added"));
    wait_for_names(
        &daemon,
        "the new file's rule",
        &["Added", "EditedV2", "FromConfigMapV2"],
    );
    std::fs::remove_file(&added).expect("remove");
    wait_for_names(
        &daemon,
        "the removed file's rule to go",
        &["EditedV2", "FromConfigMapV2"],
    );
    assert_eq!(
        daemon.metric("tocsin_config_last_reload_successful"),
        Some(1.0)
    );
    assert_eq!(
        daemon.metric("tocsin_config_reload_failures_total"),
        Some(0.0)
    );

    // 4. A broken edit: the reload fails and the old rules keep running.
    write(
        &edited,
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: rate(up)\n",
    );
    daemon.wait_for("the failed reload", RELOAD, || {
        daemon.metric("tocsin_config_last_reload_successful") == Some(0.0)
    });
    assert_eq!(
        daemon.metric("tocsin_config_reload_failures_total"),
        Some(1.0)
    );
    assert_eq!(names(&daemon), ["EditedV2", "FromConfigMapV2"]);
    assert!(daemon
        .log_text()
        .contains("reload failed; the previous rules keep running"));

    // Fixing it reloads again.
    write(&edited, &rules("EditedV3"));
    wait_for_names(&daemon, "the fixed rule", &["EditedV3", "FromConfigMapV2"]);
    assert_eq!(
        daemon.metric("tocsin_config_last_reload_successful"),
        Some(1.0)
    );
}

#[test]
fn no_watch_leaves_reloading_to_sighup() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let dir = TempDir::new("tocsin-no-watch").expect("temp dir");
    let file = dir.path().join("alerting_rule_a.yaml");
    write(&file, &rules("Before"));
    let daemon = Daemon::start(
        &[
            format!("--datasource={}", prom.url()),
            format!("--rules={}", file.display()),
            "--no-watch".into(),
        ],
        dir.path().join("tocsin.log"),
    );
    write(&file, &rules("After"));
    // A watcher would have reloaded long before the group has evaluated five more times
    // (it reads the files after half a second of quiet).
    let evaluations = || daemon.rules()[0].last_evaluation().to_owned();
    for _ in 0..5 {
        let seen = evaluations();
        daemon.wait_for("another evaluation", RELOAD, || evaluations() != seen);
    }
    assert_eq!(names(&daemon), ["Before"]);
    assert!(!daemon.log_text().contains("watching for changes"));
    daemon.signal("-HUP");
    wait_for_names(&daemon, "the SIGHUP reload", &["After"]);
}

/// `tocsin gateway` with its log in a file; killed on drop.
struct Gateway {
    child: std::process::Child,
    url: String,
    log: std::path::PathBuf,
}

impl Gateway {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = http_get(&format!("{}/metrics", self.url));
        body.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    fn post(&self, receiver: &str) -> (u16, String) {
        let payload = br#"{"version":"4","groupKey":"{}:{}","alerts":[{"status":"firing",
            "labels":{"alertname":"GatewayReload"},"annotations":{"summary":"after the reload"},
            "startsAt":"2026-12-04T08:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
        http_post(
            &format!("{}/dingtalk/{receiver}/send", self.url),
            "application/json",
            payload,
        )
    }

    fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        wait_until(what, RELOAD, done, || self.log());
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gateway_config(sink: &Sink, token: &Path, receivers: &[&str]) -> String {
    let mut text = String::from("notify:\n  route: {receiver: a}\n  receivers:\n");
    for name in receivers {
        text.push_str(&format!(
            "    - name: {name}\n      dingtalk: {{url: '{}', access_token_file: '{}'}}\n",
            sink.url(),
            token.display()
        ));
    }
    text
}

#[test]
fn the_gateway_reloads_its_receivers_on_change_and_sighup_and_keeps_them_on_a_broken_edit() {
    let dir = TempDir::new("tocsin-gateway-watch").expect("temp dir");
    let sink = Sink::start(0, dir.path().join("sink.jsonl"), &[]);
    let token = dir.path().join("token");
    write(&token, "gateway-reload-token");
    let config = dir.path().join("gateway.yml");
    write(&config, &gateway_config(&sink, &token, &["a"]));
    let port = free_port();
    let log = dir.path().join("gateway.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["gateway", "--config"])
        .arg(&config)
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!(
            "--state-dir={}",
            dir.path().join("state").display()
        ))
        .stderr(std::fs::File::create(&log).expect("log"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start tocsin gateway");
    let gateway = Gateway {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    };
    gateway.wait_for("the gateway to be ready", || {
        http_request("GET", &format!("{}/-/ready", gateway.url), &[], b"")
            .is_ok_and(|r| r.status == 200)
    });
    let (status, text) = gateway.post("b");
    assert_eq!(status, 404, "{text}");

    // A receiver added to the file is served once the watcher has reloaded.
    write(&config, &gateway_config(&sink, &token, &["a", "b"]));
    gateway.wait_for("receiver b", || gateway.post("b").0 == 200);
    gateway.wait_for("b's message at the robot", || {
        sink.messages()
            .iter()
            .any(|m| m.text().contains("after the reload"))
    });

    // A broken file keeps a and b.
    write(
        &config,
        "notify:\n  route: {receiver: a}\n  recievers: []\n",
    );
    gateway.wait_for("the failed reload", || {
        gateway.metric("tocsin_config_last_reload_successful") == Some(0.0)
    });
    assert_eq!(
        gateway.metric("tocsin_config_reload_failures_total"),
        Some(1.0)
    );
    let (status, text) = gateway.post("b");
    assert_eq!(status, 200, "{text}");
    assert!(gateway
        .log()
        .contains("reload failed; the previous receivers keep running"));

    // SIGHUP runs the same reload (and does not end the process).
    let pid = gateway.child.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(hup.success());
    gateway.wait_for("the second failed reload", || {
        gateway.metric("tocsin_config_reload_failures_total") == Some(2.0)
    });

    // Fixed: b is gone, a stays.
    write(&config, &gateway_config(&sink, &token, &["a"]));
    gateway.wait_for("the good reload", || {
        gateway.metric("tocsin_config_last_reload_successful") == Some(1.0)
    });
    let (status, text) = gateway.post("b");
    assert_eq!(status, 404, "{text}");
    let (status, text) = gateway.post("a");
    assert_eq!(status, 200, "{text}");
}
