//! Comparing the replays of two rule sets: rule pairing, alert-by-alert differences, the
//! report and its verdict.
//!
//! Words used throughout (docs/diff.md):
//! - an **alert** is one label set a rule fired with (its identity: Alertmanager groups,
//!   deduplicates and pages by it);
//! - a **firing interval** is a run of consecutive slots at which that alert was firing:
//!   each one is a page;
//! - alerts **added**/**removed** count firing intervals of one side that no firing interval
//!   of the same alert on the other side overlaps;
//! - an **annotation change** is an annotation that reads differently when an alert starts
//!   firing at the same slot in both sets;
//! - an **identity change** pairs an alert only the old set has with one only the new set
//!   has when they fire at overlapping times: the same condition, different labels — it
//!   would page again under the new identity.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use tocsin_engine::Labels;
use tocsin_query::PrometheusClient;
use tocsin_rules::RuleKind;
use tokio::sync::Semaphore;

use crate::backtest::{
    compare_outputs, drive, AlertReplay, AlertSide, BacktestOptions, ChunkResult, Cost, Episode,
    ErrorTally, Grid, Progress, RecordSide, RecordingComparison,
};
use crate::load::{fmt_duration, Compiled, RuleEntry, RuleSet};
use crate::report::label_map_of as label_map;
use crate::report::{
    fmt_labels, rfc3339, AlertDiff, AlertRecord, AnnotationChange, CostReport, FiringChange,
    IdentityChange, Interval, NotificationReport, NotifyCounts, Regression, Report, RuleDiff,
    RuleNotifications, SideReport, Status, Summary, WindowReport,
};
use crate::selectors::{selectors, Selector};
use crate::substitute::Precomputed;

/// A rule of the old set and its counterpart in the new one.
#[derive(Clone, Debug)]
pub struct Pair {
    pub old: Option<RuleEntry>,
    pub new: Option<RuleEntry>,
}

impl Pair {
    pub fn status(&self) -> Status {
        match (&self.old, &self.new) {
            (Some(o), Some(n)) if o.name != n.name || o.group != n.group => Status::Renamed,
            (Some(o), Some(n)) if o.definition_changes(n).is_empty() => Status::Unchanged,
            (Some(_), Some(_)) => Status::Changed,
            (None, _) => Status::Added,
            (Some(_), None) => Status::Removed,
        }
    }

    fn any(&self) -> &RuleEntry {
        match (&self.new, &self.old) {
            (Some(r), _) | (None, Some(r)) => r,
            (None, None) => unreachable!("a pair holds at least one rule"),
        }
    }
}

/// Pairs rules by group, kind, name and occurrence; then pairs what is left by kind and
/// expression (renames and moves between groups). New-set order first, then removals.
pub fn pair_rules(old: &RuleSet, new: &RuleSet) -> Vec<Pair> {
    type Key<'a> = (&'a str, &'static str, &'a str, usize);
    let mut by_key: HashMap<Key<'_>, usize> = HashMap::new();
    for (i, r) in old.rules.iter().enumerate() {
        by_key.insert((&r.group, r.kind_str(), &r.name, r.occurrence), i);
    }
    let mut used_old = vec![false; old.rules.len()];
    let mut pairs: Vec<Pair> = Vec::new();
    let mut unmatched_new = Vec::new();
    for r in &new.rules {
        match by_key.get(&(
            r.group.as_str(),
            r.kind_str(),
            r.name.as_str(),
            r.occurrence,
        )) {
            Some(&i) => {
                used_old[i] = true;
                pairs.push(Pair {
                    old: Some(old.rules[i].clone()),
                    new: Some(r.clone()),
                });
            }
            None => {
                unmatched_new.push(pairs.len());
                pairs.push(Pair {
                    old: None,
                    new: Some(r.clone()),
                });
            }
        }
    }
    for idx in unmatched_new {
        let Some(n) = pairs[idx].new.as_ref() else {
            continue;
        };
        let found = old
            .rules
            .iter()
            .enumerate()
            .find(|(i, o)| !used_old[*i] && o.kind == n.kind && o.expr == n.expr);
        if let Some((i, o)) = found {
            used_old[i] = true;
            pairs[idx].old = Some(o.clone());
        }
    }
    for (i, r) in old.rules.iter().enumerate() {
        if !used_old[i] {
            pairs.push(Pair {
                old: Some(r.clone()),
                new: None,
            });
        }
    }
    pairs
}

// ---------------------------------------------------------------------------------------
// Comparing alerts

/// `[start, end + step)` in milliseconds: the time an episode covers.
fn span(e: &Episode, step_ms: i64) -> (i64, i64) {
    (e.start.unix_millis(), e.end.unix_millis() + step_ms)
}

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

fn total_overlap(a: &[Episode], a_step: i64, b: &[Episode], b_step: i64) -> i64 {
    let mut sum = 0;
    for x in a {
        for y in b {
            sum += overlap(span(x, a_step), span(y, b_step));
        }
    }
    sum
}

