//! The online checks of `tocsin check --datasource`: rule files against what a live
//! Prometheus holds (docs/check.md has the table of checks).
//!
//! Its place: after `tocsin-rules` has decided a file is valid, this crate asks the server
//! what the rules will read. It uses `tocsin-query` for the HTTP API, `tocsin-promql` for
//! the expressions, and `tocsin-diff` for what both share: the series selectors of an
//! expression ([`tocsin_diff::selectors`]) and the backtest of one alerting rule with the
//! engine's own state machine (`alerts/count`). Findings are `tocsin-rules`
//! [`Diagnostic`]s with a stable check name, so `# tocsin disable <check>`, `--strict` and
//! every output format treat them like the offline ones. The binary only wires flags.
//!
//! Checks (each per rule, at the expression's position, templates at theirs):
//! - `promql/series`: a selector matching no series now; says whether it had some over
//!   the lookback (and when last) or none at all.
//! - `promql/rate`: `rate`/`irate`/`increase`/`delta`/`idelta`/`deriv`/`predict_linear`
//!   over a window shorter than two scrape intervals of the series' job.
//! - `promql/counter`: `rate`/`irate`/`increase`/`resets` over a metric the server's
//!   metadata calls a gauge.
//! - `promql/labels`: a `by`/`without`/`on`/`ignoring` label none of the series carries.
//! - `alerts/template`: a `$labels.x` no series of the expression carries.
//! - `alerts/count` (info): the alerts the rule would have raised over the lookback.
//! - `rule/dependency` is `tocsin-rules`' [`tocsin_rules::missing_dependencies`], given
//!   [`Outcome::server_records`].
//!
//! A check that cannot run (a query error) is a warning saying so, counted in
//! [`Outcome::failures`]; it never passes silently.

pub mod analyse;
pub mod server;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tocsin_diff::selectors::Selector;
use tocsin_diff::BacktestOptions;
use tocsin_engine::Timestamp;
use tocsin_query::{PrometheusClient, QueryError, QueryValue, RuleKind as ApiRuleKind};
use tocsin_rules::{checks, Diagnostic, RuleGroup, RuleKind, RuleRef};
use tokio::sync::Semaphore;

use crate::analyse::{analyse, Analysis, COUNTER_FUNCTIONS, NEEDS_TWO_SAMPLES};
pub use crate::server::ServerConfig;

/// How to check.
#[derive(Clone, Debug)]
pub struct OnlineOptions {
    /// How far back "over the lookback" reaches (`--lookback`).
    pub lookback: Duration,
    /// The present.
    pub now: Timestamp,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Also count each rule's series now (`--extended`).
    pub cardinality: bool,
}

/// The valid rule files to check, as `tocsin_rules::load_file` decoded them.
#[derive(Clone, Debug)]
pub struct FileRules {
    pub path: String,
    pub groups: Vec<RuleGroup>,
}

/// What the online checks found.
#[derive(Debug)]
pub struct Outcome {
    /// Findings per file (same order as given), rule by rule.
    pub findings: Vec<Vec<Diagnostic>>,
    /// The names the server's recording rules record, or why they could not be read.
    pub server_records: Result<HashSet<String>, String>,
    /// Checks that could not run (each also a finding).
    pub failures: usize,
    /// With [`OnlineOptions::cardinality`]: per file, each rule's series now.
    pub cardinality: Vec<Vec<(RuleRef, Result<u64, String>)>>,
}

/// The server could not be asked anything: no online check ran.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// What the server says about one selector.
#[derive(Clone, Debug)]
struct Facts {
    /// Series it matches now.
    now: Result<u64, String>,
    /// Label names of the series it matched over the lookback (empty: none).
    names: Result<BTreeSet<String>, String>,
    /// When it last matched a series (Unix ms), asked when it matches none now.
    last_seen_ms: Option<Result<Option<i64>, String>>,
    /// Whether the metric alone had series over the lookback, asked when the selector
    /// matched none and has label matchers.
    metric_present: Option<Result<bool, String>>,
    /// The `job`s of the series it matches now, asked for range functions.
    jobs: Option<Result<Vec<String>, String>>,
}

