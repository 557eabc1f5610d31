//! Replaying rules over history: range queries in chunks, each step fed to the engine's own
//! pure evaluation (`AlertingRule::eval`, `RecordingRule::eval`), the code the daemon runs.
//!
//! # The slot grid
//!
//! A rule is evaluated at every multiple of its step (since the Unix epoch, in
//! milliseconds) inside the window: `ceil(start / step) × step`, then every `step`, up to
//! `end`. The step is the group's evaluation interval unless `--step` overrides it. Real
//! Prometheus adds a per-group phase (a hash of file and group name, in `[0, interval)`);
//! the backtest leaves it out so that the old and the new rule set are evaluated at the
//! same instants whatever files they sit in. A firing interval can therefore start or end
//! up to one interval away from where the live server would put it; the sequence of states
//! per slot is exact for the slots evaluated.
//!
//! # Chunks
//!
//! A range query answers every step of `[start, end]` as an instant query at that step
//! would. Each request covers at most `max_points` steps (Prometheus refuses more than
//! 11,000 points per series), fewer when the server's own `peakSamples` (asked for with
//! `stats=all`) came near the sample budget; a request the server refuses for loading too
//! many samples is split in two and retried. A request that fails otherwise marks every
//! step it covers as a failed evaluation: the state machine then keeps every alert as it
//! was, as the daemon does when a query fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tocsin_engine::{
    AlertState, AlertingRule, AlertingState, Labels, OutgoingAlert, RecordingRule, RuleError,
    RuleExpander, RuleStatus, RuleTemplates, Sample, Scratch, Timestamp,
};
use tocsin_notify::config::NotifyConfig;
use tocsin_query::{ErrorKind, PrometheusClient, QueryError, QueryValue};
use tocsin_template::TemplateContext;

/// Prometheus's limit on points per series in one range query.
pub const MAX_POINTS_PER_SERIES: usize = 11_000;

/// How to replay.
#[derive(Clone, Debug)]
pub struct BacktestOptions {
    /// Window start and end (inclusive).
    pub start: Timestamp,
    pub end: Timestamp,
    /// Overrides every group's interval as the evaluation step.
    pub step: Option<Duration>,
    /// Steps per range query (at most [`MAX_POINTS_PER_SERIES`]).
    pub max_points: usize,
    /// Samples one request may hold at once on the server (its `peakSamples`): chunks
    /// shrink when a request came within half of it.
    pub max_samples: u64,
    /// Rules replayed at once.
    pub concurrency: usize,
    /// `$externalLabels` in templates.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` in templates.
    pub external_url: String,
    /// `--config`'s `notify:` section: alerting rules also record what they send (in the
    /// engine's resend rhythm) and [`crate::notify`] runs the pipeline over it.
    pub notify: Option<Arc<NotifyConfig>>,
    /// `global.resend_delay` (Prometheus's `--rules.alert.resend-delay`).
    pub resend_delay: Duration,
    /// `global.time_zone`: the simulated messages show times as the daemon's do.
    pub time_zone: tocsin_notify::zoned::TimeZone,
}

impl BacktestOptions {
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        BacktestOptions {
            start,
            end,
            step: None,
            max_points: MAX_POINTS_PER_SERIES,
            max_samples: 50_000_000,
            concurrency: 4,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            notify: None,
            resend_delay: tocsin_engine::alert::DEFAULT_RESEND_DELAY,
            time_zone: tocsin_notify::zoned::TimeZone::UTC,
        }
    }
}

/// The evaluation instants of one rule: `first + i × step` for `i < count` (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub first_ms: i64,
    pub step_ms: i64,
    pub count: usize,
}

impl Grid {
    /// The multiples of `step` within `[start, end]`.
    pub fn new(start: Timestamp, end: Timestamp, step: Duration) -> Grid {
        let step_ms = (step.as_millis() as i64).max(1);
        let first_ms = start.unix_millis().div_euclid(step_ms) * step_ms
            + if start.unix_millis().rem_euclid(step_ms) == 0 {
                0
            } else {
                step_ms
            };
        let last_ms = end.unix_millis().div_euclid(step_ms) * step_ms;
        let count = if last_ms < first_ms {
            0
        } else {
            ((last_ms - first_ms) / step_ms + 1) as usize
        };
        Grid {
            first_ms,
            step_ms,
            count,
        }
    }

