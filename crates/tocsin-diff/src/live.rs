//! `tocsin diff --live`: a candidate evaluated live, on Prometheus's own slots, compared
//! with what the deployed Prometheus reports (`/api/v1/rules`) or with another rule set
//! evaluated live the same way (docs/diff.md, "Live").
//!
//! Each group of a set evaluates at the slots Prometheus computes for it
//! ([`GroupSchedule`]: a phase from the hash of the group's file and name). A group whose
//! name the server also runs takes the server's file string, so its slots are the
//! server's; in `--old` mode a group of the candidate takes the file of the old set's group
//! of the same name, so both sets evaluate at the same instants. Every slot runs one
//! instant query per rule at the slot time and feeds the answer to the engine's own pure
//! state machine (`AlertingRule::eval`, through [`AlertSide`]), as the backtest does.
//!
//! The server's side is observed, not evaluated: `/api/v1/rules` is polled several times
//! per interval; a group's `lastEvaluation` (the wall-clock start of its latest evaluation)
//! names the slot its alerts belong to, and every alert's labels, state and activeAt are
//! recorded for that slot.
//!
//! The first part of the run is a warm-up that is not compared: a fresh state machine does
//! not know what was pending or firing before it started, so until the longest
//! `for` + `keep_firing_for` + interval of the compared rules has passed, the states may
//! differ for that reason alone. After it, firing intervals are compared as the history
//! diff compares them, and at every slot both sides saw, each alert present on both sides
//! must have the same state and, if it became active after the run started, the same
//! activeAt (an alert active since before the run started has an activeAt a fresh state
//! machine cannot know).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tocsin_engine::{
    AlertState, AlertingRule, GroupSchedule, Labels, RecordingRule, Sample, Timestamp,
};
use tocsin_query::{PrometheusClient, QueryError};
use tocsin_rules::RuleKind;

use crate::backtest::{AlertReplay, AlertSide, BacktestOptions, Cost, Grid, Progress, RecordSide};
use crate::compare::{assemble, check_selectors, pair_rules, PairReplay};
use crate::load::{fmt_duration, Compiled, RuleEntry, RuleSet};
use crate::report::{label_map_of, rfc3339, LiveReport, Regression, Report, StateMismatch};
use crate::DiffError;

/// What the candidate is compared with.
pub enum Baseline {
    /// The alerts the server itself reports.
    Prometheus,
    /// Another rule set, evaluated live like the candidate.
    Rules(RuleSet),
}

/// How to run a live comparison.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// How long to run, warm-up included.
    pub duration: Duration,
    /// Overrides the computed warm-up.
    pub warm_up: Option<Duration>,
    /// `$externalLabels`, `$externalURL` for templates; concurrency of the queries.
    pub backtest: BacktestOptions,
}

/// The warm-up a set of rules needs and why: the longest `for` + `keep_firing_for` +
/// interval of its alerting rules (at least one interval).
pub fn warm_up(sets: &[&RuleSet]) -> (Duration, String) {
    let mut best = (Duration::ZERO, String::from("no alerting rule"));
    for set in sets {
        for r in &set.rules {
            let Compiled::Alerting(a) = &r.compiled else {
                continue;
            };
            let need = a.hold_duration() + a.keep_firing_for() + r.interval;
            if need > best.0 {
                best = (
                    need,
                    format!(
                        "{}/{}: for {} + keep_firing_for {} + interval {}",
                        r.group,
                        r.name,
                        fmt_duration(a.hold_duration()),
                        fmt_duration(a.keep_firing_for()),
                        fmt_duration(r.interval)
                    ),
                );
            }
        }
    }
    best
}

