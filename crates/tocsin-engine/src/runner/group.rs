//! One group at run time: its handle (definition, compiled templates, state behind a
//! lock), its task on the slot grid, and one iteration over its rules.
//!
//! The state lock is held only for the synchronous part of a rule (state machine, sends,
//! series); queries run without it, so the API reads status while a group waits on the
//! datasource. Template `query` calls too: their templates are rendered before the step,
//! outside the lock, on the blocking pool (see `expand`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::alert::{AlertState, Scratch};
use crate::error::RuleError;
use crate::group::{GroupDef, GroupState, RuleDef, RuleState};
use crate::labels::{Labels, Sample};
use crate::runner::expand::{
    prerender, BridgeContext, NoQuery, Prerendered, PrerenderedExpander, RuleExpander,
    RuleTemplates,
};
use crate::runner::io::{with_external_labels, OutgoingAlert, OutgoingState};
use crate::runner::Inner;
use crate::schedule::GroupTicker;
use crate::stale::StaleTracker;
use crate::template::Expander;
use crate::time::Timestamp;

/// Locks, ignoring poisoning: a panicked evaluation leaves state that is still coherent
/// (every core step is all-or-nothing per rule).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Run-time facts about one rule that the core's status does not hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleRun {
    /// Wall time the rule's last evaluation started (Prometheus's `lastEvaluation`).
    pub last_evaluation: Option<Timestamp>,
    pub evaluation_time: Duration,
}

/// Everything about a group that changes as it runs.
#[derive(Debug)]
pub(crate) struct GroupRuntime {
    pub state: GroupState,
    pub stale: Vec<StaleTracker>,
    pub rules: Vec<RuleRun>,
    pub scratch: Scratch,
    /// Wall time the last iteration started.
    pub last_evaluation: Option<Timestamp>,
    pub last_slot: Option<Timestamp>,
    pub evaluation_time: Duration,
    /// The time the state was last known true (last slot, or restore time): the
    /// snapshot's `saved_at`. `None`: nothing worth persisting yet.
    pub state_as_of: Option<Timestamp>,
    pub iterations: u64,
    pub missed: u64,
    pub evaluations: u64,
    pub failures: u64,
    pub last_samples: usize,
}

impl GroupRuntime {
    /// A runtime of no rules (what a handle keeps after handing its state on).
    pub fn empty() -> Self {
        Self::with_state(GroupState { rules: Vec::new() })
    }

    pub fn new(def: &GroupDef) -> Self {
        Self::with_state(def.new_state())
    }

    /// Fresh counters around `state`, one rule runtime per rule state.
    fn with_state(state: GroupState) -> Self {
        let n = state.rules.len();
        GroupRuntime {
            state,
            stale: vec![StaleTracker::default(); n],
            rules: vec![RuleRun::default(); n],
            scratch: Scratch::default(),
            last_evaluation: None,
            last_slot: None,
            evaluation_time: Duration::ZERO,
            state_as_of: None,
            iterations: 0,
            missed: 0,
            evaluations: 0,
            failures: 0,
            last_samples: 0,
        }
    }

    /// The runtime of `new_def` replacing `old_def` on reload (docs/rule-semantics.md, "Reload"): alert state through
    /// [`GroupState::carry_over`]; staleness tracking and per-rule timings matched the same
    /// way (name and labels, first to first); group timings and counters kept. Series of
    /// old rules without a match get stale markers, appended to `markers`.
    pub fn carry_over(
        old_def: &GroupDef,
        old: GroupRuntime,
        new_def: &GroupDef,
        markers: &mut Vec<Sample>,
    ) -> GroupRuntime {
        let mut by_key: HashMap<(&str, &Labels), Vec<(StaleTracker, RuleRun)>> = HashMap::new();
        for ((def, tracker), run) in old_def.rules.iter().zip(old.stale).zip(old.rules).rev() {
            by_key
                .entry((def.name(), def.labels()))
                .or_default()
                .push((tracker, run));
        }
        let (stale, rules) = new_def
            .rules
            .iter()
            .map(|def| {
                by_key
                    .get_mut(&(def.name(), def.labels()))
                    .and_then(Vec::pop)
                    .unwrap_or_default()
            })
            .unzip();
        for (mut tracker, _) in by_key.into_values().flatten() {
            tracker.retire(markers);
        }
        GroupRuntime {
            state: GroupState::carry_over(old_def, old.state, new_def),
            stale,
            rules,
            scratch: old.scratch,
            ..old
        }
    }
}

/// A group as the engine holds it.
pub(crate) struct GroupHandle {
    pub def: Arc<GroupDef>,
    pub key: Arc<str>,
    pub templates: Vec<RuleTemplates>,
    pub generator_urls: Vec<String>,
    pub rt: Mutex<GroupRuntime>,
    /// `true`: stop after the iteration in flight.
    pub stop: watch::Sender<bool>,
    /// `true` once the task has ended (its final state is in `rt`).
    pub finished: watch::Sender<bool>,
    pub spawned: AtomicBool,
    /// Removed by a reload (not replaced): its series get stale markers when it stops.
    pub removed: AtomicBool,
    /// The group this one replaced; its final state is carried over when this task starts.
    pub predecessor: Mutex<Option<Arc<GroupHandle>>>,
}

