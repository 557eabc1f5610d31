//! What the `tocsin diff` tests share: a real Prometheus 2.42 holding three hours of
//! latency history written through its remote-write receiver with explicit timestamps,
//! the rule files of the scenario, and running `tocsin diff` as a user would.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tocsin_query::remote_write::WriteSample;
use tocsin_query::Labels;
use tocsin_testkit::{Prometheus, PrometheusOptions, TempDir};

use crate::common::remote_write;

/// Samples every 30 s.
pub const SAMPLE_SPACING_S: i64 = 30;
/// History before the window starts (the first slot then sees 10 minutes of data).
pub const LEAD_MIN: i64 = 10;
/// The backtest window.
pub const WINDOW_MIN: i64 = 180;

/// One series of the scenario: its labels and its value `t` minutes into the window.
pub struct SeriesDef {
    pub instance: &'static str,
    pub value: fn(f64) -> f64,
}

/// `app_latency_seconds{job="api", instance=…}`:
/// - `a` is slow (0.9) for 20 minutes from minute 30 and for 5 minutes from minute 100;
/// - `b` is somewhat slow (0.6) for 20 minutes from minute 120;
/// - `c` is always fast;
/// - `d` flaps between 0.7 and 0.1 every 2 minutes from minute 60 to minute 80.
pub fn scenario() -> Vec<SeriesDef> {
    fn a(t: f64) -> f64 {
        if (30.0..50.0).contains(&t) || (100.0..105.0).contains(&t) {
            0.9
        } else {
            0.2
        }
    }
    fn b(t: f64) -> f64 {
        if (120.0..140.0).contains(&t) {
            0.6
        } else {
            0.2
        }
    }
    fn c(_: f64) -> f64 {
        0.1
    }
    fn d(t: f64) -> f64 {
        if (60.0..80.0).contains(&t) && ((t - 60.0) / 2.0).floor() as i64 % 2 == 0 {
            0.7
        } else {
            0.1
        }
    }
    vec![
        SeriesDef {
            instance: "a",
            value: a,
        },
        SeriesDef {
            instance: "b",
            value: b,
        },
        SeriesDef {
            instance: "c",
            value: c,
        },
        SeriesDef {
            instance: "d",
            value: d,
        },
    ]
}

/// The sample offsets in seconds from the data's start (window start − `LEAD_MIN`).
pub fn sample_offsets() -> impl Iterator<Item = i64> {
    (0..=((LEAD_MIN + WINDOW_MIN) * 60 / SAMPLE_SPACING_S)).map(|k| k * SAMPLE_SPACING_S)
}

/// A Prometheus holding the scenario, and the window over it.
pub struct History {
    pub prom: Prometheus,
    /// Window start and end, Unix milliseconds (multiples of a minute).
    pub start_ms: i64,
    pub end_ms: i64,
    pub dir: TempDir,
}

impl History {
    /// Starts Prometheus and writes the scenario ending at the last whole minute.
    pub fn start() -> History {
        Self::start_with_flags(&[])
    }

    /// [`History::start`] with extra Prometheus flags.
    pub fn start_with_flags(flags: &[&str]) -> History {
        let prom = Prometheus::start(PrometheusOptions {
            remote_write_receiver: true,
            extra_args: flags.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        });
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as i64;
        let end_ms = now_ms.div_euclid(60_000) * 60_000 - 60_000;
        let start_ms = end_ms - WINDOW_MIN * 60_000;
        let data_start = start_ms - LEAD_MIN * 60_000;
        let series = scenario();
        let mut samples: Vec<WriteSample> = Vec::new();
        for off in sample_offsets() {
            let t_min = off as f64 / 60.0 - LEAD_MIN as f64;
            for s in &series {
                let labels: Labels = [
                    ("__name__", "app_latency_seconds"),
                    ("job", "api"),
                    ("instance", s.instance),
                ]
                .into_iter()
                .collect();
                samples.push((labels, (s.value)(t_min), data_start + off * 1000));
            }
        }
        remote_write(&prom.url(), &samples);
        History {
            prom,
            start_ms,
            end_ms,
            dir: TempDir::new("tocsin-diff-test").expect("temp dir"),
        }
    }

    /// Writes a rule file into the test's directory.
    pub fn rules(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write rule file");
        path
    }

    /// The deployed rules ([`BASE_RULES`]) and a candidate, as files.
    pub fn candidate(&self, new: &str) -> (PathBuf, PathBuf) {
        (
            self.rules("old.yaml", BASE_RULES),
            self.rules("new.yaml", new),
        )
    }

    /// `tocsin diff --datasource … --old OLD --new NEW --range 3h --end END EXTRA…`.
    pub fn diff(&self, old: &Path, new: &Path, extra: &[&str]) -> Outcome {
        let range = format!("{WINDOW_MIN}m");
        let end = format!("{}", self.end_ms / 1000);
        let mut args: Vec<String> = vec![
            "diff".into(),
            "--datasource".into(),
            self.prom.url(),
            "--old".into(),
            old.display().to_string(),
            "--new".into(),
            new.display().to_string(),
            "--range".into(),
            range,
            "--end".into(),
            end,
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        run_tocsin(&args)
    }
}

/// What a `tocsin` run left.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// `(rule, kind)` of every regression in a JSON report.
    pub fn regressions(&self) -> Vec<(String, String)> {
        self.json()["regressions"]
            .as_array()
            .expect("regressions")
            .iter()
            .map(|r| {
                (
                    r["rule"].as_str().unwrap_or_default().to_string(),
                    r["kind"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

pub fn run_tocsin(args: &[String]) -> Outcome {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = crate::common::tocsin(&args);
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: crate::common::text(&out.stdout),
        stderr: crate::common::text(&out.stderr),
    }
}

/// The deployed rule file of the verdict tests.
pub const BASE_RULES: &str = r#"groups:
  - name: api
    interval: 1m
    rules:
      - alert: HighLatency
        expr: app_latency_seconds{job="api"} > 0.8
        for: 2m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is slow"
      - record: job:app_latency_seconds:max
        expr: max by (job) (app_latency_seconds)
"#;