    pub fn at(&self, i: usize) -> Timestamp {
        Timestamp::from_millis(self.first_ms + i as i64 * self.step_ms)
    }
}

/// What replaying cost the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Range requests answered or failed (retries of a split request included).
    pub requests: u64,
    /// Series in the answers, summed over requests.
    pub series: u64,
    /// Points in the answers.
    pub points: u64,
    /// `totalQueryableSamples` summed: samples the server read.
    pub samples: u64,
    /// The largest `peakSamples` of one request.
    pub peak_samples: u64,
}

impl Cost {
    pub fn add(&mut self, other: &Cost) {
        self.requests += other.requests;
        self.series += other.series;
        self.points += other.points;
        self.samples += other.samples;
        self.peak_samples = self.peak_samples.max(other.peak_samples);
    }
}

/// Where a replay reports progress (steps replayed out of the total).
pub trait Progress: Send + Sync {
    fn add_total(&self, steps: u64);
    fn advance(&self, steps: u64);
}

/// Progress nobody watches.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn add_total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// A counter pair for progress displays.
#[derive(Debug, Default)]
pub struct Counter {
    pub total: AtomicU64,
    pub done: AtomicU64,
}

impl Progress for Counter {
    fn add_total(&self, steps: u64) {
        self.total.fetch_add(steps, Ordering::Relaxed);
    }
    fn advance(&self, steps: u64) {
        self.done.fetch_add(steps, Ordering::Relaxed);
    }
}

/// The answer for one chunk: the samples of each step, or the query's error.
pub(crate) type ChunkResult = Result<Vec<Vec<Sample>>, String>;

/// The error text a rule would report: the server's own message when it answered.
pub(crate) fn error_text(e: &QueryError) -> String {
    match e {
        QueryError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn too_many_samples(e: &QueryError) -> bool {
    error_text(e).contains("too many samples")
}

/// Replays `exprs` over `grid` in lockstep chunks: `on_chunk(first step, steps, results)`
/// gets one result per expression for the same steps.
pub(crate) async fn drive(
    client: &PrometheusClient,
    exprs: &[&str],
    grid: Grid,
    options: &BacktestOptions,
    costs: &mut [Cost],
    progress: &dyn Progress,
    mut on_chunk: impl FnMut(usize, usize, &[ChunkResult]),
) {
    let mut points = options.max_points.clamp(1, MAX_POINTS_PER_SERIES);
    let mut i = 0;
    let step = Duration::from_millis(grid.step_ms as u64);
    'chunks: while i < grid.count {
        let n = points.min(grid.count - i);
        let start = grid.at(i);
        let end = grid.at(i + n - 1);
        let mut results = Vec::with_capacity(exprs.len());
        let mut shrink = false;
        for (k, expr) in exprs.iter().enumerate() {
            costs[k].requests += 1;
            let answer = client
                .range_query_with_stats(expr, start.to_system_time(), end.to_system_time(), step)
                .await;
            match answer {
                Ok((result, stats)) => {
                    if let Some(s) = stats {
                        costs[k].samples += s.total_samples;
                        costs[k].peak_samples = costs[k].peak_samples.max(s.peak_samples);
                        shrink |= s.peak_samples > options.max_samples / 2;
                    }
                    results.push(split_steps(result.value, grid, i, n, &mut costs[k]));
                }
                Err(e) if too_many_samples(&e) && n > 1 => {
                    points = n / 2;
                    continue 'chunks;
                }
                Err(e) => results.push(Err(error_text(&e))),
            }
        }
        on_chunk(i, n, &results);
        progress.advance(n as u64);
        i += n;
        if shrink && points > 1 {
            points /= 2;
        }
    }
}

/// A range answer as the samples of each of the `n` steps from step `first`.
fn split_steps(
    value: QueryValue,
    grid: Grid,
    first: usize,
    n: usize,
    cost: &mut Cost,
) -> ChunkResult {
    let series = match value {
        QueryValue::Matrix(series) => series,
        // A range query answers a matrix or an error; anything else is not a rule result.
        _ => return Err(RuleError::NotVector.to_string()),
    };
    let mut steps: Vec<Vec<Sample>> = vec![Vec::new(); n];
    let start_ms = grid.at(first).unix_millis();
    for s in series {
        cost.series += 1;
        let labels = s.labels;
        for p in s.points {
            cost.points += 1;
            let offset = p.timestamp_ms - start_ms;
            if offset < 0 || offset % grid.step_ms != 0 {
                continue;
            }
            let idx = (offset / grid.step_ms) as usize;
            if let Some(step) = steps.get_mut(idx) {
                step.push(Sample::new(labels.clone(), p.value));
            }
        }
    }
    Ok(steps)
}

// ---------------------------------------------------------------------------------------
// Templates

/// The rule's templates, compiled and expanded by the engine's one expander
/// ([`RuleTemplates`], [`RuleExpander`]), with the backtest's external labels and URL.
/// The `query` template function is not available in a backtest (it would need an instant
/// query per alert per step): such a template expands to Prometheus's in-band error value.
pub(crate) struct BacktestTemplates {
    templates: RuleTemplates,
    external_labels: BTreeMap<String, String>,
    external_url: String,
}

impl BacktestTemplates {
    pub fn new(rule: &AlertingRule, options: &BacktestOptions) -> Self {
        BacktestTemplates {
            templates: RuleTemplates::compile(rule),
            external_labels: options.external_labels.clone(),
            external_url: options.external_url.clone(),
        }
    }
}

struct NoQuery(f64);

impl TemplateContext for NoQuery {
    fn query(&self, _expr: &str) -> Result<Vec<tocsin_template::Sample>, String> {
        Err("the query template function is not available in a backtest".into())
    }
    fn eval_time(&self) -> f64 {
        self.0
    }
}

// ---------------------------------------------------------------------------------------
// Alerting rules

/// One firing interval of one alert: firing at every slot from `start` to `end`.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub start: Timestamp,
    pub end: Timestamp,
    /// The annotations when it started firing.
    pub annotations: Labels,
}

