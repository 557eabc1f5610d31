//! The `--html` report is one self-contained page that a real browser renders without
//! errors: headless Chromium (Debian's `chromium`, installed by scripts/test.sh) loads it
//! from a file with networking and background services off, the rendered DOM holds a
//! timeline SVG per alerting rule with both sets' firing bars, the browser logs no console
//! error, and a screenshot comes out.

mod common;
mod diff_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diff_support::{History, BASE_RULES};

/// Runs Chromium headless on `page` with `extra` flags; kills it after two minutes.
fn chromium(profile: &Path, page: &Path, extra: &[String]) -> Output {
    let binary = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .unwrap_or_else(|| {
            panic!("chromium is not installed: apt-get install -y --no-install-recommends chromium (scripts/test.sh does)")
        });
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait chromium").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("chromium output")
}

#[test]
fn the_html_report_renders_in_headless_chromium_without_console_errors() {
    let h = History::start();
    let (old, new) = h.candidate(&BASE_RULES.replace("> 0.8", "> 0.5"));
    let page = h.dir.path().join("report.html");
    let out = h.diff(&old, &new, &["--html", &page.display().to_string()]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let html = std::fs::read_to_string(&page).expect("report written");
    // Self-contained: nothing to fetch (the SVG namespace is a name, not a request).
    for fetch in ["<script", "<link", "<img", "@import", "url(", "src="] {
        assert!(
            !html.contains(fetch),
            "the page would fetch something: {fetch}"
        );
    }

    let dom = chromium(
        &h.dir.path().join("profile-dom"),
        &page,
        &["--dump-dom".to_string()],
    );
    let rendered = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed:\n{log}");
    assert!(rendered.contains("<svg"), "no SVG rendered:\n{rendered}");
    assert!(
        rendered.contains(r#"aria-label="firing timeline of HighLatency""#),
        "{rendered}"
    );
    assert!(rendered.contains(r#"<rect class="old""#), "{rendered}");
    assert!(rendered.contains(r#"<rect class="new""#), "{rendered}");
    for line in log.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains(":CONSOLE"),
            "console output while loading the report: {line}"
        );
    }

    let shot = h.dir.path().join("report.png");
    let screenshot = chromium(
        &h.dir.path().join("profile-shot"),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1100,900".to_string(),
            "--hide-scrollbars".to_string(),
        ],
    );
    assert!(
        screenshot.status.success(),
        "{}",
        String::from_utf8_lossy(&screenshot.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
