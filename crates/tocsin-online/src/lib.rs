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
//! Modules: [`analyse`](mod@analyse) (what an expression asks of its series, pure), `judge`
//! (the verdicts from the answers, pure), [`locate`] (offsets in an expression as file
//! positions), [`server`] (the configuration); this file gathers the answers.
//!
//! Checks (each per rule, at the selector or call inside the expression where [`locate`]
//! can place it, else at the expression; templates at theirs):
//! - `promql/series`: a selector matching no series now; says whether it had some over
//!   the lookback (and when last) or none at all.
//! - `promql/rate`: `rate`/`irate`/`increase`/`delta`/`idelta`/`deriv`/`predict_linear`
//!   over a window shorter than two scrape intervals of the series' job.
//! - `promql/counter`: `rate`/`irate`/`increase`/`resets` over a metric the server's
//!   metadata calls a gauge.
//! - `promql/labels`: a `by`/`without`/`on`/`ignoring` label none of the series carries.
//! - `alerts/template`: a `$labels.x` the expression's result cannot carry (dropped by an
//!   aggregation or matching) or no series of the expression carries.
//! - `alerts/count` (info): the alerts the rule would have raised over the lookback.
//! - `rule/dependency` is `tocsin-rules`' [`tocsin_rules::missing_dependencies`], given
//!   [`Outcome::server_records`].
//!
//! A check that cannot run (a query error) is a warning saying so, counted in
//! [`Outcome::failures`]; it never passes silently.

pub mod analyse;
mod judge;
pub mod locate;
pub mod server;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tocsin_diff::selectors::Selector;
use tocsin_diff::BacktestOptions;
use tocsin_engine::Timestamp;
use tocsin_query::{PrometheusClient, QueryError, QueryValue, RuleKind as ApiRuleKind};
use tocsin_rules::{Diagnostic, RuleGroup, RuleKind, RuleRef};
use tokio::sync::Semaphore;

use crate::analyse::{analyse, COUNTER_FUNCTIONS, NEEDS_TWO_SAMPLES};
use crate::judge::{judge, Answers, Facts, Site};
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
    /// The file's text, to place findings inside expressions ([`locate`]); empty: at the
    /// expression's start.
    pub text: String,
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

    let lines: Vec<Vec<&str>> = files.iter().map(|f| f.text.lines().collect()).collect();
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
                    lines: &lines[file],
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
    let answers = Answers {
        config,
        facts,
        metadata,
        replays,
    };
    for (i, site) in sites.iter().enumerate() {
        let (found, failures) = judge(site, i, &answers, recorded_by_files, &options);
        out.failures += failures;
        out.findings[site.file].extend(found);
        if let Some(c) = cardinality_of.get(i) {
            out.cardinality[site.file].push((site.reference.clone(), c.clone()));
        }
    }
    Ok(out)
}