/// Errors a replay met: how many evaluations failed, and the first message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorTally {
    pub failed_evaluations: u64,
    pub first_error: Option<String>,
}

impl ErrorTally {
    fn record(&mut self, e: &RuleError) {
        self.failed_evaluations += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }
}

/// The replay of one alerting rule: each alert's firing intervals.
#[derive(Clone, Debug, Default)]
pub struct AlertReplay {
    pub evaluations: u64,
    pub errors: ErrorTally,
    /// Firing intervals by alert label set, in time order.
    pub alerts: BTreeMap<Labels, Vec<Episode>>,
    pub step: Duration,
    /// With `--config`: what the engine handed to the notification pipeline after each
    /// evaluation (firing alerts on firing and every resend delay, resolved ones for 15
    /// minutes), as `tocsin run` does.
    pub sends: SendLog,
}

/// The engine's hand-overs of one rule ([`OutgoingAlert`]s), kept compactly: a firing alert
/// is re-sent every couple of minutes for as long as it fires, so a week of a thousand
/// rules holds millions of them. Labels, annotations and start are interned per alert;
/// each hand-over is its time, `endsAt`, whether it is a resolution, and that index.
#[derive(Clone, Debug, Default)]
pub struct SendLog {
    /// The rule's generator URL (the same on every alert it sends).
    pub generator_url: String,
    /// Labels (external labels added), annotations and `startsAt` of each distinct
    /// hand-over content.
    pub alerts: Vec<(Labels, Labels, Timestamp)>,
    index: HashMap<(Labels, Labels, Timestamp), u32>,
    /// In time order.
    pub sends: Vec<Sent>,
}

/// One alert handed over at one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub at: Timestamp,
    pub ends_at: Timestamp,
    /// Into [`SendLog::alerts`].
    pub alert: u32,
    pub resolved: bool,
}

