//! Differential test: one rule file (`testdata/differential/differential.yaml`, 14 rules:
//! `for` and no `for`, `keep_firing_for`, templated labels and annotations, several series
//! per rule, a flapping series, a series that disappears, recording rules and alerts on
//! them) evaluated by a real Prometheus 2.42 and by `tocsin run`, on the same data, at the
//! same 2 s interval. At every evaluation after warm-up, both must hold the same alerts:
//! labels, state, `activeAt`, `keepFiringSince`, value and rendered annotations.
//!
//! # Set-up
//!
//! - **Prometheus A** loads the rule file (`rule_files`) and evaluates it itself.
//! - **Prometheus B** holds only data; `tocsin run` queries it and remote-writes its
//!   recording results and `ALERTS`/`ALERTS_FOR_STATE` into it. A second server, rather
//!   than tocsin writing into A, because A writes the same recording series itself: two
//!   writers of one series would collide (or worse, hide each other's mistakes), and the
//!   alerts on recording rules would read Prometheus's results instead of tocsin's. With
//!   B, each side's `ErrorRatioHigh` reads its own `diff:errors:ratio` of the same
//!   evaluation, which is exactly the in-group ordering the daemon promises.
//! - **Data** is remote-written to A and B identically, with explicit timestamps, the
//!   whole scenario at once (30 s of history and 76 s into the future; 2.42's head takes
//!   future samples). So every query at a given evaluation timestamp sees the same data on
//!   both servers, however late either evaluator runs. The series that disappears ends
//!   with a staleness marker, so it vanishes at once instead of after 5 minutes' lookback.
//!   For the first 10 s nothing crosses a threshold: both sides start from "no alerts".
//!
//! # Comparison, and why no skew is allowed
//!
//! Both evaluators put the group on Prometheus's slot grid (xxhash of file and group name;
//! the file is passed to both as the same absolute path), so they evaluate at identical
//! timestamps, on identical data. Nothing is left to chance, so the comparison allows **no
//! skew at all**: it is slot for slot, not "within one interval".
//!
//! - *Every* evaluation is compared through the TSDBs: each side writes `ALERTS`,
//!   `ALERTS_FOR_STATE` and the recording results at the evaluation timestamp (with
//!   staleness markers for series that ended), so an instant query at slot `s` on A and on
//!   B returns each side's alert set as of its evaluation at `s`. `timestamp(ALERTS)` must
//!   be `s` itself (a series left over from an earlier evaluation would show an older
//!   timestamp), `ALERTS_FOR_STATE` carries `activeAt`, and `diff:heartbeat` shows which
//!   slots each side evaluated (they must be the same ones).
//! - Annotations, value and `keepFiringSince` live only in `/api/v1/alerts`. The test reads
//!   both APIs between evaluations, bracketed by two reads of the group's `lastEvaluation`
//!   (set when an evaluation *finishes*): when both reads name the evaluation of slot `s`
//!   and the second one returned before slot `s + 1` began, the snapshot is exactly the
//!   state after evaluating `s`. Slots where either bracket fails (a stalled machine) are
//!   skipped and counted; most slots must be compared.
//!
//! Warm-up: the data is written after Prometheus's first two evaluations (it holds `ALERTS`
//! back until it has restored `for` state, after the second), and only slots after the
//! write are compared: an evaluation at an earlier slot may or may not have seen the data.
//! No alert condition holds in the data's first 10 s, so whichever of them saw it at that
//! boundary, both sides start the compared window from "no alerts".

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{form_encode, remote_write, rfc3339_millis};
use serde_json::Value;
use tocsin_query::remote_write::{WriteSample, STALE_NAN_BITS};
use tocsin_testkit::{
    eventually_with, free_port, http_get, http_request, wait_until, Prometheus, PrometheusOptions,
    TempDir,
};

/// The group's interval in the rule file.
const INTERVAL_MS: i64 = 2000;
/// Seconds of data before `base` (so `rate(...[10s])` has full windows from the start).
const HISTORY_S: i64 = 30;
/// Seconds after `base` before anything crosses a threshold.
const QUIET_S: i64 = 10;
/// Samples are written for `base - HISTORY_S .. base + END_S` seconds.
const END_S: i64 = 76;
/// The last slot compared is at least this long before the data ends.
const TAIL_MS: i64 = 4000;