fn error_text(e: &QueryError) -> String {
    match e {
        QueryError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// `count(...)`-style answer as one number (0 for an empty vector).
fn single_value(v: QueryValue) -> u64 {
    v.into_samples()
        .and_then(|s| s.first().map(|s| s.value))
        .map_or(0, |v| v.max(0.0) as u64)
}

/// A Prometheus duration, to the second.
fn human(d: Duration) -> String {
    tocsin_promql::format_duration((d.as_secs() as i64).max(1) * 1000)
}

async fn facts(
    client: PrometheusClient,
    selector: Selector,
    want_jobs: bool,
    options: Arc<OnlineOptions>,
) -> Facts {
    let now = options.now.to_system_time();
    let start = (options.now - options.lookback).to_system_time();
    let sel = selector.text.as_str();
    let count = client
        .instant_query(&format!("count({sel})"), now)
        .await
        .map(|r| single_value(r.value))
        .map_err(|e| error_text(&e));
    let names = client
        .label_names(&[sel], start, now)
        .await
        .map(|n| n.into_iter().collect::<BTreeSet<String>>())
        .map_err(|e| error_text(&e));
    let mut f = Facts {
        now: count,
        names,
        last_seen_ms: None,
        metric_present: None,
        jobs: None,
    };
    if f.now == Ok(0) {
        match &f.names {
            Ok(n) if !n.is_empty() => {
                // The latest sample's own timestamp at each step; its largest is the last.
                let step = Duration::from_secs((options.lookback.as_secs() / 1000).max(1));
                let last = client
                    .range_query(&format!("max(timestamp({sel}))"), start, now, step)
                    .await
                    .map(|r| match r.value {
                        QueryValue::Matrix(series) => series
                            .iter()
                            .flat_map(|s| s.points.iter())
                            .map(|p| (p.value * 1000.0) as i64)
                            .max(),
                        _ => None,
                    })
                    .map_err(|e| error_text(&e));
                f.last_seen_ms = Some(last);
            }
            Ok(_) => {
                if let Some(metric) = &selector.metric {
                    if *metric != selector.text {
                        let present = client
                            .label_names(&[&format!("{{__name__={metric:?}}}")], start, now)
                            .await
                            .map(|n| !n.is_empty())
                            .map_err(|e| error_text(&e));
                        f.metric_present = Some(present);
                    }
                }
            }
            Err(_) => {}
        }
    }
    if want_jobs && f.now.as_ref().is_ok_and(|n| *n > 0) {
        let jobs = client
            .instant_query(&format!("count by (job) ({sel})"), now)
            .await
            .map(|r| {
                r.value
                    .into_samples()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s.labels.get("job").map(str::to_string))
                    .collect()
            })
            .map_err(|e| error_text(&e));
        f.jobs = Some(jobs);
    }
    f
}

/// Runs `work` on every item, `concurrency` at a time; answers in the items' order, with
/// `lost()` for an item whose task died (so answers never shift to another item).
async fn each<T, R, F, Fut>(
    items: Vec<T>,
    concurrency: usize,
    work: F,
    lost: impl Fn() -> R,
) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let n = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let fut = work(item);
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, fut.await)
        });
    }
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, r)) = joined {
            out[i] = Some(r);
        }
    }
    out.into_iter().map(|r| r.unwrap_or_else(&lost)).collect()
}

const LOST: &str = "the check's task failed";

/// One rule with where it is.
struct Site<'a> {
    file: usize,
    rule: &'a tocsin_rules::Rule,
    group: &'a RuleGroup,
    reference: RuleRef,
    analysis: Option<Analysis>,
}