impl SendLog {
    /// Records `a`, handed over after the evaluation at `at`.
    pub fn push(&mut self, at: Timestamp, a: OutgoingAlert) {
        if self.generator_url.is_empty() {
            self.generator_url = a.generator_url;
        }
        let key = (a.labels, a.annotations, a.starts_at);
        let alert = match self.index.get(&key) {
            Some(i) => *i,
            None => {
                let i = self.alerts.len() as u32;
                self.alerts.push(key.clone());
                self.index.insert(key, i);
                i
            }
        };
        self.sends.push(Sent {
            at,
            ends_at: a.ends_at,
            alert,
            resolved: a.state == tocsin_engine::OutgoingState::Resolved,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    /// The hand-over `i` as the engine made it.
    pub fn outgoing(&self, i: usize) -> Option<OutgoingAlert> {
        let s = self.sends.get(i)?;
        let (labels, annotations, starts_at) = self.alerts.get(s.alert as usize)?;
        Some(OutgoingAlert {
            labels: labels.clone(),
            annotations: annotations.clone(),
            starts_at: *starts_at,
            ends_at: s.ends_at,
            generator_url: self.generator_url.clone(),
            state: if s.resolved {
                tocsin_engine::OutgoingState::Resolved
            } else {
                tocsin_engine::OutgoingState::Firing
            },
        })
    }
}

impl AlertReplay {
    /// Records the alerts firing at slot `ts`: a firing at the slot after an episode's
    /// end (`step_ms` earlier, at nanosecond precision) extends it, else starts another.
    pub fn record_firing<'a>(
        &mut self,
        ts: Timestamp,
        step_ms: i64,
        firing: impl Iterator<Item = (&'a Labels, &'a Labels)>,
    ) {
        self.evaluations += 1;
        let prev = Timestamp::from_nanos(ts.as_nanos() - step_ms * 1_000_000);
        for (labels, annotations) in firing {
            let episodes = self.alerts.entry(labels.clone()).or_default();
            match episodes.last_mut() {
                Some(last) if last.end == prev => last.end = ts,
                _ => episodes.push(Episode {
                    start: ts,
                    end: ts,
                    annotations: annotations.clone(),
                }),
            }
        }
    }
}

pub(crate) struct AlertSide {
    rule: Arc<AlertingRule>,
    state: AlertingState,
    scratch: Scratch,
    templates: BacktestTemplates,
    limit: usize,
    step_ms: i64,
    /// Slots before this are evaluated but not recorded (a live run's warm-up).
    pub record_from: Timestamp,
    pub replay: AlertReplay,
    /// Set when sends are recorded ([`AlertReplay::sends`]).
    sending: Option<Sending>,
}

/// What the engine's hand-over needs besides the alert.
struct Sending {
    resend_delay: Duration,
    interval: Duration,
    external_labels: Labels,
    generator_url: String,
}

impl AlertSide {
    pub fn new(
        rule: Arc<AlertingRule>,
        limit: usize,
        grid: Grid,
        options: &BacktestOptions,
    ) -> Self {
        let templates = BacktestTemplates::new(&rule, options);
        let sending = options.notify.as_ref().map(|_| Sending {
            resend_delay: options.resend_delay,
            interval: Duration::from_millis(grid.step_ms as u64),
            external_labels: Labels::new(options.external_labels.iter()),
            generator_url: rule.generator_url(&options.external_url),
        });
        AlertSide {
            sending,
            rule,
            state: AlertingState::default(),
            scratch: Scratch::default(),
            templates,
            limit,
            step_ms: grid.step_ms,
            record_from: Timestamp::from_nanos(i64::MIN),
            replay: AlertReplay {
                step: Duration::from_millis(grid.step_ms as u64),
                ..AlertReplay::default()
            },
        }
    }

    /// Evaluates one slot with its query result and records who fires.
    pub fn step(&mut self, ts: Timestamp, result: Result<&[Sample], &str>) {
        let result = result.map_err(|e| RuleError::query(ErrorKind::BadQuery, e));
        let context = NoQuery(ts.as_nanos() as f64 / 1e9);
        let t = &self.templates;
        let expander =
            RuleExpander::new(&t.templates, &t.external_labels, &t.external_url, &context);
        let outcome = self.rule.eval(
            &mut self.state,
            ts,
            result,
            self.limit,
            &expander,
            &mut self.scratch,
        );
        if ts < self.record_from {
            return;
        }
        if let Err(e) = &outcome {
            self.replay.errors.record(e);
        }
        if let (Ok(_), Some(s)) = (&outcome, &self.sending) {
            let log = &mut self.replay.sends;
            self.state.send(ts, s.resend_delay, s.interval, |a| {
                log.push(
                    ts,
                    OutgoingAlert::of(a, ts, &s.external_labels, &s.generator_url),
                );
            });
        }
        let firing = self
            .state
            .active_alerts()
            .filter(|a| a.state == AlertState::Firing);
        self.replay.record_firing(
            ts,
            self.step_ms,
            firing.map(|a| (&a.labels, &a.annotations)),
        );
    }

    /// The pending and firing alerts after the last step.
    pub fn active(&self) -> impl Iterator<Item = &tocsin_engine::Alert> {
        self.state.active_alerts()
    }

    pub fn feed(&mut self, grid: Grid, first: usize, result: &ChunkResult, n: usize) {
        for k in 0..n {
            let ts = grid.at(first + k);
            match result {
                Ok(steps) => self.step(ts, Ok(&steps[k])),
                Err(e) => self.step(ts, Err(e)),
            }
        }
    }
}

/// Replays one alerting rule (`expr`: its printed expression) over the window of
/// `options` every `step`: each alert's firing intervals and what the queries cost. What
/// `tocsin diff` does per rule, and `tocsin check --datasource`'s `alerts/count`.
pub async fn replay_alerting(
    client: &PrometheusClient,
    rule: Arc<AlertingRule>,
    expr: &str,
    limit: usize,
    step: Duration,
    options: &BacktestOptions,
    progress: &dyn Progress,
) -> (AlertReplay, Cost) {
    let grid = Grid::new(options.start, options.end, step);
    let mut side = AlertSide::new(rule, limit, grid, options);
    let mut costs = [Cost::default()];
    drive(
        client,
        &[expr],
        grid,
        options,
        &mut costs,
        progress,
        |first, n, results| {
            side.feed(grid, first, &results[0], n);
        },
    )
    .await;
    (side.replay, costs[0])
}

// ---------------------------------------------------------------------------------------
// Recording rules

/// How two replays of a recording rule compare, step by step.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecordingComparison {
    /// Output series (distinct label sets) over the window.
    pub series_old: usize,
    pub series_new: usize,
    pub series_only_old: usize,
    pub series_only_new: usize,
    /// (series, slot) pairs both sides produced, and those whose values differ.
    pub points_compared: u64,
    pub points_changed: u64,
    pub max_abs_change: f64,
    /// One changed point: series, slot (Unix seconds), old and new value.
    pub example: Option<(String, f64, f64, f64)>,
    /// Values were not compared (the two sides run on different steps).
    pub values_compared: bool,
}

pub(crate) struct RecordSide {
    rule: Arc<RecordingRule>,
    status: RuleStatus,
    limit: usize,
    pub evaluations: u64,
    pub errors: ErrorTally,
    pub series: HashSet<Labels>,
    pub out: Vec<Sample>,
}

impl RecordSide {
    pub fn new(rule: Arc<RecordingRule>, limit: usize) -> Self {
        RecordSide {
            rule,
            status: RuleStatus::default(),
            limit,
            evaluations: 0,
            errors: ErrorTally::default(),
            series: HashSet::new(),
            out: Vec::new(),
        }
    }

