//! One group at run time: its handle (definition, and the rules' records behind a lock),
//! its task on the slot grid, and one iteration over its rules, each through the core's
//! [`GroupDef::eval_rule`].
//!
//! The lock is held only for the synchronous step of a rule (state machine, sends,
//! series, stale markers); queries run without it, so the API reads status while a group
//! waits on the datasource. Template `query` calls too: their templates are rendered
//! before the step, outside the lock, on the blocking pool (see `crate::expand`). No lock
//! is ever held across I/O, so the API's async threads never wait on a datasource.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::alert::Scratch;
use crate::error::{ErrorKind, RuleError};
use crate::expand::RuleTemplates;
use crate::expand::{prerender, NoQuery, Prerendered, PrerenderedExpander, RuleExpander};
use crate::group::{GroupDef, GroupState, RuleOutcome};
use crate::labels::Sample;
use crate::runner::query::BridgeContext;
use crate::runner::Inner;
use crate::schedule::GroupTicker;
use crate::time::Timestamp;

/// Locks, ignoring poisoning: a panicked evaluation leaves state that is still coherent
/// (every core step is all-or-nothing per rule).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything about a group that changes as it runs: its rules' records and the group's
/// own timings and counters.
#[derive(Debug, Default)]
pub(crate) struct GroupRuntime {
    pub state: GroupState,
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
    /// Fresh counters around `state`.
    pub fn new(state: GroupState) -> Self {
        GroupRuntime {
            state,
            ..GroupRuntime::default()
        }
    }

    /// The runtime of `new_def` replacing `old_def` on reload: the rules' records through
    /// [`GroupState::carry_over`] into `fresh` (the new definition's records), group
    /// timings and counters kept. Series of old rules without a match get stale markers,
    /// appended to `markers`.
    pub fn carry_over(
        old_def: &GroupDef,
        old: GroupRuntime,
        new_def: &GroupDef,
        fresh: GroupState,
        markers: &mut Vec<Sample>,
    ) -> GroupRuntime {
        GroupRuntime {
            state: GroupState::carry_over(old_def, old.state, new_def, fresh, markers),
            ..old
        }
    }
}

/// A group as the engine holds it.
pub(crate) struct GroupHandle {
    pub def: Arc<GroupDef>,
    pub key: Arc<str>,
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
    pub fn new(def: Arc<GroupDef>, rt: GroupRuntime) -> Self {
        GroupHandle {
            key: def.key().into(),
            def,
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

    /// Rule `i`'s step at `ts` with its query result, under the lock (briefly: `expander`
    /// runs no queries). Logs a failure at warn when the rule's error changed (a rule
    /// failing the same way every evaluation is logged once), and a recovery at info.
    fn eval_rule(
        &self,
        inner: &Inner,
        i: usize,
        ts: Timestamp,
        result: Result<Vec<Sample>, RuleError>,
        expander: &dyn crate::template::Expander,
    ) -> RuleOutcome {
        let (outcome, previous) = {
            let mut guard = lock(&self.rt);
            let rt = &mut *guard;
            let previous = rt
                .state
                .rules
                .get(i)
                .and_then(|r| r.state.status().last_error.clone());
            let result = result.as_deref().map_err(Clone::clone);
            let outcome = self.def.eval_rule(
                &mut rt.state,
                i,
                ts,
                result,
                expander,
                &inner.eval_options,
                &mut rt.scratch,
            );
            (outcome, previous)
        };
        let rule = self.def.rules.get(i).map_or("", |r| r.name());
        match (&outcome.error, previous) {
            (Some(e), previous) if previous.as_ref() != Some(e) => {
                let kind = match e {
                    RuleError::Query { kind, .. } => kind.as_str(),
                    _ => "rule",
                };
                tracing::warn!(group = %self.key, rule, index = i, kind, err = %e, "evaluating rule failed");
            }
            (None, Some(_)) => {
                tracing::info!(group = %self.key, rule, index = i, "rule evaluates again");
            }
            _ => {}
        }
        outcome
    }
}

/// The expander of one rule's templates with the engine's external labels and URL.
fn expander<'a>(
    inner: &'a Inner,
    templates: &'a RuleTemplates,
    context: &'a dyn tocsin_template::TemplateContext,
) -> RuleExpander<'a> {
    RuleExpander::new(
        templates,
        &inner.opts.external_labels,
        &inner.opts.external_url,
        context,
    )
}

