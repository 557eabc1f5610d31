//! `tocsin check --datasource` against a real Prometheus 2.42 that scrapes itself every 2 s,
//! records `job:up:sum` with a rule of its own, and holds `old_metric` written through its
//! remote-write receiver 40 to 30 minutes ago: one finding per online check, each with its
//! check name, severity and the `file:line:column` of the rule's expression (or template),
//! a `# tocsin disable` comment turning one off, `--strict` failing on the warnings, and an
//! unreachable datasource failing loudly without printing its password.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tocsin_query::Labels;
use tocsin_testkit::{free_port, http_get, Prometheus, PrometheusOptions, TempDir};

use common::{form_encode, remote_write, text, tocsin, wait_until};

/// What the server itself records, so `rule/dependency` must not flag `job:up:sum`.
const SERVER_RULES: &str = "groups:
  - name: server
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
";

const CHECKED: &str = r#"groups:
  - name: online
    rules:
      - alert: NeverThere
        expr: no_such_metric_total > 0
      - alert: GoneAway
        expr: vector(1) and old_metric > 0
      - alert: ShortWindow
        expr: 100 < rate(prometheus_http_requests_total[3s])
      - alert: RateOfGauge
        expr: rate(go_goroutines[1m]) > 100
      - alert: ReadsNothingRecorded
        expr: job:nowhere_recorded:sum > 0
      - alert: ReadsServerRecording
        expr: job:up:sum > 1000
      - alert: GroupsByMissingLabel
        expr: 1000 < sum by (cluster) (up)
      - alert: TemplateMissingLabel
        expr: up{job="prometheus"} == 1
        annotations:
          summary: "{{ $labels.instance }} in {{ $labels.datacenter }}"
      - alert: TemplateAggregatedAway
        expr: sum by (job) (up) > 1000
        annotations:
          summary: "{{ $labels.job }}: {{ $labels.instance }}"
      # tocsin disable promql/series
      - alert: Suppressed
        expr: another_missing_metric > 0
"#;

fn query_has_result(prom: &Prometheus, expr: &str) -> bool {
    let (status, body) = http_get(&format!(
        "{}/api/v1/query?query={}",
        prom.url(),
        form_encode(expr)
    ));
    status == 200 && !body.contains(r#""result":[]"#)
}

/// Prometheus scraping itself every 2 s, with its recording rule evaluated and the old
/// history written; returns once everything the checks read is there.
fn start(dir: &Path) -> Prometheus {
    let server_rules = dir.join("server_rules.yaml");
    std::fs::write(&server_rules, SERVER_RULES).expect("write server rules");
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![server_rules],
        evaluation_interval: Duration::from_secs(2),
        scrape_self: true,
        remote_write_receiver: true,
        ..Default::default()
    });
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let labels: Labels = [("__name__", "old_metric"), ("job", "batch")]
        .into_iter()
        .collect();
    let samples: Vec<_> = (0..=20)
        .map(|k| (labels.clone(), 1.0, now_ms - 40 * 60_000 + k * 30_000))
        .collect();
    remote_write(&prom.url(), &samples);
    let log = || tocsin_testkit::tail(prom.log_path(), 20);
    for expr in [
        r#"up{job="prometheus"}"#,
        "go_goroutines",
        "prometheus_http_requests_total",
        "job:up:sum",
        // Scraped for a few intervals, so that the alert estimate's slots (multiples of
        // 2 s up to now) include some after the first scrape.
        r#"count_over_time(up{job="prometheus"}[1m]) > 3"#,
    ] {
        wait_until(
            expr,
            Duration::from_secs(60),
            || query_has_result(&prom, expr),
            log,
        );
    }
    wait_until(
        "metadata of go_goroutines",
        Duration::from_secs(60),
        || {
            let (_, body) = http_get(&format!(
                "{}/api/v1/metadata?metric=go_goroutines",
                prom.url()
            ));
            body.contains("gauge")
        },
        log,
    );
    prom
}

