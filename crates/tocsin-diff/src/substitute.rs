//! Recording rules the candidate adds or changes, evaluated before the rules that read
//! them, and substituted for the stored series those rules would otherwise see.
//!
//! Prometheus evaluates a group's rules in order, each one seeing what the rules before it
//! just recorded. Over history, the server only holds what the *deployed* rules recorded:
//! a candidate's new or changed recording rule has no stored output, and a rule reading it
//! would see nothing (or the deployed version). So, for the new set, in its order:
//!
//! 1. A recording rule the change adds, renames or changes (or whose inputs are themselves
//!    substituted) is replayed over its slots first; its outputs, with a staleness marker
//!    where a series ends, form an in-memory series store.
//! 2. A rule reading one of those records is evaluated by `tocsin-eval` (Prometheus 2.42's
//!    PromQL semantics) over that store plus the raw samples of its other selectors,
//!    fetched once from the server (`selector[window + lookback]`, stored series of the
//!    substituted names left out). Its per-slot results then feed the same state machine
//!    as any other rule's.
//!
//! A record read before the rule producing it in the set's order (a later group, or later
//! in the same group: Prometheus would see the previous evaluation's value) is substituted
//! all the same, at the slot it is produced.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use tocsin_engine::{Labels, RecordingRule, RuleStatus, Sample};
use tocsin_eval::{Engine, Storage};
use tocsin_promql::Expr;
use tocsin_query::{PrometheusClient, QueryValue};
use tocsin_rules::RuleKind;

use crate::backtest::{drive, error_text, BacktestOptions, ChunkResult, Cost, Grid, NoProgress};
use crate::compare::Pair;
use crate::load::{Compiled, RuleEntry};
use crate::report::Status;
use crate::selectors::selectors;

/// A rule's results at every slot of its grid, computed before the replays.
#[derive(Clone, Debug)]
pub(crate) struct Precomputed {
    pub grid: Grid,
    pub result: ChunkResult,
    /// What fetching its raw inputs cost the server.
    pub cost: Cost,
    /// The substituted records it reads.
    pub reads: Vec<String>,
}