impl GroupHandle {
    pub fn new(def: GroupDef, rt: GroupRuntime, external_url: &str) -> Self {
        let templates = def
            .rules
            .iter()
            .map(|r| match r {
                RuleDef::Alerting(a) => RuleTemplates::compile(a),
                RuleDef::Recording(_) => RuleTemplates::default(),
            })
            .collect();
        let generator_urls = def
            .rules
            .iter()
            .map(|r| match r {
                RuleDef::Alerting(a) => a.generator_url(external_url),
                RuleDef::Recording(_) => String::new(),
            })
            .collect();
        GroupHandle {
            key: def.key().into(),
            def: Arc::new(def),
            templates,
            generator_urls,
            rt: Mutex::new(rt),
            stop: watch::channel(false).0,
            finished: watch::channel(false).0,
            spawned: AtomicBool::new(false),
            removed: AtomicBool::new(false),
            predecessor: Mutex::new(None),
        }
    }

    pub fn request_stop(&self) {
        self.stop.send_replace(true);
    }
}

/// The outcome of one rule's synchronous step.
struct RuleOutcome {
    ok: bool,
    alerts: Vec<OutgoingAlert>,
    samples: Vec<Sample>,
}

impl GroupHandle {
    /// The state-machine step of rule `i` at `ts` with its query result, under the lock.
    /// `expander` must not run queries (see `expand`).
    fn eval_rule(
        &self,
        inner: &Inner,
        i: usize,
        ts: Timestamp,
        result: Result<Vec<Sample>, RuleError>,
        expander: &dyn Expander,
    ) -> RuleOutcome {
        let mut guard = lock(&self.rt);
        let rt = &mut *guard;
        let mut out = RuleOutcome {
            ok: false,
            alerts: Vec::new(),
            samples: Vec::new(),
        };
        let (Some(def), Some(rule_state)) = (self.def.rules.get(i), rt.state.rules.get_mut(i))
        else {
            return out;
        };
        let result = result.as_deref().map_err(Clone::clone);
        match (def, rule_state) {
            (RuleDef::Alerting(rule), RuleState::Alerting(s)) => {
                let r = rule.eval(s, ts, result, self.def.limit, expander, &mut rt.scratch);
                out.ok = r.is_ok();
                if out.ok {
                    let url = &self.generator_urls[i];
                    s.send(ts, inner.opts.resend_delay, self.def.interval, |a| {
                        let state = if a.state == AlertState::Inactive {
                            OutgoingState::Resolved
                        } else {
                            OutgoingState::Firing
                        };
                        out.alerts.push(OutgoingAlert {
                            labels: with_external_labels(&a.labels, &inner.external_labels),
                            annotations: a.annotations.clone(),
                            starts_at: a.starts_at().unwrap_or(a.active_at),
                            ends_at: a.ends_at().unwrap_or(ts),
                            generator_url: url.clone(),
                            state,
                        });
                    });
                    rule.alerts_series(s, &mut out.samples);
                }
            }
            (RuleDef::Recording(rule), RuleState::Recording(s)) => {
                out.ok = rule
                    .eval(s, ts, result, self.def.limit, &mut out.samples)
                    .is_ok();
            }
            (def, slot) => *slot = def.new_state(),
        }
        if out.ok {
            if let Some(tracker) = rt.stale.get_mut(i) {
                let mut markers = Vec::new();
                tracker.update(&out.samples, &mut markers);
                out.samples.extend(markers);
            }
        }
        out
    }
}

/// Renders rule `i`'s templates for `samples` on the blocking pool, where template
/// queries may block on the datasource; no lock is held.
async fn render_with_queries(
    inner: &Arc<Inner>,
    g: &Arc<GroupHandle>,
    i: usize,
    name: &str,
    samples: Vec<Sample>,
    ts: Timestamp,
) -> Result<(Vec<Sample>, Prerendered), RuleError> {
    let (inner, g, name) = (Arc::clone(inner), Arc::clone(g), name.to_string());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let context = BridgeContext {
            handle,
            querier: inner.querier.clone(),
            ts,
        };
        let expander = RuleExpander {
            templates: &g.templates[i],
            external_labels: &inner.opts.external_labels,
            external_url: &inner.opts.external_url,
            context: &context,
            last: Default::default(),
        };
        let rendered = prerender(&g.templates[i], &expander, &name, &samples, ts);
        (samples, rendered)
    })
    .await
    .map_err(|e| RuleError::Query(format!("expanding templates failed: {e}")))
}