    /// Evaluates one slot; the outputs are left in `self.out`.
    pub fn step(&mut self, ts: Timestamp, result: Result<&[Sample], &str>) {
        self.evaluations += 1;
        self.out.clear();
        let result = result.map_err(|e| RuleError::query(ErrorKind::BadQuery, e));
        match self
            .rule
            .eval(&mut self.status, ts, result, self.limit, &mut self.out)
        {
            Ok(_) => {
                for s in &self.out {
                    if !self.series.contains(&s.labels) {
                        self.series.insert(s.labels.clone());
                    }
                }
            }
            Err(e) => self.errors.record(&e),
        }
    }
}

/// Compares one slot's outputs of both sides.
pub(crate) fn compare_outputs(
    ts: Timestamp,
    old: &[Sample],
    new: &[Sample],
    cmp: &mut RecordingComparison,
) {
    let by_labels: HashMap<&Labels, f64> = old.iter().map(|s| (&s.labels, s.value)).collect();
    for s in new {
        let Some(&o) = by_labels.get(&s.labels) else {
            continue;
        };
        cmp.points_compared += 1;
        let same = o == s.value || (o.is_nan() && s.value.is_nan());
        if !same {
            cmp.points_changed += 1;
            let delta = (o - s.value).abs();
            if delta.is_nan() || delta > cmp.max_abs_change {
                if !delta.is_nan() {
                    cmp.max_abs_change = delta;
                }
                if cmp.example.is_none() || !delta.is_nan() {
                    cmp.example = Some((s.labels.to_string(), seconds(ts), o, s.value));
                }
            }
        }
    }
}

/// Unix seconds of a timestamp.
pub fn seconds(ts: Timestamp) -> f64 {
    ts.as_nanos() as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_takes_the_multiples_of_the_step_inside_the_window() {
        let g = Grid::new(
            Timestamp::from_secs(61),
            Timestamp::from_secs(300),
            Duration::from_secs(60),
        );
        assert_eq!((g.first_ms, g.count), (120_000, 4));
        assert_eq!(g.at(3), Timestamp::from_secs(300));
        let exact = Grid::new(
            Timestamp::from_secs(60),
            Timestamp::from_secs(60),
            Duration::from_secs(60),
        );
        assert_eq!(exact.count, 1);
        let empty = Grid::new(
            Timestamp::from_secs(61),
            Timestamp::from_secs(119),
            Duration::from_secs(60),
        );
        assert_eq!(empty.count, 0);
    }

    #[test]
    fn firing_slots_in_a_row_make_one_episode_and_a_gap_starts_another() {
        let rule = Arc::new(AlertingRule::new(
            "High",
            "x > 1",
            Duration::ZERO,
            Duration::ZERO,
            [("severity", "page")],
            [("summary", "{{ $value }} on {{ $labels.instance }}")],
        ));
        let grid = Grid::new(
            Timestamp::from_secs(0),
            Timestamp::from_secs(600),
            Duration::from_secs(60),
        );
        let options = BacktestOptions::new(Timestamp::from_secs(0), Timestamp::from_secs(600));
        let mut side = AlertSide::new(rule, 0, grid, &options);
        let hot = [Sample::new(Labels::new([("instance", "a")]), 5.0)];
        let firing = [0, 1, 2, 5, 6];
        for i in 0..grid.count {
            let samples: &[Sample] = if firing.contains(&i) { &hot } else { &[] };
            side.step(grid.at(i), Ok(samples));
        }
        let labels = Labels::new([
            ("alertname", "High"),
            ("instance", "a"),
            ("severity", "page"),
        ]);
        let episodes = &side.replay.alerts[&labels];
        let spans: Vec<(i64, i64)> = episodes
            .iter()
            .map(|e| (e.start.unix_seconds(), e.end.unix_seconds()))
            .collect();
        assert_eq!(spans, vec![(0, 120), (300, 360)]);
        assert_eq!(episodes[0].annotations.get("summary"), Some("5 on a"));
    }

    #[test]
    fn templates_see_external_labels_and_url_and_query_is_an_in_band_error() {
        let rule = Arc::new(AlertingRule::new(
            "Down",
            "up == 0",
            Duration::ZERO,
            Duration::ZERO,
            [("cluster", "{{ $externalLabels.cluster }}")],
            [
                ("link", "{{ $externalURL }}/alerts"),
                ("count", "{{ query \"up\" }}"),
            ],
        ));
        let grid = Grid::new(
            Timestamp::from_secs(0),
            Timestamp::from_secs(0),
            Duration::from_secs(60),
        );
        let mut options = BacktestOptions::new(Timestamp::from_secs(0), Timestamp::from_secs(0));
        options
            .external_labels
            .insert("cluster".into(), "prod-1".into());
        options.external_url = "https://prom.example".into();
        let mut side = AlertSide::new(rule, 0, grid, &options);
        side.step(
            grid.at(0),
            Ok(&[Sample::new(Labels::new([("job", "api")]), 0.0)]),
        );
        let (labels, episodes) = side.replay.alerts.iter().next().expect("fires at once");
        assert_eq!(labels.get("cluster"), Some("prod-1"));
        let a = &episodes[0].annotations;
        assert_eq!(a.get("link"), Some("https://prom.example/alerts"));
        let count = a.get("count").unwrap_or_default();
        assert!(
            count.starts_with("<error expanding template: ")
                && count.contains("not available in a backtest"),
            "{count}"
        );
    }
}
