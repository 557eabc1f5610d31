//! The async runner: rule groups evaluated against a [`Datasource`] on Prometheus's slot
//! grid, with alerts and series handed to the caller. This is what `tocsin run` drives.
//!
//! ```text
//! let engine = Engine::new(opts, datasource, outputs, notifier);
//! engine.apply(&files)?;                 // load (all or nothing); again on SIGHUP
//! tokio::spawn({ let e = engine.clone(); async move { e.run(shutdown).await } });
//! engine.rules_status(); engine.active_alerts(); engine.metrics();   // for the HTTP API
//! ```
//!
//! - [`Engine::apply`] loads files already globbed (the path strings feed the slot hash,
//!   so pass them exactly as Prometheus would hold them). A bad file changes nothing;
//!   identical groups keep running; edited groups keep the alerts of rules matched by name
//!   and labels (`activeAt` and all); the first successful load restores the state file.
//! - [`Engine::run`] gives each group a task on its slot grid ([`crate::GroupTicker`]):
//!   the first evaluation is the first slot after the group starts, missed slots are
//!   skipped and counted, never queued. Rules of a group run in order, each querying
//!   `instant_query(expr, ts)` at the slot time `ts`; groups run concurrently; a semaphore
//!   of `max_concurrent_queries` permits bounds the queries in flight, and each has
//!   `query_timeout`. A failed query sets the rule's health to `err` with the server's
//!   message and changes no alert; the next rule still runs; the rule is logged at warn
//!   when its error changes (not at every evaluation). On shutdown the groups stop
//!   ticking, finish the iteration in flight, and the state file is written one last
//!   time; a query that comes back cancelled then (a datasource shutting down too) leaves
//!   its rule as it was and is not counted as a failure, and the rest of that iteration
//!   is skipped.
//! - After each rule: its output series (recording results, `ALERTS`,
//!   `ALERTS_FOR_STATE`, stale markers) go to [`Outputs::write`], and the alerts to
//!   (re)send, with Prometheus's resend rules, to [`AlertNotifier::send`]. Before the next
//!   rule the runner awaits [`Outputs::flush`]: with remote write behind it, later rules
//!   see earlier results as in Prometheus; without it, they do not (the results are not in
//!   the datasource).
//! - Templates are compiled once per rule; `$labels`, `$value`, `$externalLabels`,
//!   `$externalURL` as in Prometheus, a failing template becomes `<error expanding
//!   template: error executing template __alert_X: …>`, and `query` in a template runs on
//!   the datasource at `ts` through a blocking bridge (see `expand`).
//! - State file: after group evaluations the whole state is written atomically
//!   ([`crate::persist::write_atomic`]), batched to at most one write per second, and
//!   once more at shutdown. Alerts restore whole (`lastSentAt` included), so a restart
//!   neither resets a `for` timer nor announces a firing alert again. Because state comes
//!   from the file, `ALERTS`/`ALERTS_FOR_STATE` are written from the first evaluation on
//!   (Prometheus holds them back for two evaluations while it restores from its TSDB).
//!
//! Time: [`Clock::System`] in production; [`Clock::Virtual`] follows tokio's clock from a
//! chosen start, so tests under `tokio::time::pause` run whole days of slots without
//! sleeping and assert on exact slot timestamps.

mod apply;
mod group;
mod io;
pub mod memory;
mod query;
mod save;
mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tocsin_query::Datasource;
use tocsin_rules::FileReport;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::alert::AlertState;
use crate::group::{EvalOptions, RuleDef, RuleState};
use crate::labels::Labels;
use crate::state::RestorePolicy;
use crate::status::Health;
use crate::time::Timestamp;

pub use apply::LoadSummary;
pub use io::{AlertNotifier, FlushFuture, OutgoingAlert, OutgoingState, Outputs};
pub use query::QUERY_TIMEOUT_MESSAGE;
pub use status::{
    format_value, AlertStatus, EngineMetrics, GroupMetrics, GroupStatus, HealthCounts, RuleReport,
    RuleType,
};