/// One iteration of group `g` at slot `ts`: rules in order, each query at `ts`.
pub(crate) async fn iterate(inner: &Arc<Inner>, g: &Arc<GroupHandle>, ts: Timestamp) {
    let wall = inner.clock.now();
    let started = tokio::time::Instant::now();
    let n = g.def.rules.len();
    let mut failures = 0u64;
    let mut samples_total = 0usize;
    for i in 0..n {
        let rule_wall = inner.clock.now();
        let rule_started = tokio::time::Instant::now();
        let result = inner.querier.instant(g.def.rules[i].expr(), ts).await;
        // Template queries run here, before the step and without its lock.
        let (result, rendered) = match (&g.def.rules[i], result) {
            (RuleDef::Alerting(rule), Ok(samples)) if g.templates[i].uses_query => {
                match render_with_queries(inner, g, i, rule.name(), samples, ts).await {
                    Ok((samples, rendered)) => (Ok(samples), Some(rendered)),
                    Err(e) => (Err(e), None),
                }
            }
            (_, result) => (result, None),
        };
        let outcome = {
            let no_query = NoQuery(ts);
            let plain = RuleExpander {
                templates: &g.templates[i],
                external_labels: &inner.opts.external_labels,
                external_url: &inner.opts.external_url,
                context: &no_query,
                last: Default::default(),
            };
            match &rendered {
                Some(rendered) => {
                    let expander = PrerenderedExpander {
                        rendered,
                        rest: &plain,
                    };
                    g.eval_rule(inner, i, ts, result, &expander)
                }
                None => g.eval_rule(inner, i, ts, result, &plain),
            }
        };
        if !outcome.ok {
            failures += 1;
        }
        {
            let mut rt = lock(&g.rt);
            if let Some(run) = rt.rules.get_mut(i) {
                run.last_evaluation = Some(rule_wall);
                run.evaluation_time = rule_started.elapsed();
            }
        }
        if !outcome.alerts.is_empty() {
            inner.notifier.send(outcome.alerts);
        }
        if !outcome.samples.is_empty() {
            samples_total += outcome.samples.len();
            inner.outputs.write(&g.key, ts, &outcome.samples);
            if i + 1 < n {
                inner.outputs.flush().await;
            }
        }
    }
    let mut rt = lock(&g.rt);
    rt.last_evaluation = Some(wall);
    rt.last_slot = Some(ts);
    rt.state_as_of = Some(ts);
    rt.evaluation_time = started.elapsed();
    rt.evaluations += n as u64;
    rt.failures += failures;
    rt.last_samples = samples_total;
}

/// Takes over the final state of the groups this one replaced (a chain, when several
/// reloads came before any of them ran), waiting for a running predecessor to finish its
/// iteration in flight.
async fn inherit(inner: &Inner, g: &GroupHandle) {
    let mut chain = Vec::new();
    let mut next = lock(&g.predecessor).take();
    while let Some(h) = next {
        if h.spawned.load(Ordering::Acquire) {
            let mut done = h.finished.subscribe();
            let _ = done.wait_for(|f| *f).await;
            chain.push(h);
            break;
        }
        next = lock(&h.predecessor).take();
        chain.push(h);
    }
    let Some(oldest) = chain.pop() else { return };
    let mut def = Arc::clone(&oldest.def);
    let mut rt = std::mem::replace(&mut *lock(&oldest.rt), GroupRuntime::empty());
    let mut markers = Vec::new();
    for h in chain.iter().rev() {
        rt = GroupRuntime::carry_over(&def, rt, &h.def, &mut markers);
        def = Arc::clone(&h.def);
    }
    rt = GroupRuntime::carry_over(&def, rt, &g.def, &mut markers);
    *lock(&g.rt) = rt;
    if !markers.is_empty() {
        inner.outputs.write(&g.key, inner.clock.now(), &markers);
    }
}

/// The task of one group: inherit, then evaluate on the slot grid until stopped.
pub(crate) async fn run_group(inner: Arc<Inner>, g: Arc<GroupHandle>) {
    inherit(&inner, &g).await;
    let mut stop = g.stop.subscribe();
    let mut ticker = GroupTicker::new(g.def.schedule(), inner.clock.now());
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        let wake = ticker.wake_at();
        tokio::select! {
            _ = inner.clock.sleep_until(wake) => {}
            _ = stop.changed() => continue,
        }
        let Some(tick) = ticker.poll(inner.clock.now()) else {
            continue;
        };
        {
            let mut rt = lock(&g.rt);
            rt.iterations = ticker.iterations;
            rt.missed = ticker.missed;
        }
        iterate(&inner, &g, tick.ts).await;
        inner.dirty.notify_one();
    }
    if g.removed.load(Ordering::Acquire) {
        let mut markers = Vec::new();
        for tracker in &mut lock(&g.rt).stale {
            tracker.retire(&mut markers);
        }
        if !markers.is_empty() {
            inner.outputs.write(&g.key, inner.clock.now(), &markers);
        }
    }
    g.finished.send_replace(true);
}