/// The server's rule groups as a rule set (only the groups named in `names`), and the
/// names of the groups left out.
pub async fn server_rule_set(
    client: &PrometheusClient,
    names: &[String],
) -> Result<(RuleSet, Vec<String>), QueryError> {
    let groups = client.rules(None).await?;
    let mut set = RuleSet::default();
    let mut left_out = Vec::new();
    for g in groups {
        if !names.contains(&g.name) {
            left_out.push(g.name.clone());
            continue;
        }
        if !set.files.contains(&g.file) {
            set.files.push(g.file.clone());
        }
        let interval = Duration::from_secs_f64(g.interval.max(0.0));
        let start = set.rules.len();
        for rule in &g.rules {
            let (name, kind, expr, compiled) = match rule {
                tocsin_query::Rule::Alerting(a) => (
                    a.name.clone(),
                    RuleKind::Alerting,
                    a.query.clone(),
                    Compiled::Alerting(Arc::new(AlertingRule::new(
                        &a.name,
                        &a.query,
                        Duration::from_secs_f64(a.duration.max(0.0)),
                        Duration::from_secs_f64(a.keep_firing_for.max(0.0)),
                        a.labels.iter(),
                        a.annotations.iter(),
                    ))),
                ),
                tocsin_query::Rule::Recording(r) => (
                    r.name.clone(),
                    RuleKind::Recording,
                    r.query.clone(),
                    Compiled::Recording(Arc::new(RecordingRule::new(
                        &r.name,
                        &r.query,
                        r.labels.iter(),
                    ))),
                ),
            };
            let occurrence = set.rules[start..]
                .iter()
                .filter(|e| e.kind == kind && e.name == name)
                .count();
            set.rules.push(RuleEntry {
                file: g.file.clone(),
                line: 0,
                group: g.name.clone(),
                interval,
                limit: usize::try_from(g.limit).unwrap_or(usize::MAX),
                name,
                kind,
                expr,
                occurrence,
                compiled,
            });
        }
    }
    Ok((set, left_out))
}

/// Pending/firing and activeAt (ms) of every active alert of one rule at one slot.
type Snapshot = BTreeMap<Labels, (&'static str, i64)>;

/// One side of one rule over the run: its firing intervals after the warm-up and its
/// state at every slot.
#[derive(Default)]
struct Observed {
    alerts: Option<AlertReplay>,
    record: Option<(u64, crate::backtest::ErrorTally, usize)>,
    /// Slot (ns) → snapshot, after the warm-up.
    states: BTreeMap<i64, Snapshot>,
    cost: Cost,
}

/// A group of one set evaluated live.
struct LiveGroup {
    schedule: GroupSchedule,
    next: Timestamp,
    /// Indices into the set's rules.
    rules: Vec<usize>,
}

enum Evaluator {
    Alert(Box<AlertSide>),
    Record(RecordSide),
}

/// One rule set evaluated live.
struct LiveSet<'a> {
    set: &'a RuleSet,
    groups: Vec<LiveGroup>,
    evaluators: Vec<Evaluator>,
    observed: Vec<Observed>,
    slots: u64,
}

fn state_str(s: AlertState) -> &'static str {
    match s {
        AlertState::Firing => "firing",
        _ => "pending",
    }
}

impl<'a> LiveSet<'a> {
    /// Groups keyed by (file, name); `file_of(group name)` may name the file whose slots the
    /// group takes instead of its own.
    fn new(
        set: &'a RuleSet,
        file_of: &dyn Fn(&str) -> Option<String>,
        start: Timestamp,
        record_from: Timestamp,
        options: &BacktestOptions,
    ) -> Self {
        let mut groups: Vec<(String, String, LiveGroup)> = Vec::new();
        let mut evaluators = Vec::new();
        for (i, r) in set.rules.iter().enumerate() {
            let key = (r.file.clone(), r.group.clone());
            match groups
                .iter_mut()
                .find(|(f, g, _)| (f, g) == (&key.0, &key.1))
            {
                Some((_, _, g)) => g.rules.push(i),
                None => {
                    let file = file_of(&r.group).unwrap_or_else(|| r.file.clone());
                    let schedule = GroupSchedule::new(&file, &r.group, r.interval);
                    groups.push((
                        key.0,
                        key.1,
                        LiveGroup {
                            schedule,
                            next: schedule.first_evaluation(start),
                            rules: vec![i],
                        },
                    ));
                }
            }
            let step_ms = (r.interval.as_millis() as i64).max(1);
            let grid = Grid {
                first_ms: 0,
                step_ms,
                count: 0,
            };
            evaluators.push(match &r.compiled {
                Compiled::Alerting(a) => {
                    let mut side = AlertSide::new(a.clone(), r.limit, grid, options);
                    side.record_from = record_from;
                    Evaluator::Alert(Box::new(side))
                }
                Compiled::Recording(rr) => Evaluator::Record(RecordSide::new(rr.clone(), r.limit)),
            });
        }
        let observed = set.rules.iter().map(|_| Observed::default()).collect();
        LiveSet {
            set,
            groups: groups.into_iter().map(|(_, _, g)| g).collect(),
            evaluators,
            observed,
            slots: 0,
        }
    }