/// Renders rule `i`'s templates for `samples` on the blocking pool, where template
/// queries may block on the datasource; no lock is held.
/// Also says whether a template query was cancelled.
async fn render_with_queries(
    inner: &Arc<Inner>,
    templates: Arc<RuleTemplates>,
    name: &str,
    samples: Vec<Sample>,
    ts: Timestamp,
) -> Result<(Vec<Sample>, Prerendered, bool), RuleError> {
    let (inner, name) = (Arc::clone(inner), name.to_string());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let context = BridgeContext {
            handle,
            querier: inner.querier.clone(),
            ts,
            canceled: AtomicBool::new(false),
        };
        let expander = expander(&inner, &templates, &context);
        let rendered = prerender(&templates, &expander, &name, &samples, ts);
        (samples, rendered, context.canceled.load(Ordering::Relaxed))
    })
    .await
    .map_err(|e| {
        RuleError::query(
            ErrorKind::Server,
            format!("expanding templates failed: {e}"),
        )
    })
}

/// One iteration of group `g` at slot `ts`: rules in order, each query at `ts`.
pub(crate) async fn iterate(inner: &Arc<Inner>, g: &Arc<GroupHandle>, ts: Timestamp) {
    let wall = inner.clock.now();
    let started = tokio::time::Instant::now();
    let n = g.def.rules.len();
    let mut failures = 0u64;
    let mut evaluated = 0u64;
    let mut samples_total = 0usize;
    for i in 0..n {
        let rule_wall = inner.clock.now();
        let rule_started = tokio::time::Instant::now();
        let result = inner.querier.instant(g.def.rules[i].expr(), ts).await;
        let stopping = || inner.stopping.load(Ordering::Acquire);
        if result.as_ref().is_err_and(RuleError::is_canceled) && stopping() {
            // Cancelled at shutdown: this rule keeps its state, the rest are skipped.
            break;
        }
        let templates = lock(&g.rt)
            .state
            .rules
            .get(i)
            .map_or_else(Default::default, |r| Arc::clone(&r.templates));
        // Template queries run here, before the step and without its lock.
        let (result, rendered) = match result {
            Ok(samples) if templates.uses_query => {
                let name = g.def.rules[i].name();
                match render_with_queries(inner, Arc::clone(&templates), name, samples, ts).await {
                    Ok((_, _, true)) if stopping() => break, // as above, for a template query
                    Ok((samples, rendered, _)) => (Ok(samples), Some(rendered)),
                    Err(e) => (Err(e), None),
                }
            }
            result => (result, None),
        };
        let outcome = {
            let no_query = NoQuery(ts);
            let plain = expander(inner, &templates, &no_query);
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
        evaluated += 1;
        if !outcome.is_ok() {
            failures += 1;
        }
        if let Some(rule) = lock(&g.rt).state.rules.get_mut(i) {
            rule.last_evaluation = Some(rule_wall);
            rule.evaluation_time = rule_started.elapsed();
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
    if evaluated == 0 {
        return;
    }
    let mut rt = lock(&g.rt);
    rt.last_evaluation = Some(wall);
    rt.last_slot = Some(ts);
    rt.state_as_of = Some(ts);
    rt.evaluation_time = started.elapsed();
    rt.evaluations += evaluated;
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
    let mut rt = std::mem::take(&mut *lock(&oldest.rt));
    let mut markers = Vec::new();
    for h in chain.iter().rev().map(Arc::as_ref).chain([g]) {
        // The records `apply` compiled for `h` (their state a provisional copy).
        let fresh = std::mem::take(&mut lock(&h.rt).state);
        rt = GroupRuntime::carry_over(&def, rt, &h.def, fresh, &mut markers);
        def = Arc::clone(&h.def);
    }
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
        for rule in &mut lock(&g.rt).state.rules {
            rule.stale.retire(&mut markers);
        }
        if !markers.is_empty() {
            inner.outputs.write(&g.key, inner.clock.now(), &markers);
        }
    }
    g.finished.send_replace(true);
}