use group::{lock, GroupHandle};
use query::Querier;

/// [`EngineOptions::max_concurrent_queries`]'s default: Prometheus's
/// `--query.max-concurrency` default.
pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize = 20;

/// Settings of the engine (Prometheus's flags and `global` config).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// `global.evaluation_interval` for groups without `interval`.
    pub default_interval: Duration,
    /// `global.external_labels`: in templates, and added to notifications.
    pub external_labels: BTreeMap<String, String>,
    /// `--web.external-url`, without a trailing slash: `$externalURL`, `generatorURL`.
    pub external_url: String,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: Duration,
    /// Queries in flight at once, all groups together (at least 1).
    pub max_concurrent_queries: usize,
    /// Where alert state survives restarts; `None`: not persisted.
    pub state_file: Option<PathBuf>,
    pub restore: RestorePolicy,
    /// Per query, including template queries; zero: none beyond the datasource's own.
    pub query_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            default_interval: Duration::from_secs(60),
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            resend_delay: crate::alert::DEFAULT_RESEND_DELAY,
            max_concurrent_queries: DEFAULT_MAX_CONCURRENT_QUERIES,
            state_file: None,
            restore: RestorePolicy::default(),
            // Prometheus's `--query.timeout` default, as the datasource's.
            query_timeout: tocsin_query::DEFAULT_QUERY_TIMEOUT,
        }
    }
}

/// Where the engine's "now" comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system's wall clock (what Prometheus uses).
    #[default]
    System,
    /// `start` plus the time elapsed on tokio's clock since the engine was created: under
    /// `tokio::time::pause` it advances only as tokio's paused clock does.
    Virtual { start: Timestamp },
}

pub(crate) struct EngineClock {
    kind: Clock,
    origin: tokio::time::Instant,
}

impl EngineClock {
    pub fn now(&self) -> Timestamp {
        match self.kind {
            Clock::System => Timestamp::now(),
            Clock::Virtual { start } => start + self.origin.elapsed(),
        }
    }

    /// Sleeps until the clock reads `t` (a little early is possible with a system clock
    /// that jumps; callers re-check).
    pub async fn sleep_until(&self, t: Timestamp) {
        let ns = t.since(self.now());
        if ns > 0 {
            tokio::time::sleep(Duration::from_nanos(ns as u64)).await;
        }
    }
}

pub(crate) type GroupKey = (Arc<str>, Arc<str>);

#[derive(Default)]
pub(crate) struct Groups {
    /// Ordered by file, then name: the API's order.
    pub by_key: BTreeMap<GroupKey, Arc<GroupHandle>>,
    pub loaded: bool,
}

#[derive(Default)]
pub(crate) struct ReloadStatus {
    pub successful: Option<bool>,
    pub last_success: Option<Timestamp>,
}

pub(crate) struct Inner {
    pub opts: EngineOptions,
    /// The manager-wide part of each rule's step (resend delay, external labels).
    pub eval_options: EvalOptions,
    pub querier: Querier,
    /// Set at shutdown: a query cancelled from now on is no failed evaluation.
    pub stopping: AtomicBool,
    pub outputs: Arc<dyn Outputs>,
    pub notifier: Arc<dyn AlertNotifier>,
    pub clock: EngineClock,
    pub groups: Mutex<Groups>,
    pub reload: Mutex<ReloadStatus>,
    /// Held for a whole `apply`: one reload at a time (the API never takes it).
    pub reloading: Mutex<()>,
    /// Groups were added or replaced: the run loop spawns their tasks.
    pub changed: Notify,
    /// A group evaluated: the state file is out of date.
    pub dirty: Notify,
    pub state_write_failures: std::sync::atomic::AtomicU64,
}

