//! An engine harness (feature `engine`): the rule engine's runner started over a datasource
//! with collecting outputs and notifier, and stopped cleanly — what every engine test
//! otherwise builds for itself. The engine is the one the daemon runs
//! ([`Engine::with_clock`]); only its outputs and notifier are collected here instead of
//! written to Prometheus and sent to receivers.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tocsin_engine::runner::{AlertNotifier, Clock, Engine, EngineOptions, OutgoingAlert, Outputs};
use tocsin_engine::{Sample, Timestamp};
use tocsin_query::Datasource;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The engine's [`Outputs`] and [`AlertNotifier`], keeping everything they are given.
#[derive(Debug, Default)]
pub struct Collected {
    written: Mutex<Vec<(String, Timestamp, Vec<Sample>)>>,
    sent: Mutex<Vec<OutgoingAlert>>,
}

impl Collected {
    /// Every `(group, slot, samples)` written, in order.
    pub fn written(&self) -> Vec<(String, Timestamp, Vec<Sample>)> {
        lock(&self.written).clone()
    }

    /// Every alert sent, in order.
    pub fn sent(&self) -> Vec<OutgoingAlert> {
        lock(&self.sent).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Outputs for Collected {
    fn write(&self, group: &str, ts: Timestamp, samples: &[Sample]) {
        lock(&self.written).push((group.to_string(), ts, samples.to_vec()));
    }
}

impl AlertNotifier for Collected {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        lock(&self.sent).extend(alerts);
    }
}

/// A running engine: its handle, what it wrote and sent, and its task.
pub struct RunningEngine {
    /// The engine (status, reloads, metrics).
    pub engine: Engine,
    /// What it wrote and sent so far.
    pub collected: Arc<Collected>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningEngine {
    /// Builds an engine on `clock` over `datasource`, loads `files` (panicking with the
    /// reports if they do not load) and runs it on the current tokio runtime.
    pub fn start(
        options: EngineOptions,
        clock: Clock,
        datasource: Arc<dyn Datasource>,
        files: &[String],
    ) -> RunningEngine {
        let collected = Arc::new(Collected::default());
        let engine = Engine::with_clock(
            options,
            clock,
            datasource,
            collected.clone(),
            collected.clone(),
        );
        if let Err(reports) = engine.apply(files) {
            panic!("rules did not load: {reports:?}");
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let running = engine.clone();
        let task = tokio::spawn(async move {
            running
                .run(async {
                    let _ = stopped.await;
                })
                .await
        });
        RunningEngine {
            engine,
            collected,
            stop: Some(stop),
            task,
        }
    }

    /// Tells the engine to stop, without waiting for it.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the engine, waits for its task (the iterations in flight finish) and returns
    /// what it wrote and sent.
    pub async fn shutdown(mut self) -> Arc<Collected> {
        self.stop();
        if let Err(e) = (&mut self.task).await {
            panic!("the engine's task failed: {e}");
        }
        self.collected.clone()
    }
}

impl std::fmt::Debug for RunningEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEngine").finish_non_exhaustive()
    }
}