fn label_changes(old: &Labels, new: &Labels) -> Vec<String> {
    let o = label_map(old);
    let n = label_map(new);
    let mut out = Vec::new();
    for (k, v) in &o {
        match n.get(k) {
            None => out.push(format!("-{k}={v:?}")),
            Some(w) if w != v => out.push(format!("{k}: {v:?} → {w:?}")),
            _ => {}
        }
    }
    for (k, v) in &n {
        if !o.contains_key(k) {
            out.push(format!("+{k}={v:?}"));
        }
    }
    out
}

fn firing(labels: &Labels, e: &Episode) -> FiringChange {
    FiringChange {
        labels: label_map(labels),
        start: rfc3339(e.start),
        end: rfc3339(e.end),
    }
}

/// How the alerts of two replays of one rule differ (see the module doc for the words).
pub fn compare_alerts(old: &AlertReplay, new: &AlertReplay) -> AlertDiff {
    let old_step = old.step.as_millis() as i64;
    let new_step = new.step.as_millis() as i64;
    let mut diff = AlertDiff::default();
    let only_old: Vec<&Labels> = old
        .alerts
        .keys()
        .filter(|l| !new.alerts.contains_key(l))
        .collect();
    let only_new: Vec<&Labels> = new
        .alerts
        .keys()
        .filter(|l| !old.alerts.contains_key(l))
        .collect();

    // Identity changes: best-matching pairs of one-sided alerts that fire together.
    let mut candidates = Vec::new();
    for (i, o) in only_old.iter().enumerate() {
        for (j, n) in only_new.iter().enumerate() {
            let ov = total_overlap(&old.alerts[*o], old_step, &new.alerts[*n], new_step);
            if ov > 0 {
                let shared = o.iter().filter(|(k, v)| n.get(k) == Some(*v)).count();
                candidates.push((shared, ov, i, j));
            }
        }
    }
    candidates.sort_by(|a, b| {
        (b.0, b.1)
            .cmp(&(a.0, a.1))
            .then((a.2, a.3).cmp(&(b.2, b.3)))
    });
    let mut old_taken = vec![false; only_old.len()];
    let mut new_taken = vec![false; only_new.len()];
    let mut matched: Vec<(&Labels, &Labels)> = old
        .alerts
        .keys()
        .filter(|l| new.alerts.contains_key(*l))
        .map(|l| (l, l))
        .collect();
    for (_, _, i, j) in candidates {
        if old_taken[i] || new_taken[j] {
            continue;
        }
        old_taken[i] = true;
        new_taken[j] = true;
        diff.identity_changes.push(IdentityChange {
            old_labels: label_map(only_old[i]),
            new_labels: label_map(only_new[j]),
            changes: label_changes(only_old[i], only_new[j]),
        });
        matched.push((only_old[i], only_new[j]));
    }

    diff.identity_changes
        .sort_by(|a, b| (&a.old_labels, &a.new_labels).cmp(&(&b.old_labels, &b.new_labels)));

    for (o, n) in matched {
        let oe = &old.alerts[o];
        let ne = &new.alerts[n];
        for x in oe {
            let partners: Vec<&Episode> = ne
                .iter()
                .filter(|y| overlap(span(x, old_step), span(y, new_step)) > 0)
                .collect();
            match partners.first() {
                None => diff.removed.push(firing(o, x)),
                Some(y) => {
                    if partners.len() > 1 || x.start != y.start || x.end != y.end {
                        diff.timing_changes += 1;
                    }
                    // Annotations are compared where both started firing at one slot: a
                    // `$value` at other slots differs for reasons the timing change says.
                    if x.start != y.start {
                        continue;
                    }
                    let before = label_map(&x.annotations);
                    let after = label_map(&y.annotations);
                    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
                    for name in names {
                        if before.get(name) != after.get(name) {
                            diff.annotation_changes.push(AnnotationChange {
                                labels: label_map(n),
                                name: name.clone(),
                                old: before.get(name).cloned(),
                                new: after.get(name).cloned(),
                            });
                        }
                    }
                }
            }
        }
        for y in ne {
            let any = oe
                .iter()
                .any(|x| overlap(span(x, old_step), span(y, new_step)) > 0);
            if !any {
                diff.added.push(firing(n, y));
            }
        }
    }
    for (i, o) in only_old.iter().enumerate() {
        if !old_taken[i] {
            diff.alerts_only_old.push(label_map(o));
            diff.removed
                .extend(old.alerts[*o].iter().map(|e| firing(o, e)));
        }
    }
    for (j, n) in only_new.iter().enumerate() {
        if !new_taken[j] {
            diff.alerts_only_new.push(label_map(n));
            diff.added
                .extend(new.alerts[*n].iter().map(|e| firing(n, e)));
        }
    }
    diff
}

// ---------------------------------------------------------------------------------------
// Running it all

/// The replay of one rule pair (over history, or live: [`crate::live`]).
#[derive(Default)]
pub(crate) struct PairReplay {
    pub old_alerts: Option<AlertReplay>,
    pub new_alerts: Option<AlertReplay>,
    pub old_record: Option<(u64, ErrorTally, usize)>,
    pub new_record: Option<(u64, ErrorTally, usize)>,
    pub recording: Option<RecordingComparison>,
    pub old_cost: Cost,
    pub new_cost: Cost,
    pub issued: Cost,
    /// Records of the new set the new side read from the candidate's own recording rules
    /// instead of the stored series ([`crate::substitute`]).
    pub substituted_reads: Vec<String>,
}

