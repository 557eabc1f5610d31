//! The files under `deploy/` that only outside tools read: the systemd unit passes
//! `systemd-analyze verify` (with `ExecStart` pointing at this build) and rates as well
//! hardened by `systemd-analyze security --offline`.

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
    assert!(text.contains("ExecStart=/usr/local/bin/tocsin run "), "{text}");
    assert!(text.contains("ExecReload=/bin/kill -HUP $MAINPID"), "{text}");
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
    assert!(text.trim().is_empty(), "systemd-analyze verify printed:\n{text}");
}

#[test]
fn the_systemd_unit_rates_an_exposure_of_at_most_2() {
    let dir = TempDir::new("tocsin-unit-security").expect("temp dir");
    let unit = unit_for_this_build(dir.path());
    // --threshold is in tenths: 20 fails on an overall exposure above 2.0 of 10.
    let (ok, text) = systemd_analyze(&["security", "--offline=yes", "--threshold=20"], &unit);
    assert!(ok, "exposure above 2.0:\n{text}");
}