    fn next_slot(&self) -> Option<Timestamp> {
        self.groups.iter().map(|g| g.next).min()
    }

    /// Evaluates every group whose slot is due at `now`.
    async fn evaluate_due(
        &mut self,
        client: &PrometheusClient,
        now: Timestamp,
        record_from: Timestamp,
    ) {
        for gi in 0..self.groups.len() {
            let g = &self.groups[gi];
            if g.next > now {
                continue;
            }
            // A group that fell behind evaluates the latest slot, as Prometheus does.
            let ts = g.schedule.eval_timestamp(now).max(g.next);
            let rules = g.rules.clone();
            self.groups[gi].next = ts + g.schedule.interval();
            let answers = futures_join(client, &rules, self.set, ts).await;
            if ts >= record_from {
                self.slots += 1;
            }
            for (i, answer) in rules.into_iter().zip(answers) {
                self.observed[i].cost.requests += 1;
                let result = answer.as_deref().map_err(String::as_str);
                match &mut self.evaluators[i] {
                    Evaluator::Alert(side) => {
                        side.step(ts, result);
                        if ts >= record_from {
                            let snap: Snapshot = side
                                .active()
                                .map(|a| {
                                    (
                                        a.labels.clone(),
                                        (state_str(a.state), a.active_at.unix_millis()),
                                    )
                                })
                                .collect();
                            self.observed[i].states.insert(ts.as_nanos(), snap);
                        }
                    }
                    Evaluator::Record(side) => {
                        if ts >= record_from {
                            side.step(ts, result);
                        }
                    }
                }
            }
        }
    }

    fn finish(mut self) -> Vec<Observed> {
        for (o, e) in self.observed.iter_mut().zip(self.evaluators) {
            match e {
                Evaluator::Alert(side) => o.alerts = Some(side.replay),
                Evaluator::Record(side) => {
                    o.record = Some((side.evaluations, side.errors, side.series.len()))
                }
            }
        }
        self.observed
    }
}

/// The instant queries of one group's rules at one slot, run concurrently.
async fn futures_join(
    client: &PrometheusClient,
    rules: &[usize],
    set: &RuleSet,
    ts: Timestamp,
) -> Vec<Result<Vec<Sample>, String>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (k, &i) in rules.iter().enumerate() {
        let client = client.clone();
        let expr = set.rules[i].expr.clone();
        tasks.spawn(async move { (k, instant(&client, &expr, ts).await) });
    }
    let mut out: Vec<Result<Vec<Sample>, String>> = rules
        .iter()
        .map(|_| Err("query not run".to_string()))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((k, r)) = joined {
            out[k] = r;
        }
    }
    out
}

/// One rule's query at slot `ts`, as the engine's samples or the error text a rule reports.
async fn instant(
    client: &PrometheusClient,
    expr: &str,
    ts: Timestamp,
) -> Result<Vec<Sample>, String> {
    let answer = client
        .instant_query(expr, ts.to_system_time())
        .await
        .map_err(|e| crate::backtest::error_text(&e))?;
    let samples = answer
        .value
        .into_samples()
        .ok_or_else(|| tocsin_engine::RuleError::NotVector.to_string())?;
    Ok(samples
        .into_iter()
        .map(|s| Sample::new(s.labels, s.value))
        .collect())
}

/// The server's side, observed through `/api/v1/rules`.
struct ServerSide<'a> {
    set: &'a RuleSet,
    /// (file, group) → (schedule, last slot recorded, indices of its rules in order).
    groups: HashMap<(String, String), (GroupSchedule, i64, Vec<usize>)>,
    observed: Vec<Observed>,
    slots: u64,
    /// Polls that failed, and the first error.
    failed_polls: u64,
    first_error: Option<String>,
}