fn step_of(r: &RuleEntry, options: &BacktestOptions) -> std::time::Duration {
    options.step.unwrap_or(r.interval)
}

/// The slots `replay_pair` will replay for a pair (both sides on one grid count once), so
/// that progress has its total before the first answer.
fn planned_steps(pair: &Pair, options: &BacktestOptions) -> u64 {
    let count =
        |r: &RuleEntry| Grid::new(options.start, options.end, step_of(r, options)).count as u64;
    match (&pair.old, &pair.new) {
        (Some(o), Some(n)) => {
            let same_grid = step_of(o, options) == step_of(n, options);
            let lockstep = match o.kind {
                RuleKind::Alerting => same_grid && o.expr == n.expr,
                RuleKind::Recording => same_grid,
            };
            if lockstep {
                count(o)
            } else {
                count(o) + count(n)
            }
        }
        (Some(r), None) | (None, Some(r)) => count(r),
        (None, None) => 0,
    }
}

async fn replay_alerting_side(
    client: &PrometheusClient,
    r: &RuleEntry,
    options: &BacktestOptions,
    progress: &dyn Progress,
    cost: &mut Cost,
) -> AlertReplay {
    let Compiled::Alerting(rule) = &r.compiled else {
        return AlertReplay::default();
    };
    let (replay, c) = crate::backtest::replay_alerting(
        client,
        rule.clone(),
        &r.expr,
        r.limit,
        step_of(r, options),
        options,
        progress,
    )
    .await;
    cost.add(&c);
    replay
}

/// The new side's alerting replay from precomputed results ([`crate::substitute`]).
fn replay_alerting_precomputed(
    r: &RuleEntry,
    pre: &Precomputed,
    options: &BacktestOptions,
    progress: &dyn Progress,
) -> AlertReplay {
    let Compiled::Alerting(rule) = &r.compiled else {
        return AlertReplay::default();
    };
    let mut side = AlertSide::new(rule.clone(), r.limit, pre.grid, options);
    side.feed(pre.grid, 0, &pre.result, pre.grid.count);
    progress.advance(pre.grid.count as u64);
    side.replay
}