/// Runs every online check on `files`. `recorded_by_files`: the names the checked files'
/// recording rules record (their selectors are not expected to match yet). Fails only when
/// the server answers nothing at all (its configuration cannot be read).
pub async fn check(
    client: &PrometheusClient,
    files: &[FileRules],
    recorded_by_files: &HashSet<String>,
    options: OnlineOptions,
) -> Result<Outcome, Unreachable> {
    let config_yaml = client
        .status_config()
        .await
        .map_err(|e| Unreachable(e.to_string()))?;
    let config = ServerConfig::parse(&config_yaml);
    let server_records = match client.rules(Some(ApiRuleKind::Recording)).await {
        Ok(groups) => Ok(groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .filter_map(|r| match r {
                tocsin_query::Rule::Recording(r) => Some(r.name.clone()),
                tocsin_query::Rule::Alerting(_) => None,
            })
            .collect()),
        Err(e) => Err(e.to_string()),
    };
    let options = Arc::new(options);

    let mut sites = Vec::new();
    for (file, f) in files.iter().enumerate() {
        for group in &f.groups {
            for (i, rule) in group.rules.iter().enumerate() {
                sites.push(Site {
                    file,
                    rule,
                    group,
                    reference: RuleRef {
                        group: group.name.value.clone(),
                        index: i + 1,
                        name: rule.name().to_string(),
                    },
                    analysis: analyse(rule),
                });
            }
        }
    }

    // Every distinct selector once, and the metrics whose metadata matters.
    let mut wanted: BTreeMap<String, (Selector, bool)> = BTreeMap::new();
    let mut metrics = BTreeSet::new();
    for a in sites.iter().filter_map(|s| s.analysis.as_ref()) {
        for s in &a.all_selectors {
            wanted
                .entry(s.text.clone())
                .or_insert_with(|| (s.clone(), false));
        }
        for r in &a.ranges {
            if r.job.is_none() && NEEDS_TWO_SAMPLES.contains(&r.func) {
                if let Some(w) = wanted.get_mut(&r.selector.text) {
                    w.1 = true;
                }
            }
            if COUNTER_FUNCTIONS.contains(&r.func) {
                if let Some(m) = &r.selector.metric {
                    metrics.insert(m.clone());
                }
            }
        }
    }
    let keys: Vec<String> = wanted.keys().cloned().collect();
    let got = each(
        wanted.into_values().collect(),
        options.concurrency,
        |(sel, jobs)| facts(client.clone(), sel, jobs, options.clone()),
        || Facts {
            now: Err(LOST.into()),
            names: Err(LOST.into()),
            last_seen_ms: None,
            metric_present: None,
            jobs: None,
        },
    )
    .await;
    let facts: BTreeMap<String, Facts> = keys.into_iter().zip(got).collect();
    let metric_list: Vec<String> = metrics.into_iter().collect();
    let metadata = each(
        metric_list.clone(),
        options.concurrency,
        |m| {
            let client = client.clone();
            async move { client.metadata(&m).await.map_err(|e| error_text(&e)) }
        },
        || Err(LOST.into()),
    )
    .await;
    let metadata: BTreeMap<String, _> = metric_list.into_iter().zip(metadata).collect();

    // alerts/count: each alerting rule replayed over the lookback.
    let mut backtest = BacktestOptions::new(options.now - options.lookback, options.now);
    backtest.concurrency = options.concurrency;
    let backtest = Arc::new(backtest);
    let default_step = config
        .as_ref()
        .map_or(Duration::from_secs(60), |c| c.evaluation_interval);
    let alerting: Vec<(
        usize,
        Arc<tocsin_engine::AlertingRule>,
        String,
        usize,
        Duration,
    )> = sites
        .iter()
        .enumerate()
        .filter(|(_, s)| s.rule.kind() == RuleKind::Alerting)
        .map(|(i, s)| {
            let step = s
                .group
                .interval
                .as_ref()
                .map(|d| d.value.as_std())
                .filter(|d| !d.is_zero())
                .unwrap_or(default_step);
            let limit = usize::try_from(s.group.limit.max(0)).unwrap_or(usize::MAX);
            (
                i,
                Arc::new(tocsin_engine::AlertingRule::from_rule(s.rule)),
                s.rule.canonical_expr(),
                limit,
                step,
            )
        })
        .collect();
    let replays = each(
        alerting,
        options.concurrency,
        |(i, rule, expr, limit, step)| {
            let client = client.clone();
            let backtest = backtest.clone();
            async move {
                let (replay, _) = tocsin_diff::backtest::replay_alerting(
                    &client,
                    rule,
                    &expr,
                    limit,
                    step,
                    &backtest,
                    &tocsin_diff::NoProgress,
                )
                .await;
                Some((i, replay))
            }
        },
        || None,
    )
    .await;
    // A replay whose task died counts as a check that did not run.
    let lost_replays = replays.iter().filter(|r| r.is_none()).count();
    let replays: BTreeMap<usize, tocsin_diff::backtest::AlertReplay> =
        replays.into_iter().flatten().collect();

    let cardinality_of: Vec<Result<u64, String>> = if options.cardinality {
        let exprs: Vec<String> = sites.iter().map(|s| s.rule.canonical_expr()).collect();
        each(
            exprs,
            options.concurrency,
            |expr| {
                let client = client.clone();
                let at = options.now.to_system_time();
                async move {
                    client
                        .instant_query(&format!("count({expr})"), at)
                        .await
                        .map(|r| single_value(r.value))
                        .map_err(|e| error_text(&e))
                }
            },
            || Err(LOST.into()),
        )
        .await
    } else {
        Vec::new()
    };

    let mut out = Outcome {
        findings: vec![Vec::new(); files.len()],
        server_records,
        failures: lost_replays,
        cardinality: vec![Vec::new(); if options.cardinality { files.len() } else { 0 }],
    };
    let lookback = human(options.lookback);
    for (i, site) in sites.iter().enumerate() {
        let mut found = Vec::new();
        let mut failures = 0;
        let expr_pos = site.rule.expr.as_ref().map(|e| e.pos);
        macro_rules! warn {
            ($check:expr, $message:expr $(,)?) => {
                found.push(
                    Diagnostic::warning($check, expr_pos, $message).in_rule(site.reference.clone()),
                )
            };
        }
        if let Some(a) = &site.analysis {
            // promql/series
            for sel in &a.selectors {
                if sel
                    .metric
                    .as_ref()
                    .is_some_and(|m| recorded_by_files.contains(m))
                {
                    continue;
                }
                let Some(f) = facts.get(&sel.text) else {
                    continue;
                };
                match (&f.now, &f.names) {
                    (Ok(n), _) if *n > 0 => {}
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        failures += 1;
                        warn!(checks::SERIES, format!("could not check {}: {e}", sel.text));
                    }
                    (Ok(_), Ok(names)) if names.is_empty() => {
                        let why = match (&f.metric_present, &sel.metric) {
                            (Some(Ok(true)), Some(m)) => {
                                format!("; metric {m} has series, but none with these labels")
                            }
                            (Some(Err(e)), _) => {
                                failures += 1;
                                format!("; could not check the metric alone: {e}")
                            }
                            (_, Some(m)) => format!("; metric {m} was never present"),
                            (_, None) => String::new(),
                        };
                        warn!(
                            checks::SERIES,
                            format!(
                                "{} matches no series now, nor any over the last {lookback}{why}",
                                sel.text
                            ),
                        );
                    }
                    (Ok(_), Ok(_)) => {
                        let when = match &f.last_seen_ms {
                            Some(Ok(Some(ms))) => {
                                let ago = options.now.unix_millis() - ms;
                                format!(
                                    "; its last sample is {} old",
                                    human(Duration::from_millis(ago.max(0) as u64))
                                )
                            }
                            Some(Err(e)) => {
                                failures += 1;
                                format!("; could not tell when it last had one: {e}")
                            }
                            _ => String::new(),
                        };
                        warn!(
checks::SERIES,
                            format!(
                                "{} matches no series now, but had some over the last {lookback}{when}",
                                sel.text
                            ),
                        );
                    }
                }
            }
            // promql/rate
            for r in a
                .ranges
                .iter()
                .filter(|r| NEEDS_TWO_SAMPLES.contains(&r.func))
            {
                let config = match &config {
                    Ok(c) => c,
                    Err(e) => {
                        failures += 1;
                        warn!(
                            checks::RATE,
                            format!("could not read the server's scrape intervals: {e}"),
                        );
                        continue;
                    }
                };
                let jobs: Vec<String> = match (
                    &r.job,
                    facts.get(&r.selector.text).and_then(|f| f.jobs.clone()),
                ) {
                    (Some(job), _) => vec![job.clone()],
                    (None, Some(Ok(jobs))) => jobs,
                    (None, Some(Err(e))) => {
                        failures += 1;
                        warn!(
                            checks::RATE,
                            format!("could not find the jobs of {}: {e}", r.selector.text)
                        );
                        continue;
                    }
                    (None, None) => Vec::new(),
                };
                let slowest = jobs
                    .iter()
                    .filter_map(|j| config.jobs.get(j).map(|d| (j, *d)))
                    .max_by_key(|(_, d)| *d);
                if let Some((job, interval)) = slowest {
                    if (r.range_ms as u128) < 2 * interval.as_millis() {
                        warn!(
checks::RATE,
                            format!(
                                "{}({}[{}]): the window is shorter than two scrape intervals of job {job:?} ({} each), so it often holds fewer than the two samples {}() needs",
                                r.func,
                                r.selector.text,
                                tocsin_promql::format_duration(r.range_ms),
                                human(interval),
                                r.func
                            ),
                        );
                    }
                }
            }
            // promql/counter
            for r in a
                .ranges
                .iter()
                .filter(|r| COUNTER_FUNCTIONS.contains(&r.func))
            {
                let Some(m) = &r.selector.metric else {
                    continue;
                };
                match metadata.get(m) {
                    Some(Ok(entries))
                        if !entries.is_empty() && entries.iter().all(|e| e.kind == "gauge") =>
                    {
                        warn!(
checks::COUNTER,
                            format!(
                                "{}() over {m}, which the server's metadata says is a gauge: {}() expects a counter (for a gauge use deriv() or delta())",
                                r.func, r.func
                            ),
                        );
                    }
                    Some(Err(e)) => {
                        failures += 1;
                        warn!(
                            checks::COUNTER,
                            format!("could not read the metadata of {m}: {e}")
                        );
                    }
                    _ => {}
                }
            }
            // promql/labels and alerts/template: only when every selector involved had
            // series (else promql/series speaks) and nothing makes labels up.
            let names_of = |sels: &[Selector]| -> Option<BTreeSet<String>> {
                if sels.is_empty() {
                    return None;
                }
                let mut all = BTreeSet::new();
                for s in sels {
                    match facts.get(&s.text).map(|f| &f.names) {
                        Some(Ok(n)) if !n.is_empty() => all.extend(n.iter().cloned()),
                        _ => return None,
                    }
                }
                Some(all)
            };
            let texts = |sels: &[Selector]| {
                sels.iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !a.makes_labels {
                for l in &a.labels {
                    for side in &l.sides {
                        let Some(names) = names_of(side) else {
                            continue;
                        };
                        if !names.contains(&l.label) {
                            warn!(
checks::LABELS,
                                format!(
                                    "{} ({}): no series of {} carries the label {:?} over the last {lookback}",
                                    l.clause,
                                    l.label,
                                    texts(side),
                                    l.label
                                ),
                            );
                        }
                    }
                }
                if let Some(names) = names_of(&a.all_selectors) {
                    for t in &a.template_labels {
                        if !names.contains(&t.label) {
                            found.push(
                                Diagnostic::warning(
                                    checks::TEMPLATE,
                                    Some(t.pos),
                                    format!(
                                        "{} reads $labels.{}, but no series of {} carries the label {:?} over the last {lookback}",
                                        t.place,
                                        t.label,
                                        texts(&a.all_selectors),
                                        t.label
                                    ),
                                )
                                .in_rule(site.reference.clone()),
                            );
                        }
                    }
                }
            }
        }
        // alerts/count
        if let Some(replay) = replays.get(&i) {
            let alerts = replay.alerts.len();
            let intervals: usize = replay.alerts.values().map(Vec::len).sum();
            let message = if alerts == 0 {
                format!("would not have fired over the last {lookback}")
            } else {
                format!(
                    "would have fired {alerts} alert{} ({intervals} firing interval{}) over the last {lookback}",
                    if alerts == 1 { "" } else { "s" },
                    if intervals == 1 { "" } else { "s" }
                )
            };
            let mut d = Diagnostic::info(checks::ALERTS_COUNT, expr_pos, message);
            if let Some(e) = &replay.errors.first_error {
                d = Diagnostic::warning(
                    checks::ALERTS_COUNT,
                    expr_pos,
                    format!(
                        "{} of {} evaluations over the last {lookback} failed: {e}",
                        replay.errors.failed_evaluations, replay.evaluations
                    ),
                );
            }
            found.push(d.in_rule(site.reference.clone()));
        }
        out.failures += failures;
        out.findings[site.file].extend(found);
        if let Some(c) = cardinality_of.get(i) {
            out.cardinality[site.file].push((site.reference.clone(), c.clone()));
        }
    }
    Ok(out)
}