impl<'a> ServerSide<'a> {
    fn new(set: &'a RuleSet) -> Self {
        let mut groups: HashMap<(String, String), (GroupSchedule, i64, Vec<usize>)> =
            HashMap::new();
        for (i, r) in set.rules.iter().enumerate() {
            groups
                .entry((r.file.clone(), r.group.clone()))
                .or_insert_with(|| {
                    (
                        GroupSchedule::new(&r.file, &r.group, r.interval),
                        i64::MIN,
                        Vec::new(),
                    )
                })
                .2
                .push(i);
        }
        let observed = set
            .rules
            .iter()
            .map(|r| Observed {
                alerts: (r.kind == RuleKind::Alerting).then(|| AlertReplay {
                    step: r.interval,
                    ..AlertReplay::default()
                }),
                ..Observed::default()
            })
            .collect();
        ServerSide {
            set,
            groups,
            observed,
            slots: 0,
            failed_polls: 0,
            first_error: None,
        }
    }

    /// Records every group that evaluated a new slot since the last poll. Slots after `end`
    /// are left out: the candidate stops evaluating there, and a slot only the server saw
    /// would read as an alert the candidate lost.
    async fn poll(
        &mut self,
        client: &PrometheusClient,
        start: Timestamp,
        record_from: Timestamp,
        end: Timestamp,
    ) {
        let groups = match client.rules(None).await {
            Ok(groups) => groups,
            Err(e) => {
                self.failed_polls += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
                return;
            }
        };
        for g in groups {
            let Some((schedule, last, rules)) =
                self.groups.get_mut(&(g.file.clone(), g.name.clone()))
            else {
                continue;
            };
            let Some(wall) = crate::report::parse_rfc3339_nanos(&g.last_evaluation) else {
                continue;
            };
            let slot = schedule.eval_timestamp(Timestamp::from_nanos(wall));
            if slot.as_nanos() <= *last || slot <= start || slot > end {
                continue;
            }
            *last = slot.as_nanos();
            if slot < record_from {
                continue;
            }
            self.slots += 1;
            for (rule, &i) in g.rules.iter().zip(rules.iter()) {
                let tocsin_query::Rule::Alerting(a) = rule else {
                    continue;
                };
                if self.set.rules[i].name != a.name {
                    continue;
                }
                let o = &mut self.observed[i];
                let mut snap = Snapshot::new();
                let mut firing = Vec::new();
                for alert in &a.alerts {
                    let labels = alert.labels.clone();
                    let state = match alert.state {
                        tocsin_query::AlertState::Firing => "firing",
                        tocsin_query::AlertState::Pending => "pending",
                        _ => continue,
                    };
                    let active_ms = alert
                        .active_at
                        .as_deref()
                        .and_then(crate::report::parse_rfc3339_nanos)
                        .map_or(0, |ns| ns.div_euclid(1_000_000));
                    if state == "firing" {
                        firing.push((labels.clone(), Labels::new(alert.annotations.iter())));
                    }
                    snap.insert(labels, (state, active_ms));
                }
                let step_ms = schedule.interval().as_millis() as i64;
                if let Some(replay) = o.alerts.as_mut() {
                    replay.record_firing(slot, step_ms, firing.iter().map(|(l, a)| (l, a)));
                }
                o.states.insert(slot.as_nanos(), snap);
            }
        }
    }
}