/// Replays one pair; `pre` holds the new side's results when they were computed with the
/// candidate's recording rules substituted ([`crate::substitute`]).
async fn replay_pair(
    client: PrometheusClient,
    pair: Pair,
    pre: Option<Precomputed>,
    options: Arc<BacktestOptions>,
    progress: Arc<dyn Progress>,
) -> PairReplay {
    let mut out = PairReplay {
        substituted_reads: pre.as_ref().map(|p| p.reads.clone()).unwrap_or_default(),
        ..PairReplay::default()
    };
    let options = &*options;
    let progress = &*progress;
    let kind = pair.any().kind;
    match kind {
        RuleKind::Alerting => {
            let shared = pre.is_none()
                && match (&pair.old, &pair.new) {
                    (Some(o), Some(n)) => {
                        o.expr == n.expr && step_of(o, options) == step_of(n, options)
                    }
                    _ => false,
                };
            if shared {
                let (Some(o), Some(n)) = (&pair.old, &pair.new) else {
                    return out;
                };
                let (Compiled::Alerting(ro), Compiled::Alerting(rn)) = (&o.compiled, &n.compiled)
                else {
                    return out;
                };
                let grid = Grid::new(options.start, options.end, step_of(o, options));
                let mut a = AlertSide::new(ro.clone(), o.limit, grid, options);
                let mut b = AlertSide::new(rn.clone(), n.limit, grid, options);
                let mut costs = [Cost::default()];
                drive(
                    &client,
                    &[&o.expr],
                    grid,
                    options,
                    &mut costs,
                    progress,
                    |first, len, results| {
                        a.feed(grid, first, &results[0], len);
                        b.feed(grid, first, &results[0], len);
                    },
                )
                .await;
                out.old_cost = costs[0];
                out.new_cost = costs[0];
                out.issued = costs[0];
                out.old_alerts = Some(a.replay);
                out.new_alerts = Some(b.replay);
            } else {
                if let Some(o) = &pair.old {
                    let mut c = Cost::default();
                    out.old_alerts =
                        Some(replay_alerting_side(&client, o, options, progress, &mut c).await);
                    out.old_cost = c;
                    out.issued.add(&c);
                }
                if let Some(n) = &pair.new {
                    let mut c = Cost::default();
                    out.new_alerts = Some(match &pre {
                        Some(p) => {
                            c = p.cost;
                            replay_alerting_precomputed(n, p, options, progress)
                        }
                        None => replay_alerting_side(&client, n, options, progress, &mut c).await,
                    });
                    out.new_cost = c;
                    out.issued.add(&c);
                }
            }
        }
        RuleKind::Recording => {
            let rec = |r: &RuleEntry| match &r.compiled {
                Compiled::Recording(x) => Some(RecordSide::new(x.clone(), r.limit)),
                Compiled::Alerting(_) => None,
            };
            let same_grid = match (&pair.old, &pair.new) {
                (Some(o), Some(n)) => step_of(o, options) == step_of(n, options),
                _ => false,
            };
            if let (true, Some(o), Some(n)) = (same_grid, &pair.old, &pair.new) {
                let (Some(mut a), Some(mut b)) = (rec(o), rec(n)) else {
                    return out;
                };
                let grid = Grid::new(options.start, options.end, step_of(o, options));
                let one = o.expr == n.expr || pre.is_some();
                let exprs: Vec<&str> = if one {
                    vec![&o.expr]
                } else {
                    vec![&o.expr, &n.expr]
                };
                let mut costs = vec![Cost::default(); exprs.len()];
                let mut cmp = RecordingComparison {
                    values_compared: true,
                    ..RecordingComparison::default()
                };
                drive(
                    &client,
                    &exprs,
                    grid,
                    options,
                    &mut costs,
                    progress,
                    |first, len, results| {
                        let ra = &results[0];
                        let rb = &results[results.len() - 1];
                        for k in 0..len {
                            let ts = grid.at(first + k);
                            let step =
                                |r: &ChunkResult| -> Result<Vec<tocsin_engine::Sample>, String> {
                                    match r {
                                        Ok(s) => Ok(s.get(k).cloned().unwrap_or_default()),
                                        Err(e) => Err(e.clone()),
                                    }
                                };
                            let sa = step(ra);
                            let sb = match &pre {
                                Some(p) => p.at(first + k),
                                None => step(rb),
                            };
                            a.step(ts, sa.as_deref().map_err(String::as_str));
                            b.step(ts, sb.as_deref().map_err(String::as_str));
                            compare_outputs(ts, &a.out, &b.out, &mut cmp);
                        }
                    },
                )
                .await;
                cmp.series_old = a.series.len();
                cmp.series_new = b.series.len();
                cmp.series_only_old = a.series.iter().filter(|l| !b.series.contains(*l)).count();
                cmp.series_only_new = b.series.iter().filter(|l| !a.series.contains(*l)).count();
                out.old_cost = costs[0];
                out.new_cost = match &pre {
                    Some(p) => p.cost,
                    None => costs[costs.len() - 1],
                };
                for c in &costs {
                    out.issued.add(c);
                }
                if let Some(p) = &pre {
                    out.issued.add(&p.cost);
                }
                out.old_record = Some((a.evaluations, a.errors, a.series.len()));
                out.new_record = Some((b.evaluations, b.errors, b.series.len()));
                out.recording = Some(cmp);
            } else {
                let mut series = [None, None];
                for (k, side) in [&pair.old, &pair.new].into_iter().enumerate() {
                    let Some(r) = side else { continue };
                    let Some(mut s) = rec(r) else { continue };
                    let grid = Grid::new(options.start, options.end, step_of(r, options));
                    let mut costs = [Cost::default()];
                    if let (1, Some(p)) = (k, &pre) {
                        for i in 0..p.grid.count {
                            let input = p.at(i);
                            s.step(p.grid.at(i), input.as_deref().map_err(String::as_str));
                        }
                        progress.advance(p.grid.count as u64);
                        costs[0] = p.cost;
                    } else {
                        drive(
                            &client,
                            &[&r.expr],
                            grid,
                            options,
                            &mut costs,
                            progress,
                            |first, len, results| {
                                for i in 0..len {
                                    let ts = grid.at(first + i);
                                    match &results[0] {
                                        Ok(steps) => s.step(ts, Ok(&steps[i])),
                                        Err(e) => s.step(ts, Err(e)),
                                    }
                                }
                            },
                        )
                        .await;
                    }
                    out.issued.add(&costs[0]);
                    let rec = Some((s.evaluations, s.errors.clone(), s.series.len()));
                    if k == 0 {
                        out.old_cost = costs[0];
                        out.old_record = rec;
                    } else {
                        out.new_cost = costs[0];
                        out.new_record = rec;
                    }
                    series[k] = Some(s.series);
                }
                if let [Some(a), Some(b)] = &series {
                    out.recording = Some(RecordingComparison {
                        series_old: a.len(),
                        series_new: b.len(),
                        series_only_old: a.iter().filter(|l| !b.contains(*l)).count(),
                        series_only_new: b.iter().filter(|l| !a.contains(*l)).count(),
                        ..RecordingComparison::default()
                    });
                }
            }
        }
    }
    out
}

/// Which selectors of the given set match no series over the window (`/api/v1/series`,
/// one request per distinct selector). Errors are returned per selector.
async fn empty_selectors(
    client: &PrometheusClient,
    texts: BTreeSet<String>,
    options: &BacktestOptions,
    concurrency: usize,
) -> (HashMap<String, Result<bool, String>>, u64) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let requests = texts.len() as u64;
    for text in texts {
        let client = client.clone();
        let permits = permits.clone();
        let (start, end) = (options.start, options.end);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let answer = client
                .series(&[&text], start.to_system_time(), end.to_system_time())
                .await;
            let outcome = match answer {
                Ok(series) => Ok(series.is_empty()),
                Err(e) => Err(e.to_string()),
            };
            (text, outcome)
        });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((text, outcome)) = joined {
            out.insert(text, outcome);
        }
    }
    (out, requests)
}