/// The rule engine. Cheap to clone: clones share one engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// An engine on the system clock, with no rules until [`Engine::apply`].
    pub fn new(
        opts: EngineOptions,
        datasource: Arc<dyn Datasource>,
        outputs: Arc<dyn Outputs>,
        notifier: Arc<dyn AlertNotifier>,
    ) -> Engine {
        Self::with_clock(opts, Clock::System, datasource, outputs, notifier)
    }

    /// An engine on `clock` (tests use [`Clock::Virtual`] under paused tokio time).
    pub fn with_clock(
        opts: EngineOptions,
        clock: Clock,
        datasource: Arc<dyn Datasource>,
        outputs: Arc<dyn Outputs>,
        notifier: Arc<dyn AlertNotifier>,
    ) -> Engine {
        let querier = Querier {
            ds: datasource,
            permits: Arc::new(Semaphore::new(opts.max_concurrent_queries.max(1))),
            timeout: opts.query_timeout,
        };
        Engine {
            inner: Arc::new(Inner {
                eval_options: EvalOptions {
                    resend_delay: opts.resend_delay,
                    alerts_series: true,
                    external_labels: Labels::new(&opts.external_labels),
                },
                opts,
                querier,
                stopping: AtomicBool::new(false),
                outputs,
                notifier,
                clock: EngineClock {
                    kind: clock,
                    origin: tokio::time::Instant::now(),
                },
                groups: Mutex::new(Groups::default()),
                reload: Mutex::new(ReloadStatus::default()),
                reloading: Mutex::new(()),
                changed: Notify::new(),
                dirty: Notify::new(),
                state_write_failures: Default::default(),
            }),
        }
    }

    /// Loads `files` (paths already globbed, in order). All or nothing: if any file is
    /// invalid nothing changes and every failing file's report comes back. Blocking file
    /// I/O; call it from `spawn_blocking` in latency-sensitive contexts.
    pub fn apply(&self, files: &[String]) -> Result<LoadSummary, Vec<FileReport>> {
        apply::apply(&self.inner, files)
    }

    /// Runs every group until `shutdown` resolves, then stops them (each finishes its
    /// iteration in flight) and writes the state file. Groups added by later
    /// [`Engine::apply`] calls start while this runs. Call it once.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let inner = &self.inner;
        let mut tasks = JoinSet::new();
        let (saver_stop, saver_rx) = watch::channel(false);
        let saver = tokio::spawn(save::save_loop(Arc::clone(inner), saver_rx));
        tokio::pin!(shutdown);
        loop {
            self.spawn_new_groups(&mut tasks);
            tokio::select! {
                _ = &mut shutdown => break,
                _ = inner.changed.notified() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        for h in lock(&inner.groups).by_key.values() {
            h.request_stop();
        }
        inner.stopping.store(true, Ordering::Release);
        while tasks.join_next().await.is_some() {}
        saver_stop.send_replace(true);
        let _ = saver.await;
        save::save_now(inner).await;
    }

    fn spawn_new_groups(&self, tasks: &mut JoinSet<()>) {
        let groups = lock(&self.inner.groups);
        for h in groups.by_key.values() {
            if !h.spawned.swap(true, Ordering::AcqRel) {
                tasks.spawn(group::run_group(Arc::clone(&self.inner), Arc::clone(h)));
            }
        }
    }

    fn handles(&self) -> Vec<Arc<GroupHandle>> {
        lock(&self.inner.groups).by_key.values().cloned().collect()
    }

    /// Every group and rule, as `/api/v1/rules` reports them (groups by file then name,
    /// rules in file order).
    pub fn rules_status(&self) -> Vec<GroupStatus> {
        self.handles().iter().map(|h| group_status(h)).collect()
    }

    /// Every pending and firing alert, as `/api/v1/alerts` lists them.
    pub fn active_alerts(&self) -> Vec<AlertStatus> {
        self.rules_status()
            .into_iter()
            .flat_map(|g| g.rules)
            .flat_map(|r| r.alerts)
            .collect()
    }

    /// The engine's counters and gauges for `/metrics`.
    pub fn metrics(&self) -> EngineMetrics {
        let mut m = EngineMetrics {
            groups: Vec::new(),
            rules_by_health: HealthCounts::default(),
            alerts_pending: 0,
            alerts_firing: 0,
            last_reload_successful: None,
            last_reload_success: None,
            state_write_failures: self.inner.state_write_failures.load(Ordering::Relaxed),
        };
        {
            let reload = lock(&self.inner.reload);
            m.last_reload_successful = reload.successful;
            m.last_reload_success = reload.last_success;
        }
        for h in self.handles() {
            let rt = lock(&h.rt);
            for rule in rt.state.rules.iter().map(|r| &r.state) {
                match rule.status().health {
                    Health::Ok => m.rules_by_health.ok += 1,
                    Health::Err => m.rules_by_health.err += 1,
                    Health::Unknown => m.rules_by_health.unknown += 1,
                }
                if let RuleState::Alerting(s) = rule {
                    for a in s.active_alerts() {
                        match a.state {
                            AlertState::Pending => m.alerts_pending += 1,
                            AlertState::Firing => m.alerts_firing += 1,
                            AlertState::Inactive => {}
                        }
                    }
                }
            }
            m.groups.push(GroupMetrics {
                key: h.key.to_string(),
                interval: h.def.interval,
                rules: h.def.rules.len(),
                iterations: rt.iterations,
                missed_iterations: rt.missed,
                evaluations: rt.evaluations,
                evaluation_failures: rt.failures,
                last_duration: rt.evaluation_time,
                last_evaluation: rt.last_evaluation,
                last_samples: rt.last_samples,
            });
        }
        m
    }
}