/// Runs the candidate live for `options.duration` and compares it with the baseline.
/// `progress` counts seconds elapsed out of the duration.
pub async fn diff_live(
    client: &PrometheusClient,
    baseline: Baseline,
    new: &RuleSet,
    options: LiveOptions,
    allow_added: usize,
    allow_removed: usize,
    progress: Arc<dyn Progress>,
) -> Result<Report, DiffError> {
    let datasource = |e: QueryError| DiffError::Usage(format!("--datasource: {e}"));
    let names: Vec<String> = new
        .rules
        .iter()
        .map(|r| r.group.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let server_groups = client.rules(None).await.map_err(datasource)?;
    let server_file: HashMap<String, String> = server_groups
        .iter()
        .map(|g| (g.name.clone(), g.file.clone()))
        .collect();
    let (old, left_out, from_server) = match baseline {
        Baseline::Prometheus => {
            let (set, left_out) = server_rule_set(client, &names).await.map_err(datasource)?;
            (set, left_out, true)
        }
        Baseline::Rules(set) => (set, Vec::new(), false),
    };
    let (computed, reason) = warm_up(&[&old, new]);
    let warm = options.warm_up.unwrap_or(computed);
    let reason = if options.warm_up.is_some() {
        "--warm-up".to_string()
    } else {
        reason
    };

    let start = Timestamp::now();
    let end = start + options.duration;
    let record_from = start + warm;
    let bt = &options.backtest;
    // Slots: the server's file for a group it runs, else (--old) the old set's file.
    let old_file: HashMap<String, String> = old
        .rules
        .iter()
        .map(|r| (r.group.clone(), r.file.clone()))
        .collect();
    let file_of = |g: &str| server_file.get(g).or_else(|| old_file.get(g)).cloned();
    let mut new_live = LiveSet::new(new, &file_of, start, record_from, bt);
    let server_only = |g: &str| server_file.get(g).cloned();
    let mut old_live =
        (!from_server).then(|| LiveSet::new(&old, &server_only, start, record_from, bt));
    let mut server = from_server.then(|| ServerSide::new(&old));
    let min_interval = old
        .rules
        .iter()
        .chain(new.rules.iter())
        .map(|r| r.interval)
        .min()
        .unwrap_or(Duration::from_secs(60));
    let poll_every = (min_interval / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
    let mut next_poll = start;

    progress.add_total(options.duration.as_secs().max(1));
    let mut reported = 0u64;
    loop {
        let mut wake = new_live.next_slot().unwrap_or(end);
        if let Some(o) = &old_live {
            wake = wake.min(o.next_slot().unwrap_or(end));
        }
        if server.is_some() {
            wake = wake.min(next_poll);
        }
        if wake > end {
            break;
        }
        let now = Timestamp::now();
        if wake > now {
            tokio::time::sleep(Duration::from_nanos(wake.since(now) as u64)).await;
        }
        let now = Timestamp::now();
        new_live.evaluate_due(client, now, record_from).await;
        if let Some(o) = old_live.as_mut() {
            o.evaluate_due(client, now, record_from).await;
        }
        if let Some(s) = server.as_mut() {
            if now >= next_poll {
                s.poll(client, start, record_from, end).await;
                next_poll = now + poll_every;
            }
        }
        let elapsed = (Timestamp::now().since(start).max(0) as u64 / 1_000_000_000)
            .min(options.duration.as_secs());
        if elapsed > reported {
            progress.advance(elapsed - reported);
            reported = elapsed;
        }
    }
    if let Some(s) = server.as_mut() {
        // The last slots before the end: one more look once they have run.
        tokio::time::sleep(poll_every).await;
        s.poll(client, start, record_from, end).await;
    }

    if let Some(s) = &server {
        // Compared with nothing, every alert of the candidate would look added.
        if s.slots == 0 && !old.rules.is_empty() {
            return Err(DiffError::Usage(format!(
                "the server's rule groups were never seen evaluating after the warm-up ({} failed polls of /api/v1/rules{})",
                s.failed_polls,
                s.first_error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", first: {e}"))
            )));
        }
    }
    let (slots_new, new_obs) = (new_live.slots, new_live.finish());
    let (slots_old, old_obs) = match (old_live, server) {
        (Some(o), _) => (o.slots, o.finish()),
        (None, Some(s)) => (s.slots, s.observed),
        (None, None) => (0, Vec::new()),
    };

    let pairs = pair_rules(&old, new);
    let index = |set: &RuleSet, r: &RuleEntry| {
        set.rules.iter().position(|x| {
            x.file == r.file
                && x.group == r.group
                && x.name == r.name
                && x.occurrence == r.occurrence
        })
    };
    let mut old_obs: Vec<Option<Observed>> = old_obs.into_iter().map(Some).collect();
    let mut new_obs: Vec<Option<Observed>> = new_obs.into_iter().map(Some).collect();
    let mut replays = Vec::new();
    let mut mismatches = Vec::new();
    let mut mismatch_count = 0u64;
    let mut slots_compared = 0u64;
    let mut per_rule: Vec<(usize, bool, u64, Option<StateMismatch>)> = Vec::new();
    for (k, p) in pairs.iter().enumerate() {
        let o = p
            .old
            .as_ref()
            .and_then(|r| index(&old, r))
            .and_then(|i| old_obs[i].take());
        let n = p
            .new
            .as_ref()
            .and_then(|r| index(new, r))
            .and_then(|i| new_obs[i].take());
        let mut count = 0u64;
        let mut first = None;
        if let (Some(o), Some(n), Some(rule)) = (&o, &n, &p.new) {
            for (ts, so) in &o.states {
                let Some(sn) = n.states.get(ts) else { continue };
                slots_compared += 1;
                for (labels, a) in so {
                    let Some(b) = sn.get(labels) else { continue };
                    // activeAt only where both became active after the run started.
                    let since_start = a.1 >= start.unix_millis() && b.1 >= start.unix_millis();
                    if a.0 != b.0 || (since_start && a.1 != b.1) {
                        count += 1;
                        let m = StateMismatch {
                            group: rule.group.clone(),
                            rule: rule.name.clone(),
                            labels: label_map_of(labels),
                            at: rfc3339(Timestamp::from_nanos(*ts)),
                            old: (a.0.to_string(), rfc3339(Timestamp::from_millis(a.1))),
                            new: (b.0.to_string(), rfc3339(Timestamp::from_millis(b.1))),
                        };
                        if first.is_none() {
                            first = Some(m.clone());
                        }
                        if mismatches.len() < 20 {
                            mismatches.push(m);
                        }
                    }
                }
            }
            if count > 0 {
                let unchanged = p.status() == crate::report::Status::Unchanged;
                per_rule.push((k, unchanged, count, first));
            }
        }
        mismatch_count += count;
        let (o, n) = (o.unwrap_or_default(), n.unwrap_or_default());
        let mut issued = o.cost;
        issued.add(&n.cost);
        replays.push(Some(PairReplay {
            old_alerts: o.alerts,
            new_alerts: n.alerts,
            old_record: o.record,
            new_record: n.record,
            recording: None,
            old_cost: o.cost,
            new_cost: n.cost,
            issued,
            substituted_reads: Vec::new(),
        }));
    }

    let mut window = bt.clone();
    window.start = record_from;
    window.end = Timestamp::now();
    window.step = None;
    let selectors = check_selectors(client, &pairs, &window).await;
    let mut report = assemble(
        client.url(),
        &old,
        new,
        &pairs,
        replays,
        selectors,
        &window,
        allow_added,
        allow_removed,
    );
    // A changed rule may well change states (that is what a shorter `for` does): noted.
    // An unchanged rule must not: there the candidate would not behave as the baseline.
    for (k, unchanged, count, first) in per_rule {
        let example = first
            .map(|m| {
                format!(
                    ": first {} at {}: {} since {} in the {}, {} since {} in the new set",
                    crate::report::fmt_labels(&m.labels),
                    m.at,
                    m.old.0,
                    m.old.1,
                    if from_server { "server" } else { "old set" },
                    m.new.0,
                    m.new.1
                )
            })
            .unwrap_or_default();
        let message = format!("{count} alert state(s) differ at the same slot{example}");
        let Some(r) = report.rules.get_mut(k) else {
            continue;
        };
        if unchanged {
            report.regressions.push(Regression {
                group: r.group.clone(),
                rule: r.name.clone(),
                kind: "state_changed",
                message,
            });
        } else {
            r.notes.push(message);
        }
    }
    report.regressed = !report.regressions.is_empty();
    if from_server {
        report.old_files = vec![format!("{} (/api/v1/rules)", client.url())];
    }
    report.live = Some(LiveReport {
        baseline: if from_server { "prometheus" } else { "rules" },
        duration: fmt_duration(options.duration),
        warm_up: fmt_duration(warm),
        warm_up_reason: reason,
        slots_old,
        slots_new,
        slots_compared,
        state_mismatches: mismatch_count,
        mismatches,
        groups_not_compared: left_out,
    });
    Ok(report)
}