/// Line and column (1-based) of the `expr:` value of the rule alerting as `alert`.
fn expr_pos(alert: &str) -> (u64, u64) {
    value_pos(alert, "expr: ")
}

/// Where `part` starts inside the `expr:` value of the rule alerting as `alert`: the
/// column findings about a selector or call point at.
fn part_pos(alert: &str, part: &str) -> (u64, u64) {
    let (line, col) = expr_pos(alert);
    let text = CHECKED.lines().nth(line as usize - 1).expect("expr line");
    let offset = text[col as usize - 1..]
        .find(part)
        .expect("part of the expr");
    (line, col + offset as u64)
}

/// Line and column of the first value after `key` following `- alert: NAME`.
fn value_pos(alert: &str, key: &str) -> (u64, u64) {
    let lines: Vec<&str> = CHECKED.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("- alert: {alert}"))
        .expect("rule in CHECKED");
    let (i, line) = lines
        .iter()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.contains(key))
        .expect("key after the rule");
    let col = line.find(key).expect("key") + key.len() + 1;
    (i as u64 + 1, col as u64)
}

/// The findings of `rule` by check name, from `--format json`.
fn findings<'a>(doc: &'a Value, rule: &str, check: &str) -> Vec<&'a Value> {
    doc["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["rule"] == rule && d["check"] == check)
        .collect()
}

/// The one finding of `check` for `rule`, asserted to have `severity` at `pos`.
fn one<'a>(doc: &'a Value, rule: &str, check: &str, severity: &str, pos: (u64, u64)) -> &'a str {
    let found = findings(doc, rule, check);
    assert_eq!(found.len(), 1, "{rule} {check}: {found:#?}\n{doc:#}");
    let d = found[0];
    assert_eq!(d["severity"], severity, "{rule} {check}: {d}");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(pos.0), Some(pos.1)),
        "{rule} {check}: {d}"
    );
    d["message"].as_str().expect("message")
}

