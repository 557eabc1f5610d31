//! `tocsin run` reloads when a watched file changes, as on SIGHUP: an edited rule file, a
//! Kubernetes ConfigMap update (the atomic swap of the `..data` symlink), a file appearing
//! or disappearing under a glob. A broken edit keeps the old rules; `--no-watch` turns the
//! watching off.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::Daemon;
use tocsin_testkit::{Prometheus, PrometheusOptions, TempDir};

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
    let mut names: Vec<String> = daemon
        .rules()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_owned())
        .collect();
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
    let evaluations = || {
        daemon.rules()[0]["lastEvaluation"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    for _ in 0..5 {
        let seen = evaluations();
        daemon.wait_for("another evaluation", RELOAD, || evaluations() != seen);
    }
    assert_eq!(names(&daemon), ["Before"]);
    assert!(!daemon.log_text().contains("watching for changes"));
    daemon.signal("-HUP");
    wait_for_names(&daemon, "the SIGHUP reload", &["After"]);
}