/// Backtests both rule sets over the window and compares them. The verdict uses
/// `allow_added`/`allow_removed` (alerts, i.e. firing intervals, over all rules).
pub async fn diff(
    client: &PrometheusClient,
    old: &RuleSet,
    new: &RuleSet,
    options: BacktestOptions,
    allow_added: usize,
    allow_removed: usize,
    progress: Arc<dyn Progress>,
) -> Report {
    let pairs = pair_rules(old, new);
    let options = Arc::new(options);
    let selectors = check_selectors(client, &pairs, &options).await;
    let mut precomputed = crate::substitute::precompute(client, &pairs, &options).await;

    progress.add_total(pairs.iter().map(|p| planned_steps(p, &options)).sum());

    // Replays, `concurrency` pairs at a time.
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, pair) in pairs.iter().enumerate() {
        let client = client.clone();
        let pair = pair.clone();
        let pre = precomputed.remove(&i);
        let options = options.clone();
        let progress = progress.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, replay_pair(client, pair, pre, options, progress).await)
        });
    }
    let mut replays: Vec<Option<PairReplay>> = (0..pairs.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, r)) = joined {
            replays[i] = Some(r);
        }
    }
    let notified = options
        .notify
        .as_ref()
        .map(|config| notifications(config, &replays, &options));
    let mut report = assemble(
        client.url(),
        old,
        new,
        &pairs,
        replays,
        selectors,
        &options,
        allow_added,
        allow_removed,
    );
    if let Some((mut side, per_rule)) = notified {
        side.alerts_added =
            report.summary.alerts_added as i64 - report.summary.alerts_removed as i64;
        report.notifications = Some(side);
        for (rule, n) in report.rules.iter_mut().zip(per_rule) {
            rule.notifications = n;
        }
    }
    report
}

/// `--config`: both sides through the notification pipeline, whole and rule by rule
/// ([`crate::notify`]).
fn notifications(
    config: &tocsin_notify::config::NotifyConfig,
    replays: &[Option<PairReplay>],
    options: &BacktestOptions,
) -> (NotificationReport, Vec<Option<RuleNotifications>>) {
    use crate::backtest::SendLog;
    use crate::notify::{counts, side_report, simulate, window_weeks};
    let pipeline =
        tocsin_notify::pipeline::PipelineOptions::daemon(&options.external_url, options.time_zone);
    let (start, end) = (options.start, options.end);
    let mut report = NotificationReport::default();
    let mut per_rule = Vec::with_capacity(replays.len());
    let run = |sends: &[&SendLog], errors: &mut Vec<String>, what: &str| match simulate(
        config, &pipeline, sends, start, end,
    ) {
        Ok(d) => d,
        Err(e) => {
            errors.push(format!("{what}: {e}"));
            Vec::new()
        }
    };
    for r in replays {
        let Some(r) = r else {
            per_rule.push(None);
            continue;
        };
        if r.old_alerts.is_none() && r.new_alerts.is_none() {
            per_rule.push(None);
            continue;
        }
        let mut one = |a: &Option<AlertReplay>| {
            a.as_ref().map(|a| {
                if a.sends.is_empty() {
                    return NotifyCounts::default();
                }
                counts(&run(&[&a.sends], &mut report.errors, "one rule"))
            })
        };
        let old = one(&r.old_alerts);
        let new = one(&r.new_alerts);
        per_rule.push(Some(RuleNotifications { old, new }));
    }
    let side = |pick: fn(&PairReplay) -> Option<&AlertReplay>| -> Vec<&SendLog> {
        replays
            .iter()
            .flatten()
            .filter_map(pick)
            .map(|a| &a.sends)
            .collect()
    };
    let old = run(&side(|r| r.old_alerts.as_ref()), &mut report.errors, "old");
    let new = run(&side(|r| r.new_alerts.as_ref()), &mut report.errors, "new");
    report.old = side_report(&old, start, end);
    report.new = side_report(&new, start, end);
    report.notifications_added =
        report.new.total.notifications as i64 - report.old.total.notifications as i64;
    report.dingtalk_messages_added =
        report.new.total.dingtalk_messages as i64 - report.old.total.dingtalk_messages as i64;
    let weeks = window_weeks(start, end);
    report.dingtalk_messages_added_per_week =
        (report.dingtalk_messages_added as f64 / weeks * 10.0).round() / 10.0;
    (report, per_rule)
}

/// The selectors of every rule of both sets, and which of them match nothing over the
/// window.
pub(crate) struct SelectorCheck {
    per_rule: Vec<(Vec<Selector>, Vec<Selector>)>,
    emptiness: HashMap<String, Result<bool, String>>,
    requests: u64,
}