impl Precomputed {
    /// Slot `i`'s samples, or the error.
    pub fn at(&self, i: usize) -> Result<Vec<Sample>, String> {
        match &self.result {
            Ok(steps) => Ok(steps.get(i).cloned().unwrap_or_default()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Outputs of a substituted recording rule, slot by slot (Unix ms).
type Recorded = Vec<(i64, Vec<Sample>)>;

fn step_of(r: &RuleEntry, options: &BacktestOptions) -> std::time::Duration {
    options.step.unwrap_or(r.interval)
}

/// Evaluates the new set's substituted recording rules and the rules reading them; returns
/// the precomputed new-side results by pair index.
pub(crate) async fn precompute(
    client: &PrometheusClient,
    pairs: &[Pair],
    options: &BacktestOptions,
) -> HashMap<usize, Precomputed> {
    let mut substituted: HashSet<String> = pairs
        .iter()
        .filter(|p| p.status() != Status::Unchanged)
        .filter_map(|p| p.new.as_ref())
        .filter(|r| r.kind == RuleKind::Recording)
        .map(|r| r.name.clone())
        .collect();
    let mut out = HashMap::new();
    if substituted.is_empty() {
        return out;
    }
    // Readers of substituted records, transitively, in the set's order.
    let mut readers: Vec<usize> = Vec::new();
    loop {
        let before = substituted.len();
        readers.clear();
        for (i, p) in pairs.iter().enumerate() {
            let Some(r) = &p.new else { continue };
            let reads = selectors(&r.expr)
                .iter()
                .any(|s| s.metric.as_ref().is_some_and(|m| substituted.contains(m)));
            if reads {
                readers.push(i);
                if r.kind == RuleKind::Recording {
                    substituted.insert(r.name.clone());
                }
            }
        }
        if substituted.len() == before {
            break;
        }
    }
    let readers: HashSet<usize> = readers.into_iter().collect();

    let mut recorded: HashMap<String, Recorded> = HashMap::new();
    for (i, p) in pairs.iter().enumerate() {
        let Some(r) = &p.new else { continue };
        let substitutes = r.kind == RuleKind::Recording && substituted.contains(&r.name);
        if !readers.contains(&i) && !substitutes {
            continue;
        }
        let grid = Grid::new(options.start, options.end, step_of(r, options));
        let pre = if readers.contains(&i) {
            let pre = evaluate_locally(client, r, grid, &substituted, &recorded).await;
            out.insert(i, pre.clone());
            pre
        } else {
            let mut costs = [Cost::default()];
            let mut steps: Vec<Vec<Sample>> = Vec::with_capacity(grid.count);
            let mut error = None;
            drive(
                client,
                &[&r.expr],
                grid,
                options,
                &mut costs,
                &NoProgress,
                |_, n, results| match &results[0] {
                    Ok(s) => steps.extend(s.iter().cloned()),
                    Err(e) => {
                        error.get_or_insert_with(|| e.clone());
                        steps.extend((0..n).map(|_| Vec::new()));
                    }
                },
            )
            .await;
            Precomputed {
                grid,
                result: error.map_or(Ok(steps), Err),
                cost: costs[0],
                reads: Vec::new(),
            }
        };
        if let (true, Compiled::Recording(rule)) = (substitutes, &r.compiled) {
            recorded.insert(r.name.clone(), record(rule, r.limit, &pre));
        }
    }
    out
}

/// A recording rule's outputs at each slot of `pre`.
fn record(rule: &RecordingRule, limit: usize, pre: &Precomputed) -> Recorded {
    let mut status = RuleStatus::default();
    let mut out = Vec::with_capacity(pre.grid.count);
    for i in 0..pre.grid.count {
        let ts = pre.grid.at(i);
        let input = pre.at(i);
        let result = input
            .as_deref()
            .map_err(|e| tocsin_engine::RuleError::query(tocsin_query::ErrorKind::BadQuery, e));
        let mut samples = Vec::new();
        // A failed evaluation records nothing at that slot, as in the daemon.
        if rule
            .eval(&mut status, ts, result, limit, &mut samples)
            .is_ok()
        {
            out.push((ts.unix_millis(), samples));
        }
    }
    out
}

/// How far before a slot `e` reads: lookback for an instant selector, range for a range
/// selector or subquery, plus offsets, along the deepest path.
pub fn reach_ms(e: &Expr, lookback_ms: i64) -> i64 {
    match e {
        Expr::VectorSelector(vs) => lookback_ms + vs.offset.max(0),
        Expr::MatrixSelector {
            selector, range, ..
        } => match selector.as_ref() {
            Expr::VectorSelector(vs) => range + vs.offset.max(0),
            other => range + reach_ms(other, lookback_ms),
        },
        Expr::Subquery {
            expr,
            range,
            offset,
            ..
        } => range + offset.max(&0) + reach_ms(expr, lookback_ms),
        Expr::Number { .. } | Expr::String { .. } => 0,
        Expr::Unary { expr, .. } | Expr::Paren { expr, .. } => reach_ms(expr, lookback_ms),
        Expr::Call { args, .. } => args
            .iter()
            .map(|a| reach_ms(a, lookback_ms))
            .max()
            .unwrap_or(0),
        Expr::Aggregate { expr, param, .. } => {
            let p = param.as_ref().map_or(0, |p| reach_ms(p, lookback_ms));
            reach_ms(expr, lookback_ms).max(p)
        }
        Expr::Binary { lhs, rhs, .. } => reach_ms(lhs, lookback_ms).max(reach_ms(rhs, lookback_ms)),
    }
}

const LOOKBACK_MS: i64 = 5 * 60 * 1000;

fn eval_labels(
    l: impl Iterator<Item = (impl Into<String>, impl Into<String>)>,
) -> tocsin_eval::Labels {
    tocsin_eval::Labels::from_pairs(l)
}

/// `r`'s results at every slot, evaluated by tocsin-eval over the substituted records and
/// the raw samples of its other selectors.
async fn evaluate_locally(
    client: &PrometheusClient,
    r: &RuleEntry,
    grid: Grid,
    substituted: &HashSet<String>,
    recorded: &HashMap<String, Recorded>,
) -> Precomputed {
    let mut cost = Cost::default();
    let sels = selectors(&r.expr);
    let reads: BTreeSet<String> = sels
        .iter()
        .filter_map(|s| s.metric.clone())
        .filter(|m| substituted.contains(m))
        .collect();
    let fail = |message: String, cost: Cost| Precomputed {
        grid,
        result: Err(message),
        cost,
        reads: reads.iter().cloned().collect(),
    };
    let expr = match tocsin_promql::parse(&r.expr) {
        Ok(e) => e,
        Err(e) => return fail(e.to_string(), cost),
    };
    if grid.count == 0 {
        return Precomputed {
            grid,
            result: Ok(Vec::new()),
            cost,
            reads: reads.into_iter().collect(),
        };
    }
    let mut store = Storage::new();
    for name in &reads {
        load_recorded(
            &mut store,
            recorded.get(name).map(Vec::as_slice).unwrap_or_default(),
        );
    }
    // Raw samples of the other selectors, back to the earliest instant the first slot
    // reads.
    let first_ms = grid.first_ms;
    let last_ms = grid.first_ms + (grid.count as i64 - 1) * grid.step_ms;
    let range_ms = last_ms - first_ms + reach_ms(&expr, LOOKBACK_MS) + 1;
    let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(last_ms.max(0) as u64);
    for s in &sels {
        if s.metric.as_ref().is_some_and(|m| substituted.contains(m)) {
            continue;
        }
        cost.requests += 1;
        let answer = client
            .instant_query(&format!("{}[{range_ms}ms]", s.text), at)
            .await;
        let series = match answer {
            Ok(res) => match res.value {
                QueryValue::Matrix(series) => series,
                _ => Vec::new(),
            },
            Err(e) => return fail(error_text(&e), cost),
        };
        for series in series {
            let labels = eval_labels(series.labels.iter());
            if substituted.contains(labels.get("__name__")) {
                continue;
            }
            cost.series += 1;
            for p in series.points {
                cost.points += 1;
                let _ = store.append(&labels, p.timestamp_ms, p.value);
            }
        }
    }
    let engine = Engine {
        lookback_delta: LOOKBACK_MS,
        default_subquery_step: r.interval.as_millis() as i64,
    };
    let result = match engine.range(&store, &expr, first_ms, last_ms, grid.step_ms) {
        Ok(series) => {
            let mut steps: Vec<Vec<Sample>> = vec![Vec::new(); grid.count];
            for s in series {
                let labels = Labels::new(s.metric.iter());
                for p in s.points {
                    let i = ((p.t - first_ms) / grid.step_ms) as usize;
                    if let Some(step) = steps.get_mut(i) {
                        step.push(Sample::new(labels.clone(), p.v));
                    }
                }
            }
            Ok(steps)
        }
        Err(e) => Err(e.to_string()),
    };
    Precomputed {
        grid,
        result,
        cost,
        reads: reads.into_iter().collect(),
    }
}

/// A record's outputs into the store, with a staleness marker where a series stops being
/// produced, as the daemon writes them.
fn load_recorded(store: &mut Storage, recorded: &[(i64, Vec<Sample>)]) {
    let mut previous: HashSet<&Labels> = HashSet::new();
    for (t, samples) in recorded {
        let now: HashSet<&Labels> = samples.iter().map(|s| &s.labels).collect();
        for gone in previous.difference(&now) {
            let _ = store.append(&eval_labels(gone.iter()), *t, tocsin_eval::stale_nan());
        }
        for s in samples {
            let _ = store.append(&eval_labels(s.labels.iter()), *t, s.value);
        }
        previous = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_covers_lookback_ranges_subqueries_and_offsets() {
        let r = |s: &str| reach_ms(&tocsin_promql::parse(s).unwrap(), LOOKBACK_MS);
        assert_eq!(r("up"), LOOKBACK_MS);
        assert_eq!(r("up offset 1m"), LOOKBACK_MS + 60_000);
        assert_eq!(r("rate(x[10m])"), 600_000);
        assert_eq!(
            r("max_over_time(rate(x[5m])[1h:1m]) > up"),
            3_600_000 + 300_000
        );
    }
}