fn group_status(h: &GroupHandle) -> GroupStatus {
    let rt = lock(&h.rt);
    let rules = h
        .def
        .rules
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let record = rt.state.rules.get(i);
            let state = record.map(|r| &r.state);
            let status = state.map(|s| s.status().clone()).unwrap_or_default();
            let (evaluation_time, last_evaluation) = record.map_or((Duration::ZERO, None), |r| {
                (r.evaluation_time, r.last_evaluation)
            });
            let (kind, duration, keep, annotations, alerts, rule_state) = match (def, state) {
                (RuleDef::Alerting(a), s) => {
                    let mut alerts: Vec<AlertStatus> = match s {
                        Some(RuleState::Alerting(s)) => {
                            s.active_alerts().map(AlertStatus::of).collect()
                        }
                        _ => Vec::new(),
                    };
                    alerts.sort_by(|x, y| x.labels.cmp(&y.labels));
                    let st = alerts
                        .iter()
                        .map(|a| a.state)
                        .max()
                        .unwrap_or(AlertState::Inactive);
                    (
                        RuleType::Alerting,
                        a.hold_duration(),
                        a.keep_firing_for(),
                        Labels::new(a.annotations()),
                        alerts,
                        Some(st),
                    )
                }
                (RuleDef::Recording(_), _) => (
                    RuleType::Recording,
                    Duration::ZERO,
                    Duration::ZERO,
                    Labels::empty(),
                    Vec::new(),
                    None,
                ),
            };
            RuleReport {
                kind,
                name: def.name().to_string(),
                query: def.expr().to_string(),
                duration,
                keep_firing_for: keep,
                labels: def.labels().clone(),
                annotations,
                alerts,
                health: status.health,
                last_error: status.last_error.map(|e| e.to_string()),
                evaluation_time,
                last_evaluation,
                state: rule_state,
            }
        })
        .collect();
    GroupStatus {
        name: h.def.name.to_string(),
        file: h.def.file.to_string(),
        interval: h.def.interval,
        limit: h.def.limit,
        evaluation_time: rt.evaluation_time,
        last_evaluation: rt.last_evaluation,
        last_slot: rt.last_slot,
        rules,
    }
}

/// Keys of the groups the engine holds (for tests and diagnostics).
impl Engine {
    pub fn group_keys(&self) -> BTreeSet<String> {
        self.handles().iter().map(|h| h.key.to_string()).collect()
    }
}