#[test]
fn datasource_reports_each_online_finding_at_its_rule_and_strict_fails_on_them() {
    let dir = TempDir::new("tocsin-check-datasource").expect("temp dir");
    let prom = start(dir.path());
    let file = dir.path().join("alerting_rule_online.yaml");
    std::fs::write(&file, CHECKED).expect("write checked rules");
    let file = file.to_string_lossy().into_owned();
    let url = prom.url();
    let args = [
        "check",
        "--datasource",
        &url,
        "--lookback",
        "1h",
        "--format",
        "json",
        &file,
    ];
    let out = tocsin(&args);
    let stderr = text(&out.stderr);
    // Warnings and infos only: the file is valid and every check ran.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON document");
    assert_eq!(doc["online"]["datasource"], url.as_str(), "{doc:#}");
    assert_eq!(doc["online"]["failures"], 0, "{doc:#}");

    // promql/series: never present vs present earlier in the lookback.
    let m = one(
        &doc,
        "NeverThere",
        "promql/series",
        "warning",
        expr_pos("NeverThere"),
    );
    assert!(
        m.contains("no_such_metric_total matches no series now, nor any over the last 1h"),
        "{m}"
    );
    assert!(m.contains("was never present"), "{m}");
    let m = one(
        &doc,
        "GoneAway",
        "promql/series",
        "warning",
        part_pos("GoneAway", "old_metric"),
    );
    assert!(
        m.contains("old_metric matches no series now, but had some over the last 1h"),
        "{m}"
    );
    assert!(
        m.contains("its last sample is 3") || m.contains("its last sample is 2"),
        "{m}"
    );

    // promql/rate: 3s is under two scrape intervals (2s) of job "prometheus".
    let m = one(
        &doc,
        "ShortWindow",
        "promql/rate",
        "warning",
        part_pos("ShortWindow", "rate("),
    );
    assert!(m.contains(r#"job "prometheus" (2s each)"#), "{m}");
    assert!(findings(&doc, "RateOfGauge", "promql/rate").is_empty());

    // promql/counter: go_goroutines is a gauge by the server's metadata; the counter is not.
    let m = one(
        &doc,
        "RateOfGauge",
        "promql/counter",
        "warning",
        expr_pos("RateOfGauge"),
    );
    assert!(
        m.contains("go_goroutines, which the server's metadata says is a gauge"),
        "{m}"
    );
    assert!(findings(&doc, "ShortWindow", "promql/counter").is_empty());

    // rule/dependency: neither the file nor the server records it; the server's own
    // recording is found (offline, `rules/missing-recording` would flag both).
    let m = one(
        &doc,
        "ReadsNothingRecorded",
        "rule/dependency",
        "warning",
        expr_pos("ReadsNothingRecorded"),
    );
    assert!(m.contains("job:nowhere_recorded:sum"), "{m}");
    assert!(findings(&doc, "ReadsServerRecording", "rule/dependency").is_empty());
    assert!(findings(&doc, "ReadsServerRecording", "rules/missing-recording").is_empty());
    assert!(findings(&doc, "ReadsServerRecording", "promql/series").is_empty());

    // promql/labels: `up` never carries `cluster`.
    let m = one(
        &doc,
        "GroupsByMissingLabel",
        "promql/labels",
        "warning",
        part_pos("GroupsByMissingLabel", "sum by"),
    );
    assert!(
        m.contains(r#"sum by (cluster): no series of up carries the label "cluster""#),
        "{m}"
    );

    // alerts/template: at the annotation's value; `instance` is carried, `datacenter` not.
    let m = one(
        &doc,
        "TemplateMissingLabel",
        "alerts/template",
        "warning",
        value_pos("TemplateMissingLabel", "summary: "),
    );
    assert!(
        m.contains("annotation summary reads $labels.datacenter"),
        "{m}"
    );
    assert!(!m.contains("$labels.instance"), "{m}");

    // alerts/template from the expression's shape: `sum by (job)` drops `instance`, which
    // every series of `up` carries.
    let m = one(
        &doc,
        "TemplateAggregatedAway",
        "alerts/template",
        "warning",
        value_pos("TemplateAggregatedAway", "summary: "),
    );
    assert!(
        m.contains("annotation summary reads $labels.instance, but the expression's result carries only job"),
        "{m}"
    );

    // alerts/count: info for every alerting rule; `up == 1` has fired once, since the
    // first scrape.
    let m = one(
        &doc,
        "TemplateMissingLabel",
        "alerts/count",
        "info",
        expr_pos("TemplateMissingLabel"),
    );
    assert!(
        m.contains("would have fired 1 alert (1 firing interval) over the last 1h"),
        "{m}"
    );
    let m = one(
        &doc,
        "NeverThere",
        "alerts/count",
        "info",
        expr_pos("NeverThere"),
    );
    assert!(m.contains("would not have fired over the last 1h"), "{m}");

    // The disable comment turns promql/series off for its rule only.
    assert!(
        findings(&doc, "Suppressed", "promql/series").is_empty(),
        "{doc:#}"
    );
    assert_eq!(findings(&doc, "Suppressed", "alerts/count").len(), 1);

    // GitHub annotations: warnings as warnings, the estimate as a notice.
    let mut github = args.to_vec();
    let at = github
        .iter()
        .position(|a| *a == "json")
        .expect("--format json");
    github[at] = "github";
    let out = tocsin(&github);
    let stdout = text(&out.stdout);
    let (line, col) = expr_pos("TemplateMissingLabel");
    assert!(
        stdout.contains(&format!(
            "::notice file={},line={line},col={col},title=alerts/count::",
            file.replace(':', "%3A")
        )),
        "{stdout}"
    );
    assert!(stdout.contains(",title=promql/rate::"), "{stdout}");

    // --extended: each rule's series now; only `up{job="prometheus"} == 1` has one.
    let out = tocsin(&[
        "check",
        "--datasource",
        &url,
        "--lookback",
        "1h",
        "--extended",
        &file,
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Cardinality of {file} (series now)\n")),
        "{stdout}"
    );
    let row = |name: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name}: {stdout}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(
        row("TemplateMissingLabel"),
        ["TemplateMissingLabel", "1", "100%"]
    );
    assert_eq!(row("NeverThere"), ["NeverThere", "0", "0%"]);
    assert_eq!(row("Total"), ["Total", "1", "100%"]);
    let mut extended = args.to_vec();
    extended.insert(1, "--extended");
    let doc: Value = serde_json::from_slice(&tocsin(&extended).stdout).expect("JSON document");
    let rows = doc["files"][0]["cardinality"]
        .as_array()
        .expect("cardinality");
    let row = rows
        .iter()
        .find(|r| r["rule"] == "TemplateMissingLabel")
        .expect("a row per rule");
    assert_eq!(
        (&row["rule_index"], &row["series"]),
        (&Value::from(8), &Value::from(1))
    );

    // --strict: the same warnings fail the run; text output names file:line:column.
    let mut strict = args.to_vec();
    strict.retain(|a| *a != "--format" && *a != "json");
    strict.insert(1, "--strict");
    let out = tocsin(&strict);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let (line, col) = part_pos("ShortWindow", "rate(");
    assert!(
        stderr.contains(&format!(
            "{file}:{line}:{col}: warning: group \"online\", rule 3, \"ShortWindow\": rate("
        )),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_datasource_fails_the_check_and_never_prints_its_password() {
    let dir = TempDir::new("tocsin-check-unreachable").expect("temp dir");
    let file = dir.path().join("alerting_rule_online.yaml");
    std::fs::write(&file, CHECKED).expect("write checked rules");
    let file = file.to_string_lossy().into_owned();
    let url = format!("http://checker:s3cret-pw@127.0.0.1:{}", free_port());
    let out = tocsin(&["check", "--datasource", &url, &file]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("SUCCESS: 10 rules found"), "{stdout}");
    assert!(stderr.contains("no online check ran"), "{stderr}");
    assert!(
        !stdout.contains("s3cret-pw") && !stderr.contains("s3cret-pw"),
        "{stderr}"
    );
    let out = tocsin(&["check", "--datasource", &url, "--format", "json", &file]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("s3cret-pw"), "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON document");
    let problem = doc["online"]["problems"][0].as_str().unwrap_or_default();
    assert!(problem.contains("no online check ran"), "{doc:#}");
    // Without --datasource the same file passes: the failure is the datasource's.
    assert_eq!(tocsin(&["check", &file]).status.code(), Some(0));
}

#[test]
fn a_query_the_server_refuses_is_a_check_that_did_not_run_and_fails_the_run() {
    // One sample per query at most: `count(prometheus_http_requests_total)` is refused.
    let prom = Prometheus::start(PrometheusOptions {
        evaluation_interval: Duration::from_secs(2),
        scrape_self: true,
        extra_args: vec!["--query.max-samples=1".into()],
        ..Default::default()
    });
    let log = || tocsin_testkit::tail(prom.log_path(), 20);
    wait_until(
        "the first scrape",
        Duration::from_secs(60),
        || query_has_result(&prom, r#"up{job="prometheus"}"#),
        log,
    );
    let dir = TempDir::new("tocsin-check-refused").expect("temp dir");
    let file = dir.path().join("alerting_rule_refused.yaml");
    std::fs::write(
        &file,
        "groups:\n  - name: refused\n    rules:\n      - alert: Busy\n        expr: sum(prometheus_http_requests_total) > 1e9\n",
    )
    .expect("write rules");
    let file = file.to_string_lossy().into_owned();
    let out = tocsin(&[
        "check",
        "--datasource",
        &prom.url(),
        "--lookback",
        "10m",
        &file,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // At the selector inside `sum(…)`: column 15 is the expression, 19 the selector.
    assert!(
        stderr.contains(&format!(
            "{file}:5:19: warning: group \"refused\", rule 1, \"Busy\": could not check prometheus_http_requests_total: query processing would load too many samples"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("online check(s) could not run against"),
        "{stderr}"
    );
}