pub(crate) async fn check_selectors(
    client: &PrometheusClient,
    pairs: &[Pair],
    options: &BacktestOptions,
) -> SelectorCheck {
    // Selectors of both sets.
    let rule_selectors: Vec<(Vec<Selector>, Vec<Selector>)> = pairs
        .iter()
        .map(|p| {
            (
                p.old
                    .as_ref()
                    .map(|r| selectors(&r.expr))
                    .unwrap_or_default(),
                p.new
                    .as_ref()
                    .map(|r| selectors(&r.expr))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let texts: BTreeSet<String> = rule_selectors
        .iter()
        .flat_map(|(a, b)| a.iter().chain(b.iter()).map(|s| s.text.clone()))
        .collect();
    let (emptiness, requests) = empty_selectors(client, texts, options, options.concurrency).await;
    SelectorCheck {
        per_rule: rule_selectors,
        emptiness,
        requests,
    }
}

/// The report of two replays, pair by pair, and its verdict.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    datasource: &str,
    old: &RuleSet,
    new: &RuleSet,
    pairs: &[Pair],
    replays: Vec<Option<PairReplay>>,
    selectors: SelectorCheck,
    options: &BacktestOptions,
    allow_added: usize,
    allow_removed: usize,
) -> Report {
    let SelectorCheck {
        per_rule: rule_selectors,
        emptiness,
        requests: series_requests,
    } = selectors;

    // Recording rules this change touches, by record name: readers see stored data.
    let touched_records: HashSet<&str> = pairs
        .iter()
        .filter(|p| p.any().kind == RuleKind::Recording && p.status() != Status::Unchanged)
        .flat_map(|p| p.new.iter().chain(p.old.iter()).map(|r| r.name.as_str()))
        .collect();
    let recorded_by_new: HashSet<&str> = new
        .rules
        .iter()
        .filter(|r| r.kind == RuleKind::Recording)
        .map(|r| r.name.as_str())
        .collect();
    let recorded_by_old: HashSet<&str> = old
        .rules
        .iter()
        .filter(|r| r.kind == RuleKind::Recording)
        .map(|r| r.name.as_str())
        .collect();

    let mut report = Report {
        schema: 1,
        datasource: datasource.to_string(),
        window: WindowReport {
            start: rfc3339(options.start),
            end: rfc3339(options.end),
            step: options.step.map(fmt_duration),
        },
        old_files: old.files.clone(),
        new_files: new.files.clone(),
        allow_added,
        allow_removed,
        summary: Summary {
            rules_old: old.rules.len(),
            rules_new: new.rules.len(),
            ..Summary::default()
        },
        regressed: false,
        regressions: Vec::new(),
        rules: Vec::new(),
        cost: CostReport {
            series_requests,
            ..CostReport::default()
        },
        notifications: None,
        live: None,
    };

    for ((pair, replay), (sel_old, sel_new)) in pairs.iter().zip(replays).zip(rule_selectors) {
        let replay = replay.unwrap_or_default();
        let status = pair.status();
        let any = pair.any();
        let empty_of = |sels: &[Selector]| -> (Vec<String>, Vec<String>) {
            let mut empty = Vec::new();
            let mut failed = Vec::new();
            for s in sels {
                match emptiness.get(&s.text) {
                    Some(Ok(true)) => empty.push(s.text.clone()),
                    Some(Err(e)) => failed.push(format!("checking selector {}: {e}", s.text)),
                    _ => {}
                }
            }
            (empty, failed)
        };
        let (old_empty, _) = empty_of(&sel_old);
        let (new_empty, new_failed) = empty_of(&sel_new);
        let mut notes = new_failed;

        let side = |r: &RuleEntry,
                    alerts: Option<&AlertReplay>,
                    record: Option<&(u64, ErrorTally, usize)>,
                    cost: Cost,
                    empty: Vec<String>| {
            let mut s = SideReport {
                file: r.file.clone(),
                line: r.line,
                group: r.group.clone(),
                expr: r.expr.clone(),
                step: fmt_duration(step_of(r, options)),
                evaluations: 0,
                errors: ErrorTally::default(),
                cost,
                empty_selectors: empty,
                alerts: 0,
                firing_intervals: 0,
                first_firing: None,
                last_firing: None,
                firing: Vec::new(),
                series: 0,
            };
            if let Some(a) = alerts {
                s.evaluations = a.evaluations;
                s.errors = a.errors.clone();
                s.alerts = a.alerts.len();
                s.firing_intervals = a.alerts.values().map(Vec::len).sum();
                s.first_firing = a
                    .alerts
                    .values()
                    .filter_map(|e| e.first())
                    .map(|e| e.start)
                    .min()
                    .map(rfc3339);
                s.last_firing = a
                    .alerts
                    .values()
                    .filter_map(|e| e.last())
                    .map(|e| e.end)
                    .max()
                    .map(rfc3339);
                s.firing = a
                    .alerts
                    .iter()
                    .map(|(l, eps)| AlertRecord {
                        labels: label_map(l),
                        annotations: eps
                            .first()
                            .map(|e| label_map(&e.annotations))
                            .unwrap_or_default(),
                        intervals: eps
                            .iter()
                            .map(|e| Interval {
                                start: rfc3339(e.start),
                                end: rfc3339(e.end),
                            })
                            .collect(),
                    })
                    .collect();
            }
            if let Some((evals, errors, series)) = record {
                s.evaluations = *evals;
                s.errors = errors.clone();
                s.series = *series;
            }
            s
        };
        let old_side = pair.old.as_ref().map(|r| {
            side(
                r,
                replay.old_alerts.as_ref(),
                replay.old_record.as_ref(),
                replay.old_cost,
                old_empty.clone(),
            )
        });
        let new_side = pair.new.as_ref().map(|r| {
            side(
                r,
                replay.new_alerts.as_ref(),
                replay.new_record.as_ref(),
                replay.new_cost,
                new_empty.clone(),
            )
        });
        report.cost.old.add(&replay.old_cost);
        report.cost.new.add(&replay.new_cost);
        report.cost.issued.add(&replay.issued);

        let alerts = match (&replay.old_alerts, &replay.new_alerts) {
            (Some(a), Some(b)) => Some(compare_alerts(a, b)),
            (None, Some(b)) => Some(compare_alerts(
                &AlertReplay {
                    step: b.step,
                    ..AlertReplay::default()
                },
                b,
            )),
            (Some(a), None) => Some(compare_alerts(
                a,
                &AlertReplay {
                    step: a.step,
                    ..AlertReplay::default()
                },
            )),
            (None, None) => None,
        };

        // Dependencies on recording series.
        if let Some(n) = &pair.new {
            for s in &sel_new {
                let Some(metric) = s.metric.as_deref() else {
                    continue;
                };
                if replay.substituted_reads.iter().any(|m| m == metric) {
                    notes.push(format!(
                        "reads {metric}, which this change records: the candidate's recording rule was evaluated first and its output replaced the stored series"
                    ));
                    continue;
                }
                if touched_records.contains(metric) {
                    notes.push(format!(
                        "reads {metric}, which this change records differently: the backtest used the stored (deployed) series"
                    ));
                }
                if recorded_by_new.contains(metric)
                    && !recorded_by_old.contains(metric)
                    && new_empty.contains(&s.text)
                {
                    notes.push(format!(
                        "reads {metric}, which only the new rule set records: there is no stored history to backtest {} on",
                        n.name
                    ));
                }
            }
        }

        let group = any.group.clone();
        let name = any.name.clone();
        let mut regress = |kind: &'static str, message: String| {
            report.regressions.push(Regression {
                group: group.clone(),
                rule: name.clone(),
                kind,
                message,
            });
        };
        if let Some(ns) = &new_side {
            let old_failed = old_side.as_ref().map_or(0, |o| o.errors.failed_evaluations);
            if ns.errors.failed_evaluations > 0 {
                report.summary.query_errors_new += 1;
                if old_failed == 0 {
                    regress(
                        "query_error",
                        format!(
                            "{} of {} evaluations failed: {}",
                            ns.errors.failed_evaluations,
                            ns.evaluations,
                            ns.errors.first_error.as_deref().unwrap_or("")
                        ),
                    );
                }
            }
            for sel in &ns.empty_selectors {
                report.summary.empty_selectors_new += 1;
                let metric = sel_new
                    .iter()
                    .find(|s| &s.text == sel)
                    .and_then(|s| s.metric.clone());
                let newly_recorded = metric
                    .as_deref()
                    .is_some_and(|m| recorded_by_new.contains(m) && !recorded_by_old.contains(m));
                if !old_empty.contains(sel) && !newly_recorded {
                    regress(
                        "selector_matches_nothing",
                        format!(
                            "selector {sel} matches no series between {} and {}",
                            report.window.start, report.window.end
                        ),
                    );
                }
            }
        }
        if let Some(d) = &alerts {
            for c in &d.identity_changes {
                regress(
                    "identity_changed",
                    format!(
                        "alert labels change ({}): it would page again as a new alert",
                        c.changes.join(", ")
                    ),
                );
            }
            report.summary.alerts_added += d.added.len();
            report.summary.alerts_removed += d.removed.len();
            report.summary.identity_changes += d.identity_changes.len();
            report.summary.annotation_changes += d.annotation_changes.len();
        }
        match status {
            Status::Unchanged => report.summary.unchanged += 1,
            Status::Changed => report.summary.changed += 1,
            Status::Renamed => report.summary.renamed += 1,
            Status::Added => report.summary.added += 1,
            Status::Removed => report.summary.removed += 1,
        }
        let definition_changes = match (&pair.old, &pair.new) {
            (Some(o), Some(n)) => o.definition_changes(n),
            _ => Vec::new(),
        };
        report.rules.push(RuleDiff {
            group: any.group.clone(),
            name: any.name.clone(),
            kind: any.kind_str(),
            status,
            definition_changes,
            old: old_side,
            new: new_side,
            alerts,
            recording: replay.recording,
            notifications: None,
            notes,
        });
    }

    // Alerts gained or lost beyond what is allowed: name every rule that contributes.
    let added = report.summary.alerts_added;
    let removed = report.summary.alerts_removed;
    let mut extra = Vec::new();
    for r in &report.rules {
        let Some(d) = &r.alerts else { continue };
        if added > allow_added && !d.added.is_empty() {
            extra.push(Regression {
                group: r.group.clone(),
                rule: r.name.clone(),
                kind: "alerts_added",
                message: format!(
                    "{} firing interval(s) only in the new set, first {} at {} ({} in all, {allow_added} allowed)",
                    d.added.len(),
                    fmt_labels(&d.added[0].labels),
                    d.added[0].start,
                    added
                ),
            });
        }
        if removed > allow_removed && !d.removed.is_empty() {
            extra.push(Regression {
                group: r.group.clone(),
                rule: r.name.clone(),
                kind: "alerts_removed",
                message: format!(
                    "{} firing interval(s) only in the old set, first {} at {} ({} in all, {allow_removed} allowed)",
                    d.removed.len(),
                    fmt_labels(&d.removed[0].labels),
                    d.removed[0].start,
                    removed
                ),
            });
        }
    }
    report.regressions.extend(extra);
    report.regressed = !report.regressions.is_empty();
    report
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tocsin_engine::{AlertingRule, Labels, Timestamp};

    use super::*;
    use crate::backtest::Episode;

    /// An alert's labels and its firing spans in minutes.
    type Fired<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, i64)]);

    fn replay(alerts: &[Fired<'_>]) -> AlertReplay {
        let mut r = AlertReplay {
            step: Duration::from_secs(60),
            ..AlertReplay::default()
        };
        for (labels, spans) in alerts {
            let eps = spans
                .iter()
                .map(|(s, e)| Episode {
                    start: Timestamp::from_secs(s * 60),
                    end: Timestamp::from_secs(e * 60),
                    annotations: Labels::empty(),
                })
                .collect();
            r.alerts.insert(Labels::new(labels.iter().copied()), eps);
        }
        r
    }

    #[test]
    fn alerts_firing_together_under_other_labels_are_identity_changes_not_additions() {
        let old = replay(&[
            (
                &[("instance", "a"), ("severity", "page")],
                &[(10, 20), (40, 41)],
            ),
            (&[("instance", "b"), ("severity", "page")], &[(10, 20)]),
        ]);
        let new = replay(&[
            (&[("instance", "a"), ("sev", "page")], &[(12, 20)]),
            (&[("instance", "b"), ("sev", "page")], &[(10, 20), (60, 61)]),
        ]);
        let d = compare_alerts(&old, &new);
        // Each old alert pairs with the new one of its instance (more labels shared).
        let pairs: Vec<(String, String)> = d
            .identity_changes
            .iter()
            .map(|c| {
                (
                    c.old_labels["instance"].clone(),
                    c.new_labels["instance"].clone(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![("a".into(), "a".into()), ("b".into(), "b".into())]
        );
        assert_eq!(
            d.identity_changes[0].changes,
            vec!["-severity=\"page\"", "+sev=\"page\""]
        );
        // a's second firing has no counterpart; b's new one at minute 60 neither.
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].labels["instance"], "a");
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].start, rfc3339(Timestamp::from_secs(3600)));
        assert_eq!(d.timing_changes, 1, "a starts 2 minutes later");
        assert!(d.alerts_only_old.is_empty() && d.alerts_only_new.is_empty());
    }

    #[test]
    fn an_alert_in_one_set_only_is_added_or_removed_whole() {
        let old = replay(&[(&[("instance", "a")], &[(10, 20)])]);
        let new = replay(&[
            (&[("instance", "a")], &[(10, 20)]),
            (&[("instance", "b")], &[(30, 35)]),
        ]);
        let d = compare_alerts(&old, &new);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.alerts_only_new.len(), 1);
        assert!(d.removed.is_empty() && d.identity_changes.is_empty());
        assert_eq!(d.timing_changes, 0);
    }

    #[test]
    fn annotations_are_compared_where_both_sets_start_firing_at_one_slot() {
        let mut old = replay(&[(&[("instance", "a")], &[(10, 20), (40, 45)])]);
        let mut new = replay(&[(&[("instance", "a")], &[(10, 20), (42, 45)])]);
        for (r, text) in [(&mut old, "old text"), (&mut new, "new text")] {
            for eps in r.alerts.values_mut() {
                for e in eps {
                    e.annotations = Labels::new([("summary", text)]);
                }
            }
        }
        let d = compare_alerts(&old, &new);
        assert_eq!(d.annotation_changes.len(), 1, "{d:#?}");
        assert_eq!(d.annotation_changes[0].old.as_deref(), Some("old text"));
        assert_eq!(d.annotation_changes[0].new.as_deref(), Some("new text"));
        assert_eq!(d.timing_changes, 1);
    }

    fn entry(group: &str, name: &str, expr: &str) -> RuleEntry {
        RuleEntry {
            file: "f.yaml".into(),
            line: 1,
            group: group.into(),
            interval: Duration::from_secs(60),
            limit: 0,
            name: name.into(),
            kind: RuleKind::Alerting,
            expr: expr.into(),
            occurrence: 0,
            compiled: Compiled::Alerting(Arc::new(AlertingRule::new(
                name,
                expr,
                Duration::ZERO,
                Duration::ZERO,
                [],
                [],
            ))),
        }
    }

    #[test]
    fn rules_pair_by_group_and_name_then_renames_by_expression() {
        let old = RuleSet {
            files: vec![],
            rules: vec![
                entry("g", "A", "x > 1"),
                entry("g", "B", "y > 1"),
                entry("g", "C", "z > 1"),
            ],
        };
        let new = RuleSet {
            files: vec![],
            rules: vec![
                entry("g", "A", "x > 2"),
                entry("g", "B2", "y > 1"),
                entry("g", "D", "w > 1"),
            ],
        };
        let got: Vec<(Option<String>, Option<String>, Status)> = pair_rules(&old, &new)
            .iter()
            .map(|p| {
                (
                    p.old.as_ref().map(|r| r.name.clone()),
                    p.new.as_ref().map(|r| r.name.clone()),
                    p.status(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("A".into()), Some("A".into()), Status::Changed),
                (Some("B".into()), Some("B2".into()), Status::Renamed),
                (None, Some("D".into()), Status::Added),
                (Some("C".into()), None, Status::Removed),
            ]
        );
    }
}