type Labels = BTreeMap<String, String>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn rules_file() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/differential/differential.yaml");
    // Both evaluators hash the path string into the slot offset: give them one spelling.
    std::fs::canonicalize(&path).expect("rule file exists")
}

// ---------------------------------------------------------------------------------------
// The data

/// Every sample of the scenario, in time order. `t` is seconds since the quiet phase ended
/// (negative before). All series carry `job="diff"`.
fn scenario(base_ms: i64) -> Vec<WriteSample> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let mut out = Vec::new();
    for k in -HISTORY_S..END_S {
        let t = k - QUIET_S;
        let ts = base_ms + k * 1000;
        let mut push = |name: &str, labels: &[(&str, &str)], v: f64| {
            let set: tocsin_query::Labels = [("__name__", name), ("job", "diff")]
                .into_iter()
                .chain(labels.iter().copied())
                .collect();
            out.push((set, v, ts));
        };
        let during = |from: i64, to: i64| (from..to).contains(&t);
        let high = |on: bool, hi: f64, lo: f64| if on { hi } else { lo };

        // Temperatures: t1 never hot; t2 warm for 56 s; t3 warm, then hot (its templated
        // severity changes), then cool; t4 very hot for 20 s (drives the recorded max).
        push("diff_temp", &[("instance", "t1")], 40.0);
        push(
            "diff_temp",
            &[("instance", "t2")],
            high(during(0, 56), 60.0, 40.0),
        );
        let t3 = if during(6, 26) {
            70.0
        } else if during(26, 46) {
            85.0
        } else {
            high(t < 6, 30.0, 20.0)
        };
        push("diff_temp", &[("instance", "t3")], t3);
        push(
            "diff_temp",
            &[("instance", "t4")],
            high(during(12, 32), 95.0, 10.0),
        );

        // Flapping: up 3 s / down 3 s, and up 5 s / down 5 s, for a minute.
        let flap = |half: i64| high(during(0, 60) && (t / half) % 2 == 0, 1.0, 0.0);
        push("diff_flap", &[("instance", "f1")], flap(3));
        push("diff_flap", &[("instance", "f2")], flap(5));

        // g2 disappears at t = 30: a staleness marker, then nothing.
        push("diff_gone", &[("instance", "g1")], high(t >= 0, 1.0, 0.0));
        if t < 30 {
            push("diff_gone", &[("instance", "g2")], high(t >= 0, 1.0, 0.0));
        } else if t == 30 {
            push("diff_gone", &[("instance", "g2")], stale);
        }

        // Queues: a long backlog, and a 4 s spike that keep_firing_for stretches.
        push(
            "diff_queue",
            &[("instance", "q1")],
            high(during(4, 20), 150.0, 5.0),
        );
        push(
            "diff_queue",
            &[("instance", "q2")],
            high(during(30, 34), 150.0, 5.0),
        );

        // Counters: r1 serves 2/s, then 10/s, and fails 3/s for 30 s; r2 serves 2/s and
        // never fails.
        let n = (k + HISTORY_S) as f64;
        let busy = 8.0 * t.max(0) as f64;
        let errors = 3.0 * (t.clamp(10, 40) - 10) as f64;
        let req = |inst, code| [("instance", inst), ("code", code)];
        push("diff_requests_total", &req("r1", "200"), 2.0 * n + busy);
        push("diff_requests_total", &req("r1", "500"), errors);
        push("diff_requests_total", &req("r2", "200"), 2.0 * n);
        push("diff_requests_total", &req("r2", "500"), 0.0);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Talking to both sides

/// A `tocsin run` process, killed on drop; its log goes to a file.
struct Tocsin {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Tocsin {
    fn start(dir: &Path, datasource: &Prometheus, rules: &Path) -> Tocsin {
        let config = dir.join("tocsin.yml");
        std::fs::write(
            &config,
            format!("remote_write:\n  url: {}/api/v1/write\n", datasource.url()),
        )
        .expect("write config");
        let port = free_port();
        let log = dir.join("tocsin.log");
        let child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .arg("run")
            .arg(format!("--config={}", config.display()))
            .arg(format!("--datasource={}", datasource.url()))
            .arg(format!("--rules={}", rules.display()))
            .arg("--evaluation-interval=2s")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start tocsin run");
        let tocsin = Tocsin {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        wait_until(
            "tocsin to be ready",
            Duration::from_secs(30),
            || {
                http_request("GET", &format!("{}/-/ready", tocsin.url), &[], b"")
                    .is_ok_and(|r| r.status == 200)
            },
            || format!("log:\n{}", tocsin.log()),
        );
        tocsin
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tocsin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prom_time(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn get_json(url: &str) -> Value {
    let (status, body) = http_get(url);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

/// An instant query at `at_ms`: each series' labels (`__name__` included) and value string.
fn instant(base_url: &str, query: &str, at_ms: i64) -> BTreeMap<Labels, String> {
    let doc = get_json(&format!(
        "{base_url}/api/v1/query?query={}&time={}",
        form_encode(query),
        prom_time(at_ms)
    ));
    let mut out = BTreeMap::new();
    for s in doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let labels: Labels = serde_json::from_value(s["metric"].clone()).expect("labels");
        let value = s["value"][1].as_str().unwrap_or_default().to_string();
        out.insert(labels, value);
    }
    out
}

/// Timestamps (ms) of the samples of `diff:heartbeat` in the last `range_s` seconds
/// before `at_ms`: the slots that side evaluated.
fn heartbeats(base_url: &str, at_ms: i64, range_s: i64) -> BTreeSet<i64> {
    let doc = get_json(&format!(
        "{base_url}/api/v1/query?query={}&time={}",
        form_encode(&format!("diff:heartbeat[{range_s}s]")),
        prom_time(at_ms)
    ));
    doc["data"]["result"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(|s| s["values"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| p[0].as_f64())
        .map(|secs| (secs * 1000.0).round() as i64)
        .collect()
}

/// What `/api/v1/alerts` says about one alert.
#[derive(Debug, Clone, PartialEq)]
struct ApiAlert {
    state: String,
    active_at: String,
    keep_firing_since: Option<String>,
    value: String,
    annotations: Labels,
}

/// The alerts of one side exactly as they stood after its evaluation of `slot`, or `None`
/// when that cannot be established (the evaluation of `slot` had not finished, or the
/// next one may have started during the read).
fn snapshot(base_url: &str, slot: i64) -> Option<BTreeMap<Labels, ApiAlert>> {
    let last_eval = || {
        let doc = get_json(&format!("{base_url}/api/v1/rules"));
        rfc3339_millis(doc["data"]["groups"][0]["lastEvaluation"].as_str()?).into()
    };
    let before: Option<i64> = last_eval();
    let doc = get_json(&format!("{base_url}/api/v1/alerts"));
    let after: Option<i64> = last_eval();
    let done = now_ms();
    // lastEvaluation is the wall time the evaluation started (never before its slot) and
    // is set when it finishes.
    let settled = before == after
        && before.is_some_and(|l| (slot..slot + INTERVAL_MS).contains(&l))
        && done < slot + INTERVAL_MS;
    if !settled {
        return None;
    }
    let mut out = BTreeMap::new();
    for a in doc["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let labels: Labels = serde_json::from_value(a["labels"].clone()).expect("labels");
        let alert = ApiAlert {
            state: a["state"].as_str().unwrap_or_default().to_string(),
            active_at: a["activeAt"].as_str().unwrap_or_default().to_string(),
            keep_firing_since: a["keepFiringSince"].as_str().map(str::to_string),
            value: a["value"].as_str().unwrap_or_default().to_string(),
            annotations: serde_json::from_value(a["annotations"].clone()).unwrap_or_default(),
        };
        assert!(out.insert(labels, alert).is_none(), "duplicate alert");
    }
    Some(out)
}

/// Each side's `ALERTS` (labels → "timestamp") and `ALERTS_FOR_STATE` (labels →
/// "activeAt"), and the recording results (labels → value), at `slot`.
fn tsdb_state(base_url: &str, slot: i64) -> BTreeMap<String, BTreeMap<Labels, String>> {
    BTreeMap::from([
        (
            "timestamp(ALERTS)".to_string(),
            instant(base_url, "timestamp(ALERTS)", slot),
        ),
        (
            "ALERTS_FOR_STATE".to_string(),
            instant(base_url, "ALERTS_FOR_STATE", slot),
        ),
        (
            "timestamp(ALERTS_FOR_STATE)".to_string(),
            instant(base_url, "timestamp(ALERTS_FOR_STATE)", slot),
        ),
        (
            "recording rules".to_string(),
            instant(base_url, r#"{__name__=~"diff:.+"}"#, slot),
        ),
    ])
}

fn show(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Lines describing where two keyed maps differ.
fn diff_maps<V: PartialEq + std::fmt::Debug>(
    what: &str,
    slot: &str,
    prometheus: &BTreeMap<Labels, V>,
    tocsin: &BTreeMap<Labels, V>,
    out: &mut Vec<String>,
) {
    let keys: BTreeSet<&Labels> = prometheus.keys().chain(tocsin.keys()).collect();
    for k in keys {
        let (p, t) = (prometheus.get(k), tocsin.get(k));
        if p != t {
            out.push(format!(
                "{slot} {what} {}:\n      prometheus: {p:?}\n      tocsin:     {t:?}",
                show(k)
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn tocsin_and_prometheus_hold_the_same_alerts_at_every_evaluation() {
    let rules = rules_file();
    let a = Prometheus::start(PrometheusOptions {
        rule_files: vec![rules.clone()],
        remote_write_receiver: true,
        ..Default::default()
    });
    let b = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..Default::default()
    });
    let dir = TempDir::new("tocsin-differential").expect("temp dir");
    let tocsin = Tocsin::start(dir.path(), &b, &rules);

    // Prometheus holds `ALERTS` back for its first two evaluations (it restores `for`
    // state from its TSDB after the second): write the data once those are done, and once
    // tocsin has evaluated too, so every slot after the write is comparable.
    let grid = eventually_with(
        "Prometheus to evaluate twice and tocsin once",
        Duration::from_secs(30),
        || {
            let evaluated = heartbeats(&a.url(), now_ms(), 30);
            (evaluated.len() >= 2 && !heartbeats(&b.url(), now_ms(), 30).is_empty()).then(|| {
                evaluated
                    .iter()
                    .next()
                    .map_or(0, |s| s.rem_euclid(INTERVAL_MS))
            })
        },
        || format!("tocsin log:\n{}", tocsin.log()),
    );
    let base = now_ms() / 1000 * 1000;
    let data = scenario(base);
    remote_write(&a.url(), &data);
    remote_write(&b.url(), &data);
    let written = now_ms();

    let slot_after = |ms: i64| ms - (ms - grid).rem_euclid(INTERVAL_MS) + INTERVAL_MS;
    // An evaluation starts at or after its slot's wall time, so from this slot on every
    // evaluation saw the data.
    let first = slot_after(written);
    let last = slot_after(base + END_S * 1000 - TAIL_MS - INTERVAL_MS) - INTERVAL_MS;
    assert!(
        first < base + QUIET_S * 1000,
        "warm-up ran into the scenario: data written {} ms after base",
        written - base
    );
    let slots: Vec<i64> = (0..)
        .map(|i| first + i * INTERVAL_MS)
        .take_while(|s| *s <= last)
        .collect();

    // Read both APIs in the middle of every interval.
    let mut api: BTreeMap<i64, [BTreeMap<Labels, ApiAlert>; 2]> = BTreeMap::new();
    for &slot in &slots {
        let read_at = slot + INTERVAL_MS * 2 / 5;
        let now = now_ms();
        if now < read_at {
            std::thread::sleep(Duration::from_millis((read_at - now) as u64));
        }
        if let (Some(p), Some(t)) = (snapshot(&a.url(), slot), snapshot(&tocsin.url, slot)) {
            api.insert(slot, [p, t]);
        }
    }
    std::thread::sleep(Duration::from_millis((INTERVAL_MS * 2) as u64));

    let mut diffs = Vec::new();
    let label = |slot: i64| {
        format!(
            "slot {} (+{:.1} s)",
            prom_time(slot),
            (slot - base) as f64 / 1e3
        )
    };

    // Both evaluated exactly the same slots.
    let end = last + INTERVAL_MS;
    let range = (end - first) / 1000 + 4;
    let in_window = |set: BTreeSet<i64>| -> BTreeSet<i64> {
        set.into_iter()
            .filter(|s| (first..=last).contains(s))
            .collect()
    };
    let (pa, pb) = (
        in_window(heartbeats(&a.url(), end, range)),
        in_window(heartbeats(&b.url(), end, range)),
    );
    let expected: BTreeSet<i64> = slots.iter().copied().collect();
    assert_eq!(
        pa, expected,
        "Prometheus did not evaluate every slot (missed iterations?)"
    );
    assert_eq!(
        pb,
        expected,
        "tocsin did not evaluate Prometheus's slots; log:\n{}",
        tocsin.log()
    );

    // Every evaluation: ALERTS, ALERTS_FOR_STATE and the recording results.
    let mut states_seen = BTreeSet::new();
    for &slot in &slots {
        let (p, t) = (tsdb_state(&a.url(), slot), tsdb_state(&b.url(), slot));
        for (what, series) in &p {
            diff_maps(what, &label(slot), series, &t[what], &mut diffs);
        }
        // Prometheus's own ALERTS were written at this very slot (not left over from an
        // earlier one): the slot grid the comparison assumes is the one it evaluates on.
        for (labels, ts) in &p["timestamp(ALERTS)"] {
            let ms = ts.parse::<f64>().map(|s| (s * 1000.0).round() as i64);
            assert_eq!(
                ms,
                Ok(slot),
                "{} ALERTS{} written at {ts}",
                label(slot),
                show(labels)
            );
        }
        for labels in p["timestamp(ALERTS)"].keys() {
            states_seen.insert((labels["alertname"].clone(), labels["alertstate"].clone()));
        }
    }

    // The API snapshots: annotations, values, activeAt, keepFiringSince.
    let mut keep_firing_seen = 0;
    for (slot, [p, t]) in &api {
        diff_maps("alert", &label(*slot), p, t, &mut diffs);
        keep_firing_seen += p.values().filter(|a| a.keep_firing_since.is_some()).count();
    }

    assert!(
        diffs.is_empty(),
        "tocsin and Prometheus disagree at {} points (first 40):\n  {}\ntocsin log:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  "),
        tocsin.log()
    );
    assert!(
        api.len() * 4 >= slots.len() * 3,
        "only {} of {} slots had a settled API snapshot on both sides",
        api.len(),
        slots.len()
    );
    eprintln!(
        "compared {} evaluations through the TSDBs and {} through /api/v1/alerts; \
         {} alert-slots with keepFiringSince",
        slots.len(),
        api.len(),
        keep_firing_seen
    );

    // The scenario exercised what it claims to.
    assert!(
        keep_firing_seen > 0,
        "no alert was ever kept firing in the API snapshots"
    );
    let rendered = api.values().any(|[p, _]| {
        p.values().any(|a| {
            a.annotations.get("summary").map(String::as_str) == Some("Temperature 85 on t3")
        })
    });
    assert!(rendered, "no snapshot caught t3's templated summary at 85");
    let gone_at_end: Vec<String> = tsdb_state(&a.url(), last)["timestamp(ALERTS)"]
        .keys()
        .filter(|l| l["alertname"] == "SeriesGone")
        .map(|l| l["instance"].clone())
        .collect();
    assert_eq!(
        gone_at_end,
        ["g1"],
        "g2's alert should have gone with its series"
    );
    for (name, state) in [
        ("TempHigh", "firing"),
        ("TempHighFor", "pending"),
        ("TempHighFor", "firing"),
        ("FlapNoFor", "firing"),
        ("FlapFor", "pending"),
        ("FlapKeepFiring", "firing"),
        ("SeriesGone", "firing"),
        ("QueueBacklog", "firing"),
        ("ErrorRatioHigh", "pending"),
        ("ErrorRatioHigh", "firing"),
        ("TempMaxHigh", "firing"),
        ("RequestRate", "firing"),
    ] {
        assert!(
            states_seen.contains(&(name.to_string(), state.to_string())),
            "{name} was never {state}: {states_seen:?}"
        );
    }
}
