//! The files under `deploy/` that only outside tools read: the systemd unit passes
//! `systemd-analyze verify` (with `ExecStart` pointing at this build) and rates as well
//! hardened by `systemd-analyze security --offline`; the CI example passes clean rules and
//! fails bad ones; the Kubernetes rule files pass promtool and `tocsin check --layout ack`;
//! the binary runs as the container image runs it (uid 65534, read-only root).

use std::path::{Path, PathBuf};
use std::process::Command;

use tocsin_testkit::TempDir;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The unit as shipped, but starting the binary this test run built.
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("deploy/systemd/tocsin.service"))
        .expect("deploy/systemd/tocsin.service");
    assert!(
        text.contains("ExecStart=/usr/local/bin/tocsin run "),
        "{text}"
    );
    assert!(
        text.contains("ExecReload=/bin/kill -HUP $MAINPID"),
        "{text}"
    );
    let path = dir.join("tocsin.service");
    std::fs::write(
        &path,
        text.replace("/usr/local/bin/tocsin", env!("CARGO_BIN_EXE_tocsin")),
    )
    .expect("write unit");
    path
}

fn systemd_analyze(args: &[&str], unit: &Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze (Debian's systemd package; scripts/test.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_systemd_unit_verifies_without_a_warning() {
    let dir = TempDir::new("tocsin-unit").expect("temp dir");
    let unit = unit_for_this_build(dir.path());
    let (ok, text) = systemd_analyze(&["verify"], &unit);
    assert!(ok, "systemd-analyze verify failed:\n{text}");
    // Unknown or misspelt directives are only warnings to verify: none may appear.
    assert!(
        text.trim().is_empty(),
        "systemd-analyze verify printed:\n{text}"
    );
}

#[test]
fn the_systemd_unit_rates_an_exposure_of_at_most_2() {
    let dir = TempDir::new("tocsin-unit-security").expect("temp dir");
    let unit = unit_for_this_build(dir.path());
    // --threshold is in tenths: 20 fails on an overall exposure above 2.0 of 10.
    let (ok, text) = systemd_analyze(&["security", "--offline=yes", "--threshold=20"], &unit);
    assert!(ok, "exposure above 2.0:\n{text}");
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_ci_example_passes_clean_rules_and_fails_on_errors_and_layout_warnings() {
    let ci = |dir: &str| {
        run(
            "bash",
            &["deploy/examples/ci-rules.sh", dir],
            &[("TOCSIN", env!("CARGO_BIN_EXE_tocsin"))],
        )
    };
    let (ok, text) = ci("deploy/kubernetes/overlays/standalone/rules");
    assert!(ok, "{text}");
    assert!(text.contains("valid, no warnings"), "{text}");
    let (ok, text) = ci("testdata/rules/layout");
    assert!(!ok, "{text}");
    assert!(text.contains("would not load this file"), "{text}");
    let (ok, text) = ci("testdata/rules/bad");
    assert!(!ok, "{text}");
    assert!(text.contains("FAILED"), "{text}");
}

#[test]
fn the_kubernetes_rule_files_pass_promtool_and_tocsin_check() {
    let files = [
        "deploy/kubernetes/overlays/standalone/alerting_rule_tocsin.yaml",
        "deploy/kubernetes/overlays/standalone/rules/alerting_rule_flink.yaml",
        "deploy/kubernetes/overlays/standalone/rules/recording_rule_flink.yaml",
    ];
    let mut args = vec!["check", "rules"];
    args.extend(files);
    let (ok, text) = run("promtool", &args, &[]);
    assert!(ok, "promtool check rules:\n{text}");
    let mut args = vec!["check", "--layout", "ack"];
    args.extend(files);
    let (ok, text) = run(env!("CARGO_BIN_EXE_tocsin"), &args, &[]);
    assert!(ok, "tocsin check:\n{text}");
    assert!(!text.contains("warning"), "{text}");
}

/// The container's conditions without a container engine (deploy/container/run-as-image.sh):
/// this build in the image's layout, as uid/gid 65534, with a read-only root and config and
/// only the state directory writable, against a real Prometheus. (The host's /usr is
/// mounted read-only for the test build's loader; the image's static binary needs none.)
#[test]
fn the_binary_runs_as_the_image_does_as_65534_on_a_read_only_root() {
    let (ok, text) = run(
        "bash",
        &[
            "deploy/container/run-as-image.sh",
            env!("CARGO_BIN_EXE_tocsin"),
        ],
        &[],
    );
    assert!(ok, "run-as-image.sh failed:\n{text}");
    for step in [
        "ok   /-/ready: tocsin is Ready.",
        "ok   /api/v1/alerts lists ImageCheck pending",
        "(owner 65534:65534)",
        "runs as uid/gid 65534",
        "ok   / and /etc/tocsin read-only, /var/lib/tocsin writable",
        "ok   no errors logged",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }
}
